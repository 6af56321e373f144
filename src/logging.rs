//! Operational logs on stderr, and the rule that keeps secrets out of them.
//!
//! Compact text on a terminal (`portcullis demo` on a laptop), JSON otherwise (or
//! as configured; `serve` in a container); `RUST_LOG` overrides the configured
//! level. The audit stream is separate (stdout, see [`crate::audit`]).
//!
//! No line at any level may hold a query string, a cookie, an `Authorization`
//! value, an OAuth code or state, or a ticket. portcullis's own lines log paths
//! without their query. Its dependencies do not promise as much: at debug and
//! trace, pingora prints whole request and response heads (cookies included) and
//! hyper and h2 print frames. So lines from any other crate pass only at `info`
//! and above, whatever `RUST_LOG` asks for; pingora's error lines, which do reach
//! `warn`, name the request through [`crate::gate::Gate`]'s query-free summary.
//! Their `info` lines (pingora's start-up chatter) show only when the log is
//! verbose (`debug` or finer), so a newcomer's terminal holds portcullis's words.

use tracing::{Level, Metadata};
use tracing_subscriber::filter::{filter_fn, EnvFilter, FilterExt};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, Layer, Registry};

use crate::config::{LogConfig, LogFormat};

/// Whether a log line may be written at all: portcullis's own at any level,
/// everyone else's at `warn` and above, and at `info` too when the log is
/// `verbose`; never below `info`.
pub fn may_log(meta: &Metadata<'_>, verbose: bool) -> bool {
    let level = *meta.level();
    meta.target().starts_with("portcullis")
        || level <= Level::WARN
        || (level == Level::INFO && verbose)
}

/// Installs the stderr logger (and the bridge that carries pingora's `log`
/// records into it). A second call does nothing.
pub fn init(log: &LogConfig) {
    use std::io::IsTerminal;
    let level = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let json = match log.format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let verbose = level
        .max_level_hint()
        .is_some_and(|max| max >= tracing::level_filters::LevelFilter::DEBUG);
    let layer: Box<dyn Layer<Registry> + Send + Sync> = if json {
        Box::new(
            fmt::layer()
                .json()
                .flatten_event(true)
                .with_writer(std::io::stderr),
        )
    } else {
        Box::new(fmt::layer().compact().with_writer(std::io::stderr))
    };
    let others = log_max_level(&level, verbose);
    let filter = level.and(filter_fn(move |meta| may_log(meta, verbose)));
    let _ = tracing_subscriber::registry()
        .with(layer.with_filter(filter))
        .try_init();
    // The bridge sets `log`'s max level to trace, so every pingora `debug!` and
    // `trace!` record is built and carried into tracing, only to be dropped
    // there: about 10,000 instructions a request. Only `log` records that
    // [`may_log`] lets through are worth building.
    log::set_max_level(others);
}

/// The finest `log` level that can reach the log: other crates' lines pass at
/// `warn` and above, or `info` when verbose, and never finer than `level` asks.
fn log_max_level(level: &EnvFilter, verbose: bool) -> log::LevelFilter {
    let ours = if verbose {
        log::LevelFilter::Info
    } else {
        log::LevelFilter::Warn
    };
    let asked = match level.max_level_hint() {
        Some(l) if l == tracing::level_filters::LevelFilter::OFF => log::LevelFilter::Off,
        Some(l) if l == tracing::level_filters::LevelFilter::ERROR => log::LevelFilter::Error,
        Some(l) if l == tracing::level_filters::LevelFilter::WARN => log::LevelFilter::Warn,
        Some(l) if l == tracing::level_filters::LevelFilter::INFO => log::LevelFilter::Info,
        _ => log::LevelFilter::Trace,
    };
    ours.min(asked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::callsite::Identifier;
    use tracing::field::FieldSet;
    use tracing::metadata::Kind;

    struct Site;
    impl tracing::Callsite for Site {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}
        fn metadata(&self) -> &Metadata<'_> {
            unreachable!("not registered")
        }
    }
    static SITE: Site = Site;

    fn meta(target: &'static str, level: Level) -> Metadata<'static> {
        Metadata::new(
            "line",
            target,
            level,
            None,
            None,
            None,
            FieldSet::new(&[], Identifier(&SITE)),
            Kind::EVENT,
        )
    }

    #[test]
    fn dependencies_never_log_below_info_whatever_rust_log_says() {
        for target in [
            "pingora_core::protocols::http::v1::server",
            "pingora_proxy",
            "h2::codec",
            "hyper::proto::h1::io",
            "reqwest::connect",
        ] {
            for verbose in [false, true] {
                assert!(!may_log(&meta(target, Level::TRACE), verbose), "{target}");
                assert!(!may_log(&meta(target, Level::DEBUG), verbose), "{target}");
                assert!(may_log(&meta(target, Level::WARN), verbose), "{target}");
                assert!(may_log(&meta(target, Level::ERROR), verbose), "{target}");
            }
        }
    }

    #[test]
    fn dependencies_info_lines_show_only_in_a_verbose_log() {
        let startup = meta("pingora_core::server::bootstrap_services", Level::INFO);
        assert!(!may_log(&startup, false));
        assert!(may_log(&startup, true));
    }

    #[test]
    fn portcullis_logs_at_every_level() {
        assert!(may_log(&meta("portcullis::gate", Level::TRACE), false));
        assert!(may_log(&meta("portcullis", Level::DEBUG), false));
        assert!(may_log(&meta("portcullis::server", Level::INFO), false));
    }

    #[test]
    fn log_records_are_built_only_at_levels_that_can_pass() {
        let max = |filter: &str, verbose| log_max_level(&EnvFilter::new(filter), verbose);
        assert_eq!(
            max("info", false),
            log::LevelFilter::Warn,
            "pingora's debug and info are never built"
        );
        assert_eq!(
            max("trace", true),
            log::LevelFilter::Info,
            "verbose: info at most"
        );
        assert_eq!(max("debug", true), log::LevelFilter::Info);
        assert_eq!(max("error", false), log::LevelFilter::Error);
        assert_eq!(max("off", false), log::LevelFilter::Off);
    }
}
