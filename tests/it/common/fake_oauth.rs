//! Loopback stand-ins for GitHub and for a plain OAuth2 portal, shaped after
//! GitHub's REST and OAuth app documentation and RFC 6749/7009. Tests cannot reach
//! the internet; these answer as the real services do, including their quirks
//! (GitHub reports a bad code as `200 {"error": …}`).
//!
//! The authorization endpoint signs in whoever the test named with
//! [`FakeOAuth::sign_in_as`] and redirects straight back, as a person who has
//! already approved the app would see it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{delete, get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;

pub const GITHUB_CLIENT_ID: &str = "Iv1.fakegithubclient";
pub const GITHUB_CLIENT_SECRET: &str = "fake-github-secret-0123456789";
pub const PORTAL_CLIENT_ID: &str = "portal-public-client";

/// A code handed out by the authorization endpoint.
struct Grant {
    user: String,
    redirect_uri: String,
    challenge: String,
    scope: String,
}

#[derive(Default)]
struct Inner {
    next_user: String,
    grants: HashMap<String, Grant>,
    /// access token → user.
    tokens: HashMap<String, String>,
    revoked: HashSet<String>,
    /// Every request: "METHOD path?query".
    log: Vec<String>,
    /// The token endpoint's requests: form fields and whether Basic auth was sent.
    token_requests: Vec<(BTreeMap<String, String>, bool)>,
    counter: u64,
    /// (login, org) pairs an admin has removed from the organisation.
    left: HashSet<(String, String)>,
}

#[derive(Clone, Default)]
pub struct FakeOAuth {
    inner: Arc<Mutex<Inner>>,
    pub addr: Option<SocketAddr>,
}

impl FakeOAuth {
    /// GitHub, with its REST API under `/api/v3` as on GitHub Enterprise Server.
    pub async fn github() -> FakeOAuth {
        let fake = FakeOAuth::default();
        let app = Router::new()
            .route("/login/oauth/authorize", get(authorize))
            .route("/login/oauth/access_token", post(github_token))
            .route("/api/v3/user", get(github_user))
            .route("/api/v3/user/emails", get(github_emails))
            .route("/api/v3/user/memberships/orgs/{org}", get(github_org))
            .route(
                "/api/v3/orgs/{org}/teams/{team}/memberships/{login}",
                get(github_team),
            )
            .route(
                "/api/v3/applications/{client_id}/token",
                delete(github_revoke),
            )
            .with_state(fake.clone());
        fake.serve(app).await
    }

    /// A plain OAuth2 portal with a nested userinfo document and RFC 7009 revocation.
    pub async fn portal() -> FakeOAuth {
        let fake = FakeOAuth::default();
        let app = Router::new()
            .route("/oauth/authorize", get(authorize))
            .route("/oauth/token", post(portal_token))
            .route("/oauth/userinfo", get(portal_userinfo))
            .route("/oauth/revoke", post(portal_revoke))
            .with_state(fake.clone());
        fake.serve(app).await
    }

    async fn serve(mut self, app: Router) -> FakeOAuth {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        self.addr = Some(listener.local_addr().unwrap());
        let logged = self.clone();
        let app = app.layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                let logged = logged.clone();
                async move {
                    let line = format!(
                        "{} {}",
                        req.method(),
                        req.uri().path_and_query().map_or("", |p| p.as_str())
                    );
                    logged.inner.lock().unwrap().log.push(line);
                    next.run(req).await
                }
            },
        ));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        self
    }

    /// Signs in at provider `provider` as `user`, starting at
    /// `/auth/login?provider=…&next=…`; returns the authorization URL's query and
    /// the callback's response.
    pub async fn sign_in(
        &self,
        b: &mut super::Browser,
        proxy: &super::Proxy,
        provider: &str,
        next: &str,
        user: &str,
    ) -> (BTreeMap<String, String>, super::Resp) {
        self.sign_in_as(user);
        let start = b
            .get(&proxy.url(&format!(
                "/auth/login?provider={provider}&next={}",
                super::urlencode(next)
            )))
            .await;
        assert_eq!(start.status, 302, "{}", start.body);
        assert!(
            start.location().starts_with(&self.base()),
            "{}",
            start.location()
        );
        let query = url::Url::parse(start.location())
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        let at_idp = b.get(start.location()).await;
        assert_eq!(at_idp.status, 303, "{}", at_idp.body);
        let callback = at_idp.location().to_string();
        (query, b.get(&callback).await)
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr.unwrap())
    }

    /// Who the next authorization signs in.
    pub fn sign_in_as(&self, user: &str) {
        self.inner.lock().unwrap().next_user = user.to_string();
    }

    /// An organisation admin removes `login` from `org`.
    pub fn remove_from_org(&self, login: &str, org: &str) {
        self.inner
            .lock()
            .unwrap()
            .left
            .insert((login.to_string(), org.to_string()));
    }

    pub fn log(&self) -> Vec<String> {
        self.inner.lock().unwrap().log.clone()
    }

    pub fn token_requests(&self) -> Vec<(BTreeMap<String, String>, bool)> {
        self.inner.lock().unwrap().token_requests.clone()
    }

    /// Access tokens revoked so far.
    pub fn revoked(&self) -> HashSet<String> {
        self.inner.lock().unwrap().revoked.clone()
    }

    /// Every access token issued.
    pub fn issued(&self) -> Vec<String> {
        self.inner.lock().unwrap().tokens.keys().cloned().collect()
    }

    fn fresh(&self, prefix: &str) -> String {
        let mut inner = self.inner.lock().unwrap();
        inner.counter += 1;
        format!("{prefix}_{}_{}", inner.counter, std::process::id())
    }

    /// Redeems `code`: checks the redirect URI and the PKCE verifier, as the
    /// specification requires; returns the user and the granted scope.
    fn redeem(&self, form: &BTreeMap<String, String>) -> Result<(String, String), &'static str> {
        let mut inner = self.inner.lock().unwrap();
        let code = form.get("code").ok_or("invalid_request")?;
        let grant = inner.grants.remove(code).ok_or("invalid_grant")?;
        if form.get("redirect_uri") != Some(&grant.redirect_uri) {
            return Err("invalid_grant");
        }
        let verifier = form.get("code_verifier").ok_or("invalid_grant")?;
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        if challenge != grant.challenge {
            return Err("invalid_grant");
        }
        Ok((grant.user, grant.scope))
    }

    fn issue_token(&self, user: &str) -> String {
        let token = self.fresh("tok");
        self.inner
            .lock()
            .unwrap()
            .tokens
            .insert(token.clone(), user.to_string());
        token
    }

    /// The user behind a `Bearer` token that has not been revoked.
    fn bearer_user(&self, headers: &HeaderMap) -> Option<String> {
        let token = headers
            .get("authorization")?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        let inner = self.inner.lock().unwrap();
        if inner.revoked.contains(token) {
            return None;
        }
        inner.tokens.get(token).cloned()
    }
}

