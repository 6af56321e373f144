//! The command line: `check`, `secret`, and `serve` refusing bad config.

use crate::common::run_cli;

const GOOD: &str = r#"
[server]
listen = "127.0.0.1:0"
[upstream]
url = "http://127.0.0.1:9119"
[session]
secret = "${TEST_SESSION_SECRET}"
[[providers]]
id = "idp"
kind = "oidc"
issuer = "https://idp.example.com"
client_id = "abc"
client_secret = "very-secret-client-secret"
"#;

const SECRET_ENV: (&str, &str) = (
    "TEST_SESSION_SECRET",
    "0123456789abcdef0123456789abcdef-xyz",
);

#[test]
fn secret_prints_32_random_bytes_base64url() {
    let a = run_cli(&["secret"], None, &[]);
    let b = run_cli(&["secret"], None, &[]);
    let a = String::from_utf8(a.stdout).unwrap();
    assert_eq!(a.trim().len(), 43);
    assert_ne!(a, String::from_utf8(b.stdout).unwrap());
}

#[test]
fn check_prints_resolved_settings_with_secrets_redacted() {
    let out = run_cli(&["check"], Some(GOOD), &[SECRET_ENV]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("config OK"));
    assert!(stdout.contains("[redacted]"));
    assert!(!stdout.contains(SECRET_ENV.1));
    assert!(!stdout.contains("very-secret-client-secret"));
    assert!(stdout.contains("/auth/callback"));
}

#[test]
fn check_names_the_unset_variable() {
    let out = run_cli(&["check"], Some(GOOD), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TEST_SESSION_SECRET") && err.contains("session.secret"),
        "{err}"
    );
}

