//! `kind = "oauth2"` against a loopback portal that follows RFC 6749 and RFC 7009:
//! a public client (PKCE only), claim names pointing into a nested userinfo
//! document, groups, userinfo errors, and logout at the IdP.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::fake_oauth::{FakeOAuth, PORTAL_CLIENT_ID};
use crate::common::{free_port, Browser, Proxy, Resp, World};

const CLAIMS: &str = r#"user_id_claim = "data.uid"
email_claim = "data.contact.mail"
email_verified_claim = "data.contact.verified"
name_claim = "data.display"
groups_claim = "roles""#;

/// A config with the portal provider first, then the dev IdP.
fn config(world: &World, portal: &FakeOAuth, provider_extra: &str, access: &str) -> String {
    world.config(
        "",
        &format!(
            r#"{access}

[[providers]]
id = "portal"
kind = "oauth2"
display_name = "Nous Portal"
client_id = "{PORTAL_CLIENT_ID}"
authorize_url = "{base}/oauth/authorize"
token_url = "{base}/oauth/token"
userinfo_url = "{base}/oauth/userinfo"
{CLAIMS}
{provider_extra}
"#,
            base = portal.base()
        ),
    )
}

async fn sign_in(
    b: &mut Browser,
    proxy: &Proxy,
    portal: &FakeOAuth,
    user: &str,
) -> (BTreeMap<String, String>, Resp) {
    portal.sign_in(b, proxy, "portal", "/chat", user).await
}

