//! The gate's decisions and the upstream's request, without sockets: a pingora
//! `Session` over an in-memory stream, the filter called, the raw response read
//! back. The flows over real sockets, IdPs and browsers are in `tests/it`.

use std::sync::Arc;

use pingora::http::RequestHeader;
use pingora::proxy::{ProxyHttp, Session};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::{forward, Gate, RequestCtx};
use crate::app::App;
use crate::audit::Audit;
use crate::config::Config;
use crate::provider::Identity;

const CONFIG: &str = r#"
[server]
listen = "127.0.0.1:0"
public_url = "https://dash.example.com/jupyter"

[upstream]
url = "http://127.0.0.1:8888/jupyter"

[session]
secret = "unit-test-secret-0123456789-abcdefghijklmnop"

[[providers]]
id = "idp"
kind = "oidc"
issuer = "https://idp.example.com"
client_id = "portcullis"
"#;

fn app() -> Arc<App> {
    let config = Config::parse(CONFIG, &|_| None).unwrap();
    Arc::new(App::new(config, Audit::to_writer(std::io::sink())).unwrap())
}

/// A session cookie for `email`, under the name the https prefix shape reads.
fn session_cookie(app: &App, email: &str) -> String {
    let identity = Identity {
        user_id: format!("idp|{email}"),
        email: Some(email.into()),
        email_verified: true,
        name: None,
        groups: vec![],
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (_, sealed) = app.sessions.issue(&identity, vec![], "idp", now);
    format!("__Secure-{}={sealed}", app.sessions.cookie_base())
}

/// A session that has read `head` (CRLFs added), and the client's end.
async fn session(head: &[&str]) -> (Session, DuplexStream) {
    let (mut client, server) = tokio::io::duplex(64 * 1024);
    let mut raw = head.join("\r\n");
    raw.push_str("\r\n\r\n");
    client.write_all(raw.as_bytes()).await.unwrap();
    let mut session = Session::new_h1(Box::new(server));
    assert!(session.read_request().await.unwrap(), "a request head");
    (session, client)
}

/// Runs `request_filter`; the raw response when the gate answered itself.
async fn filter(app: &Arc<App>, head: &[&str]) -> (Option<String>, RequestCtx, Session) {
    let gate = Gate::new(Arc::new(arc_swap::ArcSwap::new(Arc::clone(app))));
    let (mut session, mut client) = session(head).await;
    let mut ctx = gate.new_ctx();
    let answered = gate.request_filter(&mut session, &mut ctx).await.unwrap();
    if !answered {
        return (None, ctx, session);
    }
    let mut buf = vec![0u8; 16 * 1024];
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), client.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    (
        Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
        ctx,
        session,
    )
}

const HOST: &str = "Host: dash.example.com";

#[tokio::test]
async fn a_navigation_without_a_session_is_sent_to_the_login_page() {
    let (answer, ctx, _) = filter(&app(), &["GET /jupyter/lab?x=1 HTTP/1.1", HOST]).await;
    let answer = answer.unwrap();
    assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
    assert!(
        answer.contains("location: /jupyter/login?next=%2Flab%3Fx%3D1\r\n"),
        "{answer}"
    );
    assert!(ctx.forward.is_none());
}

#[tokio::test]
async fn a_script_fetch_without_a_session_gets_401_json() {
    for marker in [
        "Sec-Fetch-Mode: cors",
        "X-Requested-With: XMLHttpRequest",
        "Accept: application/json",
    ] {
        let (answer, ctx, _) = filter(
            &app(),
            &["GET /jupyter/lab/api/settings HTTP/1.1", HOST, marker],
        )
        .await;
        let answer = answer.unwrap();
        assert!(answer.starts_with("HTTP/1.1 401"), "{marker}: {answer}");
        assert!(answer.contains("\"error\":\"unauthenticated\""), "{answer}");
        assert!(ctx.forward.is_none());
    }
}

#[tokio::test]
async fn an_api_path_without_a_session_gets_401_even_when_navigated() {
    let (answer, _, _) = filter(
        &app(),
        &[
            "GET /jupyter/api/contents HTTP/1.1",
            HOST,
            "Sec-Fetch-Mode: navigate",
        ],
    )
    .await;
    assert!(answer.unwrap().starts_with("HTTP/1.1 401"));
}

#[tokio::test]
async fn a_cookie_upgrade_from_a_foreign_origin_is_refused_with_401() {
    let app = app();
    let cookie = format!("Cookie: {}", session_cookie(&app, "ada@example.com"));
    let (answer, ctx, _) = filter(
        &app,
        &[
            "GET /jupyter/api/kernels/k/channels HTTP/1.1",
            HOST,
            "Connection: Upgrade",
            "Upgrade: websocket",
            "Origin: https://evil.example",
            &cookie,
        ],
    )
    .await;
    let answer = answer.unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("origin_not_allowed"), "{answer}");
    assert!(ctx.forward.is_none());
}

#[tokio::test]
async fn an_unsafe_cross_site_request_is_refused_with_403() {
    let app = app();
    let cookie = format!("Cookie: {}", session_cookie(&app, "ada@example.com"));
    let (answer, _, _) = filter(
        &app,
        &[
            "POST /jupyter/api/contents HTTP/1.1",
            HOST,
            "Sec-Fetch-Site: same-site",
            &cookie,
            "Content-Length: 0",
        ],
    )
    .await;
    assert!(answer.unwrap().starts_with("HTTP/1.1 403"));
}

