//! Running it: `/metrics` on the admin listener, SIGTERM draining in-flight
//! requests, and the shipped deploy files agreeing with the binary.

use std::time::{Duration, Instant};

use crate::common::{free_port, Browser, Proxy, World};

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_outcomes_auth_events_tickets_and_latency() {
    let world = World::new().await;
    let admin = free_port();
    let proxy =
        Proxy::start(&world.config("", &format!("[admin]\nlisten = \"127.0.0.1:{admin}\""))).await;
    let mut b = Browser::new();
    assert_eq!(b.get(&proxy.url("/page")).await.status, 302);
    assert_eq!(b.get(&proxy.url("/api/x")).await.status, 401);
    assert_eq!(b.sign_in(&proxy, "/", "ada@example.com").await.status, 302);
    assert_eq!(b.get(&proxy.url("/api/echo")).await.status, 200);
    assert_eq!(
        b.send(
            b.client()
                .post(proxy.url("/api/echo"))
                .header("origin", "http://evil.example")
        )
        .await
        .status,
        403
    );
    assert_eq!(
        b.send(b.client().post(proxy.url("/api/auth/ws-ticket")))
            .await
            .status,
        200
    );

    let text = reqwest::get(format!("http://127.0.0.1:{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for series in [
        "portcullis_requests_total{outcome=\"login_redirect\"}",
        "portcullis_requests_total{outcome=\"unauthorized\"}",
        "portcullis_requests_total{outcome=\"forwarded\"}",
        "portcullis_requests_total{outcome=\"forbidden\"}",
        "portcullis_auth_events_total{event=\"login_success\",provider=\"dev\"}",
        "portcullis_auth_events_total{event=\"login_start\",provider=\"dev\"}",
        "portcullis_ws_tickets_total{result=\"minted\"}",
        "portcullis_upstream_response_seconds_count",
    ] {
        assert_eq!(metric(&text, series), 1.0, "{series}:\n{text}");
    }
    assert!(text.contains("portcullis_websockets_active 0"));
    // The admin listener serves nothing else, and the main port serves no metrics.
    assert_eq!(
        reqwest::get(format!("http://127.0.0.1:{admin}/"))
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        Browser::new().get(&proxy.url("/metrics")).await.status,
        302,
        "no metrics for strangers on the main port"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_drains_an_in_flight_request_then_exits() {
    let world = World::new().await;
    let mut proxy = Proxy::start(&world.config("shutdown_grace = \"3s\"", "")).await;
    let mut b = Browser::new();
    assert_eq!(b.sign_in(&proxy, "/", "ada@example.com").await.status, 302);
    let cookie = format!("portcullis_session={}", b.cookies["portcullis_session"]);
    let slow = {
        let url = proxy.url("/api/slow?ms=1500");
        let cookie = cookie.clone();
        tokio::spawn(async move {
            let r = reqwest::Client::new()
                .get(url)
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let signalled = Instant::now();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &proxy.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        reqwest::Client::new()
            .get(proxy.url("/auth/health"))
            .send()
            .await
            .is_err(),
        "no new connections after SIGTERM"
    );
    let (status, body) = slow.await.unwrap();
    assert_eq!(
        (status, body.as_str()),
        (200, "slow done\n"),
        "the in-flight request finished"
    );
    let exit = tokio::task::block_in_place(|| proxy.wait_exit(Duration::from_secs(10)));
    assert!(exit.is_some(), "exited after the grace period");
    assert!(signalled.elapsed() < Duration::from_secs(9));
}

#[test]
fn fly_toml_agrees_with_the_example_config_and_the_binary() {
    let root = env!("CARGO_MANIFEST_DIR");
    let fly: toml::Value =
        toml::from_str(&std::fs::read_to_string(format!("{root}/fly.toml")).unwrap()).unwrap();
    let example: toml::Value = toml::from_str(
        &std::fs::read_to_string(format!("{root}/config/portcullis.example.toml")).unwrap(),
    )
    .unwrap();
    let listen: std::net::SocketAddr = example["server"]["listen"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let service = &fly["http_service"];
    assert_eq!(
        service["internal_port"].as_integer(),
        Some(i64::from(listen.port()))
    );
    assert_eq!(service["force_https"].as_bool(), Some(true));
    let check = &service["checks"][0];
    assert_eq!(check["path"].as_str(), Some("/auth/ready"));
    let admin: std::net::SocketAddr = example["admin"]["listen"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        fly["metrics"]["port"].as_integer(),
        Some(i64::from(admin.port()))
    );
    assert_eq!(fly["metrics"]["path"].as_str(), Some("/metrics"));
    let grace =
        humantime::parse_duration(example["server"]["shutdown_grace"].as_str().unwrap()).unwrap();
    let kill = humantime::parse_duration(fly["kill_timeout"].as_str().unwrap()).unwrap();
    assert!(kill > grace, "Fly must wait longer than the drain");
    assert!(fly["env"]["PORTCULLIS_PUBLIC_URL"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    assert_eq!(
        fly["env"]["PORTCULLIS_CONFIG"].as_str(),
        Some("/etc/portcullis/portcullis.toml")
    );
}

/// The container is checked by building the real `Dockerfile` and running the
/// image (`scripts/container-test.sh`); this pins that CI runs that check, and
/// that `.dockerignore` keeps in what the build reads.
#[test]
fn ci_builds_and_runs_the_real_dockerfile() {
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |f: &str| std::fs::read_to_string(format!("{root}/{f}")).unwrap();
    assert!(read(".ci/run").contains("scripts/test.sh"));
    assert!(read("scripts/test.sh").contains("scripts/container-test.sh"));
    let script = read("scripts/container-test.sh");
    assert!(script.contains("bud --isolation chroot"));
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.trim().trim_start_matches("**/").to_string())
        .collect();
    for needed in [
        "src",
        "benches",
        "vendor",
        "config",
        "scripts",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        assert!(
            !ignored.iter().any(|i| i == needed),
            ".dockerignore leaves out {needed}"
        );
    }
    for kept_out in ["target", "tests", "node_modules"] {
        assert!(
            ignored.iter().any(|i| i == kept_out),
            ".dockerignore keeps {kept_out} in the context"
        );
    }
}

/// The block of `Cargo.lock` describing package `name`.
fn lock_entry<'a>(lock: &'a str, name: &str) -> Vec<&'a str> {
    let mut entries = lock
        .split("[[package]]")
        .filter(|e| e.lines().any(|l| l.trim() == format!("name = \"{name}\"")));
    entries
        .next()
        .map_or_else(Vec::new, |e| e.lines().collect())
}

#[test]
fn the_vendored_pingora_patches_are_the_ones_built() {
    let root = env!("CARGO_MANIFEST_DIR");
    let lock = std::fs::read_to_string(format!("{root}/Cargo.lock")).unwrap();
    let manifest = std::fs::read_to_string(format!("{root}/Cargo.toml")).unwrap();
    assert!(
        manifest.contains("pingora = { version = \"=0.9.1\""),
        "pingora is pinned to the version the patches are made against"
    );
    for krate in ["pingora-proxy", "pingora-core"] {
        // A patch that cargo did not use (a newer pingora, say) leaves the crate
        // coming from the registry, with a `source` line.
        let entry = lock_entry(&lock, krate);
        assert!(
            entry.iter().any(|l| l.trim() == "version = \"0.9.1\""),
            "{krate} 0.9.1 is locked: {entry:?}"
        );
        assert!(
            !entry.iter().any(|l| l.trim_start().starts_with("source")),
            "{krate} comes from the registry, not vendor/: the patch is not applied"
        );
        assert!(
            manifest.contains(&format!("{krate} = {{ path = \"vendor/{krate}\" }}")),
            "{krate} is patched from vendor/"
        );
        // Every line the patch adds is in the vendored source.
        let patch = std::fs::read_to_string(format!("{root}/vendor/{krate}.patch")).unwrap();
        let mut file = String::new();
        for line in patch.lines() {
            if let Some(path) = line.strip_prefix("+++ b/") {
                file = std::fs::read_to_string(format!("{root}/vendor/{krate}/{path}"))
                    .unwrap_or_else(|_| panic!("vendor/{krate}/{path} is missing"));
            } else if let Some(added) = line.strip_prefix('+') {
                assert!(
                    file.lines().any(|l| l == added),
                    "vendor/{krate} lacks a line of its patch: {added}"
                );
            }
        }
        assert!(patch.contains("portcullis patch"), "{krate}.patch");
    }
}
