//! `SafeNext`: the only way a `next` value becomes part of a `Location` header.
//!
//! A `next` is a same-origin path below the effective prefix. Anything that could
//! leave the origin (`//host`, `/\host`, a scheme), confuse a parser (control
//! characters, backslashes, dot segments, non-ASCII) or loop back into the login
//! machinery (`/login`, `/auth/…`, except the device pairing pages a person signs
//! in to reach) is replaced by `/`.
//!
//! The path is judged as a browser resolves it: a browser treats `%2e` (any case,
//! alone or beside a literal `.`) as a dot segment, so `/hermes/%2e%2e/other-app`
//! leaves the prefix and `/.%2e/auth/login` lands on portcullis's own paths. Such
//! segments are refused, and so are encoded slashes and backslashes (`%2f`,
//! `%5c`), which servers disagree about.

/// Longest `next` accepted; longer values become `/`.
pub const MAX_NEXT_LEN: usize = 2048;

/// A validated `next` path: starts with a single `/`, printable ASCII only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeNext(String);

impl SafeNext {
    /// Validates `raw`; any value that breaks a rule becomes `/`.
    pub fn parse(raw: &str) -> Self {
        if is_safe(raw) {
            Self(raw.to_string())
        } else {
            Self::root()
        }
    }

    /// Validates an optional value; absent becomes `/`.
    pub fn parse_opt(raw: Option<&str>) -> Self {
        raw.map_or_else(Self::root, Self::parse)
    }

    /// The dashboard's root, `/`.
    pub fn root() -> Self {
        Self("/".to_string())
    }

    /// The path (with query), always starting with a single `/`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_safe(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    if raw.is_empty() || raw.len() > MAX_NEXT_LEN || bytes[0] != b'/' {
        return false;
    }
    if matches!(bytes.get(1), Some(b'/') | Some(b'\\')) {
        return false;
    }
    // Printable ASCII only, and none of the characters a URL never holds raw.
    if !bytes
        .iter()
        .all(|&b| (0x21..0x7f).contains(&b) && !b"\\\"<>`{}|^".contains(&b))
    {
        return false;
    }
    let path = raw.split(['?', '#']).next().unwrap_or(raw);
    let lower = path.to_ascii_lowercase();
    if lower.contains("%2f") || lower.contains("%5c") {
        return false;
    }
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    if decoded
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return false;
    }
    // The pages a person is sent to sign in for: device pairing's approval and
    // the list of paired devices. Nothing else under `/auth/`.
    if path == PAIRING_PAGE || path == DEVICES_PAGE || path == SESSIONS_PAGE {
        return true;
    }
    !(decoded == "/login" || decoded == "/auth" || decoded.starts_with("/auth/"))
}

/// Device pairing's approval page, where `verification_uri` points.
pub const PAIRING_PAGE: &str = "/auth/device";
/// The signed-in person's paired devices.
pub const DEVICES_PAGE: &str = "/auth/devices";
/// The person's sessions page.
pub const SESSIONS_PAGE: &str = "/auth/sessions";

#[cfg(test)]
mod tests {
    use super::*;

    fn safe(raw: &str) -> bool {
        SafeNext::parse(raw).as_str() == raw
    }

    #[test]
    fn next_accepts_plain_paths_with_query() {
        assert!(safe("/"));
        assert!(safe("/sessions"));
        assert!(safe("/some/page?tab=2&x=%2F"));
        assert!(safe("/login-help"));
        assert!(safe("/authors"));
    }

    #[test]
    fn next_rejects_protocol_relative() {
        assert!(!safe("//evil.com"));
        assert!(!safe("//evil.com/path"));
    }

    #[test]
    fn next_rejects_backslash_tricks() {
        assert!(!safe("/\\evil.com"));
        assert!(!safe("/ok\\..\\x"));
    }

    #[test]
    fn next_rejects_absolute_urls_and_schemes() {
        assert!(!safe("https://evil.com"));
        assert!(!safe("javascript:alert(1)"));
        assert!(!safe("http:/evil.com"));
        assert!(!safe("evil.com"));
        assert!(!safe(""));
    }

    #[test]
    fn next_rejects_control_characters_and_whitespace() {
        assert!(!safe("/a\r\nSet-Cookie: x=y"));
        assert!(!safe("/a\tb"));
        assert!(!safe("/a b"));
        assert!(!safe("/\u{0}"));
        assert!(!safe("/caf\u{e9}"));
    }

    #[test]
    fn next_rejects_login_and_auth_paths() {
        assert!(!safe("/login"));
        assert!(!safe("/login?next=/x"));
        assert!(!safe("/auth/callback"));
        assert!(!safe("/auth/callback?code=x&state=y"));
        assert!(!safe("/auth"));
        assert!(!safe("/auth/logout"));
        assert!(!safe("/auth/device/token"));
        assert!(!safe("/auth/devices/x"));
        assert!(!safe("/auth/%64evice"), "only the literal page");
    }

    #[test]
    fn next_may_be_a_device_pairing_page() {
        assert!(safe("/auth/device"));
        assert!(safe("/auth/device?user_code=BCDF-GHJK"));
        assert!(safe("/auth/devices"));
    }

    #[test]
    fn next_rejects_dot_segments() {
        assert!(!safe("/./auth/callback"));
        assert!(!safe("/a/../auth/login"));
        assert!(!safe("/.."));
    }

    #[test]
    fn next_rejects_percent_encoded_dot_segments_in_any_case_and_mix() {
        for raw in [
            "/%2e%2e/other-app/admin",
            "/hermes/%2E%2E/x",
            "/.%2e/auth/login?provider=dev",
            "/%2E./x",
            "/%2e/x",
            "/a/%2e",
            "/a/.%2E?x=1",
        ] {
            assert!(!safe(raw), "{raw}");
        }
    }

    #[test]
    fn next_rejects_encoded_slashes_and_backslashes() {
        for raw in ["/a%2f..%2fb", "/%2F%2Fevil.com", "/a%5c..", "/%5Cevil.com"] {
            assert!(!safe(raw), "{raw}");
        }
    }

    #[test]
    fn next_rejects_encoded_login_and_auth_paths() {
        assert!(!safe("/%61uth/logout"));
        assert!(!safe("/log%69n"));
    }

    #[test]
    fn next_keeps_encoded_characters_that_are_not_dots_or_slashes() {
        assert!(safe("/files/a%20b.txt"));
        assert!(
            safe("/x/%2e%2ex"),
            "a segment that is more than dots is a name"
        );
        assert!(
            safe("/search?q=%2e%2e%2f"),
            "the query is not resolved as a path"
        );
    }

    #[test]
    fn next_rejects_overlong_values() {
        let long = format!("/{}", "a".repeat(MAX_NEXT_LEN));
        assert!(!safe(&long));
    }

    #[test]
    fn rejected_values_become_root() {
        assert_eq!(SafeNext::parse("//evil.com").as_str(), "/");
        assert_eq!(SafeNext::parse_opt(None).as_str(), "/");
    }
}
