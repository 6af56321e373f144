//! How a request path may be read: portcullis's own paths, the paths a server
//! could read as another path, and the reading an upstream that normalises
//! would make of one.
//!
//! A path is forwarded as received. Where that matters for a decision (a
//! `[[public]]` route, which `[[routes]]` rule judges a request), a path that a
//! server could read otherwise is never given the benefit of the doubt: it is
//! not public, and it is judged by every route any reading of it reaches.

/// Whether `path` is one of portcullis's own endpoints (never public, never a
/// route of its own).
pub fn is_own_path(path: &str) -> bool {
    path == "/login"
        || path.starts_with("/login/")
        || path == "/auth"
        || path.starts_with("/auth/")
        || path.starts_with("/api/auth/")
        || path == "/api/auth"
}

/// Whether a server could read `path` as another path: a dot segment, `//`, a
/// backslash, `;`, an encoded slash, backslash, dot, `;`, NUL or `%` (double
/// encoding), a malformed escape, or any byte outside printable ASCII (overlong
/// UTF-8 and fullwidth dots reach servers that decode or normalise them).
pub fn is_ambiguous(path: &str) -> bool {
    let bytes = path.as_bytes();
    if path.contains("//")
        || path
            .split('/')
            .any(|segment| segment == "." || segment == "..")
    {
        return true;
    }
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' | b';' => return true,
            b'%' => {
                let escaped = match bytes.get(i + 1..i + 3) {
                    Some(&[hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                        [hi.to_ascii_lowercase(), lo.to_ascii_lowercase()]
                    }
                    _ => return true,
                };
                match &escaped {
                    b"2e" | b"2f" | b"5c" | b"3b" | b"00" | b"25" => return true,
                    // An escaped byte outside printable ASCII.
                    [hi, _] if !(b'2'..=b'7').contains(hi) || escaped == *b"7f" => return true,
                    _ => i += 2,
                }
            }
            0x21..=0x7e => {}
            _ => return true,
        }
        i += 1;
    }
    false
}

/// Whether `path` holds something no server reads the same way twice: a
/// malformed escape, an escaped NUL or control byte.
pub fn is_malformed(path: &str) -> bool {
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => match bytes.get(i + 1..i + 3) {
                Some(&[hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
                    if hex(hi) < 2 {
                        return true;
                    }
                    i += 3;
                    continue;
                }
                _ => return true,
            },
            b if b < 0x20 || b == 0x7f => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// The bytes `path`'s well-formed `%XY` escapes stand for.
pub fn escapes(path: &str) -> impl Iterator<Item = u8> + '_ {
    let bytes = path.as_bytes();
    memchr::memchr_iter(b'%', bytes).filter_map(move |i| match bytes.get(i + 1..i + 3) {
        Some(&[hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => {
            Some(hex(hi) << 4 | hex(lo))
        }
        _ => None,
    })
}

/// How many times an escape is undone: `%25` three deep covers every server
/// that decodes twice, and a path escaped deeper than that is decoded no
/// further by anyone.
const DECODE_ROUNDS: usize = 4;

/// The path an upstream that normalises would serve for `path`: escapes undone
/// (several times over, for servers that decode twice), `\` read as `/`, path
/// parameters (`;…`) dropped, empty and `.` segments removed and `..` resolved,
/// never above the root. Overlong UTF-8 and fullwidth dots are read as the
/// `.` and `/` some servers take them for. A trailing `/` is kept.
pub fn normalised(path: &str) -> String {
    let mut bytes = path.as_bytes().to_vec();
    for _ in 0..DECODE_ROUNDS {
        if !bytes.contains(&b'%') {
            break;
        }
        let decoded: Vec<u8> = percent_encoding::percent_decode(&bytes).collect();
        if decoded == bytes {
            break;
        }
        bytes = decoded;
    }
    let text = String::from_utf8_lossy(&bytes)
        .replace("\u{ff0e}", ".")
        .replace("\u{ff0f}", "/")
        .replace('\\', "/");
    let text = text.replace("\u{fffd}\u{fffd}", ".");
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing = false;
    for raw in text.split('/') {
        let segment = raw.split(';').next().unwrap_or("");
        trailing = matches!(segment, "" | "." | "..");
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if trailing || out.is_empty() {
        out.push('/');
    }
    out
}

fn hex(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        b'A'..=b'F' => b - b'A' + 10,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalising_reads_what_servers_read() {
        for (raw, read) in [
            ("/lab/tree", "/lab/tree"),
            ("/x/../admin/", "/admin/"),
            ("/x/..", "/"),
            ("/../../admin", "/admin"),
            ("/%2e%2e/admin", "/admin"),
            ("/x/%2E%2E/admin/", "/admin/"),
            ("/x/..%2fadmin", "/admin"),
            ("/x%2f..%2fadmin", "/admin"),
            ("/x/..%5cadmin", "/admin"),
            ("/x\\..\\admin", "/admin"),
            ("//admin", "/admin"),
            ("/./admin", "/admin"),
            ("/x/..;/admin", "/admin"),
            ("/admin;x/", "/admin/"),
            ("/x/%252e%252e/admin", "/admin"),
            ("/x/%25252e%25252e/admin", "/admin"),
            ("/x/\u{ff0e}\u{ff0e}/admin", "/admin"),
            ("/x/%c0%ae%c0%ae/admin", "/admin"),
            ("/a%20b", "/a b"),
            ("/", "/"),
        ] {
            assert_eq!(normalised(raw), read, "{raw}");
        }
    }

    #[test]
    fn escapes_are_read_as_their_bytes() {
        assert_eq!(escapes("/a%20b%2F%zz%4").collect::<Vec<_>>(), [b' ', b'/']);
        assert_eq!(escapes("/plain").count(), 0);
    }

    #[test]
    fn malformed_paths_are_told() {
        for bad in ["/x/%", "/x/%zz", "/x/%00", "/x/%0a", "/x/%1F", "/x/%2"] {
            assert!(is_malformed(bad), "{bad}");
        }
        for fine in ["/x/%20", "/x/%2e", "/x/%7E", "/lab/tree/a-b_c"] {
            assert!(!is_malformed(fine), "{fine}");
        }
    }
}
