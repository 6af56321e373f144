//! Answers no real IdP gives, from the development IdP: each must end the login
//! with a clear page, a `login_failure` audit line, and no session.

use crate::common::{Browser, Proxy, World};
use portcullis::demo::dev_idp::{DevIdp, Faults};

async fn login_fails(faults: Faults, expected_status: u16, reason: &str) {
    let world = World::new().await;
    world.idp.set_faults(faults.clone());
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    let r = b.sign_in(&proxy, "/", "ada@example.com").await;
    assert_eq!(r.status, expected_status, "{faults:?}: {}", r.body);
    assert!(r.body.contains("href=\"/login\""), "a way back to sign-in");
    assert!(
        !b.cookies.contains_key("portcullis_session"),
        "{faults:?} must not sign in"
    );
    let audit = proxy.audit_when("login_failure").await;
    let failure = audit
        .iter()
        .find(|e| e["event"] == "login_failure")
        .unwrap_or_else(|| panic!("no login_failure for {faults:?}"));
    assert_eq!(failure["reason"], reason);
    assert_eq!(failure["provider"], "dev");
    let r = b.get(&proxy.url("/api/echo")).await;
    assert_eq!(r.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn id_token_with_bad_signature_is_refused() {
    login_fails(
        Faults {
            bad_signature: true,
            ..Faults::default()
        },
        400,
        "identity_invalid",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn id_token_for_another_audience_is_refused() {
    login_fails(
        Faults {
            wrong_audience: true,
            ..Faults::default()
        },
        400,
        "identity_invalid",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn id_token_from_another_issuer_is_refused() {
    login_fails(
        Faults {
            wrong_issuer: true,
            ..Faults::default()
        },
        400,
        "identity_invalid",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_id_token_is_refused() {
    login_fails(
        Faults {
            expired: true,
            ..Faults::default()
        },
        400,
        "identity_invalid",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn id_token_without_nonce_is_refused() {
    login_fails(
        Faults {
            omit_nonce: true,
            ..Faults::default()
        },
        400,
        "identity_invalid",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn idp_down_during_login_is_a_502_page_with_a_retry_link() {
    login_fails(
        Faults {
            token_endpoint_down: true,
            ..Faults::default()
        },
        502,
        "idp_unreachable",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_cannot_be_redeemed_twice() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    let start = b.get(&proxy.url("/auth/login?provider=dev&next=/")).await;
    let pkce = b.cookies["portcullis_session_pkce"].clone();
    let callback = b
        .authorize_at_idp(start.location(), "ada@example.com")
        .await;
    assert_eq!(b.get(&callback).await.status, 302);
    // Replaying the callback with the same PKCE cookie: the IdP refuses the code.
    let mut replay = Browser::new();
    replay
        .cookies
        .insert("portcullis_session_pkce".into(), pkce);
    let r = replay.get(&callback).await;
    assert_eq!(r.status, 400);
    assert!(!replay.cookies.contains_key("portcullis_session"));
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_idp_at_start_does_not_stop_portcullis() {
    let world = World::new().await;
    let dead = crate::common::free_port();
    let config = world
        .config("", "")
        .replace(world.idp.issuer(), &format!("http://127.0.0.1:{dead}"));
    let proxy = Proxy::start(&config).await;
    let mut b = Browser::new();
    let r = b.get(&proxy.url("/auth/login?provider=dev")).await;
    assert_eq!(r.status, 502, "a clear page, not a crash");
    assert!(r.body.contains("temporarily unavailable"));
    let r = b.get(&proxy.url("/")).await;
    assert_eq!(
        r.status, 302,
        "and nothing is served unauthenticated meanwhile"
    );
    assert!(proxy.stderr().contains("provider not ready at start"));
    let r = b.get(&proxy.url("/auth/ready")).await;
    assert_eq!(r.status, 503, "not ready while no provider is usable");
    assert!(
        r.body.contains("providers: none usable yet (dev"),
        "{}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_once_a_provider_is_usable_whatever_the_host() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("public_url = \"https://gate.example\"", "")).await;
    let r = reqwest::Client::new()
        .get(proxy.url("/auth/ready"))
        .header("host", "10.0.0.7:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.unwrap(), "ready\n");
}

/// Signs in once, lets the IdP change its key with `change`, and returns a second
/// person's sign-in: it must succeed without a restart.
async fn signs_in_after(change: impl FnOnce(&DevIdp)) -> (Proxy, Browser, crate::common::Resp) {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut first = Browser::new();
    assert_eq!(
        first.sign_in(&proxy, "/", "ada@example.com").await.status,
        302
    );
    change(&world.idp);
    let mut second = Browser::new();
    let r = second.sign_in(&proxy, "/", "ada@example.com").await;
    (proxy, second, r)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_signing_key_is_fetched_on_the_next_login() {
    let (_, _, r) = signs_in_after(|idp| idp.rotate_key().unwrap()).await;
    assert_eq!(
        r.status, 302,
        "the unknown kid refetches the JWKS: {}",
        r.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_replaced_under_the_same_kid_is_refetched_after_a_signature_failure() {
    let (proxy, mut second, r) = signs_in_after(|idp| idp.rekey_same_kid().unwrap()).await;
    assert_eq!(
        r.status, 302,
        "a signature failure refetches the JWKS once: {}",
        r.body
    );
    assert_eq!(second.get(&proxy.url("/api/echo")).await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn existing_sessions_keep_working_while_the_idp_is_down() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut signed_in = Browser::new();
    assert_eq!(
        signed_in
            .sign_in(&proxy, "/", "ada@example.com")
            .await
            .status,
        302
    );
    world.idp.set_faults(Faults {
        token_endpoint_down: true,
        ..Faults::default()
    });
    let mut newcomer = Browser::new();
    assert_eq!(
        newcomer
            .sign_in(&proxy, "/", "bob@example.com")
            .await
            .status,
        502
    );
    assert_eq!(
        signed_in.get(&proxy.url("/api/echo")).await.status,
        200,
        "sessions need no IdP"
    );
}
