use variosync_domain::WorkspaceId;
use variosync_domain::{ErrorKind, Hours};
use variosync_store::Owner;
use variosync_store::{Access, Database, Error, HourLedger, UserRepository};

use crate::backends::user;

async fn the_hour_ledger_conforms(db: Database) {
    let ledger = HourLedger::new(db.clone());
    let ada = user(&db, "ada@example.com").await;
    let grace = user(&db, "grace@example.com").await;
    let as_ada = Access::person(ada);

    assert_eq!(ledger.balance(as_ada, WorkspaceId::personal(ada)).await.unwrap(), Hours::ZERO);
    let grant = ledger
        .apply(as_ada, Owner::personal(ada), Hours::from_micro(1_000_000), "free grant", None)
        .await
        .unwrap();
    assert_eq!(grant.balance, Hours::from_micro(1_000_000));
    assert_eq!(grant.user_id, Some(ada));
    let charge = ledger
        .apply(as_ada, Owner::personal(ada), Hours::from_micro(-250_000), "job 42", None)
        .await
        .unwrap();
    assert_eq!(charge.balance, Hours::from_micro(750_000));
    assert_eq!(
        ledger.balance(as_ada, WorkspaceId::personal(ada)).await.unwrap(),
        Hours::from_micro(750_000)
    );

    // An overdraft fails whole: no ledger row, no balance change.
    let overdraft = ledger
        .apply(as_ada, Owner::personal(ada), Hours::from_micro(-750_001), "too much", None)
        .await
        .unwrap_err();
    assert!(matches!(overdraft, Error::InsufficientHours), "got {overdraft:?}");
    assert_eq!(overdraft.kind(), ErrorKind::PaymentRequired);
    assert_eq!(
        ledger.balance(as_ada, WorkspaceId::personal(ada)).await.unwrap(),
        Hours::from_micro(750_000)
    );
    let charge_without_balance = ledger
        .apply(Access::person(grace), Owner::personal(grace), Hours::from_micro(-1), "x", None)
        .await;
    assert!(matches!(charge_without_balance, Err(Error::InsufficientHours)));

    let entries = ledger.entries(as_ada, WorkspaceId::personal(ada), None, 10).await.unwrap();
    assert_eq!(
        entries.iter().map(|e| e.reason.as_str()).collect::<Vec<_>>(),
        ["job 42", "free grant"]
    );
    let older =
        ledger.entries(as_ada, WorkspaceId::personal(ada), Some(entries[0].id), 10).await.unwrap();
    assert_eq!(older, vec![entries[1].clone()]);

    // An admin's grant records the actor; other users see nothing of it.
    let admin_grant = ledger
        .apply(
            Access::System,
            Owner::personal(grace),
            Hours::from_micro(2_000_000),
            "welcome",
            Some(ada),
        )
        .await
        .unwrap();
    assert_eq!(admin_grant.actor_id, Some(ada));
    assert_eq!(
        ledger.balance(as_ada, WorkspaceId::personal(grace)).await.unwrap(),
        Hours::ZERO,
        "not ada's to see"
    );
    assert!(
        ledger.entries(as_ada, WorkspaceId::personal(grace), None, 10).await.unwrap().is_empty()
    );
    let foreign = ledger
        .apply(as_ada, Owner::personal(grace), Hours::from_micro(1), "gift to myself?", None)
        .await;
    assert!(matches!(foreign, Err(Error::NotFound(_))), "a user cannot move another's balance");
    assert!(matches!(
        ledger.apply(as_ada, Owner::personal(ada), Hours::from_micro(1), "  ", None).await,
        Err(Error::InvalidReason)
    ));

    // Concurrent charges never overdraw and never double-charge.
    let charges = (0..20).map(|i| {
        let ledger = ledger.clone();
        tokio::spawn(async move {
            ledger
                .apply(
                    Access::person(ada),
                    Owner::personal(ada),
                    Hours::from_micro(-100_000),
                    &format!("job {i}"),
                    None,
                )
                .await
        })
    });
    let results = futures::future::join_all(charges).await;
    let succeeded = results.into_iter().filter(|r| r.as_ref().unwrap().is_ok()).count();
    assert_eq!(succeeded, 7, "0.75 h covers exactly seven charges of 0.1 h");
    assert_eq!(
        ledger.balance(as_ada, WorkspaceId::personal(ada)).await.unwrap(),
        Hours::from_micro(50_000)
    );
    let history = ledger.entries(as_ada, WorkspaceId::personal(ada), None, 100).await.unwrap();
    assert_eq!(history.len(), 9);
    let sum: Hours = history.iter().map(|e| e.delta).sum();
    assert_eq!(sum, Hours::from_micro(50_000), "the balance is the sum of the ledger");

    // The ledger outlives the account, anonymised, and cannot be rewritten.
    assert!(UserRepository::new(db.clone()).delete(as_ada, ada).await.unwrap());
    assert!(
        ledger
            .entries(Access::System, WorkspaceId::personal(ada), None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        ledger.entries(Access::System, WorkspaceId::personal(grace), None, 10).await.unwrap()[0]
            .actor_id,
        None
    );
    let rewrite = crate::backends::execute_as_system(&db, "DELETE FROM hour_ledger").await;
    assert!(rewrite.is_err(), "the ledger is append-only: {rewrite:?}");
    let rewrite =
        crate::backends::execute_as_system(&db, "UPDATE hour_ledger SET delta_micro = 0").await;
    assert!(rewrite.is_err(), "the ledger is append-only: {rewrite:?}");
}

crate::on_each_database!(
    the_hour_ledger_conforms,
    the_hour_ledger_conforms_on_sqlite,
    the_hour_ledger_conforms_on_postgres
);
