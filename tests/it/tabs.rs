//! Sign-ins started in several tabs of one browser: each completes, in any
//! order, landing on its own page; a callback whose sign-in went nowhere, in a
//! browser another tab has signed in since, lands signed in. And the warning a
//! tab can show before its session ends.

use crate::common::{urlencode, Browser, Proxy, World};

/// Starts a sign-in towards `next` in `b`; the IdP's callback URL for it.
async fn started(b: &mut Browser, proxy: &Proxy, next: &str) -> String {
    let start = b
        .get(&proxy.url(&format!(
            "/auth/login?provider=dev&next={}",
            urlencode(next)
        )))
        .await;
    assert_eq!(start.status, 302, "{}", start.body);
    b.authorize_at_idp(start.location(), "ada@example.com")
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn three_tabs_sign_in_in_reverse_order_and_each_lands_on_its_own_page() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    // Three tabs reloaded after the session expired: three sign-ins in flight.
    let mut callbacks = Vec::new();
    for page in ["/tab/a", "/tab/b?x=1", "/tab/c"] {
        callbacks.push((page, started(&mut b, &proxy, page).await));
    }
    // Completed in reverse order, each lands on its own page, signed in.
    for (page, callback) in callbacks.iter().rev() {
        let landed = b.get(callback).await;
        assert_eq!(landed.status, 302, "{page}: {}", landed.body);
        assert_eq!(landed.location(), *page);
        assert_eq!(b.get(&proxy.url("/api/auth/me")).await.status, 200);
    }
    // Each sign-in was single use: its callback again finds none of its own,
    // and, signed in as the person is, lands on `/` rather than an error page.
    let (_, first) = &callbacks[0];
    let again = b.get(first).await;
    assert_eq!(again.status, 302, "{}", again.body);
    assert_eq!(again.location(), "/");
    // A browser with no session gets the error page for the same answer.
    let stranger = Browser::new().get(first).await;
    assert_eq!(stranger.status, 400, "{}", stranger.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ninth_sign_in_drops_the_oldest() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    let mut callbacks = Vec::new();
    for i in 0..9 {
        let page = format!("/tab/{i}");
        callbacks.push((page.clone(), started(&mut b, &proxy, &page).await));
    }
    let mut copy = Browser::new();
    copy.cookies = b.cookies.clone();
    let oldest = copy.get(&callbacks[0].1).await;
    assert_eq!(
        oldest.status, 400,
        "the oldest of nine is gone: {}",
        oldest.body
    );
    let newest = b.get(&callbacks[8].1).await;
    assert_eq!(newest.status, 302);
    assert_eq!(newest.location(), "/tab/8");
}

/// The same in Chromium: three tabs reach the IdP's form, and the forms are
/// submitted last tab first. Each tab lands on its own page, signed in.
#[tokio::test(flavor = "multi_thread")]
async fn three_chromium_tabs_complete_in_reverse_order() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let pages = ["/tab/a", "/tab/b?x=1", "/tab/c"];
    let out = crate::common::chromium::run_script(
        "tabs.mjs",
        serde_json::json!({"base": proxy.url(""), "pages": pages, "login": "ada@example.com"}),
    )
    .await;
    let tabs = out["tabs"].as_array().unwrap();
    assert_eq!(tabs.len(), 3, "{out}");
    for (tab, page) in tabs.iter().zip(pages.iter().rev()) {
        assert_eq!(tab["landed"], *page, "{out}");
        assert_eq!(tab["me"], 200, "{out}");
    }
}

/// The expiry banner of docs/configuration.md, as written, in Chromium: with a
/// four-minute session it tells the person so; `/api/auth/me` carries both
/// deadlines when sessions slide.
#[tokio::test(flavor = "multi_thread")]
async fn the_docs_expiry_banner_warns_before_a_session_ends() {
    let docs = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/configuration.md"
    ))
    .unwrap();
    let start = docs.find("```js\nasync function warnBeforeExpiry").unwrap() + 6;
    let snippet = &docs[start..start + docs[start..].find("```").unwrap()];
    let world = World::new().await;
    let config = world.config("", "").replace(
        "ttl = \"1h\"",
        "ttl = \"4m\"\nsliding = true\nmax_age = \"1h\"",
    );
    let proxy = Proxy::start(&config).await;
    let out = crate::common::chromium::run_script(
        "expiry.mjs",
        serde_json::json!({
            "startUrl": proxy.url("/"), "landing": proxy.url("/"),
            "login": "ada@example.com", "snippet": snippet,
        }),
    )
    .await;
    let banner = out["banner"].as_str().unwrap_or_else(|| panic!("{out}"));
    assert!(banner.contains("Your session ends in 4 minutes"), "{out}");
    assert!(out["me"]["idle_expires_at"].is_string(), "{out}");
    assert!(out["me"]["expires_at"].is_string(), "{out}");
}
