//! Property tests: no input makes a parser or validator panic, and each one's
//! promise holds for every value it accepts.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};
use portcullis::config::Config;
use portcullis::public_url::{OriginResolver, Prefix, PublicUrl};
use portcullis::redirect::SafeNext;
use portcullis::secret::Secret;
use portcullis::session::codec::{Codec, Purpose};
use portcullis::session::{SessionClaims, SessionRead, Sessions};
use portcullis::store::memory::MemoryStore;
use portcullis::tickets::{Rejection, Tickets};
use proptest::prelude::*;

/// Strings biased towards the characters that matter to URL and header parsers.
fn tricky() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[/\\\\:.%?#@a-zA-Z0-9\\r\\n\\t \"'<>-]{0,40}",
        "(/|//|/\\\\|https?://|javascript:)[a-z./\\\\%0-9]{0,20}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_next_that_passes_is_a_same_origin_path_outside_auth(raw in tricky()) {
        let next = SafeNext::parse(&raw);
        let s = next.as_str();
        prop_assert!(s.starts_with('/'));
        prop_assert!(!s.starts_with("//") && !s.starts_with("/\\"));
        prop_assert!(s.bytes().all(|b| (0x21..0x7f).contains(&b)));
        let path = s.split(['?', '#']).next().unwrap();
        prop_assert!(path != "/login" && path != "/auth" && !path.starts_with("/auth/"));
        // A browser resolving it against the dashboard stays on the dashboard.
        let base = url::Url::parse("https://dash.example.com/hermes/").unwrap();
        let landed = base.join(&format!("/hermes{s}")).unwrap();
        prop_assert_eq!(landed.host_str(), Some("dash.example.com"));
        prop_assert_eq!(landed.scheme(), "https");
    }

    #[test]
    fn a_prefix_that_passes_is_safe_segments(raw in tricky()) {
        if let Some(p) = Prefix::parse(&raw) {
            let s = p.as_str();
            prop_assert!(s.is_empty() || (s.starts_with('/') && !s.ends_with('/')));
            prop_assert!(!s.contains("//") && !s.split('/').any(|seg| seg == ".." || seg == "."));
            prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b)));
        }
    }

    #[test]
    fn a_public_url_that_passes_is_http_with_a_host(raw in tricky()) {
        if let Ok(u) = PublicUrl::parse(&raw) {
            prop_assert!(!u.host.is_empty());
            prop_assert!(u.origin().starts_with("http://") || u.origin().starts_with("https://"));
        }
    }

    #[test]
    fn config_parsing_never_panics(text in any::<String>(), key in "[a-z_]{1,12}", value in tricky()) {
        let _ = Config::parse(&text, &|_| None);
        let _ = Config::parse(&format!("[server]\n{key} = {value:?}\n"), &|_| Some(value.clone()));
    }

    #[test]
    fn cookie_decoding_never_panics_and_never_accepts_garbage(raw in any::<String>(), bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let sessions = Sessions::new(
            Codec::new(Purpose::Session, &Secret::new("p".repeat(40)), &[]),
            Duration::from_secs(60),
            "s".into(),
        );
        let encoded = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &bytes);
        let plain_http = portcullis::public_url::RequestOrigin {
            scheme: portcullis::public_url::Scheme::Http,
            host: "127.0.0.1".into(),
            prefix: portcullis::public_url::Prefix::default(),
        };
        for value in [raw.as_str(), encoded.as_str()] {
            let read = sessions.read(Some(format!("s={value}").as_bytes()), &plain_http, 0);
            prop_assert!(!matches!(read, SessionRead::Valid(_)));
        }
    }

    #[test]
    fn sealed_claims_round_trip(sub in any::<String>(), email in proptest::option::of(any::<String>()), exp in 1i64..i64::MAX) {
        let codec = Codec::new(Purpose::Session, &Secret::new("q".repeat(40)), &[]);
        let claims = SessionClaims {
            sid: "sid".into(), sub, email, email_verified: true, name: None,
            provider: "p".into(), groups: vec!["g".into()], auth_time: 0, iat: 0, exp,
        };
        prop_assert_eq!(codec.open::<SessionClaims>(&codec.seal(&claims)), Some(claims));
    }

    #[test]
    fn origin_resolution_never_panics(
        host in proptest::collection::vec(any::<u8>(), 0..80),
        fwd in proptest::collection::vec(any::<u8>(), 0..80),
        prefix in proptest::collection::vec(any::<u8>(), 0..80),
    ) {
        let resolver = OriginResolver {
            trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
            ..OriginResolver::default()
        };
        let mut headers = HeaderMap::new();
        for (name, value) in [("host", host), ("x-forwarded-host", fwd.clone()), ("x-forwarded-prefix", prefix), ("x-forwarded-for", fwd)] {
            if let Ok(v) = HeaderValue::from_bytes(&value) {
                headers.insert(HeaderName::from_static(name), v);
            }
        }
        let peer = Some("127.0.0.1".parse().unwrap());
        if let Ok(origin) = resolver.resolve(peer, &headers) {
            prop_assert!(origin.origin().starts_with("http"));
            prop_assert!(!origin.host.is_empty());
            prop_assert!(origin.host.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)));
        }
        let _ = resolver.client_ip(peer, &headers);
    }

    #[test]
    fn arbitrary_tickets_are_refused_without_panic(raw in any::<String>()) {
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let tickets = Tickets::new(Arc::new(MemoryStore::new()), Duration::from_secs(30));
        let result = rt.block_on(tickets.redeem(&raw, 0));
        prop_assert!(matches!(result, Err(Rejection::Malformed) | Err(Rejection::UnknownOrUsed)));
    }
}
