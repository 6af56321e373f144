//! Memory per idle WebSocket held through portcullis.
//!
//! Starts the development IdP and the demo dashboard in this process, runs the
//! release `portcullis` binary in front of them, signs in, opens N WebSockets
//! through the proxy (cookie + same Origin), lets them sit idle, and reports the
//! proxy's resident memory before, while they are open, and after all are closed.
//! Each upgrade is authenticated by cookie + same Origin, or (`ticket`) by a
//! single-use ticket minted just before.
//!
//!   bench/ws-idle-memory.sh                 # 3000 connections, cookie
//!   bench/ws-idle-memory.sh 5000 ticket

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use portcullis::demo::dev_idp::{DevClient, DevIdp};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(3000);
    let by_ticket = std::env::args().nth(2).is_some_and(|m| m == "ticket");
    let binary = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("portcullis");
    let idp = DevIdp::start(
        "127.0.0.1:0".parse().unwrap(),
        DevClient {
            client_id: "bench".into(),
            client_secret: "bench-secret".into(),
            redirect_uris: vec![],
        },
    )
    .await
    .unwrap();
    let upstream = portcullis::demo::dashboard::start("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let dir = std::env::temp_dir().join(format!("portcullis-bench-{port}"));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("portcullis.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = \"{addr}\"\n[upstream]\nurl = \"http://{upstream}\"\n[session]\nsecret = \"bench-secret-0123456789-0123456789-abcdef\"\n\
[[providers]]\nid = \"dev\"\nkind = \"oidc\"\nissuer = \"{}\"\nclient_id = \"bench\"\nclient_secret = \"bench-secret\"\n",
            idp.issuer()
        ),
    )
    .unwrap();
    let mut child = Command::new(&binary)
        .args(["serve", "-c"])
        .arg(&config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("run bench/ws-idle-memory.sh, which builds the release binary first");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let base = format!("http://{addr}");
    for _ in 0..200 {
        if http.get(format!("{base}/auth/health")).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Sign in through the development IdP.
    let start = http
        .get(format!("{base}/auth/login?provider=dev"))
        .send()
        .await
        .unwrap();
    let pkce = start
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let authorize = url::Url::parse(start.headers()["location"].to_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = authorize.query_pairs().into_owned().collect();
    let mut action = authorize.clone();
    action.set_query(None);
    let form = [
        ("email", "bench@example.com"),
        ("name", "Bench"),
        ("redirect_uri", &q["redirect_uri"]),
        ("state", &q["state"]),
        ("nonce", &q["nonce"]),
        ("code_challenge", &q["code_challenge"]),
        ("client_id", &q["client_id"]),
    ];
    let back = http.post(action.as_str()).form(&form).send().await.unwrap();
    let callback = back.headers()["location"].to_str().unwrap().to_string();
    let done = http
        .get(&callback)
        .header("cookie", &pkce)
        .send()
        .await
        .unwrap();
    let session = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("portcullis_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    // Warm the proxy up before the baseline.
    for _ in 0..100 {
        http.get(format!("{base}/api/echo"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let pid = child.id();
    let before = rss_kib(pid);

    // Two rounds: memory that a second round does not add to was kept for reuse
    // (by the allocator), not leaked.
    for round in 1..=2 {
        let mut sockets = Vec::with_capacity(n);
        for i in 0..n {
            let mut req = if by_ticket {
                let minted: serde_json::Value = http
                    .post(format!("{base}/api/auth/ws-ticket"))
                    .header("cookie", &session)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let ticket = minted["ticket"].as_str().unwrap();
                format!("ws://{addr}/ws?ticket={ticket}")
                    .into_client_request()
                    .unwrap()
            } else {
                let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
                req.headers_mut().insert("cookie", session.parse().unwrap());
                req.headers_mut().insert("origin", base.parse().unwrap());
                req
            };
            req.headers_mut()
                .insert("user-agent", "ws-idle-memory".parse().unwrap());
            let (mut ws, _) = tokio_tungstenite::connect_async(req)
                .await
                .unwrap_or_else(|e| panic!("connection {i}: {e} (raise `ulimit -n`?)"));
            ws.send(Message::Text("hi".into())).await.unwrap();
            ws.next().await.unwrap().unwrap();
            sockets.push(ws);
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let after = rss_kib(pid);
        let per = (after.saturating_sub(before) as f64 * 1024.0) / n as f64;
        let how = if by_ticket {
            "ticket"
        } else {
            "cookie + Origin"
        };
        println!("round {round}: idle WebSockets held through portcullis: {n} ({how})");
        println!(
            "proxy RSS before: {:.1} MiB, after: {:.1} MiB",
            before as f64 / 1024.0,
            after as f64 / 1024.0
        );
        println!("memory per idle WebSocket: {:.1} KiB", per / 1024.0);
        drop(sockets);
        tokio::time::sleep(Duration::from_secs(4)).await;
        let closed = rss_kib(pid);
        let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
        println!("proxy file descriptors after all closed: {fds}");
        println!(
            "after all closed: {:.1} MiB ({:.1} MiB above the start)",
            closed as f64 / 1024.0,
            closed.saturating_sub(before) as f64 / 1024.0
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(dir);
}
