//! Path tricks cannot cross routes: `/` is open to everyone at example.com and
//! `/admin/` (or Jupyter's `/jupyter/api/`) to root alone, both on one upstream
//! that normalises paths (Python's `http.server`, nginx, Jupyter's tornado).
//! Every way of writing the strict path through the lenient route is refused,
//! while the same bytes sent straight to the upstream show which of them it
//! would have resolved to the strict path.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::jupyter::Jupyter;
use crate::common::nginx::Nginx;
use crate::common::{free_port, Browser, Proxy, World};

/// Ways to write `/admin/secret.txt` (with `{admin}` for the strict segment).
const TRICKS: &[&str] = &[
    "/x/../{admin}/secret.txt",
    "/./{admin}/secret.txt",
    "//{admin}/secret.txt",
    "/x//../{admin}/secret.txt",
    "/%2e%2e/{admin}/secret.txt",
    "/x/%2E%2E/{admin}/secret.txt",
    "/x/.%2e/{admin}/secret.txt",
    "/x/..%2f{admin}/secret.txt",
    "/x%2f..%2f{admin}/secret.txt",
    "/%2f{admin}/secret.txt",
    "/x/..\\{admin}/secret.txt",
    "/x/..%5c{admin}/secret.txt",
    "/x/..;/{admin}/secret.txt",
    "/{admin};x/secret.txt",
    "/x/%252e%252e/{admin}/secret.txt",
    "/%25%32%65%25%32%65/{admin}/secret.txt",
    "/{upper}/secret.txt",
    "/x/../{upper}/secret.txt",
    "/%61dmin/secret.txt",
    "/x/%c0%ae%c0%ae/{admin}/secret.txt",
    "/x/%zz/../{admin}/secret.txt",
];

const SECRET_TEXT: &str = "only root may read this";

fn config(
    world: &World,
    upstream: &str,
    root_path: &str,
    strict_path: &str,
    strict_upstream: &str,
) -> String {
    format!(
        r#"
[server]
listen = "{{listen}}"

[session]
secret = "{secret}"

[access]
allowed_domains = ["example.com"]

[[routes]]
path = "{root_path}"
upstream = "{upstream}"

[[routes]]
path = "{strict_path}"
upstream = "{strict_upstream}"
allowed_emails = ["root@example.com"]

[[providers]]
id = "dev"
kind = "oidc"
issuer = "{issuer}"
client_id = "{id}"
client_secret = "{client_secret}"
"#,
        secret = crate::common::SECRET,
        issuer = world.idp.issuer(),
        id = crate::common::CLIENT_ID,
        client_secret = crate::common::CLIENT_SECRET,
    )
}

/// Sends `GET path` byte for byte (no client library normalises it); the
/// status and body.
async fn raw_get(port: u16, path: &str, cookie: Option<&str>) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{cookie}Connection: close\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw).to_string();
    let status = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, text)
}

async fn cookie_of(proxy: &Proxy, email: &str) -> String {
    let mut b = Browser::new();
    assert_eq!(b.sign_in(proxy, "/", email).await.status, 302);
    b.cookie_header().unwrap()
}

/// Runs the table through portcullis (as alice, who may not use the strict
/// route) and straight at the upstream; returns the tricks the upstream
/// resolved to the secret.
async fn run_table(
    proxy: &Proxy,
    upstream_port: u16,
    admin: &str,
    secret_path: &str,
) -> Vec<String> {
    let alice = cookie_of(proxy, "alice@example.com").await;
    let root = cookie_of(proxy, "root@example.com").await;
    let (status, body) = raw_get(proxy.addr.port(), secret_path, Some(&root)).await;
    assert_eq!(status, 200, "root reads it: {body}");
    let (status, _) = raw_get(proxy.addr.port(), secret_path, Some(&alice)).await;
    assert_eq!(status, 403, "alice may not");
    let mut resolved = Vec::new();
    for trick in TRICKS {
        let path = trick
            .replace("{admin}", admin)
            .replace("{upper}", &admin.to_uppercase());
        let (status, body) = raw_get(proxy.addr.port(), &path, Some(&alice)).await;
        assert!(
            matches!(status, 400 | 403),
            "{path} through the lenient route: {status}\n{body}"
        );
        assert!(!body.contains(SECRET_TEXT), "{path} leaked");
        let (direct, body) = raw_get(upstream_port, &path, None).await;
        if direct == 200 && body.contains(SECRET_TEXT) {
            resolved.push(path);
        }
    }
    resolved
}

