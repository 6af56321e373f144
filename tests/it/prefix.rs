//! `public_url` with a path prefix: every URL and cookie portcullis makes carries it.

use crate::common::{Browser, Proxy, World};

#[tokio::test(flavor = "multi_thread")]
async fn public_url_prefix_shapes_urls_cookies_and_redirect_uri() {
    let world = World::new().await;
    // allowed_hosts is widened so the test can reach the loopback listener.
    let proxy = Proxy::start(&world.config(
        "public_url = \"https://dash.example.com/hermes/\"\nallowed_hosts = [\"127.0.0.1\"]",
        "",
    ))
    .await;
    let mut b = Browser::new();
    let r = b.get(&proxy.url("/hermes/sessions?id=1")).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.location(), "/hermes/login?next=%2Fsessions%3Fid%3D1");

    let r = b.get(&proxy.url("/hermes/api/x")).await;
    assert_eq!(r.json()["login_url"], "/hermes/login?next=%2Fapi%2Fx");

    let page = b.get(&proxy.url("/hermes/login?next=/sessions")).await;
    assert!(page
        .body
        .contains("href=\"/hermes/auth/login?provider=dev&amp;next=%2Fsessions\""));

    let start = b
        .get(&proxy.url("/hermes/auth/login?provider=dev&next=/sessions"))
        .await;
    let pkce = start.set_cookies().join("\n");
    assert!(
        pkce.starts_with("__Secure-portcullis_session_pkce="),
        "{pkce}"
    );
    assert!(
        pkce.contains("Path=/hermes") && pkce.contains("Secure"),
        "{pkce}"
    );
    let callback = b
        .authorize_at_idp(start.location(), "ada@example.com")
        .await;
    assert_eq!(
        world.idp.seen_redirect_uris().last().map(String::as_str),
        Some("https://dash.example.com/hermes/auth/callback")
    );
    // The callback arrives at the proxy through the (absent) TLS front; follow it
    // on the loopback listener.
    let path = callback.strip_prefix("https://dash.example.com").unwrap();
    let r = b.get(&proxy.url(path)).await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/hermes/sessions");
    let session = r.set_cookies().join("\n");
    assert!(
        session.starts_with("__Secure-portcullis_session="),
        "{session}"
    );
    assert!(session.contains("Path=/hermes"), "{session}");

    let echo = b.get(&proxy.url("/hermes/api/echo")).await;
    assert_eq!(echo.status, 200);
    let j = echo.json();
    assert_eq!(
        j["uri"], "/api/echo",
        "the upstream sees the path below the prefix"
    );
    assert_eq!(j["headers"]["x-forwarded-prefix"], "/hermes");
    assert_eq!(j["headers"]["x-forwarded-proto"], "https");
    assert_eq!(j["headers"]["x-forwarded-host"], "dash.example.com");

    let r = b
        .send(b.client().post(proxy.url("/hermes/auth/logout")))
        .await;
    assert_eq!(r.location(), "/hermes/login");
}
