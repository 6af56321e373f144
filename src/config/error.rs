//! What can be wrong with a config, in words for the operator: every error names
//! the key and the fix, and never echoes a secret.

use super::interpolate;

/// Everything wrong with a config, in words for the operator.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Only where, never the line itself: it may hold a secret.
    #[error("not valid TOML at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`{key}`: {message}")]
    Invalid { key: String, message: String },
    #[error("`{key}` uses ${{{name}}}, but the environment variable {name} is not set; set it (for Fly: `fly secrets set {name}=…`) or write the value in the file")]
    UnsetVariable { name: String, key: String },
    #[error("no usable identity provider; fix at least one [[providers]] entry:\n{}", list_reasons(.0))]
    NoUsableProvider(Vec<ProviderError>),
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// The same error with every value that came from the environment replaced
    /// by its `${NAME}`.
    pub(super) fn redacted(self, subs: &interpolate::Substitutions) -> Self {
        match self {
            Self::Invalid { key, message } => Self::Invalid {
                key,
                message: subs.redact(&message),
            },
            Self::NoUsableProvider(errors) => Self::NoUsableProvider(
                errors
                    .into_iter()
                    .map(|e| ProviderError {
                        reason: subs.redact(&e.reason),
                        ..e
                    })
                    .collect(),
            ),
            other => other,
        }
    }
}

/// Where a TOML syntax error is, and what toml says of it, without the source
/// line that toml's own message quotes.
pub(super) fn syntax_error(text: &str, e: &toml::de::Error) -> ConfigError {
    let offset = e.span().map_or(0, |s| s.start).min(text.len());
    let before = text.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    ConfigError::Syntax {
        line,
        column,
        message: e.message().trim().replace('\n', "; "),
    }
}

/// Why one `[[providers]]` entry cannot be used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("provider `{id}`: {reason}")]
pub struct ProviderError {
    pub id: String,
    pub reason: String,
}

fn list_reasons(errors: &[ProviderError]) -> String {
    if errors.is_empty() {
        return "  - none is configured: add a [[providers]] section (see config/portcullis.example.toml)".into();
    }
    errors
        .iter()
        .map(|e| format!("  - {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}