fn secret_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("admin")).unwrap();
    std::fs::write(dir.path().join("admin/secret.txt"), SECRET_TEXT).unwrap();
    std::fs::write(dir.path().join("public.txt"), "hello").unwrap();
    dir
}

struct Killed(std::process::Child);
impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn path_tricks_through_python_http_server_never_reach_the_strict_route() {
    let world = World::new().await;
    let dir = secret_dir();
    let port = free_port();
    let _server = Killed(
        std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                "--bind",
                "127.0.0.1",
                &port.to_string(),
                "--directory",
            ])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "http.server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let up = format!("http://127.0.0.1:{port}");
    let proxy = Proxy::start(&config(&world, &up, "/", "/admin/", &format!("{up}/admin"))).await;
    let resolved = run_table(&proxy, port, "admin", "/admin/secret.txt").await;
    eprintln!(
        "http.server resolved {} tricks to the secret: {resolved:?}",
        resolved.len()
    );
    assert!(
        resolved.len() >= 5,
        "the table means something: {resolved:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn path_tricks_through_nginx_never_reach_the_strict_route() {
    let world = World::new().await;
    let dir = secret_dir();
    let port = free_port();
    let _nginx = Nginx::start_plain(
        port,
        &format!("    location / {{ root {}; }}\n", dir.path().display()),
    );
    let up = format!("http://127.0.0.1:{port}");
    let proxy = Proxy::start(&config(&world, &up, "/", "/admin/", &format!("{up}/admin"))).await;
    let resolved = run_table(&proxy, port, "admin", "/admin/secret.txt").await;
    eprintln!(
        "nginx resolved {} tricks to the secret: {resolved:?}",
        resolved.len()
    );
    assert!(
        resolved.len() >= 5,
        "the table means something: {resolved:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn path_tricks_through_jupyter_never_reach_its_api_route() {
    let world = World::new().await;
    let jupyter = Jupyter::start("/jupyter").await;
    std::fs::create_dir_all(jupyter.root().join("admin")).unwrap();
    std::fs::write(jupyter.root().join("admin/secret.txt"), SECRET_TEXT).unwrap();
    let lab = jupyter.url();
    let proxy = Proxy::start(&config(
        &world,
        &lab,
        "/jupyter/",
        "/jupyter/api/",
        &format!("{lab}/api"),
    ))
    .await;
    // The strict path here is Jupyter's contents API, which reads files.
    let alice = cookie_of(&proxy, "alice@example.com").await;
    let root = cookie_of(&proxy, "root@example.com").await;
    let target = "/jupyter/api/contents/admin/secret.txt";
    let (status, body) = raw_get(proxy.addr.port(), target, Some(&root)).await;
    assert_eq!(status, 200, "root reads it: {body}");
    assert!(body.contains(SECRET_TEXT));
    let mut resolved = Vec::new();
    for trick in [
        "/jupyter/lab/../api/contents/admin/secret.txt",
        "/jupyter/./api/contents/admin/secret.txt",
        "/jupyter//api/contents/admin/secret.txt",
        "/jupyter/lab/%2e%2e/api/contents/admin/secret.txt",
        "/jupyter/lab/..%2fapi/contents/admin/secret.txt",
        "/jupyter/%61pi/contents/admin/secret.txt",
        "/jupyter/API/contents/admin/secret.txt",
        "/jupyter/Api/contents/admin/secret.txt",
        "/jupyter/api;x/contents/admin/secret.txt",
        "/jupyter/lab/%252e%252e/api/contents/admin/secret.txt",
        "/JUPYTER/API/contents/admin/secret.txt",
        "/jupyter/files/../api/contents/admin/secret.txt",
    ] {
        let (status, body) = raw_get(proxy.addr.port(), trick, Some(&alice)).await;
        assert!(
            matches!(status, 400 | 403 | 404),
            "{trick}: {status}\n{body}"
        );
        assert!(!body.contains(SECRET_TEXT), "{trick} leaked");
        let (direct, body) = raw_get(jupyter.port, trick, None).await;
        if direct == 200 && body.contains(SECRET_TEXT) {
            resolved.push(trick);
        }
    }
    eprintln!(
        "jupyter resolved {} tricks to the secret: {resolved:?}",
        resolved.len()
    );
}
