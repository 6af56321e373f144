//! The ways in for clients that are not browsers: `[[tokens]]` (API tokens,
//! stored as their SHA-256), `[pairing]` (device pairing) and `[links]`
//! (one-time sign-in links).

use std::time::Duration;

use super::{duration, file, ConfigError};

/// One `[[tokens]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiToken {
    /// Shown in logs and `/auth/verify` answers.
    pub name: String,
    /// SHA-256 of the token; the token itself is never in the config.
    pub sha256: [u8; 32],
    /// The user id the upstream sees.
    pub subject: String,
    pub email: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingConfig {
    pub enabled: bool,
    /// How long a device's code waits for a person to approve it.
    pub code_ttl: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinksConfig {
    pub enabled: bool,
}

fn printable(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| (0x21..0x7f).contains(&b) || b == b' ')
}

pub(super) fn validate_tokens(entries: Vec<file::TokenFile>) -> Result<Vec<ApiToken>, ConfigError> {
    let mut tokens: Vec<ApiToken> = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        if !printable(&e.name) || e.name.len() > 64 {
            return Err(ConfigError::invalid(
                &format!("tokens[{i}].name"),
                "must be 1 to 64 printable characters, e.g. \"desk-display\"",
            ));
        }
        let key = format!("tokens[{i}].sha256");
        let hex = e.sha256.trim();
        let mut sha256 = [0u8; 32];
        if hex.len() != 64 || hex::decode_to_slice(hex, &mut sha256).is_err() {
            return Err(ConfigError::invalid(
                &key,
                "must be the 64 hex digits of the token's SHA-256; `portcullis token` prints a token and this line (never put the token itself here)",
            ));
        }
        if tokens.iter().any(|t| t.sha256 == sha256) {
            return Err(ConfigError::invalid(
                &key,
                "is the same as an earlier token's; give every client its own token",
            ));
        }
        if tokens.iter().any(|t| t.name == e.name) {
            return Err(ConfigError::invalid(
                &format!("tokens[{i}].name"),
                "is used by an earlier token; names must be unique",
            ));
        }
        let subject = e.subject.unwrap_or_else(|| e.name.clone());
        if !printable(&subject) {
            return Err(ConfigError::invalid(
                &format!("tokens[{i}].subject"),
                "must be printable text: the user id the dashboard sees",
            ));
        }
        if let Some(email) = &e.email {
            if !printable(email) || !email.contains('@') {
                return Err(ConfigError::invalid(
                    &format!("tokens[{i}].email"),
                    "must be an email address",
                ));
            }
        }
        tokens.push(ApiToken {
            name: e.name,
            sha256,
            subject,
            email: e.email,
        });
    }
    Ok(tokens)
}

pub(super) fn validate_pairing(f: file::PairingFile) -> Result<PairingConfig, ConfigError> {
    let code_ttl = duration("pairing.code_ttl", f.code_ttl.as_deref(), "10m")?;
    if code_ttl < Duration::from_secs(60) || code_ttl > Duration::from_secs(3600) {
        return Err(ConfigError::invalid(
            "pairing.code_ttl",
            "must be between 1m and 1h: long enough to walk to a screen, short enough that a forgotten code dies",
        ));
    }
    Ok(PairingConfig {
        enabled: f.enabled.unwrap_or(true),
        code_ttl,
    })
}

pub(super) fn validate_links(f: file::LinksFile) -> LinksConfig {
    LinksConfig {
        enabled: f.enabled.unwrap_or(false),
    }
}
