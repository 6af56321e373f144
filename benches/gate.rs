//! Per-request work of the gate, measured alone: reading the session cookie
//! (base64, XChaCha20-Poly1305, JSON), validating `next` and prefixes, and
//! resolving a request's public origin, the identity assertion (signed
//! afresh, and reused as the hot path does), routes, `[[public]]` and the
//! Cookie header's cleaning.
//!
//!   cargo bench --bench gate

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderMap;
use portcullis::provider::Identity;
use portcullis::public_url::{OriginResolver, Prefix, PublicUrl};
use portcullis::redirect::SafeNext;
use portcullis::secret::Secret;
use portcullis::session::codec::{Codec, Purpose};
use portcullis::session::Sessions;

fn sessions() -> Sessions {
    Sessions::new(
        Codec::new(
            Purpose::Session,
            &Secret::new("bench-secret-0123456789-0123456789-abcdef"),
            &[],
        ),
        Duration::from_secs(3600),
        "portcullis_session".into(),
    )
}

fn cookie_codec(c: &mut Criterion) {
    let s = sessions();
    let identity = Identity {
        user_id: "google-oauth2|117263548812345678901".into(),
        email: Some("someone.with.a.long.name@example.com".into()),
        email_verified: true,
        name: Some("Someone With A Long Name".into()),
        groups: vec![],
    };
    let (_, sealed) = s.issue(&identity, vec![], "google", 1_700_000_000);
    let header = format!("_ga=GA1.1.123; theme=dark; portcullis_session={sealed}; other=1");
    let origin = portcullis::public_url::RequestOrigin {
        scheme: portcullis::public_url::Scheme::Http,
        host: "127.0.0.1:8080".into(),
        prefix: Prefix::default(),
    };
    c.bench_function(
        "session cookie: read a valid cookie from a Cookie header",
        |b| b.iter(|| s.read(black_box(Some(header.as_bytes())), &origin, 1_700_000_100)),
    );
    c.bench_function("session cookie: reject a tampered cookie", |b| {
        let bad = header.replace(&sealed[10..14], "AAAA");
        b.iter(|| s.read(black_box(Some(bad.as_bytes())), &origin, 1_700_000_100))
    });
    c.bench_function("session cookie: issue", |b| {
        b.iter(|| s.issue(black_box(&identity), vec![], "google", 1_700_000_000))
    });
}

fn validators(c: &mut Criterion) {
    c.bench_function("next: accept a path with query", |b| {
        b.iter(|| SafeNext::parse(black_box("/sessions/42?tab=logs&filter=error")))
    });
    c.bench_function("next: reject protocol-relative", |b| {
        b.iter(|| SafeNext::parse(black_box("//evil.com/x")))
    });
    c.bench_function("prefix: parse /hermes/", |b| {
        b.iter(|| Prefix::parse(black_box("/hermes/")))
    });
    c.bench_function("public_url: parse", |b| {
        b.iter(|| PublicUrl::parse(black_box("https://dash.example.com/hermes")))
    });
    let resolver = OriginResolver {
        public_url: None,
        trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()],
        allowed_hosts: vec![],
        client_ip_header: None,
    };
    let mut headers = HeaderMap::new();
    headers.insert("host", "127.0.0.1:8080".parse().unwrap());
    headers.insert("x-forwarded-host", "dash.example.com".parse().unwrap());
    headers.insert("x-forwarded-proto", "https".parse().unwrap());
    headers.insert("x-forwarded-prefix", "/hermes".parse().unwrap());
    let peer = Some("127.0.0.1".parse().unwrap());
    c.bench_function("origin: resolve from trusted forwarded headers", |b| {
        b.iter(|| resolver.resolve(black_box(peer), black_box(&headers)))
    });
}

