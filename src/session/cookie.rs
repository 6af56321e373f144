//! Cookie names and attributes, chosen from the request's public origin.
//!
//! | shape              | name              | attributes              |
//! |--------------------|-------------------|-------------------------|
//! | https, no prefix   | `__Host-<base>`   | Secure; Path=/          |
//! | https, prefix `/p` | `__Secure-<base>` | Secure; Path=/p         |
//! | plain http         | `<base>`          | Path=/ or the prefix    |
//!
//! Always HttpOnly and SameSite=Lax. A reader accepts only the name the request's
//! shape writes: on https the plain name is never read (a cookie set over plain
//! http, or by a sibling host, must not stand in for the session: cookie tossing),
//! and at the https root only `__Host-`. A deployment that changes shape asks
//! people to sign in again.
//!
//! The `Cookie` header is read as bytes: a neighbouring cookie that is not ASCII
//! (`pref=José`) neither hides the session nor keeps portcullis's own cookies from
//! being removed before the upstream sees the header.

use std::borrow::Cow;
use std::time::Duration;

use cookie::{Cookie, SameSite};
use http::HeaderValue;

use crate::public_url::{RequestOrigin, Scheme};

const HOST_PREFIX: &str = "__Host-";
const SECURE_PREFIX: &str = "__Secure-";

/// The cookie name for `base` on this origin.
pub fn cookie_name(base: &str, origin: &RequestOrigin) -> String {
    CookieNames::new(base).for_origin(origin).to_string()
}

/// The three names of one cookie, made once so the per-request read allocates
/// nothing.
#[derive(Debug, Clone)]
pub struct CookieNames {
    host: String,
    secure: String,
    plain: String,
}

impl CookieNames {
    pub fn new(base: &str) -> Self {
        Self {
            host: format!("{HOST_PREFIX}{base}"),
            secure: format!("{SECURE_PREFIX}{base}"),
            plain: base.to_string(),
        }
    }

    /// The one name this origin writes, and so the only one read from it.
    pub fn for_origin(&self, origin: &RequestOrigin) -> &str {
        match (origin.scheme, origin.prefix.is_empty()) {
            (Scheme::Https, true) => &self.host,
            (Scheme::Https, false) => &self.secure,
            (Scheme::Http, _) => &self.plain,
        }
    }

    /// The base name, without `__Host-`/`__Secure-`.
    pub fn base(&self) -> &str {
        &self.plain
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

/// Whether `name` is `base` under any of the three naming variants: all of them
/// are portcullis's own, and none ever reaches the upstream.
pub fn is_variant(name: &[u8], base: &str) -> bool {
    let unprefixed = name
        .strip_prefix(HOST_PREFIX.as_bytes())
        .or_else(|| name.strip_prefix(SECURE_PREFIX.as_bytes()))
        .unwrap_or(name);
    unprefixed == base.as_bytes()
}

/// Every `Cookie` header line of a request, as bytes, joined into one value
/// (HTTP/2 and some clients split cookies over several lines); `None` when there
/// is none.
pub fn header(headers: &http::HeaderMap) -> Option<Cow<'_, [u8]>> {
    let mut lines = headers
        .get_all(http::header::COOKIE)
        .iter()
        .map(HeaderValue::as_bytes);
    let first = lines.next()?;
    match lines.next() {
        None => Some(Cow::Borrowed(first)),
        Some(second) => {
            let mut joined = Vec::with_capacity(first.len() + second.len() + 2);
            joined.extend_from_slice(first);
            for more in std::iter::once(second).chain(lines) {
                joined.extend_from_slice(b"; ");
                joined.extend_from_slice(more);
            }
            Some(Cow::Owned(joined))
        }
    }
}

/// The `;`-separated parts of a `Cookie` header, trimmed, empty ones left out.
/// The separators are found with `memchr` (SIMD): a sealed session cookie is a
/// few hundred bytes, read on every request.
fn parts(header: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    memchr::memchr_iter(b';', header)
        .chain(std::iter::once(header.len()))
        .map(move |end| {
            let part = &header[start..end];
            start = end + 1;
            part.trim_ascii()
        })
        .filter(|part| !part.is_empty())
}

/// A part's name: what comes before its `=`, trimmed.
fn name_of(part: &[u8]) -> &[u8] {
    memchr::memchr(b'=', part)
        .map_or(part, |eq| &part[..eq])
        .trim_ascii()
}

/// `(name, value)` pairs of a `Cookie` header, whatever bytes they hold.
pub fn pairs(header: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    parts(header).filter_map(|part| {
        let eq = memchr::memchr(b'=', part)?;
        let (name, value) = (&part[..eq], &part[eq + 1..]);
        Some((name.trim_ascii(), value.trim_ascii()))
    })
}

/// The values of the cookie named exactly `name` (sealed values are ASCII; any
/// other value cannot be ours and is skipped).
pub fn values<'a>(header: &'a [u8], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    raw_values(header, name).filter_map(|v| std::str::from_utf8(v).ok())
}

