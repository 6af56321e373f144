//! A minute of steady load on loopback: many concurrent connections, a steady
//! request rate, zero errors, and memory that stays flat. Bounded in time and
//! count; it stops by itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::{Browser, Proxy, World};

const CONNECTIONS: usize = 200;
const RATE_PER_CONNECTION: u64 = 4; // 800 requests/s in all
const DURATION: Duration = Duration::from_secs(60);

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "slow tier: scripts/test.sh runs it (cargo test --test it -- --ignored)"]
async fn a_minute_of_steady_load_has_no_errors_and_flat_memory() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    assert_eq!(b.sign_in(&proxy, "/", "ada@example.com").await.status, 302);
    let cookie = format!("portcullis_session={}", b.cookies["portcullis_session"]);

    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut samples = Vec::new();
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            let (ok, errors, cookie) = (ok.clone(), errors.clone(), cookie.clone());
            let url = proxy.url(&format!("/api/echo?worker={i}"));
            let anon = proxy.url("/page");
            tokio::spawn(async move {
                // One keep-alive connection per worker.
                let client = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
                    .unwrap();
                let mut tick =
                    tokio::time::interval(Duration::from_millis(1000 / RATE_PER_CONNECTION));
                let mut n = 0u64;
                while started.elapsed() < DURATION {
                    tick.tick().await;
                    n += 1;
                    // One in ten is a stranger, who must be redirected.
                    let (target, expected) = if n.is_multiple_of(10) {
                        (&anon, 302)
                    } else {
                        (&url, 200)
                    };
                    let req = if expected == 200 {
                        client.get(target).header("cookie", &cookie)
                    } else {
                        client.get(target)
                    };
                    match req.send().await {
                        Ok(r) if r.status().as_u16() == expected => {
                            let _ = r.bytes().await;
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    while started.elapsed() < DURATION {
        tokio::time::sleep(Duration::from_secs(5)).await;
        samples.push(rss_kib(proxy.pid()));
    }
    for w in workers {
        w.await.unwrap();
    }
    let (ok, errors) = (ok.load(Ordering::Relaxed), errors.load(Ordering::Relaxed));
    let warm = samples[2]; // after 15 s
    let last = *samples.last().unwrap();
    eprintln!("load: {ok} ok, {errors} errors, RSS samples (KiB) {samples:?}");
    assert_eq!(errors, 0);
    assert!(
        ok as f64 > 0.8 * (CONNECTIONS as u64 * RATE_PER_CONNECTION * DURATION.as_secs()) as f64,
        "rate not held: {ok}"
    );
    assert!(
        last < warm + 8 * 1024,
        "memory grew from {warm} KiB to {last} KiB"
    );
}