fn assertion(c: &mut Criterion) {
    let signer = portcullis::assertion::Signer::new(
        &Secret::new("bench-secret-0123456789-0123456789-abcdef"),
        &[],
    );
    let (claims, _) = sessions().issue(
        &Identity {
            user_id: "google-oauth2|117263548812345678901".into(),
            email: Some("someone.with.a.long.name@example.com".into()),
            email_verified: true,
            name: Some("Someone With A Long Name".into()),
            groups: vec![],
        },
        vec![],
        "google",
        1_700_000_000,
    );
    let mut now = 1_700_000_000;
    c.bench_function(
        "identity assertion: sign afresh (a new session, or every 4 min)",
        |b| {
            b.iter(|| {
                // A later time each round than the last one's lifetime: never reused.
                now += 1000;
                signer.assertion(
                    black_box(&claims),
                    "https://gate.example",
                    "http://127.0.0.1:9119",
                    now,
                )
            })
        },
    );
    c.bench_function("identity assertion: reuse (every other request)", |b| {
        b.iter(|| {
            signer.assertion(
                black_box(&claims),
                "https://gate.example",
                "http://127.0.0.1:9119",
                now,
            )
        })
    });
}

/// A config with `[upstream]` alone, or with `extra` routes besides.
fn route_table(extra: usize) -> portcullis::routing::RouteTable {
    let mut text = String::from(
        "[server]\nlisten = \"127.0.0.1:8080\"\n[upstream]\nurl = \"http://127.0.0.1:9119\"\n\
         [session]\nsecret = \"bench-secret-0123456789-0123456789-abcdef\"\n\
         [access]\nallowed_domains = [\"example.com\"]\n\
         [[providers]]\nid = \"idp\"\nkind = \"oidc\"\nissuer = \"https://idp.example.com\"\nclient_id = \"x\"\n",
    );
    for i in 0..extra {
        text.push_str(&format!(
            "[[routes]]\npath = \"/dashboard-{i}/\"\nupstream = \"http://127.0.0.1:{}\"\nallowed_emails = [\"someone{i}@example.com\"]\n",
            10_000 + i
        ));
    }
    let config = portcullis::config::Config::parse(&text, &|_| None).unwrap();
    portcullis::routing::RouteTable::new(&config.routes, &config.access).unwrap()
}

fn routes(c: &mut Criterion) {
    let person = portcullis::access::Person {
        email: Some("someone.with.a.long.name@example.com"),
        email_verified: true,
        groups: &[],
    };
    for (label, table) in [("1 route", route_table(0)), ("20 routes", route_table(19))] {
        // The catch-all is matched last: the whole table is scanned.
        c.bench_function(&format!("route: judge a plain path, {label}"), |b| {
            b.iter(|| table.judge(black_box("/api/sessions/42/messages"), &person))
        });
        c.bench_function(&format!("route: judge an escaped path, {label}"), |b| {
            b.iter(|| table.judge(black_box("/lab/tree/notes%20on%20q3.ipynb"), &person))
        });
    }
}

/// What every request asks of `[[public]]` and of the Cookie header it forwards.
fn request_checks(c: &mut Criterion) {
    let public = portcullis::public_routes::PublicRoutes::new(vec![
        portcullis::config::PublicRoute {
            path: "/static/".into(),
            prefix: true,
            methods: vec![http::Method::GET, http::Method::HEAD],
        },
        portcullis::config::PublicRoute {
            path: "/api/status".into(),
            prefix: false,
            methods: vec![http::Method::GET],
        },
    ]);
    c.bench_function("public: a path that is no public route's", |b| {
        b.iter(|| public.matches(&http::Method::GET, black_box("/api/sessions/42/messages")))
    });
    c.bench_function("public: a public path, read for tricks", |b| {
        b.iter(|| public.matches(&http::Method::GET, black_box("/static/app.3f9a.js")))
    });
    let mut headers = HeaderMap::new();
    let sealed = "A".repeat(240);
    headers.insert(
        http::header::COOKIE,
        format!("_ga=GA1.1.123; portcullis_session={sealed}; theme=dark")
            .parse()
            .unwrap(),
    );
    c.bench_function("cookie: strip portcullis's from a Cookie header", |b| {
        b.iter(|| {
            portcullis::session::cookie::strip(
                black_box(&headers),
                &["portcullis_session", "portcullis_pkce"],
            )
        })
    });
}

criterion_group!(
    benches,
    cookie_codec,
    validators,
    assertion,
    routes,
    request_checks
);
criterion_main!(benches);