/// [`values`] as the bytes received, for a reader that checks them itself
/// (the opened-cookie cache compares them byte for byte).
pub fn raw_values<'a>(header: &'a [u8], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    pairs(header).filter_map(move |(n, v)| {
        if n != name.as_bytes() {
            return None;
        }
        Some(
            v.strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(v),
        )
    })
}

/// The request's `Cookie` header without any variant of the `bases`: `None` when
/// it holds none of them (leave the header as it is), `Some(None)` when nothing
/// is left. The other cookies pass on byte for byte.
pub fn strip(headers: &http::HeaderMap, bases: &[&str]) -> Option<Option<HeaderValue>> {
    let header = header(headers)?;
    // One pass: the kept parts are gathered as the header is read, and thrown
    // away when none of ours was among them.
    let mut kept: Vec<u8> = Vec::new();
    let mut found = false;
    for part in parts(&header) {
        let name = name_of(part);
        if bases.iter().any(|b| is_variant(name, b)) {
            found = true;
            continue;
        }
        if kept.is_empty() {
            kept.reserve(header.len());
        } else {
            kept.extend_from_slice(b"; ");
        }
        kept.extend_from_slice(part);
    }
    if !found {
        return None;
    }
    if kept.is_empty() {
        return Some(None);
    }
    // Every byte came from a valid header value, and `; ` is valid too.
    Some(HeaderValue::from_bytes(&kept).ok())
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
    fn reader_takes_only_the_name_the_shape_writes() {
        let names = CookieNames::new("s");
        let h = b"s=plain; __Secure-s=secure; __Host-s=host; other_s=no";
        let read = |scheme, prefix| {
            values(h, names.for_origin(&origin(scheme, prefix))).collect::<Vec<_>>()
        };
        assert_eq!(read(Scheme::Https, ""), ["host"]);
        assert_eq!(read(Scheme::Https, "/hermes"), ["secure"]);
        assert_eq!(read(Scheme::Http, ""), ["plain"]);
        assert_eq!(read(Scheme::Http, "/p"), ["plain"]);
    }

    #[test]
    fn reader_finds_the_session_beside_non_ascii_neighbours() {
        let h = "pref=Jos\u{e9}; s=v; x=\u{1F600}".as_bytes();
        assert_eq!(values(h, "s").collect::<Vec<_>>(), ["v"]);
        let latin1 = b"pref=Jos\xe9; s=v";
        assert_eq!(values(latin1, "s").collect::<Vec<_>>(), ["v"]);
    }

    #[test]
    fn header_joins_every_cookie_line() {
        let mut h = http::HeaderMap::new();
        assert!(header(&h).is_none());
        h.append("cookie", "a=1".parse().unwrap());
        assert_eq!(header(&h).as_deref(), Some(&b"a=1"[..]));
        h.append("cookie", HeaderValue::from_bytes(b"p=Jos\xe9").unwrap());
        h.append("cookie", "s=2".parse().unwrap());
        assert_eq!(header(&h).as_deref(), Some(&b"a=1; p=Jos\xe9; s=2"[..]));
    }

    fn cookies(lines: &[&[u8]]) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        for line in lines {
            h.append("cookie", HeaderValue::from_bytes(line).unwrap());
        }
        h
    }

    #[test]
    fn strip_removes_only_our_cookies() {
        let h = cookies(&[b"a=1; __Host-s=x; s_pkce=p; s=z; b=2"]);
        assert_eq!(
            strip(&h, &["s", "s_pkce"]),
            Some(Some(HeaderValue::from_static("a=1; b=2")))
        );
        assert_eq!(strip(&cookies(&[b"s=1; __Secure-s=2"]), &["s"]), Some(None));
        assert_eq!(strip(&cookies(&[b"ss=1"]), &["s"]), None);
        assert_eq!(strip(&http::HeaderMap::new(), &["s"]), None);
    }

    #[test]
    fn strip_removes_our_cookies_beside_non_ascii_neighbours_byte_for_byte() {
        let h = cookies(&[b"pref=Jos\xc3\xa9; __Host-s=secret", b"s=tossed; z=\xff"]);
        let kept = strip(&h, &["s"]).unwrap().unwrap();
        assert_eq!(kept.as_bytes(), b"pref=Jos\xc3\xa9; z=\xff");
    }
}
