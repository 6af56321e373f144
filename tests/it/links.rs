//! One-time sign-in links from `portcullis link`, against the real binary: a GET
//! that consumes nothing, a POST that signs in once (two racing instances on a
//! real Redis give one session), a link that stays used when Redis restarts
//! empty, a POST whose answer an outage swallowed retried by the same page, and
//! the memory store's refusal of links made before a restart.

use std::time::Duration;

use serde_json::json;

use crate::clients::redis_store;
use crate::common::redis::Redis;
use crate::common::{chromium, free_port, run_cli, Browser, Proxy, Resp, World};

const LINKS_ON: &str = "[links]\nenabled = true\n";

fn with_public_url(config: String, port: u16) -> String {
    config.replace(
        "listen = \"{listen}\"",
        &format!("listen = \"{{listen}}\"\npublic_url = \"http://127.0.0.1:{port}\""),
    )
}

/// `portcullis link --as EMAIL` for a gate on `port`.
fn minted_link(world: &World, port: u16, email: &str, extra: &str) -> std::process::Output {
    let config = with_public_url(world.config("", &format!("{LINKS_ON}{extra}")), port)
        .replace("{listen}", &format!("127.0.0.1:{port}"));
    run_cli(&["link", "--as", email], Some(&config), &[])
}

async fn link_proxy(world: &World, port: u16, rest: &str) -> Proxy {
    let config = with_public_url(world.config("", rest), port);
    Proxy::start_on(port, &config, &[]).await
}

