use super::*;
use crate::store::memory::MemoryStore;

fn claims(did: &str) -> DeviceClaims {
    DeviceClaims {
        did: did.into(),
        label: "kitchen".into(),
        sub: "ada".into(),
        email: None,
        email_verified: false,
        name: None,
        provider: "idp".into(),
        groups: vec![],
        iat: 1,
        exp: i64::MAX / 2,
    }
}

#[test]
fn a_label_loses_what_would_make_it_read_as_something_else() {
    assert_eq!(label(Some("  kitchen display ")), "kitchen display");
    assert_eq!(
        label(Some("my\u{202E}txt.exe")),
        "mytxt.exe",
        "a bidi override"
    );
    assert_eq!(
        label(Some("pay\u{200B}pal\u{2066}\u{FEFF}")),
        "paypal",
        "zero-width"
    );
    assert_eq!(label(Some("a\nb\u{7}")), "ab");
    assert_eq!(label(Some("\u{200B}\u{202E}")), "unnamed device");
    assert_eq!(label(None), "unnamed device");
    assert_eq!(label(Some(&"x".repeat(200))).chars().count(), MAX_LABEL);
    assert_eq!(
        label(Some("Küche 📺")),
        "Küche 📺",
        "letters and emoji stay"
    );
}

#[test]
fn user_codes_are_eight_unambiguous_letters() {
    for _ in 0..200 {
        let code = new_user_code();
        assert_eq!(normalize(&code).as_deref(), Some(code.as_str()));
        assert_eq!(
            normalize(&display(&code).to_lowercase()),
            Some(code.clone())
        );
    }
    assert_eq!(normalize("BCDF-GHJ"), None, "too short");
    assert_eq!(normalize("BCDF-GHJA"), None, "a vowel");
    assert_eq!(normalize("BCDF-GHJ1"), None, "a digit");
}

#[tokio::test]
async fn a_code_is_pending_then_approved_once_then_dead() {
    let store = MemoryStore::new();
    let now = crate::store::unix_now();
    let (device_code, user_code) = start(&store, "kitchen", "10.0.0.9", now, 600)
        .await
        .unwrap();
    assert_eq!(
        poll(&store, &device_code, now).await.unwrap(),
        Poll::Pending
    );
    assert_eq!(
        poll(&store, &device_code, now + 1).await.unwrap(),
        Poll::SlowDown,
        "polled within the interval"
    );
    let pending = lookup(&store, &user_code, now).await.unwrap().unwrap();
    assert_eq!(pending.label, "kitchen");
    let grant = Grant::Approved(Box::new(claims("dev_1")));
    assert!(decide(&store, &pending, &grant).await.unwrap());
    assert!(
        !decide(&store, &pending, &grant).await.unwrap(),
        "approved once"
    );
    assert!(!decide(&store, &pending, &Grant::Denied).await.unwrap());
    assert_eq!(
        lookup(&store, &user_code, now).await.unwrap(),
        None,
        "a decided code is dead"
    );
    // The interval grew by 5 s after the slow_down.
    assert_eq!(
        poll(&store, &device_code, now + 6).await.unwrap(),
        Poll::SlowDown
    );
    assert!(matches!(
        poll(&store, &device_code, now + 30).await.unwrap(),
        Poll::Approved(_)
    ));
    assert_eq!(
        poll(&store, &device_code, now + 60).await.unwrap(),
        Poll::Unknown,
        "answered once"
    );
}

#[tokio::test]
async fn an_expired_code_cannot_be_looked_up_or_polled() {
    let store = MemoryStore::new();
    let now = crate::store::unix_now();
    let (device_code, user_code) = start(&store, "x", "ip", now - 700, 600).await.unwrap();
    assert_eq!(lookup(&store, &user_code, now).await.unwrap(), None);
    assert_eq!(
        poll(&store, &device_code, now).await.unwrap(),
        Poll::Expired
    );
}

#[tokio::test]
async fn the_fifth_wrong_code_locks() {
    let store = MemoryStore::new();
    let now = crate::store::unix_now();
    for left in [4, 3, 2, 1] {
        assert_eq!(
            wrong_code(&store, "idp", "ada", now).await.unwrap(),
            (false, left)
        );
    }
    assert!(!is_locked(&store, "idp", "ada").await.unwrap());
    assert_eq!(
        wrong_code(&store, "idp", "ada", now).await.unwrap(),
        (true, 0)
    );
    assert!(is_locked(&store, "idp", "ada").await.unwrap());
    assert!(
        !is_locked(&store, "idp", "bob").await.unwrap(),
        "per person"
    );
}

#[tokio::test]
async fn only_the_owner_revokes_a_device() {
    let store = MemoryStore::new();
    remember(&store, &claims("dev_1"), "10.0.0.9")
        .await
        .unwrap();
    assert_eq!(devices(&store, "idp", "ada").await.unwrap().len(), 1);
    assert_eq!(revoke(&store, "idp", "bob", "dev_1").await.unwrap(), None);
    assert!(revoke(&store, "idp", "ada", "dev_1")
        .await
        .unwrap()
        .is_some());
    assert!(devices(&store, "idp", "ada").await.unwrap().is_empty());
    let now = crate::store::unix_now();
    assert_eq!(
        store.revocations().check("dev_1", now),
        crate::store::Verdict::Revoked
    );
}