async fn authorize(
    State(fake): State<FakeOAuth>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if q.get("response_type").map(String::as_str) != Some("code")
        || q.get("code_challenge_method").map(String::as_str) != Some("S256")
    {
        return (
            StatusCode::BAD_REQUEST,
            "PKCE S256 and response_type=code are required",
        )
            .into_response();
    }
    let code = fake.fresh("code");
    let user = fake.inner.lock().unwrap().next_user.clone();
    let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
    fake.inner.lock().unwrap().grants.insert(
        code.clone(),
        Grant {
            user,
            redirect_uri: redirect_uri.clone(),
            challenge: q.get("code_challenge").cloned().unwrap_or_default(),
            scope: q.get("scope").cloned().unwrap_or_default(),
        },
    );
    let mut back = url::Url::parse(&redirect_uri).unwrap();
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", q.get("state").map_or("", String::as_str));
    Redirect::to(back.as_str()).into_response()
}

// --- GitHub ---------------------------------------------------------------

/// One of the fake GitHub's people.
struct GithubPerson {
    id: u64,
    name: Value,
    /// `null`: the emails API fails for this person.
    emails: Value,
    orgs: &'static [&'static str],
    teams: &'static [&'static str],
}

fn github_person(login: &str) -> Option<GithubPerson> {
    let verified = |email: &str| json!([{"email": email, "primary": true, "verified": true, "visibility": null}]);
    let person = |id, name, emails, orgs, teams| GithubPerson {
        id,
        name,
        emails,
        orgs,
        teams,
    };
    Some(match login {
        // Keeps their address private: /user says null; /user/emails has it.
        "octocat" => person(
            583231,
            json!("The Octocat"),
            json!([
                {"email": "583231+octocat@users.noreply.github.com", "primary": false, "verified": true, "visibility": null},
                {"email": "Octocat@Example.com", "primary": true, "verified": true, "visibility": "private"}
            ]),
            &["acme"],
            &["acme/ops"],
        ),
        "outsider" => person(
            1002,
            json!(null),
            verified("outsider@example.com"),
            &[],
            &[],
        ),
        "teammate" => person(
            1003,
            json!("Team Mate"),
            verified("mate@example.com"),
            &[],
            &["acme/ops"],
        ),
        "unverified" => person(
            1004,
            json!("U"),
            json!([{"email": "u@example.com", "primary": true, "verified": false, "visibility": "public"}]),
            &["acme"],
            &[],
        ),
        "broken" => person(1005, json!("B"), json!(null), &["acme"], &[]),
        _ => return None,
    })
}

