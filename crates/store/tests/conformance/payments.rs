use variosync_domain::Hours;
use variosync_domain::WorkspaceId;
use variosync_store::{Access, Database, HourLedger, NewPayment, PaymentRepository};

use crate::backends::user;

async fn payments_conform(db: Database) {
    let payments = PaymentRepository::new(db.clone());
    let ledger = HourLedger::new(db.clone());
    let ada = user(&db, "ada@example.com").await;
    let five = Hours::from_hours_f64(5.0).unwrap();
    let new = NewPayment {
        provider: "stripe".into(),
        checkout_id: "cs_test_1".into(),
        package: "5h".into(),
        hours: five,
        amount_cents: 2500,
        currency: "usd".into(),
    };
    let pending = payments.create(ada, &new).await.unwrap();
    assert_eq!((pending.status.as_str(), pending.paid_at), ("pending", None));
    assert!(payments.create(ada, &new).await.is_err(), "one row per checkout");

    // The provider's event marks it paid and credits the hours; again, it does nothing.
    let paid = payments.mark_paid("cs_test_1", "evt_1").await.unwrap().unwrap();
    assert_eq!(paid.status, "paid");
    assert_eq!(
        ledger.balance(Access::person(ada), WorkspaceId::personal(ada)).await.unwrap(),
        five
    );
    for _ in 0..2 {
        assert_eq!(payments.mark_paid("cs_test_1", "evt_1").await.unwrap(), None);
    }
    assert_eq!(payments.mark_paid("cs_unknown", "evt_2").await.unwrap(), None);
    assert_eq!(
        ledger.balance(Access::person(ada), WorkspaceId::personal(ada)).await.unwrap(),
        five,
        "credited once"
    );
    let entries =
        ledger.entries(Access::person(ada), WorkspaceId::personal(ada), None, 10).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert!(entries[0].reason.contains("stripe, 5h"), "{}", entries[0].reason);
    assert_eq!(payments.list(ada, 10).await.unwrap(), [paid]);
}

crate::on_each_database!(
    payments_conform,
    payments_conform_on_sqlite,
    payments_conform_on_postgres
);
