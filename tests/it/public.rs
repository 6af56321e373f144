//! `[[public]]` routes: forwarded without a session and without any identity,
//! method by method, and never for a path a server could read as another one,
//! checked against a real upstream that normalises paths (Python's
//! `http.server`, which decodes and collapses dot segments before serving).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{free_port, Browser, Proxy, World};

const PUBLIC: &str = r#"
[[public]]
path = "/api/echo"

[[public]]
path = "/static/"
methods = ["GET"]
"#;

/// Sends `GET <path>` byte for byte (no client normalises it) with `headers`;
/// the status and the body.
fn raw_get(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).to_string();
    let status = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, answer)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_route_passes_without_a_session_and_carries_no_identity() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", PUBLIC)).await;
    let addr = proxy.addr;
    let (status, answer) = tokio::task::spawn_blocking(move || {
        raw_get(
            addr,
            "/api/echo?ticket=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA&x=1",
            "X-Forwarded-User: admin\r\nX-Forwarded-Email: boss@example.com\r\nX_Forwarded_User: admin\r\n",
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 200, "{answer}");
    let lower = answer.to_ascii_lowercase();
    assert!(
        !lower.contains("admin") && !lower.contains("boss@"),
        "a spoofed identity passed: {answer}"
    );
    assert!(
        !answer.contains("ticket="),
        "the ticket reached the upstream: {answer}"
    );
    assert!(answer.contains("x=1"));

    // Signed in or not, a public route carries no identity and no portcullis cookie.
    let mut ada = Browser::new();
    assert_eq!(
        ada.sign_in(&proxy, "/", "ada@example.com").await.status,
        302
    );
    let echo = ada.get(&proxy.url("/api/echo")).await;
    assert_eq!(echo.status, 200);
    let seen = echo.json();
    assert!(seen["headers"]["x-forwarded-user"].is_null(), "{seen}");
    assert!(!seen["headers"]["cookie"]
        .as_str()
        .unwrap_or("")
        .contains("portcullis_session"));
    // Only the methods named, only the path named.
    let anon = reqwest::Client::new();
    let post = anon.post(proxy.url("/api/echo")).send().await.unwrap();
    assert_eq!(post.status(), 401, "POST is not public here");
    let below = anon.get(proxy.url("/api/echo/more")).send().await.unwrap();
    assert_eq!(below.status(), 401, "an exact route is exact");
    let page = Browser::new().get(&proxy.url("/")).await;
    assert_eq!(page.status, 302, "everything else still needs a session");
}

/// Python's `http.server` serving `static/ok.txt` and, outside it, `secret.txt`.
struct NormalisingUpstream {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl NormalisingUpstream {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("static")).unwrap();
        std::fs::write(dir.path().join("static/ok.txt"), "public asset\n").unwrap();
        std::fs::write(dir.path().join("secret.txt"), "THE-SECRET\n").unwrap();
        let port = free_port();
        let child = Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "http.server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for NormalisingUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn paths_an_upstream_would_read_otherwise_are_never_public() {
    let world = World::new().await;
    let upstream = NormalisingUpstream::start();
    let config = world.config("", PUBLIC).replace(
        &format!("http://{}", world.upstream),
        &format!("http://127.0.0.1:{}", upstream.port),
    );
    let proxy = Proxy::start(&config).await;
    let (gate, direct): (SocketAddr, SocketAddr) = (
        proxy.addr,
        format!("127.0.0.1:{}", upstream.port).parse().unwrap(),
    );
    let results = tokio::task::spawn_blocking(move || {
        assert_eq!(
            raw_get(gate, "/static/ok.txt", "").0,
            200,
            "the public asset passes"
        );
        [
            "/static/../secret.txt",
            "/static/./../secret.txt",
            "/static/%2e%2e/secret.txt",
            "/static/%2E%2E/secret.txt",
            "/static/.%2e/secret.txt",
            "/static/..%2fsecret.txt",
            "/static/%2e%2e%2fsecret.txt",
            "/static/..%5csecret.txt",
            "/static/..\\secret.txt",
            "/static//../secret.txt",
            "/static/..;/secret.txt",
            "/static/ok.txt;/../../secret.txt",
        ]
        .map(|path| (path, raw_get(gate, path, ""), raw_get(direct, path, "")))
    })
    .await
    .unwrap();
    let mut dangerous = 0;
    for (path, (status, answer), (_, straight)) in results {
        dangerous += usize::from(straight.contains("THE-SECRET"));
        assert!(
            !answer.contains("THE-SECRET"),
            "{path} reached the secret through the gate"
        );
        assert_eq!(status, 302, "{path} must need a session: {answer}");
    }
    assert!(
        dangerous >= 4,
        "the upstream normalises {dangerous} of the shapes: the test proves nothing"
    );
}

/// A portcullis bearer token is portcullis's on a public route too: the
/// dashboard never sees it (whoever reads its logs would hold a credential),
/// while the dashboard's own `Authorization` passes untouched.
#[tokio::test(flavor = "multi_thread")]
async fn a_portcullis_token_on_a_public_route_never_reaches_the_upstream() {
    let world = World::new().await;
    let own = "hunter2-operator-made";
    let tokens = crate::common::operator_token(own);
    let proxy = Proxy::start(&world.config("", &format!("{PUBLIC}{tokens}"))).await;
    let client = reqwest::Client::new();
    let seen = |authorization: String| {
        let req = client
            .get(proxy.url("/api/echo"))
            .header("authorization", authorization);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200, "a public route");
            let body: serde_json::Value = r.json().await.unwrap();
            body["headers"]["authorization"]
                .as_str()
                .map(str::to_string)
        }
    };
    for ours in [
        "Bearer pct_someapitoken0123456789".to_string(),
        "Bearer pcd_somedevicetoken0123456789".to_string(),
        format!("Bearer {own}"),
        format!("bearer   {own} "),
    ] {
        assert_eq!(
            seen(ours.clone()).await,
            None,
            "{ours} reached the upstream"
        );
    }
    assert_eq!(
        seen("Bearer the-dashboards-own".into()).await.as_deref(),
        Some("Bearer the-dashboards-own"),
        "the dashboard's own token passes"
    );
    assert_eq!(
        seen("Basic dXNlcjpwdw==".into()).await.as_deref(),
        Some("Basic dXNlcjpwdw==")
    );
}
