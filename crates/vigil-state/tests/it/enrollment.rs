//! Enrolment tokens: create, list, redeem until exhausted, expiry, revocation, unknown
//! secrets, and concurrent redeems.

use std::time::Duration;

use vigil_state::{RedeemError, StateError, StateStore};

use crate::{file_store, NOW};

#[tokio::test]
async fn token_is_redeemed_until_exhausted() {
    let store = StateStore::open_memory().await.unwrap();
    let (token, secret) = store
        .create_enrollment_token("lab", Some(Duration::from_secs(3600)), Some(2), NOW)
        .await
        .unwrap();
    assert!(secret.starts_with("vet_"));
    assert_eq!(secret.len(), 4 + 64);
    assert!(token.id.starts_with("et_"));
    assert_eq!(token.expires_ms, Some(NOW + 3_600_000));
    assert_eq!(
        (token.uses, token.max_uses, token.revoked),
        (0, Some(2), false)
    );
    assert_eq!(
        store.list_enrollment_tokens().await.unwrap(),
        vec![token.clone()]
    );

    let used = store
        .redeem_enrollment_token(&secret, NOW + 1)
        .await
        .unwrap();
    assert_eq!(used.uses, 1);
    let used = store
        .redeem_enrollment_token(&secret, NOW + 2)
        .await
        .unwrap();
    assert_eq!(used.uses, 2);
    let err = store
        .redeem_enrollment_token(&secret, NOW + 3)
        .await
        .unwrap_err();
    match &err {
        RedeemError::Exhausted { id, uses, max_uses } => {
            assert_eq!((id.as_str(), *uses, *max_uses), (token.id.as_str(), 2, 2))
        }
        other => panic!("expected exhausted, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "enrolment token {} has been used up (2 of 2 uses)",
            token.id
        )
    );
    // A refused redeem counts nothing.
    assert_eq!(store.list_enrollment_tokens().await.unwrap()[0].uses, 2);
}

#[tokio::test]
async fn unlimited_token_keeps_counting() {
    let store = StateStore::open_memory().await.unwrap();
    let (_, secret) = store
        .create_enrollment_token("fleet", None, None, NOW)
        .await
        .unwrap();
    for n in 1..=5 {
        let t = store
            .redeem_enrollment_token(&secret, NOW + n)
            .await
            .unwrap();
        assert_eq!(t.uses, n as u32);
    }
}

#[tokio::test]
async fn expired_token_is_refused_with_its_expiry_time() {
    let store = StateStore::open_memory().await.unwrap();
    let (token, secret) = store
        .create_enrollment_token("short", Some(Duration::from_secs(60)), None, NOW - 60_000)
        .await
        .unwrap();
    // Expiry is exclusive: at exactly expires_ms the token no longer works.
    let err = store
        .redeem_enrollment_token(&secret, NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, RedeemError::Expired { at_ms, .. } if *at_ms == NOW),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "enrolment token {} has expired (at 2026-11-24T10:00:00Z)",
            token.id
        )
    );
    assert!(store
        .redeem_enrollment_token(&secret, NOW - 1)
        .await
        .is_ok());
}

#[tokio::test]
async fn revoked_token_is_refused() {
    let store = StateStore::open_memory().await.unwrap();
    let (token, secret) = store
        .create_enrollment_token("lab", None, Some(5), NOW)
        .await
        .unwrap();
    store.revoke_enrollment_token(&token.id).await.unwrap();
    // Revoking again is fine.
    store.revoke_enrollment_token(&token.id).await.unwrap();
    let err = store
        .redeem_enrollment_token(&secret, NOW)
        .await
        .unwrap_err();
    assert!(matches!(err, RedeemError::Revoked { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!("enrolment token {} has been revoked", token.id)
    );
    let listed = store.list_enrollment_tokens().await.unwrap();
    assert!(listed[0].revoked);
    assert_eq!(listed[0].uses, 0);
}

#[tokio::test]
async fn unknown_secret_and_unknown_id_are_refused() {
    let store = StateStore::open_memory().await.unwrap();
    let (token, secret) = store
        .create_enrollment_token("lab", None, None, NOW)
        .await
        .unwrap();
    for bad in [
        "",
        "vet_",
        "vet_0000000000000000000000000000000000000000000000000000000000000000",
        &secret[..secret.len() - 1],
        token.id.as_str(),
    ] {
        let err = store.redeem_enrollment_token(bad, NOW).await.unwrap_err();
        assert!(matches!(err, RedeemError::Unknown), "{bad:?}: {err:?}");
        assert_eq!(err.to_string(), "enrolment token is not known");
    }
    let err = store.revoke_enrollment_token("et_nope").await.unwrap_err();
    assert!(matches!(err, StateError::NotFound { .. }), "{err:?}");
    assert_eq!(err.to_string(), "enrolment token \"et_nope\" not found");
}

#[tokio::test]
async fn bad_token_parameters_are_refused() {
    let store = StateStore::open_memory().await.unwrap();
    let err = store
        .create_enrollment_token("x", None, Some(0), NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("must be at least 1"), "{err}");
    let err = store
        .create_enrollment_token("x", Some(Duration::ZERO), None, NOW)
        .await
        .unwrap_err();
    assert!(
        err.to_string().starts_with("invalid enrolment token ttl"),
        "{err}"
    );
    let err = store
        .create_enrollment_token("x", Some(Duration::MAX), None, NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("too long"), "{err}");
    let err = store
        .create_enrollment_token("a\nb", None, None, NOW)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("control characters"), "{err}");
    assert!(store.list_enrollment_tokens().await.unwrap().is_empty());
}

/// Redeem `secret` from `tasks` tasks at once; returns how many succeeded, after checking
/// that every failure is `Exhausted`.
async fn redeem_concurrently(store: &StateStore, secret: &str, tasks: usize) -> usize {
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(tasks));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let store = store.clone();
            let secret = secret.to_string();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                store.redeem_enrollment_token(&secret, NOW).await
            })
        })
        .collect();
    let mut ok = 0;
    for h in handles {
        match h.await.unwrap() {
            Ok(_) => ok += 1,
            Err(RedeemError::Exhausted { .. }) => {}
            Err(other) => panic!("unexpected redeem error {other:?}"),
        }
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redeems_of_a_single_use_token_succeed_once() {
    let (_dir, _path, store) = file_store().await;
    for round in 0..5 {
        let (token, secret) = store
            .create_enrollment_token(&format!("once {round}"), None, Some(1), NOW)
            .await
            .unwrap();
        assert_eq!(redeem_concurrently(&store, &secret, 8).await, 1);
        let after = store.enrollment_token(&token.id).await.unwrap().unwrap();
        assert_eq!(after.uses, 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_redeems_never_exceed_max_uses() {
    let (_dir, _path, store) = file_store().await;
    let (token, secret) = store
        .create_enrollment_token("three", None, Some(3), NOW)
        .await
        .unwrap();
    assert_eq!(redeem_concurrently(&store, &secret, 16).await, 3);
    let after = store.enrollment_token(&token.id).await.unwrap().unwrap();
    assert_eq!(after.uses, 3);

    // The same on the in-memory store (one connection).
    let memory = StateStore::open_memory().await.unwrap();
    let (_, secret) = memory
        .create_enrollment_token("once", None, Some(1), NOW)
        .await
        .unwrap();
    assert_eq!(redeem_concurrently(&memory, &secret, 8).await, 1);
}
