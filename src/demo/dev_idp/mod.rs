//! The development identity provider: a small OpenID Provider for `portcullis demo`
//! and for tests of answers a real IdP never gives (bad signature, wrong audience,
//! expired or nonce-less tokens).
//!
//! It is plainly labelled as such on every page, binds loopback addresses only, and
//! signs ID tokens with a fresh Ed25519 key made at start. Anyone may sign in as
//! anyone here: it is for trying portcullis, never for protecting anything.
//!
//! The hooks that make it misbehave or re-key ([`hooks`]) exist only with the
//! `test-hooks` feature, which only the test suite enables: the release binary
//! cannot be told to misbehave.

#[cfg(feature = "test-hooks")]
mod hooks;
mod keys;

use keys::{keypair, SigningKey};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::login::page::escape;
use crate::secret::{constant_time_eq, random_token};

/// Ways the IdP can misbehave, for tests.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Sign with a key that is not in the JWKS (same `kid`).
    pub bad_signature: bool,
    /// Put another `aud` in the ID token.
    pub wrong_audience: bool,
    /// Put another `iss` in the ID token.
    pub wrong_issuer: bool,
    /// Issue an ID token that expired an hour ago.
    pub expired: bool,
    /// Leave `nonce` out of the ID token.
    pub omit_nonce: bool,
    /// Send `email_verified: false`.
    pub unverified_email: bool,
    /// Answer the token endpoint with 500.
    pub token_endpoint_down: bool,
    /// Answer the token endpoint only after this long.
    pub token_delay: Option<std::time::Duration>,
}

/// The client the IdP knows.
#[derive(Debug, Clone)]
pub struct DevClient {
    pub client_id: String,
    pub client_secret: String,
    /// Exact redirect URIs accepted; empty accepts any portcullis callback URL
    /// (tests, whose proxy ports are not known in advance).
    pub redirect_uris: Vec<String>,
}

struct Grant {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    email: String,
    name: String,
}

struct Inner {
    issuer: String,
    client: DevClient,
    /// The signing key; replaced by the `test-hooks` key rotation.
    key: std::sync::RwLock<SigningKey>,
    rogue: EncodingKey,
    grants: Mutex<HashMap<String, Grant>>,
    tokens: Mutex<HashMap<String, (String, String)>>,
    /// Always the default without the `test-hooks` feature.
    faults: Arc<Mutex<Faults>>,
    /// redirect_uri of every authorization request seen, for tests.
    #[cfg(feature = "test-hooks")]
    seen_redirect_uris: Mutex<Vec<String>>,
}

/// A running development IdP.
#[derive(Clone)]
pub struct DevIdp {
    inner: Arc<Inner>,
    pub addr: SocketAddr,
}

impl DevIdp {
    /// Starts the IdP on `addr` (port 0 picks one). Refuses any non-loopback address.
    pub async fn start(addr: SocketAddr, client: DevClient) -> Result<Self, String> {
        if !addr.ip().is_loopback() {
            return Err(format!(
                "the development identity provider serves loopback addresses only, not {addr}"
            ));
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        let key = std::sync::RwLock::new(SigningKey::generate()?);
        let (_, rogue) = keypair()?;
        let inner = Arc::new(Inner {
            issuer: format!("http://{addr}"),
            client,
            key,
            rogue,
            grants: Mutex::default(),
            tokens: Mutex::default(),
            faults: Arc::default(),
            #[cfg(feature = "test-hooks")]
            seen_redirect_uris: Mutex::default(),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize_page).post(authorize_submit))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { inner, addr })
    }

    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }
}

async fn discovery(State(s): State<Arc<Inner>>) -> Json<serde_json::Value> {
    let i = &s.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": ["openid", "email", "profile"],
    }))
}

async fn jwks(State(s): State<Arc<Inner>>) -> Json<serde_json::Value> {
    let Ok(key) = s.key.read() else {
        return Json(json!({"keys": []}));
    };
    Json(json!({"keys": [key.jwk()]}))
}

