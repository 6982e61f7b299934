//! A recipient's inbox as listed: newest first, paged, filtered by state and by text, with the
//! total of the filtered listing and the unread count of the whole inbox — also on a page past
//! the end and for an empty inbox. On SQLite and PostgreSQL.

mod support;

use std::sync::Arc;

use chrono::Duration;
use scratch_db::ScratchDatabase;
use store::{
    Channel, InboxFilter, InboxPage, InboxState, ManualClock, Paging, PlannedPack, PlannedPolicy,
    Settlement, Store,
};
use support::{one_recipient, open, staff_push};

/// Delivers pack `n` (titled `title`) to `recipient`'s inbox through a push of its own.
async fn deliver(store: &Store, recipient: i64, n: i64, title: &str) {
    let lease = Duration::minutes(2);
    let push = staff_push(store, &format!("inbox-listing-{n}")).await;
    store.claim_planning("planner", lease).await.unwrap();
    store
        .write_plan_batch(
            push,
            "planner",
            lease,
            &[PlannedPack {
                profile_id: recipient,
                policies: vec![PlannedPolicy {
                    policy_id: 100 + n,
                    reason: format!("staff:inbox-listing-{n}"),
                    allow_undetermined: false,
                }],
                channels: vec![(Channel::Inbox, store.now())],
                emails: Vec::new(),
                held_back: Vec::new(),
            }],
            recipient,
        )
        .await
        .unwrap();
    store.finish_planning(push, "planner", 1).await.unwrap();
    let claimed = store
        .claim_deliveries(
            "worker",
            Channel::Inbox,
            10,
            lease,
            store::InDoubtPolicy::Resend,
        )
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let settled: Vec<_> = claimed
        .into_iter()
        .map(|delivery| {
            (
                delivery,
                Settlement::Delivered {
                    inbox_pack: Some(serde_json::json!({"n": n, "title": title})),
                    rule_version: 1,
                    dropped: Vec::new(),
                    addresses: Vec::new(),
                },
            )
        })
        .collect();
    store.settle_deliveries("worker", &settled).await.unwrap();
}

/// The packs of a page by their number, with the page's total and the unread count.
fn seen(page: &InboxPage) -> (Vec<i64>, i64, i64) {
    let packs = page
        .page
        .items
        .iter()
        .map(|item| item.pack.0["n"].as_i64().unwrap())
        .collect();
    (packs, page.page.total, page.unread)
}

async fn an_inbox_lists_pages_filters_and_counts(url: &str) {
    let clock = Arc::new(ManualClock::at(1_796_000_000));
    let store = open(url, &clock).await;
    let recipient = one_recipient(&store).await;
    for n in 0..5 {
        let title = if n == 3 {
            "关于支持中小企业数字化转型的若干措施"
        } else {
            "关于稳岗补贴的通知"
        };
        deliver(&store, recipient, n, title).await;
        clock.advance(60);
    }
    let all = store
        .inbox(recipient, &InboxFilter::default(), Paging::default())
        .await
        .unwrap();
    assert_eq!(seen(&all), (vec![4, 3, 2, 1, 0], 5, 5));
    let id_of = |n: i64| {
        all.page
            .items
            .iter()
            .find(|item| item.pack.0["n"] == n)
            .unwrap()
            .id
    };
    store
        .set_inbox_state(id_of(1), InboxState::Read)
        .await
        .unwrap();
    store
        .set_inbox_state(id_of(2), InboxState::Archived)
        .await
        .unwrap();

    let page = |page: u32| Paging { page, per_page: 2 };
    let list = |filter: InboxFilter, paging: Paging| {
        let store = store.clone();
        async move { seen(&store.inbox(recipient, &filter, paging).await.unwrap()) }
    };
    let everything = InboxFilter::default();
    assert_eq!(list(everything.clone(), page(1)).await, (vec![4, 3], 5, 3));
    assert_eq!(list(everything.clone(), page(3)).await, (vec![0], 5, 3));
    assert_eq!(
        list(everything.clone(), page(4)).await,
        (vec![], 5, 3),
        "past the end: no items, the same counts"
    );
    let in_state = |state| InboxFilter {
        state: Some(state),
        text: None,
    };
    assert_eq!(
        list(in_state(InboxState::Unread), Paging::default()).await,
        (vec![4, 3, 0], 3, 3)
    );
    assert_eq!(
        list(in_state(InboxState::Read), Paging::default()).await,
        (vec![1], 1, 3)
    );
    let about = |text: &str| InboxFilter {
        state: None,
        text: Some(text.to_owned()),
    };
    assert_eq!(
        list(about("数字化转型"), Paging::default()).await,
        (vec![3], 1, 3),
        "the unread count is the whole inbox's"
    );
    assert_eq!(
        list(about("稳岗_贴"), Paging::default()).await,
        (vec![], 0, 3),
        "LIKE's wildcards are text"
    );

    // The store answers for any id; the API looks the profile up only for an empty inbox.
    let other = recipient + 1_000;
    let empty = store
        .inbox(other, &InboxFilter::default(), Paging::default())
        .await
        .unwrap();
    assert_eq!(seen(&empty), (vec![], 0, 0));
}

#[tokio::test]
async fn an_inbox_lists_pages_filters_and_counts_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    an_inbox_lists_pages_filters_and_counts(&format!("sqlite://{}/t.db", dir.path().display()))
        .await;
}

#[tokio::test]
async fn an_inbox_lists_pages_filters_and_counts_on_postgres() {
    let db = ScratchDatabase::create("pp_store_inbox_listing").await;
    an_inbox_lists_pages_filters_and_counts(db.url()).await;
}
