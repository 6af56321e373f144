//! The demo dashboard: a page that shows who portcullis says you are, a JSON echo of
//! the request the upstream received (`/api/echo`), and a WebSocket echo (`/ws`).
//! It trusts `X-Forwarded-*` because it listens on loopback behind portcullis.

use std::net::SocketAddr;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use axum::Router;
use serde_json::json;

use crate::login::page::escape;

/// Starts the dashboard on `addr` (port 0 picks one); returns the bound address.
pub async fn start(addr: SocketAddr) -> Result<SocketAddr, String> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = Router::new()
        .route("/api/echo", get(echo).post(echo))
        .route("/api/slow", get(slow))
        .route("/ws", get(ws))
        .route("/ws/request", get(ws_request))
        .fallback(page);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn echo(req: Request) -> Json<serde_json::Value> {
    let headers: serde_json::Map<String, serde_json::Value> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), json!(String::from_utf8_lossy(v.as_bytes()))))
        .collect();
    Json(json!({
        "method": req.method().as_str(),
        "uri": req.uri().to_string(),
        "headers": headers,
    }))
}

/// Answers after `?ms=` milliseconds (at most 30 s): an in-flight request for
/// shutdown tests.
async fn slow(
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> &'static str {
    let ms = q
        .get("ms")
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000u64)
        .min(30_000);
    tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    "slow done\n"
}

async fn ws(upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(echo_socket)
}

/// A WebSocket that first sends what the upgrade request looked like, then echoes.
async fn ws_request(
    upgrade: WebSocketUpgrade,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let seen: serde_json::Map<String, serde_json::Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), json!(String::from_utf8_lossy(v.as_bytes()))))
        .collect();
    let first = json!({"uri": uri.to_string(), "headers": seen}).to_string();
    upgrade.on_upgrade(move |mut socket| async move {
        if socket.send(Message::Text(first.into())).await.is_ok() {
            echo_socket(socket).await;
        }
    })
}

async fn echo_socket(mut socket: WebSocket) {
    while let Some(Ok(msg)) = socket.recv().await {
        let reply = match msg {
            Message::Text(t) => Message::Text(format!("echo: {}", t.as_str()).into()),
            Message::Binary(b) => Message::Binary(b),
            Message::Close(_) => break,
            _ => continue,
        };
        if socket.send(reply).await.is_err() {
            break;
        }
    }
}

async fn page(req: Request) -> impl IntoResponse {
    let h = req.headers();
    let prefix = header(h, "x-forwarded-prefix");
    let user = escape(header(h, "x-forwarded-user"));
    let email = escape(header(h, "x-forwarded-email"));
    let path = escape(&req.uri().to_string());
    Html(format!(
        r#"<!doctype html><html><head><meta charset=utf-8><title>Demo dashboard</title>
<style>body{{font-family:system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#1e293b}}
code{{background:#f1f5f9;padding:.1rem .3rem;border-radius:4px}}button{{padding:.5rem 1rem}}
pre{{background:#0f172a;color:#e2e8f0;padding:1rem;border-radius:8px;min-height:3rem}}</style></head>
<body><h1>Demo dashboard</h1>
<p>You reached <code>{path}</code> through portcullis.</p>
<p>Signed in as <b id=user>{user}</b> (<span id=email>{email}</span>).</p>
<p><a href="{prefix}/api/echo">See the request the dashboard received</a> &middot;
<a href="{prefix}/api/auth/me">/api/auth/me</a></p>
<form method=post action="{prefix}/auth/logout"><button type=submit>Sign out</button></form>
<h2>WebSocket echo</h2><p>The page asks portcullis for a single-use ticket, then opens the socket with it.</p><pre id=log></pre>
<script>
const log = (m) => document.getElementById('log').textContent += m + '\n';
(async () => {{
  const r = await fetch('{prefix}/api/auth/ws-ticket', {{ method: 'POST' }});
  if (!r.ok) {{ log('no ticket: HTTP ' + r.status); return; }}
  const {{ ticket }} = await r.json();
  log('ticket ' + ticket.slice(0, 8) + '…');
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const sock = new WebSocket(`${{scheme}}://${{location.host}}{prefix}/ws?ticket=${{encodeURIComponent(ticket)}}`);
  sock.onopen = () => {{ log('connected'); sock.send('hello from the browser'); }};
  sock.onmessage = (e) => log(e.data);
  sock.onclose = (e) => log('closed (' + e.code + ')');
}})();
</script></body></html>"#,
        prefix = escape(prefix),
    ))
}
