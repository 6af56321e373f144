//! In real headless Chromium (which enforces cookie rules itself): a person signs
//! in on plain http on loopback, and the page mints a ticket and opens WebSockets
//! the way a dashboard's JavaScript would.

use crate::common::{chromium, Proxy, World};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn person_signs_in_and_the_page_opens_a_ticketed_websocket() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let shot = chromium::output_dir().join("loopback-dashboard.png");
    let seen = chromium::journey(json!({
        "startUrl": proxy.url("/some/page?tab=2"),
        "idp": "dev",
        "login": "grace@example.com",
        "landing": proxy.url("/some/page?tab=2"),
        "prefix": "",
        "screenshot": shot,
    }))
    .await;

    assert!(seen["loginPageUrl"]
        .as_str()
        .unwrap()
        .contains("/login?next=%2Fsome%2Fpage%3Ftab%3D2"));
    assert_eq!(seen["finalUrl"], proxy.url("/some/page?tab=2"));
    let cookies = seen["cookies"].as_array().unwrap();
    let session = cookies
        .iter()
        .find(|c| c["name"] == "portcullis_session")
        .unwrap_or_else(|| panic!("bare cookie name on plain http: {cookies:?}"));
    assert_eq!(session["path"], "/");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");
    assert!(
        !cookies
            .iter()
            .any(|c| c["name"] == "portcullis_session_pkce"),
        "PKCE cookie cleared"
    );

    let d = &seen["dashboard"];
    assert_eq!(d["me"]["email"], "grace@example.com");
    assert_eq!(d["ticketStatus"], 200);
    assert_eq!(d["ticketEcho"], "echo: hello");
    assert_eq!(d["ticketReuse"], "error", "a ticket works once");
    assert_eq!(
        d["cookieEcho"], "echo: hello",
        "same-origin cookie WebSocket"
    );
    assert!(shot.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_ascii_neighbour_cookie_neither_leaks_the_session_nor_signs_out() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let seen = chromium::journey(json!({
        "startUrl": proxy.url("/"),
        "idp": "dev",
        "login": "jose@example.com",
        "landing": proxy.url("/"),
        "prefix": "",
        "neighbour": "pref=Jos\u{e9}",
    }))
    .await;
    let d = &seen["dashboard"];
    assert_eq!(
        d["meStatus"], 200,
        "still signed in beside pref=Jos\u{e9}: {d}"
    );
    assert_eq!(d["pageStatus"], 200, "pages still load: {d}");
    let cookie = d["upstreamSaw"]["headers"]["cookie"]
        .as_str()
        .unwrap_or_else(|| panic!("the upstream saw no Cookie header: {d}"));
    assert!(
        !cookie.contains("portcullis_session"),
        "the session cookie reached the upstream: {cookie}"
    );
    assert!(
        cookie.contains("pref=Jos"),
        "the dashboard's own cookie passes: {cookie}"
    );
}
