//! `[log]`: the level and format of the operational log on stderr.

use super::file;
use super::ConfigError;

/// How operational logs are written (the audit stream is always JSON on stdout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `portcullis=debug`; `RUST_LOG` wins.
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Text on a terminal, JSON otherwise.
    Auto,
    Text,
    Json,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Auto,
        }
    }
}

pub(super) fn validate_log(l: file::LogFile) -> Result<LogConfig, ConfigError> {
    let format = match l.format.as_deref() {
        None | Some("auto") => LogFormat::Auto,
        Some("text") => LogFormat::Text,
        Some("json") => LogFormat::Json,
        Some(other) => {
            return Err(ConfigError::invalid(
                "log.format",
                format!("`{other}` is not a log format; use \"auto\", \"text\" or \"json\""),
            ))
        }
    };
    let level = l.level.unwrap_or_else(|| "info".into());
    if tracing_subscriber::EnvFilter::try_new(&level).is_err() {
        return Err(ConfigError::invalid(
            "log.level",
            format!("`{level}` is not a log level; use e.g. \"info\", \"debug\" or \"portcullis=debug,info\""),
        ));
    }
    Ok(LogConfig { level, format })
}
