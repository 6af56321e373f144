//! Sign-in through a real, certified OpenID Provider: `oidc-provider` from npm,
//! on loopback, its login and consent forms filled as a person would.

use crate::common::node_idp::{sign_in_at, IdpBrowser, NodeIdp};
use crate::common::{free_port, Browser, Proxy, World};

const CLIENT: &str = "portcullis-real";
const SECRET: &str = "real-client-secret-0123456789";

/// The real IdP with a client whose callback is on `port`, and that may return
/// to `post_logout` after a logout.
fn idp_for(port: u16, post_logout: &[String]) -> NodeIdp {
    let callback = format!("http://127.0.0.1:{port}/auth/callback");
    NodeIdp::start_with_logout(CLIENT, SECRET, &[callback], post_logout)
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_in_through_oidc_provider() {
    let world = World::new().await;
    let port = free_port();
    let callback = format!("http://127.0.0.1:{port}/auth/callback");
    let idp = idp_for(port, &[]);
    let proxy = proxy_for(
        &world,
        &idp,
        port,
        "",
        "[access]\nallowed_domains = [\"example.com\"]",
    )
    .await;

    let mut b = Browser::new();
    let first = b.get(&proxy.url("/dash/board?x=1")).await;
    assert_eq!(first.status, 302);
    let start = b
        .get(&proxy.url("/auth/login?provider=dev&next=%2Fdash%2Fboard%3Fx%3D1"))
        .await;
    assert_eq!(start.status, 302, "{}", start.body);
    assert!(start.location().starts_with(&idp.issuer));
    let auth = url::Url::parse(start.location()).unwrap();
    let q: std::collections::BTreeMap<_, _> = auth.query_pairs().into_owned().collect();
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], callback);
    assert!(q.contains_key("nonce") && q.contains_key("state"));

    let back = sign_in_at(&idp.issuer, start.location(), "alice").await;
    assert!(back.starts_with(&callback), "{back}");
    let r = b.get(&back).await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/dash/board?x=1");

    let echo = b.get(&proxy.url("/api/echo")).await;
    let h = &echo.json()["headers"];
    assert_eq!(h["x-forwarded-user"], "alice");
    assert_eq!(
        h["x-forwarded-email"], "alice@example.com",
        "email from userinfo"
    );
    let me = b.get(&proxy.url("/api/auth/me")).await.json();
    assert_eq!(me["name"], "Test User alice");

    assert!(idp
        .lines()
        .iter()
        .any(|l| l == &format!("IDP_AUTHORIZE redirect_uri={callback}")));

    let r = b.send(b.client().post(proxy.url("/auth/logout"))).await;
    assert_eq!(r.status, 302);
    assert_eq!(b.get(&proxy.url("/api/echo")).await.status, 401);
}

/// A proxy on `port` in front of the real IdP, with `provider_extra` keys on its
/// provider entry and `access` rules.
async fn proxy_for(
    world: &World,
    idp: &NodeIdp,
    port: u16,
    provider_extra: &str,
    access: &str,
) -> Proxy {
    let config = world
        .config("", access)
        .replace(world.idp.issuer(), &idp.issuer)
        .replace(crate::common::CLIENT_ID, CLIENT)
        .replace(crate::common::CLIENT_SECRET, SECRET)
        .replace("display_name = \"Dev IdP\"", "display_name = \"Real IdP\"")
        + provider_extra;
    Proxy::start_on(port, &config, &[]).await
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_from_the_real_idp_decide_access() {
    let world = World::new().await;
    let port = free_port();
    let idp = idp_for(port, &[]);
    let proxy = proxy_for(
        &world,
        &idp,
        port,
        "scopes = [\"openid\", \"email\", \"groups\"]\n",
        "[access]\nallowed_groups = [\"admins\"]",
    )
    .await;

    let mut admin = Browser::new();
    let start = admin.get(&proxy.url("/auth/login?provider=dev")).await;
    assert!(url::Url::parse(start.location())
        .unwrap()
        .query_pairs()
        .any(|(k, v)| k == "scope" && v == "openid email groups"));
    let back = sign_in_at(&idp.issuer, start.location(), "admin-ann").await;
    let r = admin.get(&back).await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(admin.get(&proxy.url("/api/echo")).await.status, 200);

    let mut user = Browser::new();
    let start = user.get(&proxy.url("/auth/login?provider=dev")).await;
    let back = sign_in_at(&idp.issuer, start.location(), "bob").await;
    let r = user.get(&back).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let denied = proxy.audit_event("access_denied").await;
    assert_eq!(denied["reason"], "group_not_allowed");
    assert_eq!(denied["user_id"], "bob");
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_token_and_ends_the_session_at_the_real_idp() {
    let world = World::new().await;
    let port = free_port();
    let login_page = format!("http://127.0.0.1:{port}/login");
    let idp = idp_for(port, std::slice::from_ref(&login_page));
    let proxy = proxy_for(
        &world,
        &idp,
        port,
        "revoke_on_logout = true\nidp_logout = true\n",
        "",
    )
    .await;

    let mut b = Browser::new();
    let mut at_idp = IdpBrowser::new(&idp.issuer);
    let start = b.get(&proxy.url("/auth/login?provider=dev")).await;
    let back = at_idp.walk(start.location(), "alice").await;
    assert!(at_idp.saw_login_form);
    assert_eq!(b.get(&back).await.status, 302);

    // The IdP remembers alice: another authorization skips its login form.
    let again = b.get(&proxy.url("/auth/login?provider=dev")).await;
    at_idp.walk(again.location(), "alice").await;
    assert!(!at_idp.saw_login_form, "the IdP session is live");

    let out = b.send(b.client().post(proxy.url("/auth/logout"))).await;
    assert_eq!(out.status, 302);
    let end = url::Url::parse(out.location()).unwrap();
    assert!(
        out.location().starts_with(&idp.issuer),
        "{}",
        out.location()
    );
    let q: std::collections::BTreeMap<_, _> = end.query_pairs().into_owned().collect();
    assert_eq!(q["post_logout_redirect_uri"], login_page);
    assert!(q["id_token_hint"].split('.').count() == 3, "an ID token");
    assert_eq!(b.get(&proxy.url("/api/echo")).await.status, 401);

    // The IdP accepts the hint and the return address, then sends the browser back.
    let landed = at_idp.walk(out.location(), "alice").await;
    assert_eq!(landed, login_page);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !(idp.lines().iter().any(|l| l == "IDP_END_SESSION")
        && idp.lines().iter().any(|l| l == "IDP_TOKEN_REVOKED"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "IdP saw: {:?}",
            idp.lines()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    // Signing in again means signing in at the IdP again.
    let fresh = b.get(&proxy.url("/auth/login?provider=dev")).await;
    at_idp.walk(fresh.location(), "alice").await;
    assert!(at_idp.saw_login_form, "the IdP session has ended");
}
