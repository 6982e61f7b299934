//! A recipient's inbox as listed: newest first, paged, filtered by state and by text, with the
//! total of the filtered listing and the unread count of the whole inbox — also on a page past
//! the end and for an empty inbox. Packs are listed as stored: the same JSON the delivery wrote,
//! byte for byte on SQLite. On SQLite and PostgreSQL.

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
    deliver_pack(
        store,
        recipient,
        n,
        serde_json::json!({"n": n, "title": title}),
    )
    .await;
}

/// Delivers `pack` to `recipient`'s inbox through push number `n`.
async fn deliver_pack(store: &Store, recipient: i64, n: i64, pack: serde_json::Value) {
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
                    inbox_pack: Some(pack.clone()),
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
        .map(|item| item.pack_value()["n"].as_i64().unwrap())
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
            .find(|item| item.pack_value()["n"] == n)
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

    // Delivered in the same second: the later one, with the greater id, comes first.
    deliver(&store, recipient, 5, "关于稳岗补贴的通知").await;
    deliver(&store, recipient, 6, "关于稳岗补贴的通知").await;
    assert_eq!(list(everything.clone(), page(1)).await, (vec![6, 5], 7, 5));
    assert_eq!(list(everything.clone(), page(2)).await, (vec![4, 3], 7, 5));

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

/// While packs arrive, every page read shows as many items as its total says it holds, and an
/// unread count that agrees with them (nothing is read here, so every item is unread): the page
/// and both counts come from one snapshot. Reading them apart once showed "1 unread" over an
/// empty inbox.
async fn a_page_and_its_counts_agree_while_packs_arrive(url: &str) {
    const PACKS: i64 = 24;
    const PER_PAGE: u32 = 5;
    let clock = Arc::new(ManualClock::at(1_796_000_000));
    let store = open(url, &clock).await;
    let recipient = one_recipient(&store).await;
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for n in 0..PACKS {
                deliver(&store, recipient, n, "关于稳岗补贴的通知").await;
            }
        })
    };
    let first_page = Paging {
        page: 1,
        per_page: PER_PAGE,
    };
    let mut reads = 0;
    loop {
        let done = writer.is_finished();
        let (packs, total, unread) = seen(
            &store
                .inbox(recipient, &InboxFilter::default(), first_page)
                .await
                .unwrap(),
        );
        reads += 1;
        assert_eq!(
            packs.len() as i64,
            total.min(i64::from(PER_PAGE)),
            "read {reads}: items {packs:?} against total {total}"
        );
        assert_eq!(unread, total, "read {reads}: unread against total");
        let newest: Vec<i64> = (0..total).rev().take(PER_PAGE as usize).collect();
        assert_eq!(
            packs, newest,
            "read {reads}: the newest packs, newest first"
        );
        if done {
            assert_eq!(total, PACKS);
            break;
        }
    }
    writer.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_and_its_counts_agree_while_packs_arrive_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_page_and_its_counts_agree_while_packs_arrive(&format!(
        "sqlite://{}/t.db",
        dir.path().display()
    ))
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_and_its_counts_agree_while_packs_arrive_on_postgres() {
    let db = ScratchDatabase::create("pp_store_inbox_arriving").await;
    a_page_and_its_counts_agree_while_packs_arrive(db.url()).await;
}

/// A pack with what JSON text can make awkward: escapes, characters outside the BMP, numbers at
/// the edges of their types, nesting, empty containers.
fn awkward_pack(n: i64) -> serde_json::Value {
    serde_json::json!({
        "n": n,
        "title": "关于\"稳岗\"补贴的通知 </script> \u{1} \\ 𝄞 \n\t",
        "items": [
            {"policy_id": i64::MAX, "score": 0.1, "tiny": 1e-300, "huge": 1.5e300, "minus": -0.0,
             "unsigned": u64::MAX, "reasons": [], "detail": {}, "flag": true, "none": null},
            {"policy_id": -1, "nested": [[["deep"]]], "empty": ""}
        ]
    })
}

/// The listing hands on each pack's stored text where it used to decode it into a
/// `serde_json::Value` and encode it again: the answer must not change. On SQLite the stored text
/// is that encoding, so the bytes are the same; PostgreSQL's `jsonb` gives its own layout of the
/// same value.
async fn a_listed_pack_is_the_delivered_one(url: &str, same_bytes: bool) {
    let clock = Arc::new(ManualClock::at(1_796_000_000));
    let store = open(url, &clock).await;
    let recipient = one_recipient(&store).await;
    for n in 0..3 {
        deliver_pack(&store, recipient, n, awkward_pack(n)).await;
        clock.advance(60);
    }
    let listed = store
        .inbox(recipient, &InboxFilter::default(), Paging::default())
        .await
        .unwrap();
    assert_eq!(listed.page.items.len(), 3);
    for item in &listed.page.items {
        let n = item.pack_value()["n"].as_i64().unwrap();
        assert_eq!(item.pack_value(), awkward_pack(n));
        let sent = serde_json::to_string(&item.pack).unwrap();
        let decoded_and_encoded = serde_json::to_string(&item.pack_value()).unwrap();
        if same_bytes {
            assert_eq!(sent, decoded_and_encoded);
        } else {
            let sent: serde_json::Value = serde_json::from_str(&sent).unwrap();
            assert_eq!(sent, awkward_pack(n));
        }
        let one = store.inbox_item(item.id).await.unwrap();
        assert_eq!(one.pack.get(), item.pack.get(), "one item reads as listed");
    }
}

#[tokio::test]
async fn a_listed_pack_is_the_delivered_one_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_listed_pack_is_the_delivered_one(&format!("sqlite://{}/t.db", dir.path().display()), true)
        .await;
}

#[tokio::test]
async fn a_listed_pack_is_the_delivered_one_on_postgres() {
    let db = ScratchDatabase::create("pp_store_inbox_pack_text").await;
    a_listed_pack_is_the_delivered_one(db.url(), false).await;
}
