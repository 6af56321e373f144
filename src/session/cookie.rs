//! Cookie names and attributes, chosen from the request's public origin.
//!
//! | shape              | name              | attributes              |
//! |--------------------|-------------------|-------------------------|
//! | https, no prefix   | `__Host-<base>`   | Secure; Path=/          |
//! | https, prefix `/p` | `__Secure-<base>` | Secure; Path=/p         |
//! | plain http         | `<base>`          | Path=/ or the prefix    |
//!
//! Always HttpOnly and SameSite=Lax. Readers accept all three names, so a
//! deployment that changes shape keeps its sessions.

use std::time::Duration;

use cookie::{Cookie, SameSite};

use crate::public_url::{RequestOrigin, Scheme};

const HOST_PREFIX: &str = "__Host-";
const SECURE_PREFIX: &str = "__Secure-";

/// The cookie name for `base` on this origin.
pub fn cookie_name(base: &str, origin: &RequestOrigin) -> String {
    match (origin.scheme, origin.prefix.is_empty()) {
        (Scheme::Https, true) => format!("{HOST_PREFIX}{base}"),
        (Scheme::Https, false) => format!("{SECURE_PREFIX}{base}"),
        (Scheme::Http, _) => base.to_string(),
    }
}

/// A `Set-Cookie` value setting `base` to `value` for `max_age`.
pub fn set_cookie(base: &str, origin: &RequestOrigin, value: &str, max_age: Duration) -> String {
    build(
        base,
        origin,
        value,
        time::Duration::seconds(max_age.as_secs() as i64),
    )
}

/// A `Set-Cookie` value that deletes `base` on this origin.
pub fn clear_cookie(base: &str, origin: &RequestOrigin) -> String {
    build(base, origin, "", time::Duration::ZERO)
}

fn build(base: &str, origin: &RequestOrigin, value: &str, max_age: time::Duration) -> String {
    let path = if origin.prefix.is_empty() {
        "/"
    } else {
        origin.prefix.as_str()
    };
    Cookie::build((cookie_name(base, origin), value))
        .path(path)
        .secure(origin.scheme == Scheme::Https)
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(max_age)
        .build()
        .to_string()
}

/// Whether `name` is `base` under any of the three naming variants.
pub fn is_variant(name: &str, base: &str) -> bool {
    name.strip_prefix(HOST_PREFIX)
        .or_else(|| name.strip_prefix(SECURE_PREFIX))
        .unwrap_or(name)
        == base
}

/// Every `Cookie` header line of a request joined into one value (HTTP/2 and some
/// clients split cookies over several lines); `None` when there is none.
pub fn header(headers: &http::HeaderMap) -> Option<std::borrow::Cow<'_, str>> {
    let mut lines = headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok());
    let first = lines.next()?;
    match lines.next() {
        None => Some(std::borrow::Cow::Borrowed(first)),
        Some(second) => {
            let mut joined = format!("{first}; {second}");
            for more in lines {
                joined.push_str("; ");
                joined.push_str(more);
            }
            Some(std::borrow::Cow::Owned(joined))
        }
    }
}

/// `(name, value)` pairs of a `Cookie` header.
pub fn pairs(header: &str) -> impl Iterator<Item = (&str, &str)> {
    header.split(';').filter_map(|part| {
        let (name, value) = part.split_once('=')?;
        Some((name.trim(), value.trim().trim_matches('"')))
    })
}

/// The values of every variant of cookie `base` in a `Cookie` header.
pub fn values<'a>(header: &'a str, base: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    pairs(header).filter_map(move |(n, v)| is_variant(n, base).then_some(v))
}

/// The `Cookie` header without any variant of the `bases`; `None` when nothing is left.
pub fn strip(header: &str, bases: &[&str]) -> Option<String> {
    let kept: Vec<&str> = header
        .split(';')
        .map(str::trim)
        .filter(|part| {
            let name = part.split_once('=').map_or(*part, |(n, _)| n.trim());
            !part.is_empty() && !bases.iter().any(|b| is_variant(name, b))
        })
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::public_url::Prefix;

    fn origin(scheme: Scheme, prefix: &str) -> RequestOrigin {
        RequestOrigin {
            scheme,
            host: "dash.example.com".into(),
            prefix: Prefix::parse(prefix).unwrap(),
        }
    }

    #[test]
    fn cookie_is_host_prefixed_on_https_root() {
        let c = set_cookie(
            "s",
            &origin(Scheme::Https, ""),
            "v",
            Duration::from_secs(60),
        );
        assert!(c.starts_with("__Host-s=v"), "{c}");
        assert!(
            c.contains("Secure") && c.contains("Path=/;") || c.contains("Path=/"),
            "{c}"
        );
        assert!(!c.contains("Domain"), "{c}");
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Max-Age=60"));
    }

    #[test]
    fn cookie_is_secure_prefixed_under_a_prefix() {
        let c = set_cookie(
            "s",
            &origin(Scheme::Https, "/hermes"),
            "v",
            Duration::from_secs(60),
        );
        assert!(c.starts_with("__Secure-s=v"), "{c}");
        assert!(c.contains("Path=/hermes") && c.contains("Secure"), "{c}");
    }

    #[test]
    fn cookie_is_bare_on_plain_http() {
        let c = set_cookie("s", &origin(Scheme::Http, ""), "v", Duration::from_secs(60));
        assert!(c.starts_with("s=v"), "{c}");
        assert!(!c.contains("Secure"), "{c}");
        let c = set_cookie(
            "s",
            &origin(Scheme::Http, "/p"),
            "v",
            Duration::from_secs(60),
        );
        assert!(c.contains("Path=/p"), "{c}");
    }

    #[test]
    fn clearing_expires_at_once() {
        let c = clear_cookie("s", &origin(Scheme::Https, ""));
        assert!(
            c.starts_with("__Host-s=;") && c.contains("Max-Age=0"),
            "{c}"
        );
    }

    #[test]
    fn reader_accepts_every_variant() {
        let h = "a=1; __Host-s=x; __Secure-s=y; s=z; other_s=no";
        assert_eq!(values(h, "s").collect::<Vec<_>>(), ["x", "y", "z"]);
    }

    #[test]
    fn header_joins_every_cookie_line() {
        let mut h = http::HeaderMap::new();
        assert!(header(&h).is_none());
        h.append("cookie", "a=1".parse().unwrap());
        assert_eq!(header(&h).as_deref(), Some("a=1"));
        h.append("cookie", "s=2".parse().unwrap());
        assert_eq!(header(&h).as_deref(), Some("a=1; s=2"));
    }

    #[test]
    fn strip_removes_only_our_cookies() {
        let h = "a=1; __Host-s=x; s_pkce=p; s=z; b=2";
        assert_eq!(strip(h, &["s", "s_pkce"]).as_deref(), Some("a=1; b=2"));
        assert_eq!(strip("s=1; __Secure-s=2", &["s"]), None);
        assert_eq!(strip("ss=1", &["s"]).as_deref(), Some("ss=1"));
    }
}