#[test]
fn check_names_unknown_keys_and_short_secrets() {
    let out = run_cli(
        &["check"],
        Some(&GOOD.replace("[upstream]", "[upstream]\ncolour = 1")),
        &[SECRET_ENV],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("colour"));
    let out = run_cli(&["check"], Some(GOOD), &[("TEST_SESSION_SECRET", "short")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("portcullis secret"));
}

#[test]
fn check_fails_on_any_bad_provider_but_names_it() {
    let text =
        format!("{GOOD}\n[[providers]]\nid = \"broken\"\nkind = \"oidc\"\nclient_id = \"x\"\n");
    let out = run_cli(&["check"], Some(&text), &[SECRET_ENV]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("provider `broken`"));
}

#[test]
fn serve_refuses_to_start_without_a_usable_provider_listing_each_reason() {
    let text = GOOD.replace("client_id = \"abc\"\n", "").replace(
        "[[providers]]",
        "[[providers]]\nid = \"first\"\nkind = \"github\"\nclient_id = \"x\"\n\n[[providers]]",
    );
    let out = run_cli(&["serve"], Some(&text), &[SECRET_ENV]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no usable identity provider"), "{err}");
    assert!(
        err.contains("provider `first`") && err.contains("provider `idp`"),
        "{err}"
    );
}

#[test]
fn public_url_from_the_environment_is_validated() {
    let out = run_cli(
        &["check"],
        Some(GOOD),
        &[SECRET_ENV, ("PORTCULLIS_PUBLIC_URL", "ftp://nope")],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PORTCULLIS_PUBLIC_URL"));
}

#[test]
fn example_config_passes_check_with_dummy_secrets() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/portcullis.example.toml"
    ))
    .unwrap();
    let out = run_cli(
        &["check"],
        Some(&text),
        &[
            (
                "PORTCULLIS_SESSION_SECRET",
                "0123456789abcdef0123456789abcdef-xyz",
            ),
            ("GOOGLE_CLIENT_ID", "dummy-id"),
            ("GOOGLE_CLIENT_SECRET", "dummy-secret"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("https://dash.example.com/auth/callback"));
}

#[test]
fn check_warns_about_risky_settings() {
    let text = GOOD
        .replace("listen = \"127.0.0.1:0\"", "listen = \"0.0.0.0:8080\"\npublic_url = \"http://dash.example.com\"\ntrusted_proxies = [\"0.0.0.0/0\"]")
        .replace("[[providers]]", "[admin]\nlisten = \"0.0.0.0:9090\"\n\n[[providers]]");
    let out = run_cli(&["check"], Some(&text), &[SECRET_ENV]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "ANY account",
        "plain http on a non-loopback",
        "0.0.0.0/0",
        "admin.listen is not loopback",
    ] {
        assert!(stdout.contains(needle), "{needle}:\n{stdout}");
    }
    let quiet = run_cli(
        &["check"],
        Some(&GOOD.replace(
            "[[providers]]",
            "[access]\nallowed_domains = [\"example.com\"]\n\n[[providers]]",
        )),
        &[SECRET_ENV],
    );
    assert!(!String::from_utf8_lossy(&quiet.stdout).contains("warning:"));
}

#[test]
fn check_describes_every_provider_kind_and_what_to_register() {
    let text = GOOD.replace(
        "[server]",
        "[server]\npublic_url = \"https://dash.example.com/hermes\"",
    ) + r#"
[[providers]]
id = "gh"
kind = "github"
client_id = "gh-client"
client_secret = "gh-very-secret"
allowed_orgs = ["acme"]

[[providers]]
id = "portal"
kind = "oauth2"
client_id = "portal-client"
authorize_url = "https://portal.example.com/oauth/authorize"
token_url = "https://portal.example.com/oauth/token"
userinfo_url = "https://portal.example.com/oauth/userinfo"
end_session_url = "https://portal.example.com/logout"
idp_logout = true
"#;
    let out = run_cli(&["check"], Some(&text), &[SECRET_ENV]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("kind            = github"));
    assert!(stdout.contains("scopes          = read:user user:email read:org"));
    assert!(stdout.contains("kind            = oauth2"));
    assert!(stdout.contains("(none: public client, PKCE only)"));
    assert!(stdout.contains(
        "register https://dash.example.com/hermes/login at the IdP as a post-logout redirect URI"
    ));
    assert_eq!(
        stdout
            .matches("register this callback URL at the IdP: https://dash.example.com/hermes/auth/callback")
            .count(),
        3
    );
    assert_eq!(
        stdout
            .matches("back-channel logout URI at the IdP (with backchannel_logout_session_required): https://dash.example.com/hermes/auth/backchannel-logout")
            .count(),
        1,
        "the OIDC provider alone: {stdout}"
    );
    assert!(stdout.contains("forward-auth    = https://dash.example.com/hermes/auth/verify"));
    assert!(!stdout.contains("gh-very-secret"));
}

#[test]
fn a_toml_syntax_error_names_file_line_and_column_but_never_the_line() {
    let broken = GOOD.replace(
        "secret = \"${TEST_SESSION_SECRET}\"",
        "secret = \"hunter2-the-real-secret-value-0123456789\nttl = \"1h\"",
    );
    let out = run_cli(&["check"], Some(&broken), &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("c.toml"), "names the file: {err}");
    assert!(
        err.contains("line 7, column"),
        "names line and column: {err}"
    );
    assert!(!err.contains("hunter2"), "the secret line is echoed: {err}");
}

#[test]
fn a_bad_interpolated_value_names_key_and_variable_never_the_value() {
    let config = GOOD.replace("listen = \"127.0.0.1:0\"", "listen = \"${LISTEN}\"");
    let value = "s3cr3t-not-an-address";
    let out = run_cli(&["check"], Some(&config), &[SECRET_ENV, ("LISTEN", value)]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.listen") && err.contains("${LISTEN}"),
        "{err}"
    );
    assert!(!err.contains(value), "the value is echoed: {err}");

    let config = GOOD.replace("[session]", "[session]\nttl = \"${TTL}\"");
    let value = "forever-and-a-day";
    let out = run_cli(&["check"], Some(&config), &[SECRET_ENV, ("TTL", value)]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("session.ttl") && err.contains("${TTL}"),
        "{err}"
    );
    assert!(!err.contains(value), "the value is echoed: {err}");
}

#[test]
fn a_secret_with_fewer_than_16_distinct_characters_is_refused() {
    for weak in ["a".repeat(64), "abcdefgh".repeat(8)] {
        let out = run_cli(&["check"], Some(GOOD), &[("TEST_SESSION_SECRET", &weak)]);
        assert_eq!(out.status.code(), Some(1), "{weak}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("session.secret") && err.contains("distinct"),
            "{err}"
        );
        assert!(!err.contains(&weak), "{err}");
    }
}

#[test]
fn header_and_idle_timeouts_are_shown_and_bounded() {
    let out = run_cli(&["check"], Some(GOOD), &[SECRET_ENV]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("header_timeout  = 30s"), "{stdout}");
    assert!(stdout.contains("idle_timeout    = 1m"), "{stdout}");
    let config = GOOD.replace(
        "listen = \"127.0.0.1:0\"",
        "listen = \"127.0.0.1:0\"\nheader_timeout = \"0s\"",
    );
    let out = run_cli(&["check"], Some(&config), &[SECRET_ENV]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.header_timeout"), "{err}");
}

#[test]
fn an_upstream_path_is_accepted_and_a_query_refused() {
    let config = GOOD.replace("http://127.0.0.1:9119", "http://127.0.0.1:8888/jupyter/");
    let out = run_cli(&["check"], Some(&config), &[SECRET_ENV]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = GOOD.replace("http://127.0.0.1:9119", "http://127.0.0.1:8888/j?x=1");
    let out = run_cli(&["check"], Some(&config), &[SECRET_ENV]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("upstream.url") && err.contains("no query"),
        "{err}"
    );
}
