//! Who a token or a session acts for is answered from memory after its first look-up, until a
//! change to users, tokens or sessions reaches this instance: every such write logs an `access`
//! row in its own transaction (an operator's statement as much as the service's), which the
//! follower applies by forgetting; a sign-out on this instance forgets at once. A session past
//! its end is refused even from memory. On SQLite and PostgreSQL.

mod support;

use std::sync::Arc;

use scratch_db::ScratchDatabase;
use store::{ChangeCursor, ChangedEntity, ManualClock, NewUser, Role, Store};
use support::{execute, open, read_all};

/// Whether the log names a change to access after `position`.
async fn access_logged_after(store: &Store, position: i64) -> bool {
    let mut cursor = ChangeCursor::resume(store, position).await.unwrap();
    read_all(store, &mut cursor)
        .await
        .iter()
        .any(|change| change.entity == ChangedEntity::Access)
}

async fn principals_are_kept_until_a_change_to_access_is_applied(url: &str) {
    let clock = Arc::new(ManualClock::at(1_796_000_000));
    let store = open(url, &clock).await;
    let user = store
        .create_user(
            &NewUser {
                username: "zhaoyun".to_owned(),
                display_name: "赵云".to_owned(),
                password_hash: "not-a-real-hash".to_owned(),
                role: Role::Admin,
                profile_id: None,
                region_code: None,
            },
            "test",
        )
        .await
        .unwrap();
    store
        .create_api_token(user.user_id, "integration", "token-hash", "test")
        .await
        .unwrap();
    let ends = store.now() + chrono::Duration::hours(1);
    for session in ["session-a", "session-b"] {
        store
            .create_session(session, user.user_id, "csrf", ends)
            .await
            .unwrap();
    }
    let token_user = |store: Store| async move {
        store
            .token_principal("token-hash")
            .await
            .unwrap()
            .map(|principal| principal.username)
    };
    let session_user = |store: Store, session: &'static str| async move {
        store
            .session(session)
            .await
            .unwrap()
            .map(|(principal, _)| principal.username)
    };
    let zhaoyun = Some("zhaoyun".to_owned());
    assert_eq!(token_user(store.clone()).await, zhaoyun);
    assert_eq!(session_user(store.clone(), "session-a").await, zhaoyun);

    // Disabled by an operator's statement: logged with the write; until the follower applies
    // the change, this instance answers from memory, then the database refuses both.
    let before = store.change_head().await.unwrap();
    execute(url, "UPDATE users SET disabled = TRUE").await;
    assert!(access_logged_after(&store, before).await);
    assert_eq!(token_user(store.clone()).await, zhaoyun, "kept in memory");
    store.forget_access();
    assert_eq!(token_user(store.clone()).await, None);
    assert_eq!(session_user(store.clone(), "session-a").await, None);

    execute(url, "UPDATE users SET disabled = FALSE").await;
    store.forget_access();
    assert_eq!(session_user(store.clone(), "session-a").await, zhaoyun);
    assert_eq!(session_user(store.clone(), "session-b").await, zhaoyun);

    // A sign-out here is refused here at once.
    store.delete_session("session-b").await.unwrap();
    assert_eq!(session_user(store.clone(), "session-b").await, None);

    // A token revoked, a session ended by a statement: logged.
    let before = store.change_head().await.unwrap();
    execute(url, "DELETE FROM api_tokens").await;
    assert!(access_logged_after(&store, before).await);
    let before = store.change_head().await.unwrap();
    execute(
        url,
        "UPDATE users SET disabled = TRUE WHERE username = 'nobody'",
    )
    .await;
    assert!(
        !access_logged_after(&store, before).await,
        "a statement that changed no user logs nothing"
    );

    if !url.starts_with("sqlite:") {
        // TRUNCATE fires no row triggers on PostgreSQL; it logs all the same.
        let before = store.change_head().await.unwrap();
        execute(url, "TRUNCATE api_tokens").await;
        assert!(access_logged_after(&store, before).await);
    }

    // A session kept in memory still ends when its time is up.
    assert_eq!(session_user(store.clone(), "session-a").await, zhaoyun);
    clock.advance(3_600);
    assert_eq!(session_user(store.clone(), "session-a").await, None);
}

#[tokio::test]
async fn principals_are_kept_until_a_change_to_access_is_applied_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    principals_are_kept_until_a_change_to_access_is_applied(&format!(
        "sqlite://{}/t.db",
        dir.path().display()
    ))
    .await;
}

#[tokio::test]
async fn principals_are_kept_until_a_change_to_access_is_applied_on_postgres() {
    let db = ScratchDatabase::create("pp_store_access").await;
    principals_are_kept_until_a_change_to_access_is_applied(db.url()).await;
}
