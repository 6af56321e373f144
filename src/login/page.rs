//! Server-rendered HTML: the login page and the error pages. No JavaScript, no
//! external resources; every interpolated value is escaped.

use std::fmt::Write;

/// One provider button on the login page.
pub struct ProviderButton<'a> {
    pub display_name: &'a str,
    pub href: String,
    /// `false`: the provider's discovery has not succeeded yet (the link stays,
    /// since following it retries).
    pub available: bool,
}

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;\
font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#0f172a;color:#e2e8f0}\
main{background:#1e293b;padding:2.5rem 2.75rem;border-radius:14px;width:min(24rem,90vw);\
box-shadow:0 20px 50px rgba(0,0,0,.35)}h1{margin:0 0 .25rem;font-size:1.35rem}\
p{color:#94a3b8;margin:.25rem 0 1.5rem;line-height:1.45}\
a.button{display:block;text-align:center;padding:.75rem 1rem;margin:.6rem 0;border-radius:9px;\
background:#3b82f6;color:#fff;text-decoration:none;font-weight:600}a.button:hover{background:#2563eb}\
.banner{background:#78350f;color:#fde68a;padding:.6rem .8rem;border-radius:8px;font-size:.9rem;margin-bottom:1.2rem}\
.muted{font-size:.8rem;color:#64748b;margin-top:1.5rem}\
a.button.unavailable{background:#475569}.note{font-size:.85rem;color:#fbbf24;margin:-.2rem 0 .8rem}";

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{}</title><style>{STYLE}</style></head>\
<body><main>{body}</main></body></html>",
        escape(title)
    )
}

/// The login page: one button per provider. `banner` is shown above (demo mode).
pub fn login_page(buttons: &[ProviderButton<'_>], banner: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(b) = banner {
        let _ = write!(body, "<div class=\"banner\">{}</div>", escape(b));
    }
    body.push_str("<h1>Sign in</h1><p>This dashboard is protected. Choose how to sign in.</p>");
    for b in buttons {
        let _ = write!(
            body,
            "<a class=\"button{}\" href=\"{}\">Sign in with {}</a>",
            if b.available { "" } else { " unavailable" },
            escape(&b.href),
            escape(b.display_name)
        );
        if !b.available {
            let _ = write!(
                body,
                "<p class=\"note\">{} is temporarily unavailable; try again in a moment.</p>",
                escape(b.display_name)
            );
        }
    }
    body.push_str("<p class=\"muted\">Protected by portcullis</p>");
    layout("Sign in", &body)
}

/// An error page with a title, an explanation and a link (back to login, usually).
pub fn error_page(title: &str, message: &str, link: Option<(&str, &str)>) -> String {
    let mut body = format!("<h1>{}</h1><p>{}</p>", escape(title), escape(message));
    if let Some((href, text)) = link {
        let _ = write!(
            body,
            "<a class=\"button\" href=\"{}\">{}</a>",
            escape(href),
            escape(text)
        );
    }
    layout(title, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn login_page_escapes_provider_names_and_links() {
        let html = login_page(
            &[ProviderButton {
                display_name: "<script>x</script>",
                href: "/auth/login?provider=a&next=%2F\"onx".into(),
                available: false,
            }],
            Some("Demo <b>"),
        );
        assert!(!html.contains("<script>x"));
        assert!(html.contains("temporarily unavailable"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("provider=a&amp;next=%2F&quot;onx"));
        assert!(html.contains("Demo &lt;b&gt;"));
        assert!(!html.contains("<script"));
    }
}
