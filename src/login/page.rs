//! Server-rendered HTML: the login page, the error pages, and the form pages of
//! device pairing and one-time links ([`FormPage`]). No JavaScript, no
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
a.button.unavailable{background:#475569}.note{font-size:.85rem;color:#fbbf24;margin:-.2rem 0 .8rem}\
form{margin:0}button{display:block;width:100%;padding:.75rem 1rem;margin:.6rem 0;border:0;border-radius:9px;\
background:#3b82f6;color:#fff;font:inherit;font-weight:600;cursor:pointer}button:hover{background:#2563eb}\
button.secondary{background:#334155}button.secondary:hover{background:#475569}\
button.danger{background:#b91c1c;width:auto;padding:.4rem .8rem;margin:0}\
label{display:block;font-size:.9rem;color:#cbd5e1;margin-bottom:.4rem}\
input[type=text]{box-sizing:border-box;width:100%;padding:.7rem .8rem;border-radius:9px;border:1px solid #475569;\
background:#0f172a;color:#f8fafc;font:600 1.4rem ui-monospace,monospace;letter-spacing:.15em;text-align:center;text-transform:uppercase}\
dl{display:grid;grid-template-columns:auto 1fr;gap:.35rem 1rem;margin:0 0 1.2rem;font-size:.95rem}\
dt{color:#94a3b8}dd{margin:0;color:#f8fafc;word-break:break-word}\
.error{background:#7f1d1d;color:#fecaca;padding:.6rem .8rem;border-radius:8px;font-size:.9rem;margin-bottom:1rem}\
table{width:100%;border-collapse:collapse;font-size:.9rem;margin-bottom:1rem}td,th{text-align:left;padding:.4rem .3rem;border-bottom:1px solid #334155}\
th{color:#94a3b8;font-weight:500}";

fn layout(title: &str, body: &str) -> String {
    layout_with(title, body, "no-referrer")
}

/// The page around `body`. `referrer` is the page's referrer policy: pages
/// with a form need one that still sends `Origin` on their POST (under
/// `no-referrer` a browser sends `Origin: null`, which the gate refuses), and
/// `strict-origin` does, without ever sending the page's path or query.
fn layout_with(title: &str, body: &str, referrer: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta name=\"referrer\" content=\"{referrer}\"><title>{}</title><style>{STYLE}</style></head>\
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

/// The 503 page of a page that needs the session store while it cannot be
/// reached; `why` says what needs it.
pub fn store_down_page(why: &str) -> crate::reply::Reply {
    crate::reply::Reply::form_page(
        503,
        FormPage::new("Try again in a moment")
            .text(&format!("{why}, which cannot be reached right now."))
            .render(),
    )
}

/// A Unix time as people read it, in UTC.
pub fn when(ts: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(ts)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "unknown".into())
}

/// A page of portcullis's own with a form: built from escaped parts.
pub struct FormPage {
    title: String,
    body: String,
}

impl FormPage {
    pub fn new(title: &str) -> Self {
        Self {
            title: title.to_string(),
            body: format!("<h1>{}</h1>", escape(title)),
        }
    }

    /// A paragraph.
    pub fn text(mut self, text: &str) -> Self {
        let _ = write!(self.body, "<p>{}</p>", escape(text));
        self
    }

    /// A warning above the form.
    pub fn error(mut self, text: &str) -> Self {
        let _ = write!(self.body, "<div class=\"error\">{}</div>", escape(text));
        self
    }

    /// Label and value pairs (what is asking, and from where).
    pub fn facts(mut self, rows: &[(&str, &str)]) -> Self {
        self.body.push_str("<dl>");
        for (k, v) in rows {
            let _ = write!(self.body, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(v));
        }
        self.body.push_str("</dl>");
        self
    }

    /// A POST form to `action` (`None`: this page's own URL) with hidden fields
    /// and an optional text input, ending in `buttons`: (name, value, label,
    /// class).
    pub fn form(
        mut self,
        action: Option<&str>,
        hidden: &[(&str, &str)],
        input: Option<(&str, &str, &str)>,
        buttons: &[(&str, &str, &str, &str)],
    ) -> Self {
        match action {
            Some(a) => {
                let _ = write!(self.body, "<form method=\"post\" action=\"{}\">", escape(a));
            }
            None => self.body.push_str("<form method=\"post\">"),
        }
        for (name, value) in hidden {
            let _ = write!(
                self.body,
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                escape(name),
                escape(value)
            );
        }
        if let Some((name, label, value)) = input {
            let _ = write!(
                self.body,
                "<label for=\"{n}\">{}</label><input type=\"text\" id=\"{n}\" name=\"{n}\" value=\"{}\" autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" maxlength=\"16\" required autofocus>",
                escape(label),
                escape(value),
                n = escape(name),
            );
        }
        for (name, value, label, class) in buttons {
            let _ = write!(
                self.body,
                "<button type=\"submit\" name=\"{}\" value=\"{}\" class=\"{}\">{}</button>",
                escape(name),
                escape(value),
                escape(class),
                escape(label)
            );
        }
        self.body.push_str("</form>");
        self
    }

    /// Markup already built from escaped parts (a table of devices).
    pub fn html(mut self, html: &str) -> Self {
        self.body.push_str(html);
        self
    }

    /// A link styled as a button.
    pub fn link(mut self, href: &str, text: &str) -> Self {
        let _ = write!(
            self.body,
            "<a class=\"button\" href=\"{}\">{}</a>",
            escape(href),
            escape(text)
        );
        self
    }

    pub fn render(mut self) -> String {
        self.body
            .push_str("<p class=\"muted\">Protected by portcullis</p>");
        layout_with(&self.title, &self.body, crate::reply::FORM_REFERRER_POLICY)
    }
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