#[derive(Deserialize)]
struct AuthorizeQuery {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    response_type: Option<String>,
}

fn redirect_allowed(s: &Inner, uri: &str) -> bool {
    if s.client.redirect_uris.is_empty() {
        url::Url::parse(uri).is_ok_and(|u| {
            matches!(u.scheme(), "http" | "https") && u.path().ends_with("/auth/callback")
        })
    } else {
        s.client.redirect_uris.iter().any(|r| r == uri)
    }
}

fn bad_request(msg: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Html(dev_page(&format!("<p>{}</p>", escape(msg)))),
    )
        .into_response()
}

fn dev_page(body: &str) -> String {
    format!(
        "<!doctype html><html><head><meta charset=utf-8><title>Development identity provider</title>\
<style>body{{font-family:system-ui,sans-serif;background:#fef3c7;color:#451a03;display:flex;justify-content:center;padding-top:8vh}}\
main{{background:#fff;padding:2rem 2.5rem;border-radius:12px;width:min(26rem,90vw);box-shadow:0 10px 30px rgba(0,0,0,.15)}}\
.warn{{background:#b45309;color:#fff;padding:.5rem .75rem;border-radius:6px;font-size:.85rem}}\
label{{display:block;margin:.8rem 0 .2rem;font-size:.9rem}}input{{width:100%;padding:.5rem;box-sizing:border-box}}\
button{{margin-top:1.2rem;width:100%;padding:.7rem;background:#92400e;color:#fff;border:0;border-radius:8px;font-weight:600}}</style>\
</head><body><main><p class=warn>Development identity provider &mdash; for <b>portcullis demo</b> and tests only. \
Anyone can sign in as anyone here. Never use it to protect anything.</p>{body}</main></body></html>"
    )
}

async fn authorize_page(State(s): State<Arc<Inner>>, Query(q): Query<AuthorizeQuery>) -> Response {
    #[cfg(feature = "test-hooks")]
    if let Some(uri) = &q.redirect_uri {
        if let Ok(mut seen) = s.seen_redirect_uris.lock() {
            seen.push(uri.clone());
        }
    }
    if q.client_id.as_deref() != Some(s.client.client_id.as_str()) {
        return bad_request("unknown client_id");
    }
    let Some(redirect_uri) = q.redirect_uri.filter(|u| redirect_allowed(&s, u)) else {
        return bad_request("redirect_uri is not registered for this client");
    };
    if q.response_type.as_deref() != Some("code")
        || q.code_challenge_method.as_deref() != Some("S256")
        || q.code_challenge.is_none()
    {
        return bad_request("this IdP needs response_type=code and PKCE S256");
    }
    let hidden = |name: &str, value: &str| {
        format!(
            "<input type=hidden name=\"{name}\" value=\"{}\">",
            escape(value)
        )
    };
    let body = format!(
        "<h1>Sign in</h1><form method=post action=\"/authorize\">\
<label for=email>Email</label><input id=email name=email value=\"ada@example.com\">\
<label for=name>Name</label><input id=name name=name value=\"Ada Lovelace\">\
{}{}{}{}{}<button type=submit>Sign in</button></form>",
        hidden("redirect_uri", &redirect_uri),
        hidden("state", q.state.as_deref().unwrap_or("")),
        hidden("nonce", q.nonce.as_deref().unwrap_or("")),
        hidden("code_challenge", q.code_challenge.as_deref().unwrap_or("")),
        hidden("client_id", &s.client.client_id),
    );
    Html(dev_page(&body)).into_response()
}

#[derive(Deserialize)]
struct AuthorizeForm {
    email: String,
    name: String,
    redirect_uri: String,
    state: String,
    nonce: String,
    code_challenge: String,
    client_id: String,
}

