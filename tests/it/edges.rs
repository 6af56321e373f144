//! Edges an attacker's pass found, each pinned against the real binary: a
//! sign-in the store cannot record issues no session, and approving a device
//! needs a recent sign-in.

use std::time::Duration;

use portcullis::secret::Secret;
use portcullis::session::codec::{Codec, Purpose};
use portcullis::session::SessionClaims;

use crate::clients::{device_code, poll, redis_store, user_code};
use crate::common::redis::Redis;
use crate::common::{urlencode, Browser, Proxy, World, SECRET};

/// Redis freezes between the IdP's answer and the callback: the session could
/// never be ended by the IdP (its back-channel logout finds no record), so none
/// is issued. The person gets 503 and signs in once the store is back.
#[tokio::test(flavor = "multi_thread")]
async fn a_sign_in_the_store_cannot_record_issues_no_session() {
    let world = World::new().await;
    let redis = Redis::start();
    let proxy = Proxy::start(&world.config("", &redis_store(&redis))).await;
    let mut b = Browser::new();
    let start = b
        .get(&proxy.url("/auth/login?provider=dev&next=%2Fwork"))
        .await;
    assert_eq!(start.status, 302, "{}", start.body);
    let callback = b
        .authorize_at_idp(start.location(), "ada@example.com")
        .await;
    redis.pause();
    let r = b.get(&callback).await;
    redis.resume();
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        !r.set_cookies()
            .iter()
            .any(|c| c.starts_with("portcullis_session=") && !c.contains("Max-Age=0")),
        "a session cookie came with the 503: {:?}",
        r.set_cookies()
    );
    proxy
        .audit_with_reason("login_failure", "store_unavailable")
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let me = b.get(&proxy.url("/api/auth/me")).await;
    assert_eq!(me.status, 401, "signed in after all: {}", me.body);
    // With the store back, the same person signs in as usual.
    assert_eq!(b.sign_in(&proxy, "/", "ada@example.com").await.status, 302);
    assert_eq!(b.get(&proxy.url("/api/auth/me")).await.status, 200);
}

/// A session cookie of ada's whose sign-in was `age` seconds ago.
fn session_signed_in_ago(age: i64) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let codec = Codec::new(Purpose::Session, &Secret::new(SECRET), &[]);
    codec.seal(&SessionClaims {
        sid: format!("old-{age}"),
        sub: "ada@example.com".into(),
        email: Some("ada@example.com".into()),
        email_verified: true,
        name: None,
        provider: "dev".into(),
        groups: vec![],
        auth_time: now - age,
        iat: now - 60,
        exp: now + 3600,
    })
}

/// A stolen cookie (or a script in the dashboard) is not enough to pair a device
/// that acts as the person for a year: approving needs a sign-in at most ten
/// minutes old, else the person signs in again and comes back to the code.
#[tokio::test(flavor = "multi_thread")]
async fn approving_a_device_needs_a_sign_in_at_most_ten_minutes_old() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let code = device_code(&proxy, "kiosk").await;
    let shown = user_code(&code).to_string();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = format!(
        "/login?next={}",
        urlencode(&format!("/auth/device?user_code={shown}"))
    );
    let stale = format!("portcullis_session={}", session_signed_in_ago(11 * 60));
    let page = client
        .get(proxy.url(&format!("/auth/device?user_code={shown}")))
        .header("cookie", &stale)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303);
    assert_eq!(page.headers()["location"], back.as_str());
    let approve = client
        .post(proxy.url("/auth/device"))
        .header("cookie", &stale)
        .header("origin", proxy.url(""))
        .form(&[("user_code", shown.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(approve.status(), 303, "an old sign-in approved a device");
    assert_eq!(approve.headers()["location"], back.as_str());
    assert_eq!(
        poll(&proxy, &code).await.1["error"],
        "authorization_pending",
        "nothing was decided"
    );
    // Signed in nine minutes ago: recent enough.
    let recent = format!("portcullis_session={}", session_signed_in_ago(9 * 60));
    let approve = client
        .post(proxy.url("/auth/device"))
        .header("cookie", &recent)
        .header("origin", proxy.url(""))
        .form(&[("user_code", shown.as_str()), ("decision", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(approve.status(), 200);
    assert!(approve.text().await.unwrap().contains("Device approved"));
}