async fn post_link(url: &str) -> Resp {
    let mut b = Browser::new();
    b.send(b.client().post(url)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_one_time_link_shows_a_page_then_signs_in_once() {
    let world = World::new().await;
    let port = free_port();
    let p = link_proxy(
        &world,
        port,
        &format!("{LINKS_ON}[access]\nallowed_domains = [\"example.com\"]\n"),
    )
    .await;
    let out = minted_link(
        &world,
        port,
        "ada@example.com",
        "[access]\nallowed_domains = [\"example.com\"]\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        url.starts_with(&format!("http://127.0.0.1:{port}/auth/link?token=")),
        "{url}"
    );
    let token = url.split("token=").nth(1).unwrap().to_string();

    // A link previewer's GET consumes nothing, however often.
    for _ in 0..2 {
        let page = reqwest::get(&url).await.unwrap();
        assert_eq!(page.status(), 200);
        assert_eq!(
            page.headers()["referrer-policy"],
            "strict-origin",
            "no path or query leaves the page"
        );
        let body = page.text().await.unwrap();
        assert!(body.contains("Sign in as ada@example.com"), "{body}");
        assert!(!body.contains(&token), "the page never holds the token");
    }
    let shot = chromium::output_dir().join("link-confirm.png");
    chromium::run_script("screenshot.mjs", json!({"url": url, "path": shot})).await;

    // The POST signs in and lands on `/`.
    let mut b = Browser::new();
    let r = b.send(b.client().post(&url)).await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(r.location(), "/");
    let me = b.get(&p.url("/api/auth/me")).await.json();
    assert_eq!(me["user_id"], "ada@example.com");
    assert_eq!(me["provider"], "link");
    assert_eq!(
        p.audit_event("link_redeemed").await["user_id"],
        "ada@example.com"
    );

    // Once.
    let again = post_link(&url).await;
    assert_eq!(again.status, 400);
    assert!(again.body.contains("used already"), "{}", again.body);
    // Waits for the line (and fails without it).
    p.audit_with_reason("link_rejected", "used").await;
    // A tampered one.
    let mut bytes = token.clone().into_bytes();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let tampered = url.replace(&token, &String::from_utf8(bytes).unwrap());
    assert_eq!(post_link(&tampered).await.status, 400);
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), 400);

    let raw = p.audit_raw_when("link_redeemed").await;
    assert!(
        !raw.contains(&token) && !p.stderr().contains(&token),
        "the link never reaches a log line"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_disabled_or_disallowed_link_is_refused() {
    let world = World::new().await;
    let port = free_port();
    let rest = format!("{LINKS_ON}[access]\nallowed_emails = [\"ada@example.com\"]\n");
    let p = link_proxy(&world, port, &rest).await;
    let codec = portcullis::session::codec::Codec::new(
        portcullis::session::codec::Purpose::Link,
        &portcullis::secret::Secret::new(crate::common::SECRET),
        &[],
    );
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let link = |email: &str, ttl: i64| {
        p.url(&format!(
            "/auth/link?token={}",
            portcullis::login::link::mint(&codec, email, ttl, now)
        ))
    };
    let expired = post_link(&link("ada@example.com", -5)).await;
    assert_eq!(expired.status, 400);
    assert!(expired.body.contains("expired"), "{}", expired.body);
    let stranger = post_link(&link("eve@example.com", 600)).await;
    assert_eq!(stranger.status, 403, "outside [access]: {}", stranger.body);
    p.audit_with_reason("link_rejected", "not_allowed").await;
    // The CLI refuses to make that link at all.
    let out = minted_link(
        &world,
        free_port(),
        "eve@example.com",
        "[access]\nallowed_emails = [\"ada@example.com\"]\n",
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[access]"));

    // Links off: the same link is refused, and the CLI says how to turn them on.
    let off_port = free_port();
    let off = link_proxy(&world, off_port, "").await;
    let r = post_link(&off.url(&format!(
        "/auth/link?token={}",
        portcullis::login::link::mint(&codec, "ada@example.com", 600, now)
    )))
    .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("links are off"), "{}", r.body);
    let config = with_public_url(world.config("", ""), off_port).replace("{listen}", "127.0.0.1:1");
    let out = run_cli(&["link", "--as", "ada@example.com"], Some(&config), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("[links] enabled = true"));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_racing_posts_of_one_link_give_exactly_one_session() {
    let world = World::new().await;
    let redis = Redis::start();
    let port = free_port();
    let rest = format!("{LINKS_ON}{}", redis_store(&redis));
    let a = link_proxy(&world, port, &rest).await;
    let b = link_proxy(&world, free_port(), &rest).await;
    for _ in 0..10 {
        let out = minted_link(&world, port, "ada@example.com", "");
        let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let on_b = url.replace(&a.url(""), &b.url(""));
        let (x, y) = tokio::join!(post_link(&url), post_link(&on_b));
        let sessions = [&x, &y].iter().filter(|r| r.status == 303).count();
        assert_eq!(sessions, 1, "{} and {}", x.status, y.status);
        assert!([x.status, y.status].contains(&400));
    }
}

/// The hidden `attempt` field of a link's page.
fn attempt_of(page: &str) -> String {
    let field = "name=\"attempt\" value=\"";
    let at = page.find(field).expect("the page's attempt field") + field.len();
    page[at..at + page[at..].find('"').unwrap()].to_string()
}

async fn post_attempt(url: &str, attempt: &str) -> Resp {
    let mut b = Browser::new();
    b.send(
        b.client()
            .post(url)
            .form(&[("go", "1"), ("attempt", attempt)]),
    )
    .await
}

/// Redis restarted empty forgets the mark of a used link; the instances' views
/// do not, and write it back: the link stays used on every instance.
#[tokio::test(flavor = "multi_thread")]
async fn a_used_link_stays_used_when_redis_restarts_empty() {
    let world = World::new().await;
    let mut redis = Redis::start();
    let port = free_port();
    let rest = format!("{LINKS_ON}{}", redis_store(&redis));
    let a = link_proxy(&world, port, &rest).await;
    let b = link_proxy(&world, free_port(), &rest).await;
    let out = minted_link(&world, port, "ada@example.com", "");
    let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(post_link(&url).await.status, 303, "used once");
    // The use reaches the other instance by pub/sub within moments (as a
    // logout does, within the fleet's 2 s); then Redis loses everything.
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.restart_empty();
    // Both instances reconnect and write back what they hold.
    let on_b = url.replace(&a.url(""), &b.url(""));
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let ready = |p: &Proxy| {
            let url = p.url("/auth/ready");
            async move {
                reqwest::get(url)
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        };
        if ready(&a).await == 200 && ready(&b).await == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the instances did not reconnect"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The instances write back what Redis forgot, the used link among it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while redis.cli(&["ZCARD", "portcullis:_revoked"]) == "0" {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was written back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for again in [&url, &on_b] {
        let r = post_link(again).await;
        assert_eq!(r.status, 400, "a used link worked again: {}", r.body);
        assert!(r.body.contains("used already"), "{}", r.body);
    }
}

/// Redis paused: the POST's write is queued, the person gets 503, and the write
/// lands when Redis resumes. The same page's retry signs in; another page of the
/// same link finds it used.
#[tokio::test(flavor = "multi_thread")]
async fn a_link_whose_post_timed_out_can_be_retried_by_the_same_page() {
    let world = World::new().await;
    let redis = Redis::start();
    let port = free_port();
    let _p = link_proxy(&world, port, &format!("{LINKS_ON}{}", redis_store(&redis))).await;
    let out = minted_link(&world, port, "ada@example.com", "");
    let url = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let page = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let attempt = attempt_of(&page);
    redis.pause();
    let lost = post_attempt(&url, &attempt).await;
    assert_eq!(lost.status, 503, "{}", lost.body);
    assert_eq!(
        attempt_of(&lost.body),
        attempt,
        "the retry button keeps the attempt"
    );
    redis.resume();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // To anyone else the link is used: its page says so, and a POST from
    // another page is refused.
    let elsewhere = reqwest::get(&url).await.unwrap();
    assert_eq!(elsewhere.status(), 400);
    let stranger = post_attempt(&url, "another-page-attempt-0123").await;
    assert_eq!(stranger.status, 400, "another page: {}", stranger.body);
    let retried = post_attempt(&url, &attempt).await;
    assert_eq!(
        retried.status, 303,
        "the same page's retry: {}",
        retried.body
    );
    let again = post_attempt(&url, &attempt).await;
    assert_eq!(again.status, 400, "and once only: {}", again.body);
}

/// The memory store forgets used links on a restart, so a link made before the
/// gate started is refused; one made after works.
#[tokio::test(flavor = "multi_thread")]
async fn with_the_memory_store_a_link_made_before_the_start_is_refused() {
    let world = World::new().await;
    let port = free_port();
    let codec = portcullis::session::codec::Codec::new(
        portcullis::session::codec::Purpose::Link,
        &portcullis::secret::Secret::new(crate::common::SECRET),
        &[],
    );
    let before = time::OffsetDateTime::now_utc().unix_timestamp() - 2;
    let old = portcullis::login::link::mint(&codec, "ada@example.com", 600, before);
    let p = link_proxy(&world, port, LINKS_ON).await;
    let r = post_link(&p.url(&format!("/auth/link?token={old}"))).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("before a restart"), "{}", r.body);
    p.audit_with_reason("link_rejected", "made_before_restart")
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let fresh = portcullis::login::link::mint(&codec, "ada@example.com", 600, now);
    let r = post_link(&p.url(&format!("/auth/link?token={fresh}"))).await;
    assert_eq!(r.status, 303, "{}", r.body);
}
