use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            http::HeaderValue::from_bytes(v.as_bytes()).unwrap(),
        );
    }
    h
}

fn resolver(public_url: Option<&str>, trusted: &[&str]) -> OriginResolver {
    OriginResolver {
        public_url: public_url.map(|u| PublicUrl::parse(u).unwrap()),
        trusted_proxies: trusted.iter().map(|n| n.parse().unwrap()).collect(),
        allowed_hosts: vec![],
        client_ip_header: None,
    }
}

const PEER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
const STRANGER: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9)));

#[test]
fn prefix_accepts_segments_and_drops_trailing_slash() {
    assert_eq!(Prefix::parse("/hermes").unwrap().as_str(), "/hermes");
    assert_eq!(Prefix::parse("/hermes/").unwrap().as_str(), "/hermes");
    assert_eq!(
        Prefix::parse("/a/b-c_d.e~f").unwrap().as_str(),
        "/a/b-c_d.e~f"
    );
    assert!(Prefix::parse("/").unwrap().is_empty());
    assert!(Prefix::parse("").unwrap().is_empty());
}

#[test]
fn prefix_rejects_hostile_values() {
    for bad in [
        "hermes",
        "//evil.com",
        "/a//b",
        "/a/../b",
        "/..",
        "/./x",
        "/a\r\nSet-Cookie: x",
        "/a\"b",
        "/a<b>",
        "/a'b",
        "/a%2fb",
        "/a b",
        "https://evil.com/x",
        "/caf\u{e9}",
    ] {
        assert!(Prefix::parse(bad).is_none(), "accepted {bad:?}");
    }
    assert!(Prefix::parse(&format!("/{}", "a".repeat(MAX_PREFIX_LEN))).is_none());
}

#[test]
fn prefix_strip_only_whole_segments() {
    let p = Prefix::parse("/hermes").unwrap();
    assert_eq!(p.strip("/hermes/login"), "/login");
    assert_eq!(p.strip("/hermes"), "/");
    assert_eq!(p.strip("/hermesx/login"), "/hermesx/login");
    assert_eq!(p.strip("/login"), "/login");
}

#[test]
fn public_url_parses_scheme_host_prefix() {
    let u = PublicUrl::parse("https://Dash.Example.com/hermes/").unwrap();
    assert_eq!(u.scheme, Scheme::Https);
    assert_eq!(u.host, "dash.example.com");
    assert_eq!(u.prefix.as_str(), "/hermes");
    let u = PublicUrl::parse("http://127.0.0.1:8080").unwrap();
    assert_eq!(u.host, "127.0.0.1:8080");
    assert!(u.prefix.is_empty());
}

#[test]
fn public_url_rejects_non_http_and_hostless() {
    assert!(PublicUrl::parse("ftp://x.example").is_err());
    assert!(PublicUrl::parse("dash.example.com").is_err());
    assert!(PublicUrl::parse("https://").is_err());
    assert!(PublicUrl::parse("https://u:p@x.example").is_err());
    assert!(PublicUrl::parse("https://x.example/?a=b").is_err());
    assert!(PublicUrl::parse("https://x.example/a/../b%00").is_err());
}

#[test]
fn redirect_uri_has_no_double_slash() {
    let r = resolver(Some("https://dash.example.com/hermes/"), &[]);
    let o = r
        .resolve(PEER, &headers(&[("host", "dash.example.com")]))
        .unwrap();
    assert_eq!(
        o.redirect_uri(),
        "https://dash.example.com/hermes/auth/callback"
    );
    let r = resolver(Some("https://dash.example.com/"), &[]);
    let o = r
        .resolve(PEER, &headers(&[("host", "dash.example.com")]))
        .unwrap();
    assert_eq!(o.redirect_uri(), "https://dash.example.com/auth/callback");
}

#[test]
fn public_url_ignores_forwarded_prefix_even_from_trusted_proxy() {
    let r = resolver(Some("https://dash.example.com"), &["127.0.0.1/32"]);
    let o = r
        .resolve(
            PEER,
            &headers(&[
                ("host", "dash.example.com"),
                ("x-forwarded-prefix", "/bogus"),
                ("x-forwarded-proto", "http"),
            ]),
        )
        .unwrap();
    assert_eq!(o.origin(), "https://dash.example.com");
    assert!(o.prefix.is_empty());
}

#[test]
fn forwarded_headers_believed_from_trusted_proxy() {
    let r = resolver(None, &["127.0.0.1/32"]);
    let o = r
        .resolve(
            PEER,
            &headers(&[
                ("host", "127.0.0.1:8080"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "dash.example.com, inner.local"),
                ("x-forwarded-prefix", "/hermes/"),
            ]),
        )
        .unwrap();
    assert_eq!(o.origin(), "https://dash.example.com");
    assert_eq!(o.prefix.as_str(), "/hermes");
}

