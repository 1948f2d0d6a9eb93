use variosync_domain::ApiScope;
use variosync_store::{Access, ApiKeyRepository, Database, NewApiKey};

use crate::backends::user;

async fn api_keys_conform(db: Database) {
    let keys = ApiKeyRepository::new(db.clone());
    let ada = user(&db, "ada@example.com").await;
    let grace = user(&db, "grace@example.com").await;

    let key = keys
        .create(NewApiKey {
            user_id: ada,
            name: "notebook".into(),
            prefix: "3fa9c2d1e0b7".into(),
            secret_hash: [7; 32],
            scope: ApiScope::Read,
        })
        .await
        .unwrap();
    assert_eq!(key.scope, ApiScope::Read);
    assert_eq!(key.last_used_at, None);

    let (found, hash) = keys.find_by_prefix("3fa9c2d1e0b7").await.unwrap().expect("by prefix");
    assert_eq!(found.id, key.id);
    assert_eq!(hash, vec![7; 32]);
    assert_eq!(found.last_used_at, None, "finding is not using");
    assert!(keys.find_by_prefix("000000000000").await.unwrap().is_none());

    // A use is written at most once a minute, however often the key is used.
    let at = chrono::Utc::now();
    assert!(keys.record_use(&found, at).await.unwrap(), "the first use");
    let (used, _) = keys.find_by_prefix("3fa9c2d1e0b7").await.unwrap().unwrap();
    assert_eq!(used.last_used_at.map(|t| t.timestamp_micros()), Some(at.timestamp_micros()));
    let soon = at + chrono::TimeDelta::seconds(20);
    assert!(!keys.record_use(&used, soon).await.unwrap(), "known recent: no write");
    assert!(!keys.record_use(&found, soon).await.unwrap(), "stale copy: the database refuses");
    let later = at + chrono::TimeDelta::seconds(61);
    assert!(keys.record_use(&used, later).await.unwrap(), "a minute later");
    let (used, _) = keys.find_by_prefix("3fa9c2d1e0b7").await.unwrap().unwrap();
    assert_eq!(used.last_used_at.map(|t| t.timestamp_micros()), Some(later.timestamp_micros()));

    assert_eq!(keys.list(Access::person(ada), ada).await.unwrap().len(), 1);
    assert!(keys.list(Access::person(grace), ada).await.unwrap().is_empty());
    assert_eq!(keys.revoke(Access::person(grace), ada, key.id).await.unwrap(), None);
    assert_eq!(keys.revoke(Access::person(grace), grace, key.id).await.unwrap(), None);

    let revoked = keys.revoke(Access::person(ada), ada, key.id).await.unwrap().expect("revoked");
    assert!(revoked.revoked_at.is_some());
    assert!(keys.find_by_prefix("3fa9c2d1e0b7").await.unwrap().is_none(), "refused at once");
    assert!(!keys.record_use(&used, later + chrono::TimeDelta::hours(1)).await.unwrap());
    assert_eq!(keys.revoke(Access::person(ada), ada, key.id).await.unwrap(), None, "only once");
    assert_eq!(
        keys.list(Access::person(ada), ada).await.unwrap()[0].revoked_at,
        revoked.revoked_at
    );
}

crate::on_each_database!(
    api_keys_conform,
    api_keys_conform_on_sqlite,
    api_keys_conform_on_postgres
);
