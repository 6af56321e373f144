//! `[access]`: signed in is not the same as allowed in.

use crate::common::{Browser, Proxy, World};
use portcullis::demo::dev_idp::Faults;

#[tokio::test(flavor = "multi_thread")]
async fn email_outside_the_allowlist_gets_a_403_page_and_an_audit_line() {
    let world = World::new().await;
    let proxy =
        Proxy::start(&world.config("", "[access]\nallowed_emails = [\"ada@example.com\"]")).await;
    let mut b = Browser::new();
    let r = b.sign_in(&proxy, "/", "mallory@example.com").await;
    assert_eq!(r.status, 403);
    assert!(r.body.contains("Access denied") && r.body.contains("mallory@example.com"));
    assert!(!b.cookies.contains_key("portcullis_session"));
    let audit = proxy.audit_when("access_denied").await;
    let denied = audit
        .iter()
        .find(|e| e["event"] == "access_denied")
        .expect("access_denied");
    assert_eq!(denied["reason"], "email_not_allowed");
    assert_eq!(denied["user_id"], "dev|mallory@example.com");

    let mut ada = Browser::new();
    assert_eq!(
        ada.sign_in(&proxy, "/", "Ada@Example.com").await.status,
        302
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn domain_rule_needs_a_verified_email() {
    let world = World::new().await;
    let proxy =
        Proxy::start(&world.config("", "[access]\nallowed_domains = [\"example.com\"]")).await;
    let mut b = Browser::new();
    assert_eq!(b.sign_in(&proxy, "/", "ada@example.com").await.status, 302);
    let mut other = Browser::new();
    assert_eq!(
        other
            .sign_in(&proxy, "/", "ada@example.com.evil.io")
            .await
            .status,
        403
    );

    world.idp.set_faults(Faults {
        unverified_email: true,
        ..Faults::default()
    });
    let mut unverified = Browser::new();
    let r = unverified.sign_in(&proxy, "/", "eve@example.com").await;
    assert_eq!(r.status, 403);
    proxy
        .audit_with_reason("access_denied", "email_not_verified")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn tightened_rules_apply_to_existing_sessions() {
    let world = World::new().await;
    let open = world.config("", "");
    let mut b = {
        let proxy = Proxy::start(&open).await;
        let mut b = Browser::new();
        assert_eq!(b.sign_in(&proxy, "/", "ada@example.com").await.status, 302);
        b
    };
    let closed = world.config("", "[access]\nallowed_emails = [\"bob@example.com\"]");
    let proxy = Proxy::start(&closed).await;
    let r = b.get(&proxy.url("/api/echo")).await;
    assert_eq!(
        r.status, 401,
        "a session minted under looser rules no longer passes"
    );
}
