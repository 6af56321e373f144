//! `upstream.identity_assertion`: every forwarded request carries a signed JWT of
//! the identity, verified here the way a dashboard would, with `jose` in Node
//! and PyJWT in Python, against the keys portcullis publishes; a client's own
//! copy never passes.

use std::process::Command;

use crate::common::{Browser, Proxy, World};

/// Verifies `token` with `tests/idp/verify-assertion.mjs` (`jose`): the payload
/// and header, or the reason it was refused.
fn verify_with_jose(
    jwks: &str,
    token: &str,
    iss: &str,
    aud: &str,
) -> Result<serde_json::Value, String> {
    let mut cmd = Command::new("node");
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/idp/verify-assertion.mjs"
    ));
    run_verifier(cmd, [jwks, token, iss, aud])
}

/// The same with PyJWT (`tests/python/verify_assertion.py`, the docs' snippet),
/// in the Hermes virtualenv that scripts/setup.sh installs: the claims.
fn verify_with_pyjwt(
    jwks: &str,
    token: &str,
    iss: &str,
    aud: &str,
) -> Result<serde_json::Value, String> {
    let mut cmd = Command::new(crate::common::hermes::venv().join("bin/python"));
    cmd.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/verify_assertion.py"
    ));
    run_verifier(cmd, [jwks, token, iss, aud])
}

fn run_verifier(mut cmd: Command, args: [&str; 4]) -> Result<serde_json::Value, String> {
    let out = cmd
        .args(args)
        .output()
        .expect("node and the Hermes virtualenv (installed by scripts/setup.sh)");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).to_string())
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forwarded_request_carries_an_assertion_that_jose_verifies() {
    let world = World::new().await;
    let config = world
        .config("allowed_hosts = [\"127.0.0.1\"]", "")
        .replace("[upstream]\n", "[upstream]\nidentity_assertion = true\n");
    let proxy = Proxy::start(&config).await;
    let mut ada = Browser::new();
    assert_eq!(
        ada.sign_in(&proxy, "/", "ada@example.com").await.status,
        302
    );
    let forged = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.";
    let echo = ada
        .send(
            ada.client()
                .get(proxy.url("/api/echo"))
                .header("x-portcullis-assertion", forged),
        )
        .await;
    assert_eq!(echo.status, 200);
    let token = echo.json()["headers"]["x-portcullis-assertion"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(token, forged, "the client's copy is replaced");
    assert!(
        !echo.body.contains(forged),
        "a client-sent assertion reached the upstream"
    );

    let issuer = format!("http://{}", proxy.addr);
    let audience = format!("http://{}", world.upstream);
    let jwks = proxy.url("/.well-known/portcullis/jwks.json");
    let verified = verify_with_jose(&jwks, &token, &issuer, &audience).unwrap();
    let p = &verified["payload"];
    assert_eq!(p["sub"], "dev|ada@example.com");
    assert_eq!(p["email"], "ada@example.com");
    assert_eq!(p["provider"], "dev");
    assert_eq!(verified["protectedHeader"]["alg"], "EdDSA");
    assert!(p["exp"].as_i64().unwrap() - p["iat"].as_i64().unwrap() <= 300);
    let in_python = verify_with_pyjwt(&jwks, &token, &issuer, &audience).unwrap();
    assert_eq!(in_python["sub"], "dev|ada@example.com", "PyJWT agrees");
    assert!(verify_with_pyjwt(&jwks, &token, &issuer, "http://elsewhere.example").is_err());
    // The wrong audience, a tampered token, and an assertion of another secret
    // are refused.
    assert!(verify_with_jose(&jwks, &token, &issuer, "http://elsewhere.example").is_err());
    let mut tampered = token.clone();
    tampered.replace_range(tampered.len() - 4.., "AAAA");
    assert!(verify_with_jose(&jwks, &tampered, &issuer, &audience).is_err());
    let other = Proxy::start(&config.replace(
        crate::common::SECRET,
        "another-secret-0123456789-abcdefghijklmnopqrstuv",
    ))
    .await;
    let other_jwks = other.url("/.well-known/portcullis/jwks.json");
    assert!(verify_with_jose(&other_jwks, &token, &issuer, &audience).is_err());

    // The next request reuses the same assertion (signing is off the hot path).
    let again = ada.get(&proxy.url("/api/echo")).await;
    assert_eq!(
        again.json()["headers"]["x-portcullis-assertion"],
        token.as_str()
    );
    let keys = reqwest::get(&jwks).await.unwrap();
    assert_eq!(keys.headers()["cache-control"], "public, max-age=300");
    // Served whatever the Host: a dashboard fetches them over its own address.
    let by_other_host = reqwest::Client::new()
        .get(&jwks)
        .header("host", "gate.internal:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(by_other_host.status(), 200);
    let page = reqwest::Client::new()
        .get(proxy.url("/"))
        .header("host", "gate.internal:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 421, "while the rest keeps its Host check");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_setting_or_a_session_no_assertion_passes() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "[[public]]\npath = \"/api/echo\"\n")).await;
    let mut ada = Browser::new();
    assert_eq!(
        ada.sign_in(&proxy, "/", "ada@example.com").await.status,
        302
    );
    let echo = ada
        .send(
            ada.client()
                .get(proxy.url("/api/echo"))
                .header("x-portcullis-assertion", "forged"),
        )
        .await;
    assert!(
        echo.json()["headers"]["x-portcullis-assertion"].is_null(),
        "{}",
        echo.body
    );
    let jwks: serde_json::Value = reqwest::get(proxy.url("/.well-known/portcullis/jwks.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        jwks["keys"][0]["crv"], "Ed25519",
        "the keys are published all the same"
    );
}