async fn github_token(
    State(fake): State<FakeOAuth>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    fake.inner
        .lock()
        .unwrap()
        .token_requests
        .push((form.clone(), headers.contains_key("authorization")));
    let wants_json = headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/json"));
    if !wants_json {
        return (StatusCode::OK, "access_token=&error=unsupported").into_response();
    }
    if form.get("client_id").map(String::as_str) != Some(GITHUB_CLIENT_ID)
        || form.get("client_secret").map(String::as_str) != Some(GITHUB_CLIENT_SECRET)
    {
        return Json(json!({"error": "incorrect_client_credentials"})).into_response();
    }
    match fake.redeem(&form) {
        // GitHub answers a bad code with 200 and an error field.
        Err(_) => Json(json!({"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})).into_response(),
        Ok((user, scope)) => {
            let token = fake.issue_token(&user);
            Json(json!({"access_token": token, "token_type": "bearer", "scope": scope.replace(' ', ",")})).into_response()
        }
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"message": "Bad credentials"})),
    )
        .into_response()
}

async fn github_user(State(fake): State<FakeOAuth>, headers: HeaderMap) -> Response {
    let Some(login) = fake.bearer_user(&headers) else {
        return unauthorized();
    };
    let Some(p) = github_person(&login) else {
        return unauthorized();
    };
    Json(json!({"login": login, "id": p.id, "name": p.name, "email": null, "type": "User"}))
        .into_response()
}

async fn github_emails(State(fake): State<FakeOAuth>, headers: HeaderMap) -> Response {
    let Some(login) = fake.bearer_user(&headers) else {
        return unauthorized();
    };
    match github_person(&login) {
        Some(p) if p.emails.is_null() => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"message": "Service unavailable"})),
        )
            .into_response(),
        Some(p) => Json(p.emails).into_response(),
        None => unauthorized(),
    }
}

fn membership(active: bool) -> Response {
    if active {
        Json(json!({"state": "active", "role": "member"})).into_response()
    } else {
        (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response()
    }
}

async fn github_org(
    State(fake): State<FakeOAuth>,
    Path(org): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(login) = fake.bearer_user(&headers) else {
        return unauthorized();
    };
    let orgs = github_person(&login).map_or(&[][..], |p| p.orgs);
    let left = fake
        .inner
        .lock()
        .unwrap()
        .left
        .contains(&(login, org.clone()));
    membership(orgs.contains(&org.as_str()) && !left)
}

async fn github_team(
    State(fake): State<FakeOAuth>,
    Path((org, team, login)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> Response {
    if fake.bearer_user(&headers).is_none() {
        return unauthorized();
    }
    let teams = github_person(&login).map_or(&[][..], |p| p.teams);
    membership(teams.contains(&format!("{org}/{team}").as_str()))
}

async fn github_revoke(
    State(fake): State<FakeOAuth>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{GITHUB_CLIENT_ID}:{GITHUB_CLIENT_SECRET}"))
    );
    if client_id != GITHUB_CLIENT_ID
        || headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str())
    {
        return unauthorized();
    }
    let Some(token) = body.get("access_token").and_then(Value::as_str) else {
        return StatusCode::UNPROCESSABLE_ENTITY.into_response();
    };
    fake.inner.lock().unwrap().revoked.insert(token.to_string());
    StatusCode::NO_CONTENT.into_response()
}

// --- the portal (plain OAuth2) ------------------------------------------------

async fn portal_token(
    State(fake): State<FakeOAuth>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let basic = headers.contains_key("authorization");
    fake.inner
        .lock()
        .unwrap()
        .token_requests
        .push((form.clone(), basic));
    // A public client: identified by client_id alone, PKCE proves the rest.
    if basic
        || form.contains_key("client_secret")
        || form.get("client_id").map(String::as_str) != Some(PORTAL_CLIENT_ID)
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    match fake.redeem(&form) {
        Err(code) => (StatusCode::BAD_REQUEST, Json(json!({"error": code}))).into_response(),
        Ok((user, _)) => {
            let token = fake.issue_token(&user);
            let refresh = fake.fresh("refresh");
            Json(json!({"access_token": token, "token_type": "Bearer", "expires_in": 3600, "refresh_token": refresh}))
                .into_response()
        }
    }
}

async fn portal_userinfo(State(fake): State<FakeOAuth>, headers: HeaderMap) -> Response {
    let Some(user) = fake.bearer_user(&headers) else {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_token"})),
        )
            .into_response();
    };
    match user.as_str() {
        "pat" => Json(json!({
            "data": {"uid": 7701, "display": "Pat Portal", "contact": {"mail": "Pat@Portal.example", "verified": true}},
            "roles": ["operators", "viewers"]
        }))
        .into_response(),
        "unverified" => Json(json!({
            "data": {"uid": "u-2", "contact": {"mail": "nv@portal.example", "verified": false}}
        }))
        .into_response(),
        "noid" => Json(json!({"data": {"display": "No Id"}})).into_response(),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "upstream database error").into_response(),
    }
}

async fn portal_revoke(
    State(fake): State<FakeOAuth>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    if form.get("client_id").map(String::as_str) != Some(PORTAL_CLIENT_ID) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    if let Some(token) = form.get("token") {
        fake.inner.lock().unwrap().revoked.insert(token.clone());
    }
    // RFC 7009 §2.2: 200 whether or not the token was valid.
    StatusCode::OK.into_response()
}
