//! `session.revalidate`: sessions re-checked with their IdP off the request's
//! path. The real oidc-provider revokes a person's refresh token, the GitHub
//! stand-in drops a person from the organisation, and an IdP goes away: each
//! session ends when it should, and not before.

use std::time::{Duration, Instant};

use crate::common::fake_oauth::{FakeOAuth, GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET};
use crate::common::node_idp::{sign_in_at, NodeIdp};
use crate::common::{free_port, Browser, Proxy, World};

const CLIENT: &str = "portcullis-revalidate";
const SECRET: &str = "revalidate-client-secret-0123456789";

fn oidc_config(world: &World, idp: &NodeIdp, session: &str) -> String {
    world
        .config("", "")
        .replace("ttl = \"1h\"", &format!("ttl = \"1h\"\n{session}"))
        .replace(world.idp.issuer(), &idp.issuer)
        .replace(crate::common::CLIENT_ID, CLIENT)
        .replace(crate::common::CLIENT_SECRET, SECRET)
}

async fn signed_in_at_idp(proxy: &Proxy, idp: &NodeIdp, login: &str) -> Browser {
    let mut b = Browser::new();
    let start = b.get(&proxy.url("/auth/login?provider=dev")).await;
    let back = sign_in_at(&idp.issuer, start.location(), login).await;
    assert_eq!(b.get(&back).await.status, 302);
    b
}

/// Whether `done` holds within `limit` (polled every 100 ms).
async fn until(limit: Duration, done: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    done()
}

