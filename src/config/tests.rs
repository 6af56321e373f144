use super::*;

const SECRET: &str = "0123456789abcdef0123456789abcdef-long-enough";

fn base(extra: &str) -> String {
    format!(
        r#"
[server]
listen = "127.0.0.1:8080"
[upstream]
url = "http://127.0.0.1:9119"
[session]
secret = "{SECRET}"
{extra}
[[providers]]
id = "idp"
kind = "oidc"
issuer = "http://127.0.0.1:9000"
client_id = "portcullis"
client_secret = "s3cret"
"#
    )
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, &no_env)
}

fn err(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn minimal_config_gets_defaults() {
    let c = parse(&base("")).unwrap();
    assert_eq!(c.session.ttl, Duration::from_secs(12 * 3600));
    assert_eq!(c.tickets.ttl, Duration::from_secs(30));
    assert_eq!(c.session.cookie_name, "portcullis_session");
    assert_eq!(c.routes[0].path, "/");
    assert_eq!(c.routes[0].upstream.authority, "127.0.0.1:9119");
    assert_eq!(c.routes[0].upstream.origin, "http://127.0.0.1:9119");
    assert!(c.server.trusted_proxies.is_empty());
    assert!(c.server.allowed_hosts.is_empty());
    assert_eq!(c.store, StoreConfig::Memory);
    assert_eq!(c.providers[0].scopes, ["openid", "email", "profile"]);
}

#[test]
fn unknown_keys_are_refused_with_their_path() {
    let e = err(&base("colour = \"blue\""));
    assert!(e.contains("session") && e.contains("colour"), "{e}");
    let e = err(&format!("{}\nflavour = 1\n", base("")));
    assert!(e.contains("providers[0]") && e.contains("flavour"), "{e}");
}

#[test]
fn short_secret_is_refused_naming_the_fix() {
    let text = base("").replace(SECRET, "short");
    let e = err(&text);
    assert!(
        e.contains("session.secret") && e.contains("portcullis secret"),
        "{e}"
    );
    let e = err(&base("previous_secrets = [\"tiny\"]"));
    assert!(e.contains("session.previous_secrets[0]"), "{e}");
}

#[test]
fn env_interpolation_and_unset_names() {
    let text = base("").replace(SECRET, "${SESSION_SECRET}");
    let e = err(&text);
    assert!(
        e.contains("SESSION_SECRET") && e.contains("session.secret"),
        "{e}"
    );
    let c = Config::parse(&text, &|n| {
        (n == "SESSION_SECRET").then(|| SECRET.to_string())
    })
    .unwrap();
    assert!(c.session.secret.ct_eq(SECRET));
}

#[test]
fn public_url_env_overrides_file() {
    let text = base("").replace(
        "[upstream]",
        "public_url = \"https://file.example.com\"\n[upstream]",
    );
    let c = Config::parse(&text, &|n| {
        (n == PUBLIC_URL_ENV).then(|| "https://env.example.com/hermes".to_string())
    })
    .unwrap();
    let u = c.server.public_url.unwrap();
    assert_eq!(u.host, "env.example.com");
    assert_eq!(u.prefix.as_str(), "/hermes");
    // allowed_hosts defaults to the public_url host
    assert_eq!(c.server.allowed_hosts.len(), 1);
    // An empty override is ignored.
    let c = Config::parse(&text, &|n| (n == PUBLIC_URL_ENV).then(String::new)).unwrap();
    assert_eq!(c.server.public_url.unwrap().host, "file.example.com");
}

#[test]
fn bad_public_url_is_a_config_error() {
    for bad in ["ftp://x.example", "dash.example.com", "https://"] {
        let text = base("").replace("[upstream]", &format!("public_url = \"{bad}\"\n[upstream]"));
        let e = err(&text);
        assert!(e.contains("server.public_url"), "{e}");
    }
}

#[test]
fn durations_are_parsed_and_bad_ones_named() {
    let c = parse(&base("ttl = \"30m\"")).unwrap();
    assert_eq!(c.session.ttl, Duration::from_secs(1800));
    let e = err(&base("ttl = \"forever\""));
    assert!(e.contains("session.ttl") && e.contains("12h"), "{e}");
}

#[test]
fn bad_listen_upstream_and_proxies_are_named() {
    let e = err(&base("").replace("127.0.0.1:8080", "nowhere"));
    assert!(e.contains("server.listen"), "{e}");
    let e = err(&base("").replace("http://127.0.0.1:9119", "https://127.0.0.1:9119"));
    assert!(e.contains("upstream.url"), "{e}");
    let e = err(&base("").replace(
        "[upstream]",
        "trusted_proxies = [\"10.0.0.0/99\"]\n[upstream]",
    ));
    assert!(e.contains("server.trusted_proxies[0]"), "{e}");
}

#[test]
fn provider_errors_are_named_and_no_provider_refuses_start() {
    let text = base("").replace("client_id = \"portcullis\"\n", "");
    let e = err(&text);
    assert!(e.contains("no usable identity provider"), "{e}");
    assert!(
        e.contains("provider `idp`") && e.contains("client_id"),
        "{e}"
    );

    let text = base("").replace("http://127.0.0.1:9000", "http://idp.example.com");
    let e = err(&text);
    assert!(e.contains("https"), "{e}");
}

#[test]
fn one_bad_provider_does_not_hide_a_good_one() {
    let text = format!(
        "{}\n[[providers]]\nid = \"broken\"\nkind = \"oidc\"\nclient_id = \"x\"\n",
        base("")
    );
    let c = parse(&text).unwrap();
    assert_eq!(c.providers.len(), 1);
    assert_eq!(c.provider_errors.len(), 1);
    assert!(c.provider_errors[0]
        .to_string()
        .contains("provider `broken`"));
    assert!(c.provider_errors[0].reason.contains("issuer"));
}

#[test]
fn duplicate_provider_ids_are_reported() {
    let text = format!(
        "{}\n[[providers]]\nid = \"idp\"\nkind = \"oidc\"\nissuer = \"https://x.example\"\nclient_id = \"x\"\n",
        base("")
    );
    let c = parse(&text).unwrap();
    assert!(c.provider_errors[0].reason.contains("unique"));
}

#[test]
fn access_lists_are_normalised_and_checked() {
    let c = parse(&base("").replace(
        "[[providers]]",
        "[access]\nallowed_emails = [\"Ann@Example.com\"]\nallowed_domains = [\"@Example.org\"]\n[[providers]]",
    ))
    .unwrap();
    assert_eq!(c.access.allowed_emails, ["ann@example.com"]);
    assert_eq!(c.access.allowed_domains, ["example.org"]);
    let e = err(&base("").replace(
        "[[providers]]",
        "[access]\nallowed_emails = [\"nobody\"]\n[[providers]]",
    ));
    assert!(e.contains("access.allowed_emails[0]"), "{e}");
}

#[test]
fn client_ip_header_needs_a_trusted_proxy() {
    let e = err(&base("").replace(
        "[upstream]",
        "client_ip_header = \"Fly-Client-IP\"\n[upstream]",
    ));
    assert!(
        e.contains("server.client_ip_header") && e.contains("trusted_proxies"),
        "{e}"
    );
    let c = parse(&base("").replace(
        "[upstream]",
        "client_ip_header = \"Fly-Client-IP\"\ntrusted_proxies = [\"172.16.0.0/12\"]\n[upstream]",
    ))
    .unwrap();
    assert_eq!(c.server.client_ip_header.unwrap().as_str(), "fly-client-ip");
}

#[test]
fn cookie_name_may_not_carry_a_prefix() {
    let e = err(&base("cookie_name = \"__Host-x\""));
    assert!(e.contains("session.cookie_name"), "{e}");
}

#[test]
fn secrets_never_appear_in_debug_output() {
    let c = parse(&base("")).unwrap();
    let dump = format!("{c:?}");
    assert!(!dump.contains(SECRET));
    assert!(!dump.contains("s3cret"));
}

/// The base config plus one more provider entry.
fn with_provider(entry: &str) -> Result<Config, ConfigError> {
    parse(&format!("{}\n[[providers]]\n{entry}\n", base("")))
}

/// The reason the extra provider entry was refused.
fn provider_reason(entry: &str) -> String {
    let c = with_provider(entry).unwrap();
    assert_eq!(c.providers.len(), 1, "the extra provider should be refused");
    c.provider_errors[0].to_string()
}

#[test]
fn github_gets_its_endpoints_and_scopes() {
    let c =
        with_provider("id = \"gh\"\nkind = \"github\"\nclient_id = \"a\"\nclient_secret = \"b\"")
            .unwrap();
    let p = &c.providers[1];
    assert_eq!(
        p.scopes,
        ["read:user", "user:email"],
        "no read:org without org rules"
    );
    let ProviderKind::Github(g) = &p.kind else {
        panic!("github kind")
    };
    assert_eq!(g.base_url.as_str(), "https://github.com/");
    assert_eq!(g.api_url.as_str(), "https://api.github.com/");
}

#[test]
fn github_enterprise_and_org_rules() {
    let c = with_provider(
        "id = \"ghe\"\nkind = \"github\"\nclient_id = \"a\"\nclient_secret = \"b\"\nbase_url = \"https://git.corp.example\"\nallowed_orgs = [\"Acme\"]\nallowed_teams = [\"acme/Ops\"]",
    )
    .unwrap();
    let p = &c.providers[1];
    assert_eq!(p.scopes, ["read:user", "user:email", "read:org"]);
    let ProviderKind::Github(g) = &p.kind else {
        panic!("github kind")
    };
    assert_eq!(g.api_url.as_str(), "https://git.corp.example/api/v3");
    assert_eq!(g.allowed_orgs, ["acme"]);
    assert_eq!(g.allowed_teams, [("acme".to_string(), "ops".to_string())]);
}

#[test]
fn github_refuses_what_it_cannot_do() {
    assert!(
        provider_reason("id = \"gh\"\nkind = \"github\"\nclient_id = \"a\"")
            .contains("client_secret")
    );
    let e = provider_reason(
        "id = \"gh\"\nkind = \"github\"\nclient_id = \"a\"\nclient_secret = \"b\"\nidp_logout = true",
    );
    assert!(
        e.contains("`idp_logout` is not used with kind = \"github\""),
        "{e}"
    );
    let e = provider_reason(
        "id = \"gh\"\nkind = \"github\"\nclient_id = \"a\"\nclient_secret = \"b\"\nallowed_teams = [\"ops\"]",
    );
    assert!(e.contains("org/team-slug"), "{e}");
}

#[test]
fn oauth2_public_client_with_claim_names() {
    let c = with_provider(
        "id = \"portal\"\nkind = \"oauth2\"\nclient_id = \"pub\"\nauthorize_url = \"https://p.example/authorize\"\ntoken_url = \"https://p.example/token\"\nuserinfo_url = \"https://p.example/me\"\nuser_id_claim = \"data.id\"\nemail_claim = \"data.mail\"",
    )
    .unwrap();
    let p = &c.providers[1];
    assert!(p.client_secret.is_none());
    assert!(p.scopes.is_empty());
    let ProviderKind::OAuth2(o) = &p.kind else {
        panic!("oauth2 kind")
    };
    assert_eq!(o.claims.user_id, "data.id");
    assert_eq!(o.claims.email, "data.mail");
    assert_eq!(o.claims.name, "name");
    assert_eq!(o.token_auth, TokenAuth::ClientSecretBasic);
    assert!(!o.trust_email);
}

#[test]
fn oauth2_names_missing_and_bad_endpoints() {
    let e = provider_reason("id = \"p\"\nkind = \"oauth2\"\nclient_id = \"a\"\nauthorize_url = \"https://p.example/a\"\ntoken_url = \"https://p.example/t\"");
    assert!(
        e.contains("provider `p`") && e.contains("`userinfo_url` is missing"),
        "{e}"
    );
    let e = provider_reason("id = \"p\"\nkind = \"oauth2\"\nclient_id = \"a\"\nauthorize_url = \"http://p.example/a\"\ntoken_url = \"https://p.example/t\"\nuserinfo_url = \"https://p.example/u\"");
    assert!(e.contains("`authorize_url`") && e.contains("https"), "{e}");
    let e = provider_reason("id = \"p\"\nkind = \"oauth2\"\nclient_id = \"a\"\nauthorize_url = \"https://p.example/a\"\ntoken_url = \"https://p.example/t\"\nuserinfo_url = \"https://p.example/u\"\nrevoke_on_logout = true");
    assert!(e.contains("revocation_url"), "{e}");
    let e = provider_reason("id = \"p\"\nkind = \"oauth2\"\nclient_id = \"a\"\nauthorize_url = \"https://p.example/a\"\ntoken_url = \"https://p.example/t\"\nuserinfo_url = \"https://p.example/u\"\nissuer = \"https://p.example\"");
    assert!(
        e.contains("`issuer` is not used with kind = \"oauth2\""),
        "{e}"
    );
}

#[test]
fn oidc_refuses_oauth2_keys_and_knows_its_groups_claim() {
    let e = provider_reason("id = \"o\"\nkind = \"oidc\"\nclient_id = \"a\"\nissuer = \"https://o.example\"\ntoken_url = \"https://o.example/t\"");
    assert!(
        e.contains("`token_url` is not used with kind = \"oidc\""),
        "{e}"
    );
    let c = with_provider("id = \"o\"\nkind = \"oidc\"\nclient_id = \"a\"\nissuer = \"https://o.example\"\ngroups_claim = \"roles\"\nrevoke_on_logout = true\nidp_logout = true").unwrap();
    let p = &c.providers[1];
    assert!(matches!(&p.kind, ProviderKind::Oidc(o) if o.groups_claim == "roles"));
    assert!(p.logout.revoke_tokens && p.logout.idp_logout);
}

#[test]
fn unknown_kind_lists_the_kinds() {
    let e = provider_reason("id = \"x\"\nkind = \"saml\"\nclient_id = \"a\"");
    assert!(e.contains("\"oidc\", \"github\" or \"oauth2\""), "{e}");
}

#[test]
fn sliding_sessions_and_their_limits() {
    let c = parse(&base("sliding = true\nttl = \"1h\"")).unwrap();
    assert!(c.session.sliding);
    assert_eq!(c.session.max_age, Duration::from_secs(7 * 24 * 3600));
    let plain = parse(&base("")).unwrap();
    assert_eq!(plain.session.max_age, plain.session.ttl);
    assert!(err(&base("max_age = \"2d\"")).contains("only with `sliding = true`"));
    assert!(err(&base("sliding = true\nttl = \"2d\"\nmax_age = \"1d\""))
        .contains("shorter than `session.ttl`"));
}

#[test]
fn allowed_groups_are_kept_as_written() {
    let c = parse(&base("").replace(
        "[[providers]]",
        "[access]\nallowed_groups = [\" Admins \"]\n[[providers]]",
    ))
    .unwrap();
    assert_eq!(c.access.allowed_groups, ["Admins"]);
    assert!(err(&base("").replace(
        "[[providers]]",
        "[access]\nallowed_groups = [\"\"]\n[[providers]]"
    ))
    .contains("access.allowed_groups[0]"));
}
