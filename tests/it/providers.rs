//! Several providers at once, a provider whose discovery is unreachable at start
//! (retried in the background, never an open door meanwhile), and sliding sessions.

use std::time::{Duration, Instant};

use crate::common::fake_oauth::{
    FakeOAuth, GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET, PORTAL_CLIENT_ID,
};
use crate::common::{free_port, Browser, Proxy, World, CLIENT_ID, CLIENT_SECRET, SECRET};
use portcullis::demo::dev_idp::{DevClient, DevIdp};
use portcullis::secret::Secret;
use portcullis::session::codec::{Codec, Purpose};
use portcullis::session::SessionClaims;

#[tokio::test(flavor = "multi_thread")]
async fn several_providers_are_offered_in_config_order() {
    let world = World::new().await;
    let github = FakeOAuth::github().await;
    let portal = FakeOAuth::portal().await;
    let config = world.config(
        "",
        &format!(
            r#"
[[providers]]
id = "github"
kind = "github"
display_name = "GitHub"
client_id = "{GITHUB_CLIENT_ID}"
client_secret = "{GITHUB_CLIENT_SECRET}"
base_url = "{gh}"

[[providers]]
id = "portal"
kind = "oauth2"
display_name = "Nous Portal"
client_id = "{PORTAL_CLIENT_ID}"
authorize_url = "{p}/oauth/authorize"
token_url = "{p}/oauth/token"
userinfo_url = "{p}/oauth/userinfo"
"#,
            gh = github.base(),
            p = portal.base()
        ),
    );
    let proxy = Proxy::start(&config).await;
    let mut b = Browser::new();

    let page = b.get(&proxy.url("/login?next=%2Fsessions")).await;
    let positions: Vec<usize> = ["GitHub", "Nous Portal", "Dev IdP"]
        .iter()
        .map(|name| {
            page.body
                .find(&format!("Sign in with {name}"))
                .unwrap_or_else(|| panic!("no button for {name}"))
        })
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
    assert!(page
        .body
        .contains("/auth/login?provider=portal&amp;next=%2Fsessions"));
    assert!(!page.body.contains("temporarily unavailable"));

    let list = b.get(&proxy.url("/api/auth/providers")).await.json();
    let ids: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["github", "portal", "dev"]);

    for hostile in [
        "nope",
        "",
        "..%2F..%2Fdev",
        "%3Cscript%3E",
        "dev%00",
        "GITHUB",
    ] {
        let r = b
            .get(&proxy.url(&format!("/auth/login?provider={hostile}")))
            .await;
        assert_eq!(r.status, 400, "provider={hostile}");
        assert!(r.body.contains("Unknown sign-in provider"));
        assert!(!r.body.contains("<script>"));
    }
    // Each provider starts its own flow.
    for (id, host) in [("github", github.base()), ("portal", portal.base())] {
        let r = b
            .get(&proxy.url(&format!("/auth/login?provider={id}")))
            .await;
        assert_eq!(r.status, 302);
        assert!(r.location().starts_with(&host), "{id}: {}", r.location());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_unreachable_at_start_is_retried_in_the_background() {
    let world = World::new().await;
    let port = free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let config = world.config("", "").replace(world.idp.issuer(), &issuer);
    let proxy = Proxy::start(&config).await;
    let mut b = Browser::new();

    // Up, and saying so honestly.
    let page = b.get(&proxy.url("/login")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Dev IdP is temporarily unavailable"));
    let list = b.get(&proxy.url("/api/auth/providers")).await.json();
    assert_eq!(list[0]["available"], false);
    // Never an open door meanwhile.
    let r = b.get(&proxy.url("/dashboard")).await;
    assert_eq!(r.status, 302);
    assert_eq!(b.get(&proxy.url("/api/echo")).await.status, 401);
    let r = b.get(&proxy.url("/auth/login?provider=dev")).await;
    assert_eq!(r.status, 502);
    assert!(r.body.contains("temporarily unavailable"));

    // The IdP comes up; no login is attempted, the background retry finds it.
    let idp = DevIdp::start(
        format!("127.0.0.1:{port}").parse().unwrap(),
        DevClient {
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            redirect_uris: vec![],
        },
    )
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let list = b.get(&proxy.url("/api/auth/providers")).await.json();
        if list[0]["available"] == true {
            break;
        }
        assert!(Instant::now() < deadline, "{}", proxy.stderr());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(proxy
        .stderr()
        .contains("provider ready after retrying discovery"));
    assert!(!b
        .get(&proxy.url("/login"))
        .await
        .body
        .contains("temporarily unavailable"));
    let r = b.sign_in(&proxy, "/dashboard", "ann@example.com").await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(r.location(), "/dashboard");
    drop(idp);
}

/// A session cookie sealed with the test secret, as portcullis would have issued it.
fn cookie(claims: &SessionClaims) -> String {
    let codec = Codec::new(Purpose::Session, &Secret::new(SECRET), &[]);
    format!("portcullis_session={}", codec.seal(claims))
}

fn claims(now: i64, auth_ago: i64, iat_ago: i64, exp_in: i64) -> SessionClaims {
    SessionClaims {
        sid: format!("sid-{auth_ago}-{iat_ago}"),
        sub: "ann".into(),
        email: Some("ann@example.com".into()),
        email_verified: true,
        name: None,
        provider: "dev".into(),
        groups: vec![],
        auth_time: now - auth_ago,
        iat: now - iat_ago,
        exp: now + exp_in,
    }
}

/// The session `Set-Cookie` on a forwarded request carrying `cookie`, if any.
async fn refreshed(proxy: &Proxy, cookie: &str) -> Option<String> {
    let r = reqwest::Client::new()
        .get(proxy.url("/api/echo"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("portcullis_session="))
}

fn max_age(set_cookie: &str) -> i64 {
    set_cookie
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sliding_sessions_refresh_active_people_up_to_max_age() {
    let world = World::new().await;
    let config = world.config("", "").replace(
        "ttl = \"1h\"",
        "ttl = \"1h\"\nsliding = true\nmax_age = \"2h\"",
    );
    let proxy = Proxy::start(&config).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    // Fresh: nothing to do.
    assert_eq!(
        refreshed(&proxy, &cookie(&claims(now, 60, 60, 3540))).await,
        None
    );

    // Past half its life: a new cookie for a full ttl, readable by portcullis.
    let set = refreshed(&proxy, &cookie(&claims(now, 2400, 2400, 1200)))
        .await
        .expect("a refreshed cookie");
    assert!((3590..=3600).contains(&max_age(&set)), "{set}");
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Lax"));
    let value = set.split(';').next().unwrap();
    let me = reqwest::Client::new()
        .get(proxy.url("/api/auth/me"))
        .header("cookie", value)
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(me["user_id"], "ann");
    // A dashboard can warn before either end: the absolute one (auth_time +
    // max_age) and the idle one (the refreshed cookie's expiry).
    let at = |field: &str| {
        time::OffsetDateTime::parse(
            me[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field}: {me}")),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp()
    };
    assert_eq!(at("expires_at"), now - 2400 + 7200, "{me}");
    assert!(
        (now + 3590..=now + 3600).contains(&at("idle_expires_at")),
        "{me}"
    );

    // Near the absolute limit: extended only up to auth_time + max_age.
    let set = refreshed(&proxy, &cookie(&claims(now, 6600, 2400, 300)))
        .await
        .expect("a refreshed cookie");
    assert!((590..=600).contains(&max_age(&set)), "{set}");

    // At the limit: no refresh, the session ends when it ends.
    assert_eq!(
        refreshed(&proxy, &cookie(&claims(now, 7000, 2400, 200))).await,
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_sliding_an_old_session_is_not_extended() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    assert_eq!(
        refreshed(&proxy, &cookie(&claims(now, 3000, 3000, 600))).await,
        None
    );
}