/// Polls `/api/echo` until it is 401; how long that took, or `None` after `limit`.
async fn refused_within(b: &mut Browser, proxy: &Proxy, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if b.get(&proxy.url("/api/echo")).await.status == 401 {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_token_revoked_at_oidc_provider_ends_the_session() {
    let world = World::new().await;
    let port = free_port();
    let idp = NodeIdp::start_with_refresh_tokens(
        CLIENT,
        SECRET,
        &[format!("http://127.0.0.1:{port}/auth/callback")],
    );
    let proxy = Proxy::start_on(port, &oidc_config(&world, &idp, "revalidate = \"5s\""), &[]).await;
    let mut alice = signed_in_at_idp(&proxy, &idp, "alice").await;
    let mut bob = signed_in_at_idp(&proxy, &idp, "bob").await;

    // A check that passes changes nothing for the person.
    let refreshed = until(Duration::from_secs(12), || {
        idp.lines().iter().any(|l| l == "IDP_REFRESHED")
    })
    .await;
    assert!(refreshed, "{:?}", idp.lines());
    assert_eq!(alice.get(&proxy.url("/api/echo")).await.status, 200);

    // An admin revokes alice's grant at the IdP.
    let r = reqwest::Client::new()
        .post(format!("{}/test/revoke-grants?account=alice", idp.issuer))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let took = refused_within(&mut alice, &proxy, Duration::from_secs(5 + 3)).await;
    assert!(
        took.is_some(),
        "alice's session ended within revalidate plus 3 s\n{}",
        proxy.stderr()
    );
    assert_eq!(
        bob.get(&proxy.url("/api/echo")).await.status,
        200,
        "bob's grant stands"
    );
    let lines = proxy
        .audit_with_reason("logout", "revalidation_failed")
        .await;
    let ended: Vec<_> = lines
        .iter()
        .filter(|l| l["reason"] == "revalidation_failed")
        .collect();
    assert_eq!(ended.len(), 1, "only alice: {ended:?}");
    assert_eq!(ended[0]["user_id"], "alice");
    eprintln!("ended {:?} after the revocation", took.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_idp_is_given_the_grace_then_the_person_signs_in_again() {
    let world = World::new().await;
    let port = free_port();
    let idp = NodeIdp::start_with_refresh_tokens(
        CLIENT,
        SECRET,
        &[format!("http://127.0.0.1:{port}/auth/callback")],
    );
    let session = "revalidate = \"5s\"\nrevalidate_grace = \"6s\"";
    let proxy = Proxy::start_on(port, &oidc_config(&world, &idp, session), &[]).await;
    let mut alice = signed_in_at_idp(&proxy, &idp, "alice").await;
    let signed_in = Instant::now();
    drop(idp);

    // Due at 5 s, unreachable: it goes on through the grace (to 11 s)...
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        alice.get(&proxy.url("/api/echo")).await.status,
        200,
        "within the grace"
    );
    assert!(
        proxy.stderr().contains("its IdP is unreachable"),
        "{}",
        proxy.stderr()
    );
    // ...then the person is asked to sign in again.
    let took = refused_within(&mut alice, &proxy, Duration::from_secs(6)).await;
    assert!(took.is_some(), "ended after the grace\n{}", proxy.stderr());
    assert!(
        // Times are whole seconds: the sign-in is counted from the second it began.
        signed_in.elapsed() >= Duration::from_secs(10),
        "not before the grace"
    );
    let page = alice.get(&proxy.url("/")).await;
    assert_eq!(page.status, 302);
    assert!(page.location().starts_with("/login"));
    assert!(!proxy
        .audit_with_reason("logout", "revalidation_unreachable")
        .await
        .is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_from_the_github_organisation_ends_the_session() {
    let world = World::new().await;
    let github = FakeOAuth::github().await;
    let config = world.config(
        "",
        &format!(
            "[[providers]]\nid = \"gh\"\nkind = \"github\"\nclient_id = \"{GITHUB_CLIENT_ID}\"\nclient_secret = \"{GITHUB_CLIENT_SECRET}\"\nbase_url = \"{}\"\nallowed_orgs = [\"acme\"]\n",
            github.base()
        ),
    )
    .replace("ttl = \"1h\"", "ttl = \"1h\"\nrevalidate = \"5s\"");
    let proxy = Proxy::start(&config).await;
    let mut b = Browser::new();
    let (_, callback) = github.sign_in(&mut b, &proxy, "gh", "/", "octocat").await;
    assert_eq!(callback.status, 302, "{}", callback.body);
    let rechecked = until(Duration::from_secs(12), || {
        github
            .log()
            .iter()
            .filter(|l| l.contains("/user/memberships/orgs/acme"))
            .count()
            >= 2
    })
    .await;
    assert!(rechecked, "a re-check asked GitHub");
    assert_eq!(
        b.get(&proxy.url("/api/echo")).await.status,
        200,
        "still a member"
    );
    let checks = github
        .log()
        .iter()
        .filter(|l| l.contains("/user/memberships/orgs/acme"))
        .count();
    assert!(checks >= 2, "sign-in and a re-check asked GitHub: {checks}");

    github.remove_from_org("octocat", "acme");
    let took = refused_within(&mut b, &proxy, Duration::from_secs(5 + 3)).await;
    assert!(
        took.is_some(),
        "ended within revalidate plus 3 s\n{}",
        proxy.stderr()
    );
    let lines = proxy
        .audit_with_reason("logout", "revalidation_failed")
        .await;
    let ended = lines
        .iter()
        .find(|l| l["reason"] == "revalidation_failed")
        .unwrap();
    assert_eq!(ended["provider"], "gh");
}

#[test]
fn check_says_what_each_provider_can_re_validate_and_refuses_bad_durations() {
    let world_issuer = "https://idp.example.com";
    let base = format!(
        "[server]\nlisten = \"127.0.0.1:8080\"\n[upstream]\nurl = \"http://127.0.0.1:9119\"\n[session]\nsecret = \"{}\"\nREVALIDATE\n[access]\nallowed_domains = [\"example.com\"]\n\
         [[providers]]\nid = \"corp\"\nkind = \"oidc\"\nissuer = \"{world_issuer}\"\nclient_id = \"x\"\n\
         [[providers]]\nid = \"gh\"\nkind = \"github\"\nclient_id = \"x\"\nclient_secret = \"y\"\n",
        crate::common::SECRET
    );
    let run = |revalidate: &str| {
        let out = crate::common::run_cli(
            &["check"],
            Some(&base.replace("REVALIDATE", revalidate)),
            &[],
        );
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, text) = run("revalidate = \"10m\"\nrevalidate_grace = \"30m\"");
    assert!(ok, "{text}");
    assert!(
        text.contains("revalidate      = every 10m with the IdP, serving on for 30m"),
        "{text}"
    );
    assert!(
        text.contains("re-validation   = a refresh-token grant"),
        "{text}"
    );
    assert!(
        text.contains("re-validation   = GitHub's /user, and allowed_orgs"),
        "{text}"
    );
    let (_, off) = run("");
    assert!(
        off.contains("revalidate      = off") && !off.contains("re-validation   ="),
        "{off}"
    );
    for (bad, key) in [
        ("revalidate = \"1s\"", "session.revalidate"),
        ("revalidate = \"2d\"", "session.revalidate"),
        (
            "revalidate = \"10m\"\nrevalidate_grace = \"soon\"",
            "session.revalidate_grace",
        ),
    ] {
        let (ok, text) = run(bad);
        assert!(!ok && text.contains(key), "{bad}: {text}");
    }
}
