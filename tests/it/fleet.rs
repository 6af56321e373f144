//! Several instances on one real `redis-server`: the conformance suite on Redis,
//! sessions, tickets and logouts across instances, WebSockets that close
//! fleet-wide, an outage that fails closed and recovers without forgetting a
//! logout, credentials and TLS.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use portcullis::config::RedisConfig;
use portcullis::secret::Secret;
use portcullis::store::redis::RedisStore;
use portcullis::store::Store;

use crate::common::redis::Redis;
use crate::common::{ws_open, Browser, Proxy, World};

fn store_section(url: &str, extra: &str) -> String {
    format!("[store]\nkind = \"redis\"\nurl = \"{url}\"\nmax_staleness = \"2s\"\n{extra}\n")
}

/// `portcullis check` of a config with the Redis store at `url`: whether it
/// passed, and all it printed.
fn check(world: &World, url: &str) -> (bool, String) {
    let config = world
        .config("", &store_section(url, ""))
        .replace("{listen}", "127.0.0.1:1");
    let out = crate::common::run_cli(&["check"], Some(&config), &[]);
    let shown =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), shown)
}

async fn ready(proxy: &Proxy) -> (u16, String) {
    let r = reqwest::get(proxy.url("/auth/ready")).await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap_or_default())
}