#[test]
fn forwarded_headers_ignored_from_untrusted_peer() {
    let r = resolver(None, &["127.0.0.1/32"]);
    let o = r
        .resolve(
            STRANGER,
            &headers(&[
                ("host", "dash.example.com"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "evil.com"),
                ("x-forwarded-prefix", "/evil"),
            ]),
        )
        .unwrap();
    assert_eq!(o.origin(), "http://dash.example.com");
    assert!(o.prefix.is_empty());
}

#[test]
fn malformed_forwarded_prefix_is_ignored() {
    let r = resolver(None, &["127.0.0.1/32"]);
    for bad in ["/a\"onload=x", "//evil.com", "/a/../b", "/x<y>"] {
        let o = r
            .resolve(
                PEER,
                &headers(&[("host", "h.example"), ("x-forwarded-prefix", bad)]),
            )
            .unwrap();
        assert!(o.prefix.is_empty(), "{bad}");
    }
}

#[test]
fn bad_host_is_refused() {
    let r = resolver(None, &[]);
    for bad in [
        "evil.com/path",
        "a b",
        "evil.com:99999",
        "evil.com:x",
        "\"x\"",
        "",
    ] {
        assert_eq!(
            r.resolve(PEER, &headers(&[("host", bad)])),
            Err(OriginError::BadHost),
            "{bad}"
        );
    }
    assert_eq!(
        r.resolve(PEER, &HeaderMap::new()),
        Err(OriginError::BadHost)
    );
    let long = format!("{}.example", "a".repeat(300));
    assert_eq!(
        r.resolve(PEER, &headers(&[("host", &long)])),
        Err(OriginError::BadHost)
    );
}

#[test]
fn allowed_hosts_match_with_and_without_port() {
    let mut r = resolver(None, &[]);
    r.allowed_hosts = vec![
        HostPattern::parse("dash.example.com").unwrap(),
        HostPattern::parse("127.0.0.1:8080").unwrap(),
    ];
    let ok = |h: &str| r.resolve(PEER, &headers(&[("host", h)])).is_ok();
    assert!(ok("dash.example.com"));
    assert!(ok("DASH.example.com:8443"));
    assert!(ok("127.0.0.1:8080"));
    assert!(!ok("127.0.0.1:9119"));
    assert!(!ok("evil.com"));
    assert!(!ok("dash.example.com.evil.com"));
}

#[test]
fn ipv6_hosts_are_understood() {
    let r = resolver(None, &[]);
    let o = r
        .resolve(PEER, &headers(&[("host", "[::1]:8080")]))
        .unwrap();
    assert_eq!(o.host, "[::1]:8080");
    assert!(r
        .resolve(PEER, &headers(&[("host", "[nothex]:8080")]))
        .is_err());
}

#[test]
fn same_origin_compares_scheme_host_and_default_port() {
    let o = RequestOrigin {
        scheme: Scheme::Https,
        host: "dash.example.com".into(),
        prefix: Prefix::default(),
    };
    assert!(o.is_same_origin("https://dash.example.com"));
    assert!(o.is_same_origin("https://DASH.example.com:443"));
    assert!(!o.is_same_origin("http://dash.example.com"));
    assert!(!o.is_same_origin("https://dash.example.com:8443"));
    assert!(!o.is_same_origin("https://evil.com"));
    assert!(!o.is_same_origin("null"));
}

#[test]
fn client_ip_from_trusted_chain_skips_trusted_hops() {
    let r = resolver(None, &["127.0.0.1/32", "10.0.0.0/8"]);
    let h = headers(&[("x-forwarded-for", "198.51.100.7, 203.0.113.5, 10.1.2.3")]);
    assert_eq!(r.client_ip(PEER, &h), Some("203.0.113.5".parse().unwrap()));
    assert_eq!(r.client_ip(STRANGER, &h), STRANGER);
    let h = headers(&[("x-forwarded-for", "garbage")]);
    assert_eq!(r.client_ip(PEER, &h), PEER);
}

#[test]
fn client_ip_header_is_believed_only_from_trusted_proxies() {
    let mut r = resolver(None, &["127.0.0.1/32"]);
    r.client_ip_header = Some(http::HeaderName::from_static("fly-client-ip"));
    let h = headers(&[
        ("fly-client-ip", "198.51.100.7"),
        ("x-forwarded-for", "203.0.113.5"),
    ]);
    assert_eq!(r.client_ip(PEER, &h), Some("198.51.100.7".parse().unwrap()));
    assert_eq!(r.client_ip(STRANGER, &h), STRANGER);
    let h = headers(&[
        ("fly-client-ip", "not-an-ip"),
        ("x-forwarded-for", "203.0.113.5"),
    ]);
    assert_eq!(r.client_ip(PEER, &h), Some("203.0.113.5".parse().unwrap()));
}
