use super::*;
use crate::config::RouteAccess;

fn table(entries: &[(&str, &[&str])]) -> RouteTable {
    let routes: Vec<RouteConfig> = entries
        .iter()
        .map(|(path, emails)| RouteConfig {
            path: path.to_string(),
            upstream: UpstreamConfig {
                url: url::Url::parse("http://127.0.0.1:9119").unwrap(),
                address: "127.0.0.1:9119".into(),
                authority: "127.0.0.1:9119".into(),
                origin: "http://127.0.0.1:9119".into(),
                authority_header: http::HeaderValue::from_static("127.0.0.1:9119"),
                origin_header: http::HeaderValue::from_static("http://127.0.0.1:9119"),
                base_path: String::new(),
                preserve_host: false,
                identity_assertion: false,
            },
            access: if emails.is_empty() {
                RouteAccess::Inherit
            } else {
                RouteAccess::Own(AccessConfig {
                    allowed_emails: emails.iter().map(|e| e.to_string()).collect(),
                    ..AccessConfig::default()
                })
            },
        })
        .collect();
    RouteTable::new(&routes, &AccessConfig::default()).unwrap()
}

fn person(email: &str) -> Person<'_> {
    Person {
        email: Some(email),
        email_verified: true,
        groups: &[],
    }
}

fn path_of(t: &RouteTable, r: Result<usize, Refusal>) -> Result<&str, Refusal> {
    r.map(|i| t.get(i).path.as_str())
}

#[test]
fn the_longest_prefix_wins_at_a_segment_boundary() {
    let t = table(&[("/", &[]), ("/hermes/", &[]), ("/hermes/admin/", &[])]);
    let any = person("a@example.com");
    for (path, route) in [
        ("/", "/"),
        ("/other", "/"),
        ("/hermes", "/hermes/"),
        ("/hermes/", "/hermes/"),
        ("/hermes/api/x", "/hermes/"),
        ("/hermesx", "/"),
        ("/hermes/admin", "/hermes/admin/"),
        ("/hermes/admin/users", "/hermes/admin/"),
        ("/hermes/administer", "/hermes/"),
    ] {
        assert_eq!(path_of(&t, t.judge(path, &any)), Ok(route), "{path}");
    }
    let only = table(&[("/jupyter/", &[])]);
    assert_eq!(only.judge("/", &any), Err(Refusal::NoRoute));
    assert_eq!(only.judge("/jup", &any), Err(Refusal::NoRoute));
    assert!(!only.has_root());
    assert!(t.has_root());
}

#[test]
fn the_route_below_a_prefix_sees_its_own_path() {
    let t = table(&[("/", &[]), ("/hermes/", &[])]);
    let hermes = t.get(t.lookup("/hermes/x").unwrap());
    assert_eq!(hermes.below("/hermes/api/x"), "/api/x");
    assert_eq!(hermes.below("/hermes/"), "/");
    assert_eq!(hermes.below("/hermes"), "/");
    assert_eq!(hermes.forwarded_prefix(), "/hermes");
    let root = t.get(t.lookup("/x").unwrap());
    assert_eq!(root.below("/x/y"), "/x/y");
    assert_eq!(root.forwarded_prefix(), "");
}

#[test]
fn each_route_judges_by_its_own_rule() {
    let t = table(&[("/", &[]), ("/admin/", &["root@example.com"])]);
    let alice = person("alice@example.com");
    let root = person("root@example.com");
    assert_eq!(path_of(&t, t.judge("/lab", &alice)), Ok("/"));
    assert!(matches!(
        t.judge("/admin/users", &alice),
        Err(Refusal::Denied {
            denial: Denial::NotAllowed,
            ..
        })
    ));
    assert_eq!(path_of(&t, t.judge("/admin/users", &root)), Ok("/admin/"));
    assert!(t.admits_anywhere(&alice).is_ok());
    let strict = table(&[("/admin/", &["root@example.com"])]);
    assert_eq!(strict.admits_anywhere(&alice), Err(Denial::NotAllowed));
    assert_eq!(strict.open_to(&alice).len(), 0);
    assert_eq!(strict.open_to(&root).len(), 1);
}

/// Every way of writing `/admin/` that an upstream may resolve to it,
/// through the lenient route `/`: each is judged by `/admin/`'s rule.
#[test]
fn path_tricks_are_judged_by_the_strictest_route_they_could_reach() {
    let t = table(&[("/", &[]), ("/admin/", &["root@example.com"])]);
    let alice = person("alice@example.com");
    for trick in [
        "/x/../admin/",
        "/x/../admin",
        "/./admin/",
        "//admin/",
        "/%2e%2e/admin/",
        "/x/%2E%2E/admin/",
        "/x/..%2fadmin/",
        "/x%2f..%2fadmin",
        "/%61dmin/",
        "/%2561dmin/",
        "/x/%252e%252e/admin/",
        "/x/..\\admin/",
        "/x/..%5cadmin/",
        "/x/..;/admin/",
        "/admin;x/users",
        "/ADMIN/",
        "/Admin/users",
        "/x/../ADMIN/",
        "/x/%c0%ae%c0%ae/admin/",
        "/x/\u{ff0e}\u{ff0e}/admin/",
    ] {
        assert!(
            matches!(t.judge(trick, &alice), Err(Refusal::Denied { .. })),
            "{trick} reached /admin/ under the lenient rule"
        );
    }
    for malformed in ["/x/%zz/../admin/", "/x/%", "/x/%00/admin/"] {
        assert_eq!(
            t.judge(malformed, &alice),
            Err(Refusal::Ambiguous),
            "{malformed}"
        );
    }
    let root = person("root@example.com");
    assert_eq!(
        path_of(&t, t.judge("/x/../admin/", &root)),
        Ok("/"),
        "forwarded as received"
    );
    for fine in [
        "/lab/tree/a%20b.ipynb",
        "/api/contents/x.ipynb",
        "/administer",
    ] {
        assert_eq!(path_of(&t, t.judge(fine, &alice)), Ok("/"), "{fine}");
    }
}