#[tokio::test(flavor = "multi_thread")]
async fn public_client_signs_in_with_nested_claims_and_groups() {
    let world = World::new().await;
    let portal = FakeOAuth::portal().await;
    let proxy = Proxy::start(&config(
        &world,
        &portal,
        "",
        "[access]\nallowed_domains = [\"portal.example\"]\nallowed_groups = [\"operators\"]",
    ))
    .await;
    let mut b = Browser::new();
    let (q, r) = sign_in(&mut b, &proxy, &portal, "pat").await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/chat");
    assert_eq!(q["code_challenge_method"], "S256");
    assert!(!q.contains_key("scope"), "no scopes configured, none sent");
    assert!(!q.contains_key("nonce"));

    let (form, basic) = portal.token_requests().pop().unwrap();
    assert!(!basic, "a public client sends no Authorization header");
    assert!(!form.contains_key("client_secret"));
    assert_eq!(form["client_id"], PORTAL_CLIENT_ID);
    assert!(form.contains_key("code_verifier"));

    let me = b.get(&proxy.url("/api/auth/me")).await.json();
    assert_eq!(me["user_id"], "7701");
    assert_eq!(me["email"], "pat@portal.example");
    assert_eq!(me["name"], "Pat Portal");
    assert_eq!(me["provider"], "portal");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_outside_allowed_groups_is_denied_naming_the_rule() {
    let world = World::new().await;
    let portal = FakeOAuth::portal().await;
    let proxy = Proxy::start(&config(
        &world,
        &portal,
        "",
        "[access]\nallowed_groups = [\"admins\"]",
    ))
    .await;
    let mut b = Browser::new();
    let (_, r) = sign_in(&mut b, &proxy, &portal, "pat").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("Access denied"));
    let denied = proxy.audit_event("access_denied").await;
    assert_eq!(denied["reason"], "group_not_allowed");
    assert_eq!(denied["user_id"], "7701");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unverified_email_passes_email_rules_only_with_trust_email() {
    let world = World::new().await;
    let portal = FakeOAuth::portal().await;
    let access = "[access]\nallowed_domains = [\"portal.example\"]";
    let strict = Proxy::start(&config(&world, &portal, "", access)).await;
    let (_, r) = sign_in(&mut Browser::new(), &strict, &portal, "unverified").await;
    assert_eq!(r.status, 403, "{}", r.body);

    let trusting = Proxy::start(&config(&world, &portal, "trust_email = true", access)).await;
    let (_, r) = sign_in(&mut Browser::new(), &trusting, &portal, "unverified").await;
    assert_eq!(r.status, 302, "{}", r.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn userinfo_without_the_id_claim_or_failing_gives_a_clear_page() {
    let world = World::new().await;
    let portal = FakeOAuth::portal().await;
    let proxy = Proxy::start(&config(&world, &portal, "", "")).await;

    let mut b = Browser::new();
    let (_, r) = sign_in(&mut b, &proxy, &portal, "noid").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Back to sign-in"));
    assert!(
        proxy.stderr().contains("user_id_claim"),
        "the log tells the operator which key to fix"
    );

    let (_, r) = sign_in(&mut b, &proxy, &portal, "someone-the-database-lost").await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert_eq!(b.get(&proxy.url("/api/echo")).await.status, 401);
    let audit = proxy
        .audit_until("two login failures", |audit| {
            audit
                .iter()
                .filter(|e| e["event"] == "login_failure")
                .count()
                >= 2
        })
        .await;
    let reasons: Vec<_> = audit
        .iter()
        .filter(|e| e["event"] == "login_failure")
        .map(|e| e["reason"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(reasons, ["identity_invalid", "idp_unreachable"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_both_tokens_and_sends_the_browser_to_the_idp() {
    let world = World::new().await;
    let portal = FakeOAuth::portal().await;
    let base = portal.base();
    let proxy = Proxy::start(&config(
        &world,
        &portal,
        &format!("revoke_on_logout = true\nrevocation_url = \"{base}/oauth/revoke\"\nidp_logout = true\nend_session_url = \"{base}/oauth/logout\""),
        "",
    ))
    .await;
    let mut b = Browser::new();
    let (_, r) = sign_in(&mut b, &proxy, &portal, "pat").await;
    assert_eq!(r.status, 302);
    let access_token = portal.issued().pop().unwrap();

    let out = b
        .send(
            b.client()
                .post(proxy.url("/auth/logout"))
                .header("origin", format!("http://{}", proxy.addr)),
        )
        .await;
    assert_eq!(out.status, 302);
    let idp = url::Url::parse(out.location()).unwrap();
    assert_eq!(idp.path(), "/oauth/logout");
    let q: BTreeMap<_, _> = idp.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], PORTAL_CLIENT_ID);
    assert_eq!(
        q["post_logout_redirect_uri"],
        format!("http://{}/login", proxy.addr)
    );
    assert_eq!(b.get(&proxy.url("/api/echo")).await.status, 401);

    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let revoked = portal.revoked();
        if revoked.contains(&access_token) && revoked.iter().any(|t| t.starts_with("refresh_")) {
            break;
        }
        assert!(Instant::now() < deadline, "not revoked: {revoked:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let raw = proxy.audit_raw_when("logout").await + &proxy.stderr();
    assert!(!raw.contains(&access_token), "tokens never reach a log");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_idp_never_keeps_the_local_logout_from_happening() {
    let world = World::new().await;
    let portal = FakeOAuth::portal().await;
    let dead = format!("http://127.0.0.1:{}", free_port());
    let proxy = Proxy::start(&config(
        &world,
        &portal,
        &format!("revoke_on_logout = true\nrevocation_url = \"{dead}/revoke\""),
        "",
    ))
    .await;
    let mut b = Browser::new();
    let (_, r) = sign_in(&mut b, &proxy, &portal, "pat").await;
    assert_eq!(r.status, 302);
    let cookies_before = b.cookies.clone();
    let out = b
        .send(
            b.client()
                .post(proxy.url("/auth/logout"))
                .header("accept", "application/json"),
        )
        .await;
    assert_eq!(out.status, 200, "{}", out.body);
    assert_eq!(out.json()["idp_logout_url"], serde_json::Value::Null);
    // Even a copy of the old cookie is dead now.
    b.cookies = cookies_before;
    assert_eq!(b.get(&proxy.url("/api/echo")).await.status, 401);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !proxy
        .stderr()
        .contains("token revocation at the IdP failed")
    {
        assert!(Instant::now() < deadline, "{}", proxy.stderr());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