#[tokio::test]
async fn a_plain_named_cookie_is_no_session_on_https() {
    let app = app();
    let cookie = session_cookie(&app, "ada@example.com").replace("__Secure-", "");
    let (answer, _, _) = filter(
        &app,
        &[
            "GET /jupyter/lab HTTP/1.1",
            HOST,
            &format!("Cookie: {cookie}"),
        ],
    )
    .await;
    let answer = answer.unwrap();
    assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
    assert!(
        !answer.contains("set-cookie"),
        "nothing is cleared: {answer}"
    );
}

#[tokio::test]
async fn a_session_is_forwarded_with_a_clean_request() {
    let app = app();
    let cookie = session_cookie(&app, "ada@example.com");
    let (answer, ctx, session) = filter(
        &app,
        &[
            "GET /jupyter/lab/tree?x=1 HTTP/1.1",
            HOST,
            &format!("Cookie: _xsrf=2|abc; {cookie}; pref=Jos\u{e9}"),
            "Origin: https://dash.example.com",
            "Referer: https://dash.example.com/jupyter/lab?y=2",
            "X_Forwarded_User: admin",
            "X-Forwarded-User: admin",
            "X-Forwarded-Groups: admins",
            "X-Real-IP: 10.0.0.1",
            "X-Forwarded-For: 6.6.6.6",
            "Forwarded: for=10.0.0.1",
            "Authorization: Basic dXNlcjpwdw==",
        ],
    )
    .await;
    assert!(answer.is_none(), "forwarded, not answered: {answer:?}");
    let f = ctx.forward.as_ref().unwrap();
    let (req, passage) = (&f.req, &f.passage);
    let claims = passage.claims().unwrap();
    assert_eq!(claims.email.as_deref(), Some("ada@example.com"));

    let mut upstream: RequestHeader = session.req_header().clone();
    forward::rewrite(&app, req, passage, app.routes.get(f.route), &mut upstream).unwrap();
    let h = |name: &str| {
        upstream
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        upstream.uri.to_string(),
        "/jupyter/lab/tree?x=1",
        "the base path in the prefix's place"
    );
    assert_eq!(h("x-forwarded-user"), ["idp|ada@example.com"]);
    assert_eq!(h("x-forwarded-email"), ["ada@example.com"]);
    assert_eq!(h("x-forwarded-proto"), ["https"]);
    assert_eq!(h("x-forwarded-host"), ["dash.example.com"]);
    assert_eq!(h("x-forwarded-prefix"), ["/jupyter"]);
    assert!(h("x_forwarded_user").is_empty());
    assert!(h("x-forwarded-groups").is_empty());
    assert!(h("x-real-ip").is_empty());
    assert!(
        h("x-forwarded-for").iter().all(|v| !v.contains("6.6.6.6")),
        "an untrusted client's chain is replaced by the peer"
    );
    assert!(h("forwarded").is_empty());
    assert_eq!(h("host"), ["127.0.0.1:8888"]);
    assert_eq!(h("origin"), ["http://127.0.0.1:8888"]);
    assert_eq!(h("referer"), ["http://127.0.0.1:8888/jupyter/lab?y=2"]);
    assert_eq!(
        h("cookie"),
        ["_xsrf=2|abc; pref=Jos\u{e9}"],
        "ours removed, theirs byte for byte"
    );
    assert_eq!(
        h("authorization"),
        ["Basic dXNlcjpwdw=="],
        "not a portcullis token: passes"
    );
}

#[tokio::test]
async fn verify_answers_a_front_with_the_identity_or_401_json() {
    let app = app();
    let (answer, ctx, _) = filter(&app, &["GET /jupyter/auth/verify HTTP/1.1", HOST]).await;
    let answer = answer.unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("\"error\":\"unauthenticated\""), "{answer}");
    assert!(ctx.forward.is_none(), "verify never forwards");

    let cookie = format!("Cookie: {}", session_cookie(&app, "ada@example.com"));
    let (answer, ctx, _) =
        filter(&app, &["GET /jupyter/auth/verify HTTP/1.1", HOST, &cookie]).await;
    let answer = answer.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(
        answer.contains("x-forwarded-user: idp|ada@example.com\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("x-forwarded-email: ada@example.com\r\n"),
        "{answer}"
    );
    assert!(answer.contains("cache-control: no-store"), "{answer}");
    assert!(ctx.forward.is_none(), "verify never forwards");
}

#[tokio::test]
async fn verify_with_redirect_sends_a_page_view_to_the_login_page() {
    // From an untrusted peer the original URI is not believed: `next` is `/`.
    let (answer, _, _) = filter(
        &app(),
        &[
            "GET /jupyter/auth/verify?redirect=1 HTTP/1.1",
            HOST,
            "X-Forwarded-Uri: /jupyter/lab/tree",
        ],
    )
    .await;
    let answer = answer.unwrap();
    assert!(answer.starts_with("HTTP/1.1 302"), "{answer}");
    assert!(
        answer.contains("location: /jupyter/login?next=%2F\r\n"),
        "{answer}"
    );
}

#[tokio::test]
async fn verify_refuses_a_cookie_upgrade_from_a_foreign_origin() {
    let app = app();
    let cookie = format!("Cookie: {}", session_cookie(&app, "ada@example.com"));
    let (answer, _, _) = filter(
        &app,
        &[
            "GET /jupyter/auth/verify HTTP/1.1",
            HOST,
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Origin: https://evil.example",
            &cookie,
        ],
    )
    .await;
    let answer = answer.unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("origin_not_allowed"), "{answer}");
}
