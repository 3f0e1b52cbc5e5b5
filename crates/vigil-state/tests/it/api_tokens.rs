//! API tokens and users.

use vigil_state::{StateError, StateStore};

use crate::NOW;

#[tokio::test]
async fn api_token_verifies_by_secret_until_revoked() {
    let store = StateStore::open_memory().await.unwrap();
    let (admin, secret) = store.create_api_token("admin", "admin", NOW).await.unwrap();
    assert!(secret.starts_with("vat_"));
    assert_eq!(secret.len(), 4 + 64);
    assert!(admin.id.starts_with("at_"));
    let (other, other_secret) = store
        .create_api_token("ci", "analyst", NOW + 1)
        .await
        .unwrap();

    assert_eq!(
        store.verify_api_token(&secret).await.unwrap(),
        Some(admin.clone())
    );
    assert_eq!(
        store.verify_api_token(&other_secret).await.unwrap(),
        Some(other.clone())
    );
    for bad in ["", "vat_", &secret[..secret.len() - 1], admin.id.as_str()] {
        assert_eq!(store.verify_api_token(bad).await.unwrap(), None, "{bad:?}");
    }
    assert_eq!(
        store.list_api_tokens().await.unwrap(),
        vec![admin.clone(), other.clone()]
    );

    store.revoke_api_token(&admin.id, NOW + 5).await.unwrap();
    assert_eq!(store.verify_api_token(&secret).await.unwrap(), None);
    assert!(store
        .verify_api_token(&other_secret)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        store.list_api_tokens().await.unwrap()[0].revoked_ms,
        Some(NOW + 5)
    );
    let err = store.revoke_api_token("at_nope", NOW).await.unwrap_err();
    assert!(matches!(err, StateError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn api_token_inputs_are_checked() {
    let store = StateStore::open_memory().await.unwrap();
    let err = store.create_api_token("", "admin", NOW).await.unwrap_err();
    assert!(
        err.to_string().starts_with("invalid api token name"),
        "{err}"
    );
    let err = store.create_api_token("x", "Root!", NOW).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid role \"Root!\": must be 1 to 32 of a-z, 0-9, '_' or '-'"
    );
    assert!(store.list_api_tokens().await.unwrap().is_empty());
}

#[tokio::test]
async fn users_are_unique_by_name() {
    let store = StateStore::open_memory().await.unwrap();
    let alice = store.create_user("alice", "admin", NOW).await.unwrap();
    let bob = store.create_user("bob", "analyst", NOW).await.unwrap();
    let err = store.create_user("alice", "viewer", NOW).await.unwrap_err();
    assert_eq!(err.to_string(), "user \"alice\" already exists");
    assert_eq!(store.list_users().await.unwrap(), vec![alice, bob]);
}
