//! The conformance suite every [`Store`] backend must pass: the memory store in
//! its unit tests, Redis in the integration tests against a real `redis-server`.
//! Each rule is checked with racing callers where a race is what could break it.
//! `ns` keeps one run's keys apart from another's.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use futures_util::future::join_all;

use super::{unix_now, Store, Verdict};

/// Runs every check; panics (the test fails) at the first broken rule.
pub async fn run(store: &dyn Store, ns: &str) {
    store.ping().await.expect("a working store answers a ping");
    values(store, ns).await;
    take_is_exactly_once(store, ns).await;
    put_if_absent_is_exactly_once(store, ns).await;
    groups_are_capped_under_a_race(store, ns).await;
    counters(store, ns).await;
    sets(store, ns).await;
    revocations(store, ns).await;
}

async fn values(store: &dyn Store, ns: &str) {
    let (now, k) = (unix_now(), format!("{ns}v"));
    assert_eq!(store.get(&k).await.unwrap(), None);
    store.put(&k, b"one", now + 60).await.unwrap();
    store.put(&k, b"two", now + 60).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap().as_deref(), Some(&b"two"[..]));
    store.delete(&k).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap(), None, "deleted");
    let old = format!("{ns}old");
    store.put(&old, b"gone", now - 1).await.unwrap();
    assert_eq!(store.get(&old).await.unwrap(), None, "expired: get");
    assert_eq!(store.take(&old).await.unwrap(), None, "expired: take");
    let bytes: Vec<u8> = (0..=255).collect();
    store.put(&k, &bytes, now + 60).await.unwrap();
    assert_eq!(store.get(&k).await.unwrap(), Some(bytes), "any bytes");
}

async fn take_is_exactly_once(store: &dyn Store, ns: &str) {
    let k = format!("{ns}once");
    store.put(&k, b"ticket", unix_now() + 60).await.unwrap();
    let got = join_all((0..16).map(|_| store.take(&k))).await;
    let winners: Vec<_> = got.into_iter().filter_map(Result::unwrap).collect();
    assert_eq!(winners, vec![b"ticket".to_vec()], "exactly one taker");
    assert_eq!(store.get(&k).await.unwrap(), None);
}

async fn put_if_absent_is_exactly_once(store: &dyn Store, ns: &str) {
    let (now, k) = (unix_now(), format!("{ns}link"));
    let got = join_all((0..16).map(|_| store.put_if_absent(&k, b"used", now + 60))).await;
    let wins = got.into_iter().filter(|r| *r.as_ref().unwrap()).count();
    assert_eq!(wins, 1, "exactly one put-if-absent wins");
    assert!(!store.put_if_absent(&k, b"again", now + 60).await.unwrap());
    assert_eq!(store.get(&k).await.unwrap().as_deref(), Some(&b"used"[..]));
    let old = format!("{ns}old-link");
    store.put(&old, b"x", now - 1).await.unwrap();
    assert!(
        store.put_if_absent(&old, b"y", now + 60).await.unwrap(),
        "an expired value is absent"
    );
}

async fn groups_are_capped_under_a_race(store: &dyn Store, ns: &str) {
    let now = unix_now();
    let group = format!("{ns}g");
    let keys: Vec<String> = (0..12).map(|i| format!("{ns}t{i}")).collect();
    let got = join_all(
        keys.iter()
            .map(|k| store.put_in_group(&group, 4, k, b"t", now + 60)),
    )
    .await;
    let placed: Vec<&String> = keys
        .iter()
        .zip(got)
        .filter(|(_, r)| *r.as_ref().unwrap())
        .map(|(k, _)| k)
        .collect();
    assert_eq!(placed.len(), 4, "the cap holds under a race");
    let extra = format!("{ns}t-extra");
    assert!(!store
        .put_in_group(&group, 4, &extra, b"t", now + 60)
        .await
        .unwrap());
    assert!(store.take(placed[0]).await.unwrap().is_some());
    assert!(
        store
            .put_in_group(&group, 4, &extra, b"t", now + 60)
            .await
            .unwrap(),
        "a taken entry frees its place"
    );
    let other = format!("{ns}g2");
    assert!(store
        .put_in_group(&other, 1, &format!("{ns}o1"), b"t", now - 1)
        .await
        .unwrap());
    assert!(
        store
            .put_in_group(&other, 1, &format!("{ns}o2"), b"t", now + 60)
            .await
            .unwrap(),
        "an expired entry frees its place, and groups are apart"
    );
    assert_eq!(
        store.take(&format!("{ns}o2")).await.unwrap().as_deref(),
        Some(&b"t"[..])
    );
}

async fn counters(store: &dyn Store, ns: &str) {
    let (now, k) = (unix_now(), format!("{ns}c"));
    assert_eq!(store.count(&k, now + 60).await.unwrap(), 1);
    let got = join_all((0..20).map(|_| store.count(&k, now + 60))).await;
    let mut seen: Vec<u64> = got.into_iter().map(Result::unwrap).collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        (2..=21).collect::<Vec<_>>(),
        "every count is counted once"
    );
    let old = format!("{ns}c-old");
    store.count(&old, now - 1).await.unwrap();
    assert_eq!(
        store.count(&old, now + 60).await.unwrap(),
        1,
        "an expired counter starts again"
    );
}

async fn sets(store: &dyn Store, ns: &str) {
    let (now, set) = (unix_now(), format!("{ns}s"));
    assert!(store.members(&set).await.unwrap().is_empty());
    store.add_member(&set, "d1", now + 60).await.unwrap();
    store.add_member(&set, "d2", now + 60).await.unwrap();
    store.add_member(&set, "gone", now - 1).await.unwrap();
    let mut members = store.members(&set).await.unwrap();
    members.sort();
    assert_eq!(members, ["d1", "d2"]);
    store.remove_member(&set, "d1").await.unwrap();
    assert_eq!(store.members(&set).await.unwrap(), ["d2"]);
}

async fn revocations(store: &dyn Store, ns: &str) {
    let now = unix_now();
    let (id, other) = (format!("{ns}sid"), format!("{ns}sid-other"));
    assert_eq!(store.revocations().check(&id, now), Verdict::Live);
    store.revoke(&id, now + 60).await.unwrap();
    assert_eq!(
        store.revocations().check(&id, now),
        Verdict::Revoked,
        "this instance's view knows at once"
    );
    assert_eq!(store.revocations().check(&other, now), Verdict::Live);
    assert_eq!(
        store.revocations().check(&id, now + 60),
        Verdict::Live,
        "until its expiry"
    );
}
