//! The schema is created once and reopening applies nothing again.

use vigil_state::StateStore;

use crate::file_store;

#[tokio::test]
async fn migrations_are_idempotent_across_reopen() {
    let (_dir, path, store) = file_store().await;
    let first = store.applied_migrations().await.unwrap();
    assert_eq!(
        first.iter().map(|m| m.version).collect::<Vec<_>>(),
        (1..=StateStore::latest_schema_version()).collect::<Vec<_>>()
    );
    assert_eq!(first[0].name, "initial");
    store.close().await;

    for _ in 0..2 {
        let again = StateStore::open(&path).await.unwrap();
        assert_eq!(again.applied_migrations().await.unwrap(), first);
        again.close().await;
    }
}

#[tokio::test]
async fn memory_store_is_migrated() {
    let store = StateStore::open_memory().await.unwrap();
    let applied = store.applied_migrations().await.unwrap();
    assert_eq!(
        applied.last().map(|m| m.version),
        Some(StateStore::latest_schema_version())
    );
    assert!(store.list_devices().await.unwrap().is_empty());
}

#[tokio::test]
async fn two_stores_on_one_file_agree() {
    let (_dir, path, a) = file_store().await;
    let b = StateStore::open(&path).await.unwrap();
    let (token, _) = a
        .create_enrollment_token("shared", None, None, crate::NOW)
        .await
        .unwrap();
    assert_eq!(b.list_enrollment_tokens().await.unwrap(), vec![token]);
}
