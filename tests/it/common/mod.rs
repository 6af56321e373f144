//! Test harness: the real `portcullis` binary on a free loopback port, an in-process
//! development IdP and echo dashboard, and a tiny cookie-keeping HTTP client that
//! follows no redirects, so every hop can be checked.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portcullis::demo::dev_idp::{DevClient, DevIdp};

pub mod caddy;
pub mod chromium;
pub mod fake_oauth;
pub mod hermes;
pub mod jupyter;
pub mod nginx;
pub mod node_idp;
pub mod redis;
pub mod wsgi;

pub const SECRET: &str = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz";
pub const CLIENT_ID: &str = "portcullis-test";
pub const CLIENT_SECRET: &str = "client-secret-for-tests";

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A running `portcullis serve`, killed on drop.
pub struct Proxy {
    pub addr: SocketAddr,
    child: Child,
    pub audit_path: PathBuf,
    pub stderr_path: PathBuf,
    /// The config file it was started with (rewrite it, then [`Proxy::reload`]).
    pub config_path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Proxy {
    /// Starts the proxy with `config` (a TOML text where `{listen}` is replaced).
    pub async fn start(config: &str) -> Proxy {
        Self::start_with_env(config, &[]).await
    }

    pub async fn start_with_env(config: &str, env: &[(&str, &str)]) -> Proxy {
        Self::start_on(free_port(), config, env).await
    }

    /// Starts the proxy on a chosen loopback port.
    pub async fn start_on(port: u16, config: &str, env: &[(&str, &str)]) -> Proxy {
        let dir = tempfile::tempdir().expect("tempdir");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let path = dir.path().join("portcullis.toml");
        std::fs::write(&path, config.replace("{listen}", &addr.to_string())).unwrap();
        let audit_path = dir.path().join("audit.jsonl");
        let stderr_path = dir.path().join("stderr.log");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.args(["serve", "-c"])
            .arg(&path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(std::fs::File::create(&audit_path).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(&stderr_path).unwrap()));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("spawn portcullis");
        let proxy = Proxy {
            addr,
            child,
            audit_path,
            stderr_path,
            config_path: path,
            _dir: dir,
        };
        proxy.wait_ready().await;
        proxy
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let client = reqwest::Client::new();
        while Instant::now() < deadline {
            if let Ok(r) = client.get(self.url("/auth/health")).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("portcullis did not become ready:\n{}", self.stderr());
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Writes `config` (`{listen}` replaced) over the config file and sends
    /// SIGHUP; returns the audit line of the attempt (`config_reloaded` or
    /// `config_reload_failed`).
    pub async fn reload(&self, config: &str) -> serde_json::Value {
        std::fs::write(
            &self.config_path,
            config.replace("{listen}", &self.addr.to_string()),
        )
        .unwrap();
        let before = self.audit_now().iter().filter(|l| is_reload(l)).count();
        let sent = Command::new("kill")
            .args(["-HUP", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -HUP");
        let lines = self
            .audit_until("a reload's audit line", |lines| {
                lines.iter().filter(|l| is_reload(l)).count() > before
            })
            .await;
        lines.into_iter().filter(is_reload).nth(before).unwrap()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Audit lines written so far, parsed.
    fn audit_now(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit_path)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|_| panic!("audit line is not JSON: {l}"))
            })
            .collect()
    }

    /// The audit lines once `done` holds for them. The audit stream is written by
    /// a thread of its own, so this polls, for at most 5 s, and panics listing
    /// what was logged when `done` never holds (`what` says what was awaited).
    pub async fn audit_until(
        &self,
        what: &str,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let lines = self.audit_now();
            if done(&lines) {
                return lines;
            }
            if Instant::now() > deadline {
                panic!("no {what} in the audit log: {lines:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The audit lines once one of `event` is among them.
    pub async fn audit_when(&self, event: &str) -> Vec<serde_json::Value> {
        self.audit_until(event, |lines| lines.iter().any(|e| e["event"] == event))
            .await
    }

    /// The audit lines once one of `event` with `reason` is among them.
    pub async fn audit_with_reason(&self, event: &str, reason: &str) -> Vec<serde_json::Value> {
        self.audit_until(&format!("{event} for {reason}"), |lines| {
            lines
                .iter()
                .any(|e| e["event"] == event && e["reason"] == reason)
        })
        .await
    }

    /// The first audit line of `event`.
    pub async fn audit_event(&self, event: &str) -> serde_json::Value {
        let audit = self.audit_when(event).await;
        audit
            .iter()
            .find(|e| e["event"] == event)
            .cloned()
            .unwrap_or_default()
    }

    /// The audit stream's text once a line of `event` is in it: what an absence
    /// check reads, knowing the writer has caught up that far.
    pub async fn audit_raw_when(&self, event: &str) -> String {
        self.audit_when(event).await;
        std::fs::read_to_string(&self.audit_path).unwrap_or_default()
    }
}

impl Proxy {
    /// The process id, for sending signals.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the process to exit; its exit status if it did.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_reload(line: &serde_json::Value) -> bool {
    matches!(
        line["event"].as_str(),
        Some("config_reloaded" | "config_reload_failed")
    )
}

/// An in-process development IdP and echo dashboard.
pub struct World {
    pub idp: DevIdp,
    pub upstream: SocketAddr,
}

impl World {
    pub async fn new() -> World {
        let idp = DevIdp::start(
            "127.0.0.1:0".parse().unwrap(),
            DevClient {
                client_id: CLIENT_ID.into(),
                client_secret: CLIENT_SECRET.into(),
                redirect_uris: vec![],
            },
        )
        .await
        .expect("dev idp");
        let upstream = portcullis::demo::dashboard::start("127.0.0.1:0".parse().unwrap())
            .await
            .expect("dashboard");
        World { idp, upstream }
    }

    /// A config for this world; `extra` is inserted at the end of `[server]`.
    pub fn config(&self, server_extra: &str, rest: &str) -> String {
        format!(
            r#"
[server]
listen = "{{listen}}"
{server_extra}

[upstream]
url = "http://{upstream}"

[session]
secret = "{SECRET}"
ttl = "1h"

{rest}

[[providers]]
id = "dev"
kind = "oidc"
display_name = "Dev IdP"
issuer = "{issuer}"
client_id = "{CLIENT_ID}"
client_secret = "{CLIENT_SECRET}"
"#,
            upstream = self.upstream,
            issuer = self.idp.issuer(),
        )
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn location(&self) -> &str {
        self.header("location").unwrap_or("")
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }
}

/// A client that keeps cookies by name and never follows redirects.
pub struct Browser {
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

impl Default for Browser {
    fn default() -> Self {
        Self::new()
    }
}

impl Browser {
    pub fn new() -> Self {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    /// A browser that accepts the test fronts' self-signed certificates.
    pub fn trusting_any_certificate() -> Self {
        Browser {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .danger_accept_invalid_certs(true)
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
        }
    }

    /// Another browser, with no cookies, that trusts what `other` trusts.
    pub fn new_like(other: &Browser) -> Self {
        Browser {
            client: other.client.clone(),
            cookies: BTreeMap::new(),
        }
    }

    /// The `Cookie` header this browser sends.
    pub fn cookie_header(&self) -> Option<String> {
        (!self.cookies.is_empty()).then(|| {
            self.cookies
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }

    pub async fn send(&mut self, req: reqwest::RequestBuilder) -> Resp {
        let req = match self.cookie_header() {
            Some(c) => req.header("cookie", c),
            None => req,
        };
        let r = req.send().await.expect("request");
        let resp = Resp {
            status: r.status().as_u16(),
            headers: r.headers().clone(),
            body: r.text().await.unwrap_or_default(),
        };
        for sc in resp.set_cookies() {
            let pair = sc.split(';').next().unwrap_or("");
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || sc.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_string(), value.to_string());
                }
            }
        }
        resp
    }

    pub async fn get(&mut self, url: &str) -> Resp {
        let req = self.client.get(url);
        self.send(req).await
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Signs in through the development IdP as `email`, starting at
    /// `/auth/login?provider=dev&next=<next>`; returns the callback's response.
    pub async fn sign_in(&mut self, proxy: &Proxy, next: &str, email: &str) -> Resp {
        let start = self
            .get(&proxy.url(&format!(
                "/auth/login?provider=dev&next={}",
                urlencode(next)
            )))
            .await;
        assert_eq!(start.status, 302, "login start: {}", start.body);
        let callback = self.authorize_at_idp(start.location(), email).await;
        self.get(&callback).await
    }

    /// Fills in the development IdP's form; returns the callback URL it redirects to.
    pub async fn authorize_at_idp(&mut self, authorize_url: &str, email: &str) -> String {
        let url = url::Url::parse(authorize_url).expect("authorize url");
        let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        let page = self.client.get(authorize_url).send().await.unwrap();
        assert_eq!(page.status(), 200, "IdP authorize page");
        let form = [
            ("email", email),
            ("name", "Test Person"),
            ("redirect_uri", q["redirect_uri"].as_str()),
            ("state", q["state"].as_str()),
            ("nonce", q.get("nonce").map_or("", |s| s.as_str())),
            ("code_challenge", q["code_challenge"].as_str()),
            ("client_id", q["client_id"].as_str()),
        ];
        let mut action = url.clone();
        action.set_query(None);
        let r = self
            .client
            .post(action.as_str())
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_redirection(),
            "IdP form answered {}",
            r.status()
        );
        r.headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap()
            .to_string()
    }
}

/// A `[[tokens]]` entry named `own` for the operator-made token `token`.
pub fn operator_token(token: &str) -> String {
    format!(
        "[[tokens]]\nname = \"own\"\nsha256 = \"{}\"\nsubject = \"own\"\n",
        portcullis::bearer::sha256_hex(token)
    )
}

pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Writes `text` to a temp file and runs `portcullis <args> -c <file>`.
pub fn run_cli(args: &[&str], config: Option<&str>, env: &[(&str, &str)]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
    cmd.args(args);
    if let Some(text) = config {
        let path = dir.path().join("c.toml");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        cmd.arg("-c").arg(path);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// A WebSocket through the proxy.
pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a WebSocket to `path` on the proxy with an optional `Cookie` and `Origin`;
/// `Err(status)` when the handshake is refused.
pub async fn ws_open(
    proxy: &Proxy,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<Ws, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}{path}", proxy.addr)
        .into_client_request()
        .unwrap();
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse().unwrap());
    }
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("unexpected websocket error: {e}"),
    }
}

/// Whether `ws` closes (a Close frame, an error or the end) within `limit`.
pub async fn closes_within(ws: &mut Ws, limit: Duration) -> bool {
    use futures_util::StreamExt;
    tokio::time::timeout(limit, async {
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() {
                break;
            }
        }
    })
    .await
    .is_ok()
}
