//! `kind = "github"` against a loopback GitHub (Enterprise-style base URL): PKCE,
//! private emails, the primary verified address, org and team rules, API errors,
//! GitHub's 200-with-error token answers, and token revocation on logout.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::common::fake_oauth::{FakeOAuth, GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET};
use crate::common::{Browser, Proxy, Resp, World};

/// A config with the GitHub provider `gh` first, then the dev IdP.
fn config(world: &World, github: &FakeOAuth, provider_extra: &str, access: &str) -> String {
    world.config(
        "",
        &format!(
            r#"{access}

[[providers]]
id = "gh"
kind = "github"
display_name = "GitHub"
client_id = "{GITHUB_CLIENT_ID}"
client_secret = "{GITHUB_CLIENT_SECRET}"
base_url = "{base}"
{provider_extra}
"#,
            base = github.base()
        ),
    )
}

/// Signs in at GitHub as `login`, heading for `/projects`.
async fn sign_in(
    b: &mut Browser,
    proxy: &Proxy,
    github: &FakeOAuth,
    login: &str,
) -> (BTreeMap<String, String>, Resp) {
    let (query, callback) = github.sign_in(b, proxy, "gh", "/projects", login).await;
    assert!(query.contains_key("code_challenge"));
    (query, callback)
}

#[tokio::test(flavor = "multi_thread")]
async fn org_member_with_a_private_email_signs_in() {
    let world = World::new().await;
    let github = FakeOAuth::github().await;
    let proxy = Proxy::start(&config(
        &world,
        &github,
        "allowed_orgs = [\"acme\"]",
        "[access]\nallowed_domains = [\"example.com\"]",
    ))
    .await;
    let mut b = Browser::new();
    let (q, callback) = sign_in(&mut b, &proxy, &github, "octocat").await;
    assert_eq!(q["scope"], "read:user user:email read:org");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["client_id"], GITHUB_CLIENT_ID);
    assert!(!q.contains_key("nonce"), "GitHub is not OIDC");
    assert_eq!(callback.status, 302, "{}", callback.body);
    assert_eq!(callback.location(), "/projects");

    let me = b.get(&proxy.url("/api/auth/me")).await.json();
    assert_eq!(
        me["user_id"], "583231",
        "the numeric account id, not the login"
    );
    assert_eq!(
        me["email"], "octocat@example.com",
        "the primary verified address from /user/emails"
    );
    assert_eq!(me["name"], "The Octocat");
    assert_eq!(me["provider"], "gh");
    let echo = b.get(&proxy.url("/api/echo")).await.json();
    assert_eq!(echo["headers"]["x-forwarded-email"], "octocat@example.com");

    let (form, basic) = github.token_requests().pop().unwrap();
    assert!(form.contains_key("code_verifier"));
    assert_eq!(form["client_secret"], GITHUB_CLIENT_SECRET);
    assert!(!basic);
    let log = github.log();
    assert!(log
        .iter()
        .any(|l| l == "GET /api/v3/user/memberships/orgs/acme"));
    let lines = proxy.audit_raw_when("login_success").await;
    assert!(!lines.contains("tok_"), "tokens never reach the audit log");
}

#[tokio::test(flavor = "multi_thread")]
async fn outsider_gets_a_403_page_naming_no_secret_and_an_audit_line() {
    let world = World::new().await;
    let github = FakeOAuth::github().await;
    let proxy = Proxy::start(&config(&world, &github, "allowed_orgs = [\"acme\"]", "")).await;
    let mut b = Browser::new();
    let (_, r) = sign_in(&mut b, &proxy, &github, "outsider").await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("Access denied") && r.body.contains("outsider"));
    assert!(
        !b.cookies.keys().any(|k| k.ends_with("portcullis_session")),
        "no session for a denied person"
    );
    assert_eq!(b.get(&proxy.url("/api/echo")).await.status, 401);
    let denied = proxy.audit_event("access_denied").await;
    assert_eq!(denied["reason"], "allowed_orgs");
    assert_eq!(denied["user_id"], "1002");
    assert_eq!(denied["provider"], "gh");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listed_team_lets_a_non_org_member_in() {
    let world = World::new().await;
    let github = FakeOAuth::github().await;
    let proxy = Proxy::start(&config(
        &world,
        &github,
        "allowed_orgs = [\"acme\"]\nallowed_teams = [\"acme/ops\"]",
        "",
    ))
    .await;
    let mut b = Browser::new();
    let (_, r) = sign_in(&mut b, &proxy, &github, "teammate").await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert!(github
        .log()
        .iter()
        .any(|l| l == "GET /api/v3/orgs/acme/teams/ops/memberships/teammate"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unverified_primary_email_does_not_satisfy_email_rules() {
    let world = World::new().await;
    let github = FakeOAuth::github().await;
    let proxy = Proxy::start(&config(
        &world,
        &github,
        "",
        "[access]\nallowed_domains = [\"example.com\"]",
    ))
    .await;
    let mut b = Browser::new();
    let (q, r) = sign_in(&mut b, &proxy, &github, "unverified").await;
    assert_eq!(
        q["scope"], "read:user user:email",
        "read:org only when org rules exist"
    );
    assert_eq!(r.status, 403, "{}", r.body);
    proxy
        .audit_with_reason("access_denied", "email_not_verified")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_api_error_is_a_clear_page_and_no_session() {
    let world = World::new().await;
    let github = FakeOAuth::github().await;
    let proxy = Proxy::start(&config(&world, &github, "", "")).await;
    let mut b = Browser::new();
    let (_, r) = sign_in(&mut b, &proxy, &github, "broken").await;
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(r.body.contains("temporarily unavailable"));
    assert_eq!(b.get(&proxy.url("/api/echo")).await.status, 401);
    proxy
        .audit_with_reason("login_failure", "idp_unreachable")
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_code_answered_with_200_and_an_error_is_refused() {
    let world = World::new().await;
    let github = FakeOAuth::github().await;
    let proxy = Proxy::start(&config(&world, &github, "", "")).await;
    let mut b = Browser::new();
    github.sign_in_as("octocat");
    let start = b.get(&proxy.url("/auth/login?provider=gh")).await;
    let at_github = b.get(start.location()).await;
    let mut callback = url::Url::parse(at_github.location()).unwrap();
    let state = callback
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    callback
        .query_pairs_mut()
        .clear()
        .append_pair("code", "forged-code")
        .append_pair("state", &state);
    let r = b.get(callback.as_str()).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("could not be verified") || r.body.contains("Sign-in failed"));
    assert!(!r.body.contains("forged-code"));
    assert_eq!(b.get(&proxy.url("/api/echo")).await.status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_token_at_github() {
    let world = World::new().await;
    let github = FakeOAuth::github().await;
    let proxy = Proxy::start(&config(&world, &github, "revoke_on_logout = true", "")).await;
    let mut b = Browser::new();
    let (_, r) = sign_in(&mut b, &proxy, &github, "octocat").await;
    assert_eq!(r.status, 302);
    let issued = github.issued();
    assert_eq!(issued.len(), 1);
    let out = b.send(b.client().post(proxy.url("/auth/logout"))).await;
    assert_eq!(out.status, 302);
    assert_eq!(out.location(), "/login", "GitHub has no end-session page");
    assert_eq!(b.get(&proxy.url("/api/echo")).await.status, 401);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !github.revoked().contains(&issued[0]) {
        assert!(Instant::now() < deadline, "the token was never revoked");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(github
        .log()
        .iter()
        .any(|l| l == &format!("DELETE /api/v3/applications/{GITHUB_CLIENT_ID}/token")));
}
