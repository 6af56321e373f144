//! `[session]`: the secret the session cookie is sealed with, its rotation, and
//! how long a sign-in lasts.

use std::time::Duration;

use super::{duration, file, ConfigError};
use crate::secret::Secret;

/// Shortest `session.secret` accepted, in bytes.
pub const MIN_SECRET_LEN: usize = 32;
/// Fewer distinct characters than this is plainly not random (`aaaa…`, `abab…`).
pub const MIN_SECRET_DISTINCT: usize = 16;

#[derive(Debug, Clone, PartialEq)]
pub struct SessionConfig {
    pub secret: Secret,
    pub previous_secrets: Vec<Secret>,
    pub ttl: Duration,
    /// The base name; the `__Host-`/`__Secure-` prefix is added per request.
    pub cookie_name: String,
    /// Re-issue the cookie once half its life has passed and the person is active.
    pub sliding: bool,
    /// The longest a sign-in lasts, however active the person is (sliding only;
    /// otherwise equal to `ttl`).
    pub max_age: Duration,
    /// Re-check a session with its IdP once this long has passed since its last
    /// check; `None`: never.
    pub revalidate: Option<Duration>,
    /// How long past a due check a session goes on while its IdP cannot be
    /// reached.
    pub revalidate_grace: Duration,
}

pub(super) fn validate_session(s: file::SessionFile) -> Result<SessionConfig, ConfigError> {
    let check = |key: &str, secret: &str| {
        let distinct = secret
            .chars()
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        if secret.len() < MIN_SECRET_LEN {
            Err(ConfigError::invalid(
                key,
                format!(
                    "is {} bytes; at least {MIN_SECRET_LEN} are needed. Make one with `portcullis secret`",
                    secret.len()
                ),
            ))
        } else if distinct < MIN_SECRET_DISTINCT {
            Err(ConfigError::invalid(
                key,
                format!(
                    "has only {distinct} distinct characters, so it is plainly not random (at least {MIN_SECRET_DISTINCT} are needed). Make one with `portcullis secret`"
                ),
            ))
        } else {
            Ok(Secret::new(secret))
        }
    };
    let secret = check("session.secret", &s.secret)?;
    let previous_secrets = s
        .previous_secrets
        .iter()
        .enumerate()
        .map(|(i, p)| check(&format!("session.previous_secrets[{i}]"), p))
        .collect::<Result<Vec<_>, _>>()?;
    let ttl = duration("session.ttl", s.ttl.as_deref(), "12h")?;
    if ttl < Duration::from_secs(60) || ttl > Duration::from_secs(30 * 24 * 3600) {
        return Err(ConfigError::invalid(
            "session.ttl",
            "must be between 1m and 30d",
        ));
    }
    let cookie_name = s.cookie_name.unwrap_or_else(|| "portcullis_session".into());
    if cookie_name.is_empty()
        || cookie_name.starts_with("__")
        || !cookie_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(ConfigError::invalid(
            "session.cookie_name",
            "use letters, digits, `_` and `-` only, without a `__Host-`/`__Secure-` prefix (it is added for you)",
        ));
    }
    let max_age = match (s.sliding, s.max_age.as_deref()) {
        (false, Some(_)) => {
            return Err(ConfigError::invalid(
                "session.max_age",
                "is used only with `sliding = true`; without sliding a session lasts `ttl`. Remove it or set `sliding = true`",
            ))
        }
        (false, None) => ttl,
        (true, raw) => {
            let max_age = duration("session.max_age", raw, "7d")?;
            if max_age < ttl {
                return Err(ConfigError::invalid(
                    "session.max_age",
                    format!(
                        "is shorter than `session.ttl` ({}); make it at least as long",
                        humantime::format_duration(ttl)
                    ),
                ));
            }
            if max_age > Duration::from_secs(90 * 24 * 3600) {
                return Err(ConfigError::invalid("session.max_age", "must be at most 90d"));
            }
            max_age
        }
    };
    let bounded = |key: &str, raw: Option<&str>, default: &str| {
        let d = duration(key, raw, default)?;
        if d < Duration::from_secs(5) || d > Duration::from_secs(24 * 3600) {
            return Err(ConfigError::invalid(key, "must be between 5s and 24h"));
        }
        Ok(d)
    };
    let revalidate = match s.revalidate.as_deref() {
        None | Some("off") => None,
        Some(raw) => Some(bounded("session.revalidate", Some(raw), "10m")?),
    };
    let revalidate_grace = bounded(
        "session.revalidate_grace",
        s.revalidate_grace.as_deref(),
        "1h",
    )?;
    Ok(SessionConfig {
        secret,
        previous_secrets,
        ttl,
        cookie_name,
        sliding: s.sliding,
        max_age,
        revalidate,
        revalidate_grace,
    })
}
