//! `[store]`: where revocations, tickets and kept IdP tokens live. `memory` (the
//! default) for one instance; `redis` for a fleet.

use std::time::Duration;

use url::Url;

use super::{duration, file, ConfigError};
use crate::secret::Secret;

/// Default `store.key_prefix`.
pub const DEFAULT_KEY_PREFIX: &str = "portcullis:";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    Memory,
    Redis(RedisConfig),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// The whole URL; it may hold a password, so it is kept as a secret.
    pub url: Secret,
    /// The URL with any password replaced by `***`, for `check` and log lines.
    pub shown_url: String,
    pub key_prefix: String,
    /// How long this instance may serve sessions without hearing from Redis.
    pub max_staleness: Duration,
}

pub(super) fn validate_store(s: file::StoreFile) -> Result<StoreConfig, ConfigError> {
    match s.kind.as_deref() {
        None | Some("memory") => {
            for (key, set) in [
                ("store.url", s.url.is_some()),
                ("store.key_prefix", s.key_prefix.is_some()),
                ("store.max_staleness", s.max_staleness.is_some()),
            ] {
                if set {
                    return Err(ConfigError::invalid(
                        key,
                        "is only used with kind = \"redis\"; remove it, or set kind = \"redis\"",
                    ));
                }
            }
            Ok(StoreConfig::Memory)
        }
        Some("redis") => {
            let raw = s.url.ok_or_else(|| {
                ConfigError::invalid(
                    "store.url",
                    "is required with kind = \"redis\"; write e.g. url = \"${REDIS_URL}\"",
                )
            })?;
            let shown_url = redis_url(&raw).map_err(|m| ConfigError::invalid("store.url", m))?;
            let key_prefix = s
                .key_prefix
                .unwrap_or_else(|| DEFAULT_KEY_PREFIX.to_string());
            if key_prefix.is_empty()
                || key_prefix.len() > 64
                || !key_prefix.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(ConfigError::invalid(
                    "store.key_prefix",
                    "must be 1 to 64 printable ASCII characters without spaces, e.g. \"portcullis:\"",
                ));
            }
            let max_staleness = duration("store.max_staleness", s.max_staleness.as_deref(), "5s")?;
            if max_staleness < Duration::from_secs(1) || max_staleness > Duration::from_secs(300) {
                return Err(ConfigError::invalid(
                    "store.max_staleness",
                    "must be between 1s and 5m: it bounds how long a logout elsewhere may go unseen here",
                ));
            }
            Ok(StoreConfig::Redis(RedisConfig {
                url: Secret::new(raw),
                shown_url,
                key_prefix,
                max_staleness,
            }))
        }
        Some(other) => Err(ConfigError::invalid(
            "store.kind",
            format!("`{other}` is not a store kind; use \"memory\" (one instance) or \"redis\""),
        )),
    }
}

/// Checks a Redis URL and returns it with the password masked. The messages
/// never hold the URL itself: it may carry a password.
fn redis_url(raw: &str) -> Result<String, String> {
    const FORM: &str = "write redis://[user:password@]host:port[/db], or rediss:// for TLS";
    let url = Url::parse(raw).map_err(|e| format!("is not a URL ({e}); {FORM}"))?;
    match url.scheme() {
        "redis" | "rediss" => {}
        other => return Err(format!("has the scheme `{other}`; {FORM}")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("has no host; {FORM}"));
    }
    if url.fragment().is_some() {
        // redis-rs reads `#insecure` as "skip certificate checks".
        return Err(format!(
            "has a `#` fragment; certificate checks cannot be turned off. {FORM}"
        ));
    }
    if url.query().is_some() {
        return Err(format!("has a query; {FORM}"));
    }
    let path = url.path().trim_start_matches('/');
    if !path.is_empty() && path.parse::<u16>().is_err() {
        return Err(format!(
            "has the path `/{path}`, which is not a db number; {FORM}"
        ));
    }
    let mut shown = url.clone();
    if url.password().is_some() {
        let _ = shown.set_password(Some("***"));
    }
    Ok(shown.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(kind: Option<&str>, url: Option<&str>) -> file::StoreFile {
        file::StoreFile {
            kind: kind.map(str::to_string),
            url: url.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn a_redis_url_is_shown_without_its_password() {
        let StoreConfig::Redis(r) = validate_store(file(
            Some("redis"),
            Some("rediss://gate:hunter2@r.internal:6380/2"),
        ))
        .unwrap() else {
            panic!("not redis");
        };
        assert_eq!(r.shown_url, "rediss://gate:***@r.internal:6380/2");
        assert_eq!(
            r.url.expose_secret(),
            "rediss://gate:hunter2@r.internal:6380/2"
        );
        assert_eq!(r.key_prefix, DEFAULT_KEY_PREFIX);
        assert_eq!(r.max_staleness, Duration::from_secs(5));
        assert!(!format!("{r:?}").contains("hunter2"));
    }

    #[test]
    fn malformed_redis_urls_are_refused_naming_the_key_and_never_the_password() {
        for bad in [
            "http://u:hunter2@h:6379",
            "redis://u:hunter2@h:6379/#insecure",
            "rediss://u:hunter2@h:6379/0#insecure",
            "redis://u:hunter2@h:6379/zero",
            "redis://u:hunter2@h:6379/?db=1",
            "redis://u:hunter2@:6379",
            "not a url hunter2",
        ] {
            let err = validate_store(file(Some("redis"), Some(bad)))
                .unwrap_err()
                .to_string();
            assert!(err.contains("store.url"), "{bad}: {err}");
            assert!(!err.contains("hunter2"), "{bad}: {err}");
        }
        let err = validate_store(file(Some("redis"), None))
            .unwrap_err()
            .to_string();
        assert!(err.contains("store.url"), "{err}");
    }

    #[test]
    fn redis_only_keys_are_refused_with_the_memory_store() {
        let err = validate_store(file(None, Some("redis://h")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("store.url"), "{err}");
        let err = validate_store(file::StoreFile {
            max_staleness: Some("5s".into()),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(err.contains("store.max_staleness"), "{err}");
        assert!(validate_store(file(Some("valkey"), None))
            .unwrap_err()
            .to_string()
            .contains("store.kind"));
    }

    #[test]
    fn max_staleness_and_key_prefix_are_bounded() {
        let with = |prefix: Option<&str>, staleness: Option<&str>| {
            validate_store(file::StoreFile {
                kind: Some("redis".into()),
                url: Some("redis://127.0.0.1:6379".into()),
                key_prefix: prefix.map(str::to_string),
                max_staleness: staleness.map(str::to_string),
            })
        };
        assert!(with(Some(""), None)
            .unwrap_err()
            .to_string()
            .contains("store.key_prefix"));
        assert!(with(Some("a b"), None)
            .unwrap_err()
            .to_string()
            .contains("store.key_prefix"));
        assert!(with(None, Some("0s"))
            .unwrap_err()
            .to_string()
            .contains("store.max_staleness"));
        assert!(with(None, Some("1h"))
            .unwrap_err()
            .to_string()
            .contains("store.max_staleness"));
        assert!(with(Some("gate-a:"), Some("2s")).is_ok());
    }
}