/// Polls `/auth/ready` until it answers `want`, for at most `limit`.
async fn await_ready(proxy: &Proxy, want: u16, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let (status, body) = ready(proxy).await;
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/auth/ready stayed {status} ({body}); wanted {want}\n{}",
            proxy.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A page view with `cookies` (copied from a browser signed in elsewhere).
async fn page(proxy: &Proxy, cookies: &Cookies) -> u16 {
    let mut b = Browser::new();
    b.cookies = cookies.clone();
    b.get(&proxy.url("/")).await.status
}

type Cookies = std::collections::BTreeMap<String, String>;

async fn mint(b: &mut Browser, proxy: &Proxy) -> Result<String, u16> {
    let r = b
        .send(b.client().post(proxy.url("/api/auth/ws-ticket")))
        .await;
    match r.status {
        200 => Ok(r.json()["ticket"].as_str().unwrap().to_string()),
        other => Err(other),
    }
}

async fn fleet(world: &World, redis: &Redis, n: usize) -> Vec<Proxy> {
    let config = world.config("", &store_section(&redis.url(), ""));
    let mut proxies = Vec::new();
    for _ in 0..n {
        let p = Proxy::start(&config).await;
        await_ready(&p, 200, Duration::from_secs(10)).await;
        proxies.push(p);
    }
    proxies
}

/// A store in this process, following `url` like a running instance does.
async fn following(url: &str, prefix: &str) -> (Arc<RedisStore>, tokio::sync::watch::Sender<bool>) {
    let store = Arc::new(
        RedisStore::new(&RedisConfig {
            url: Secret::new(url),
            shown_url: url.into(),
            key_prefix: prefix.into(),
            max_staleness: Duration::from_secs(2),
        })
        .unwrap(),
    );
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let s = Arc::clone(&store);
    tokio::spawn(async move { s.follow(shutdown).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.ping().await.is_err() {
        assert!(Instant::now() < deadline, "{:?}", store.problem());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (store, stop)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_redis_store_passes_the_conformance_suite() {
    let redis = Redis::start();
    let (store, _stop) = following(&redis.url(), "portcullis:").await;
    portcullis::store::conformance::run(&*store, "conformance:").await;
    // Every key carries an expiry: nothing is left to live forever.
    let keys = redis.cli(&["--scan", "--pattern", "portcullis:*"]);
    assert!(!keys.is_empty());
    for key in keys.lines() {
        let ttl: i64 = redis.cli(&["TTL", key]).parse().unwrap();
        assert!(ttl > 0, "{key} has no expiry (TTL {ttl})");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revocation_reaches_another_instance_through_the_feed() {
    let redis = Redis::start();
    let (a, _s1) = following(&redis.url(), "p:").await;
    let (b, _s2) = following(&redis.url(), "p:").await;
    let until = portcullis::store::unix_now() + 60;
    a.revoke("sid-1", until).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(2);
    while b.revocations().check("sid-1", until - 60) != portcullis::store::Verdict::Revoked {
        assert!(Instant::now() < deadline, "the revocation did not reach b");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Another gate with its own prefix shares the Redis but not the revocation.
    let (c, _s3) = following(&redis.url(), "other:").await;
    assert_eq!(
        c.revocations().check("sid-1", until - 60),
        portcullis::store::Verdict::Live
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn three_instances_share_sessions_tickets_and_logouts() {
    let world = World::new().await;
    let redis = Redis::start();
    let fleet = fleet(&world, &redis, 3).await;
    let (a, b, c) = (&fleet[0], &fleet[1], &fleet[2]);
    let mut ada = Browser::new();
    assert_eq!(ada.sign_in(a, "/", "ada@example.com").await.status, 302);
    for p in &fleet {
        assert_eq!(
            page(p, &ada.cookies).await,
            200,
            "the session works on every instance"
        );
    }
    // Each instance holds two connections (commands, feed) and keeps them.
    let connections = |redis: &Redis| -> i64 {
        let info = redis.cli(&["INFO", "stats"]);
        let line = info
            .lines()
            .find(|l| l.starts_with("total_connections_received:"))
            .unwrap();
        line.trim().rsplit(':').next().unwrap().parse().unwrap()
    };
    let clients = redis.cli(&["CLIENT", "LIST"]).lines().count();
    assert_eq!(clients, 3 * 2 + 1, "two per instance, and redis-cli's own");
    let before = connections(&redis);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        connections(&redis),
        before + 1,
        "no instance reconnected (only redis-cli did)"
    );

    // A ticket minted on A opens a WebSocket on B once, and not again on C.
    let ticket = mint(&mut ada, a).await.unwrap();
    let ws = ws_open(b, &format!("/ws?ticket={ticket}"), None, None).await;
    assert!(ws.is_ok(), "ticket minted on A redeemed on B");
    let again = ws_open(c, &format!("/ws?ticket={ticket}"), None, None).await;
    assert_eq!(
        again.err(),
        Some(401),
        "a ticket works once across the fleet"
    );

    // Two instances racing for one ticket: exactly one 101.
    for _ in 0..10 {
        let ticket = mint(&mut ada, a).await.unwrap();
        let path = format!("/ws?ticket={ticket}");
        let (on_b, on_c) =
            tokio::join!(ws_open(b, &path, None, None), ws_open(c, &path, None, None));
        assert_eq!(
            usize::from(on_b.is_ok()) + usize::from(on_c.is_ok()),
            1,
            "exactly one of two racing redemptions wins"
        );
    }

    // A WebSocket open on A, then a logout on B.
    let mut held = ws_open(
        a,
        &format!("/ws?ticket={}", mint(&mut ada, a).await.unwrap()),
        None,
        None,
    )
    .await
    .unwrap();
    let kept = ada.cookies.clone();
    let logout = Instant::now();
    let r = ada
        .send(
            ada.client()
                .post(b.url("/auth/logout"))
                .header("accept", "application/json"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The cookie the browser just dropped, replayed on A and C, is refused within 2 s.
    for p in [a, c] {
        loop {
            match page(p, &kept).await {
                302 => break,
                200 => assert!(
                    logout.elapsed() < Duration::from_secs(2),
                    "a logout on B still not seen after 2 s"
                ),
                other => panic!("unexpected {other}"),
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let closed = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            match held.next().await {
                None
                | Some(Err(_))
                | Some(Ok(tokio_tungstenite::tungstenite::Message::Close(_))) => break,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "A's WebSocket of the logged-out session closed within 2 s"
    );
    let elapsed = logout.elapsed();
    assert!(elapsed < Duration::from_secs(2), "closed after {elapsed:?}");
}

/// Asks `proxy` for `/` every 20 ms with a logged-out session's cookies and with
/// none, until stopped; returns how many of those were answered 200.
fn guard(
    proxy_url: String,
    revoked: Cookies,
) -> (
    tokio::task::JoinHandle<usize>,
    tokio::sync::watch::Sender<bool>,
) {
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let task = tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let cookie: String = revoked.iter().map(|(k, v)| format!("{k}={v}; ")).collect();
        let mut forwarded = 0;
        while !*stopped.borrow_and_update() {
            for req in [
                client.get(&proxy_url).header("cookie", &cookie),
                client.get(&proxy_url),
            ] {
                if let Ok(r) = req.timeout(Duration::from_secs(5)).send().await {
                    forwarded += usize::from(r.status() == 200);
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        forwarded
    });
    (task, stop)
}

/// Polls `probe` until it gives `want`, for at most `limit`.
async fn await_status<F, Fut>(what: &str, limit: Duration, want: u16, probe: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let deadline = Instant::now() + limit;
    loop {
        let got = probe().await;
        if got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still {got}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_outage_fails_closed_and_recovery_forgets_no_logout() {
    let world = World::new().await;
    let mut redis = Redis::start();
    let fleet = fleet(&world, &redis, 2).await;
    let (a, b) = (&fleet[0], &fleet[1]);
    let mut ada = Browser::new();
    assert_eq!(ada.sign_in(a, "/", "ada@example.com").await.status, 302);
    let ada_cookies = ada.cookies.clone();
    assert_eq!(
        ada.send(ada.client().post(a.url("/auth/logout")))
            .await
            .status,
        302
    );
    let mut bob = Browser::new();
    assert_eq!(bob.sign_in(a, "/", "bob@example.com").await.status, 302);
    let bob_cookies = bob.cookies.clone();
    assert_eq!(page(b, &bob_cookies).await, 200);
    let mut bob_minting = Browser::new();
    bob_minting.cookies = bob_cookies.clone();
    let early_ticket = mint(&mut bob_minting, a).await.unwrap();
    let guards = [
        guard(a.url("/"), ada_cookies.clone()),
        guard(b.url("/"), ada_cookies.clone()),
    ];

    redis.pause();
    for p in [a, b] {
        let body = await_ready(p, 503, Duration::from_secs(5)).await;
        assert!(body.contains("store"), "{body}");
    }
    // Once neither instance can tell what was revoked elsewhere, all is refused.
    for p in [a, b] {
        await_status("an existing session", Duration::from_secs(1), 503, || {
            page(p, &bob_cookies)
        })
        .await;
        let start = Browser::new()
            .get(&p.url("/auth/login?provider=dev&next=%2F"))
            .await;
        assert_eq!(start.status, 503, "sign-in during the outage");
        let mut bob_here = Browser::new();
        bob_here.cookies = bob_cookies.clone();
        assert_eq!(
            mint(&mut bob_here, p).await,
            Err(503),
            "ticket minting during the outage"
        );
    }
    // A script's request and a ticket's redemption get 503 JSON, not a redirect
    // or a 401 that would send the dashboard to the login page.
    let me = reqwest::Client::new()
        .get(a.url("/api/auth/me"))
        .header(
            "cookie",
            bob_cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 503);
    assert_eq!(
        me.json::<serde_json::Value>().await.unwrap()["error"],
        "store_unavailable"
    );
    assert_eq!(
        ws_open(a, &format!("/ws?ticket={early_ticket}"), None, None)
            .await
            .err(),
        Some(503),
        "a ticket cannot be redeemed while Redis is out of reach"
    );
    // A logout during the outage clears the cookies and says it is not recorded
    // everywhere; B holds it and writes it back.
    let mut bob_on_b = Browser::new();
    bob_on_b.cookies = bob_cookies.clone();
    let r = bob_on_b
        .send(bob_on_b.client().post(b.url("/auth/logout")))
        .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.body.contains("could not be recorded for every instance"),
        "{}",
        r.body
    );
    assert!(
        bob_on_b.cookies.is_empty(),
        "the cookies are cleared all the same"
    );

    redis.restart_empty();
    for p in [a, b] {
        await_ready(p, 200, Duration::from_secs(10)).await;
    }
    // Both logouts are in force on both instances, and in Redis again.
    for p in [a, b] {
        assert_eq!(
            page(p, &ada_cookies).await,
            302,
            "the logout before the outage"
        );
        assert_eq!(
            page(p, &bob_cookies).await,
            302,
            "the logout during the outage\n{}\n---\n{}",
            a.stderr(),
            b.stderr()
        );
    }
    assert_eq!(redis.cli(&["ZCARD", "portcullis:_revoked"]), "2");
    // An instance that starts now learns both from Redis.
    let c = Proxy::start(&world.config("", &store_section(&redis.url(), ""))).await;
    await_ready(&c, 200, Duration::from_secs(10)).await;
    assert_eq!(page(&c, &ada_cookies).await, 302);
    assert_eq!(page(&c, &bob_cookies).await, 302);
    // Everything works again.
    let mut eve = Browser::new();
    assert_eq!(eve.sign_in(b, "/", "eve@example.com").await.status, 302);
    assert_eq!(page(a, &eve.cookies).await, 200);
    assert!(mint(&mut eve, a).await.is_ok());

    for (task, stop) in guards {
        stop.send(true).unwrap();
        assert_eq!(
            task.await.unwrap(),
            0,
            "nothing was forwarded without a valid session"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_with_requirepass_and_an_acl_user() {
    let world = World::new().await;
    let redis = Redis::start_with(&[
        "--requirepass",
        "default-pw-71",
        "--user",
        "gate",
        "on",
        ">gate-pw-42",
        // The ACL docs/store.md gives.
        "~portcullis:*",
        "&portcullis:*",
        "+@read",
        "+@write",
        "+@scripting",
        "+@pubsub",
        "+ping",
        "+select",
    ]);
    let port = redis.port;
    for url in [
        format!("redis://gate:gate-pw-42@127.0.0.1:{port}/0"),
        format!("redis://:default-pw-71@127.0.0.1:{port}/3"),
    ] {
        let p = Proxy::start(&world.config("", &store_section(&url, ""))).await;
        await_ready(&p, 200, Duration::from_secs(10)).await;
        let mut ada = Browser::new();
        assert_eq!(ada.sign_in(&p, "/", "ada@example.com").await.status, 302);
        assert!(
            mint(&mut ada, &p).await.is_ok(),
            "scripts run within the ACL"
        );
        assert_eq!(
            ada.send(ada.client().post(p.url("/auth/logout")))
                .await
                .status,
            302
        );
    }
    assert_eq!(
        redis.cli(&[
            "-a",
            "default-pw-71",
            "--no-auth-warning",
            "-n",
            "3",
            "ZCARD",
            "portcullis:_revoked"
        ]),
        "1"
    );

    let wrong = format!("redis://gate:wrong-pw-13@127.0.0.1:{port}");
    let p = Proxy::start(&world.config("", &store_section(&wrong, ""))).await;
    let body = await_ready(&p, 503, Duration::from_secs(5)).await;
    assert!(
        body.contains("password") && body.contains("store.url"),
        "{body}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        Browser::new().get(&p.url("/")).await.status,
        302,
        "served, but never without a session"
    );
    let logs = p.stderr() + &std::fs::read_to_string(&p.audit_path).unwrap_or_default();
    assert!(logs.contains("store.url"), "{logs}");
    assert!(
        !logs.contains("wrong-pw-13"),
        "the password reached a log line"
    );

    let (ok, shown) = check(&world, &wrong);
    assert!(ok, "{shown}");
    assert!(shown.contains("redis://gate:***@127.0.0.1"), "{shown}");
    assert!(!shown.contains("wrong-pw-13"), "{shown}");
    let (ok, shown) = check(
        &world,
        &format!("redis://gate:wrong-pw-13@127.0.0.1:{port}/#insecure"),
    );
    assert!(!ok);
    assert!(
        shown.contains("store.url") && !shown.contains("wrong-pw-13"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_over_tls_with_a_private_ca() {
    let world = World::new().await;
    let redis = Redis::start_tls();
    let config = world.config("", &store_section(&redis.url(), ""));
    let ca = redis.ca_file().display().to_string();
    let a = Proxy::start_with_env(&config, &[("SSL_CERT_FILE", &ca)]).await;
    let b = Proxy::start_with_env(&config, &[("SSL_CERT_FILE", &ca)]).await;
    for p in [&a, &b] {
        await_ready(p, 200, Duration::from_secs(10)).await;
    }
    let mut ada = Browser::new();
    assert_eq!(ada.sign_in(&a, "/", "ada@example.com").await.status, 302);
    let ticket = mint(&mut ada, &a).await.unwrap();
    assert!(ws_open(&b, &format!("/ws?ticket={ticket}"), None, None)
        .await
        .is_ok());
    // Without the CA the server's certificate is not trusted: never ready.
    let untrusting = Proxy::start(&config).await;
    await_ready(&untrusting, 503, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (status, body) = ready(&untrusting).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("certificate"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pause_shorter_than_max_staleness_is_no_outage() {
    let world = World::new().await;
    let redis = Redis::start();
    let fleet = fleet(&world, &redis, 1).await;
    let mut ada = Browser::new();
    assert_eq!(
        ada.sign_in(&fleet[0], "/", "ada@example.com").await.status,
        302
    );
    redis.pause();
    let paused = Instant::now();
    while paused.elapsed() < Duration::from_millis(1200) {
        assert_eq!(
            page(&fleet[0], &ada.cookies).await,
            200,
            "served from the view while it is fresh"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    redis.resume();
    await_ready(&fleet[0], 200, Duration::from_secs(5)).await;
    await_status("after the pause", Duration::from_secs(2), 200, || {
        page(&fleet[0], &ada.cookies)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_missing_at_start_is_waited_for_and_never_served_around() {
    let world = World::new().await;
    let port = crate::common::free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let p = Proxy::start(&world.config("", &store_section(&url, ""))).await;
    let body = await_ready(&p, 503, Duration::from_secs(5)).await;
    assert!(
        body.contains("store: Redis refused the connection"),
        "{body}"
    );
    assert_eq!(Browser::new().get(&p.url("/")).await.status, 302);
    let start = Browser::new()
        .get(&p.url("/auth/login?provider=dev&next=%2F"))
        .await;
    assert_eq!(start.status, 503, "no sign-in before the store answers");
    let _redis = Redis::start_on(port, &[]);
    await_ready(&p, 200, Duration::from_secs(10)).await;
    let mut ada = Browser::new();
    assert_eq!(ada.sign_in(&p, "/", "ada@example.com").await.status, 302);
    assert_eq!(page(&p, &ada.cookies).await, 200);
}