async fn authorize_submit(State(s): State<Arc<Inner>>, Form(f): Form<AuthorizeForm>) -> Response {
    if f.client_id != s.client.client_id || !redirect_allowed(&s, &f.redirect_uri) {
        return bad_request("unknown client or redirect_uri");
    }
    let email = f.email.trim().to_ascii_lowercase();
    if email.matches('@').count() != 1 {
        return bad_request("enter an email address");
    }
    let code = random_token(24);
    if let Ok(mut grants) = s.grants.lock() {
        grants.insert(
            code.clone(),
            Grant {
                client_id: f.client_id,
                redirect_uri: f.redirect_uri.clone(),
                challenge: f.code_challenge,
                nonce: Some(f.nonce).filter(|n| !n.is_empty()),
                email,
                name: f.name,
            },
        );
    }
    let Ok(mut target) = url::Url::parse(&f.redirect_uri) else {
        return bad_request("redirect_uri is not a URL");
    };
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &f.state)
        .append_pair("iss", &s.issuer);
    Redirect::to(target.as_str()).into_response()
}

#[derive(Deserialize)]
struct TokenForm {
    grant_type: String,
    code: String,
    redirect_uri: String,
    code_verifier: String,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn token_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({"error": error}))).into_response()
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let decoded = STANDARD.decode(value.strip_prefix("Basic ")?).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

async fn token(
    State(s): State<Arc<Inner>>,
    headers: HeaderMap,
    Form(f): Form<TokenForm>,
) -> Response {
    let faults = s.faults.lock().map(|f| f.clone()).unwrap_or_default();
    if let Some(delay) = faults.token_delay {
        tokio::time::sleep(delay).await;
    }
    if faults.token_endpoint_down {
        return token_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    }
    let (id, secret) = match basic_credentials(&headers) {
        Some(creds) => creds,
        None => (
            f.client_id.clone().unwrap_or_default(),
            f.client_secret.clone().unwrap_or_default(),
        ),
    };
    if id != s.client.client_id
        || !constant_time_eq(secret.as_bytes(), s.client.client_secret.as_bytes())
    {
        return token_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if f.grant_type != "authorization_code" {
        return token_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    // Single use: the code is removed whether or not the rest checks out.
    let Some(grant) = s.grants.lock().ok().and_then(|mut g| g.remove(&f.code)) else {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(f.code_verifier.as_bytes()));
    if grant.client_id != id
        || grant.redirect_uri != f.redirect_uri
        || !constant_time_eq(challenge.as_bytes(), grant.challenge.as_bytes())
    {
        return token_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    let now = crate::store::unix_now();
    let (iat, exp) = if faults.expired {
        (now - 7200, now - 3600)
    } else {
        (now, now + 300)
    };
    let sub = format!("dev|{}", grant.email);
    let mut claims = json!({
        "iss": if faults.wrong_issuer { "http://evil.example".to_string() } else { s.issuer.clone() },
        "aud": if faults.wrong_audience { "someone-else".to_string() } else { s.client.client_id.clone() },
        "sub": sub,
        "iat": iat,
        "exp": exp,
        "email": grant.email,
        "email_verified": !faults.unverified_email,
        "name": grant.name,
    });
    if let (Some(nonce), false) = (&grant.nonce, faults.omit_nonce) {
        claims["nonce"] = json!(nonce);
    }
    let signed = s.key.read().ok().and_then(|key| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        let signer = if faults.bad_signature {
            &s.rogue
        } else {
            &key.encoding
        };
        jsonwebtoken::encode(&header, &claims, signer).ok()
    });
    let Some(id_token) = signed else {
        return token_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error");
    };
    let access_token = random_token(32);
    if let Ok(mut tokens) = s.tokens.lock() {
        tokens.insert(access_token.clone(), (sub, grant.email));
    }
    Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": id_token,
    }))
    .into_response()
}

async fn userinfo(State(s): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let found = token.and_then(|t| s.tokens.lock().ok().and_then(|m| m.get(t).cloned()));
    match found {
        Some((sub, email)) => {
            Json(json!({"sub": sub, "email": email, "email_verified": true})).into_response()
        }
        None => token_error(StatusCode::UNAUTHORIZED, "invalid_token"),
    }
}
