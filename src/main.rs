//! The `portcullis` command line: parse arguments, load config, run.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use portcullis::app::App;
use portcullis::audit::Audit;
use portcullis::config::{Config, LogConfig};

// pingora allocates and frees a 64 KiB body buffer per request on every worker
// thread; glibc's allocator spends much of a request's time on that (lock
// contention, consolidation). mimalloc's thread-local heaps do not.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "Puts an OAuth/OIDC login in front of a web dashboard.",
    after_help = "Try it locally, with no accounts:\n  portcullis demo\n  then open http://127.0.0.1:8080\n\nIn production:\n  portcullis secret                       # make a session secret\n  portcullis check -c config/portcullis.toml\n  portcullis serve -c config/portcullis.toml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// `-c PATH`, shared by the commands that read a config.
#[derive(clap::Args)]
struct ConfigArg {
    /// The config file.
    #[arg(
        short = 'c',
        long = "config",
        env = "PORTCULLIS_CONFIG",
        default_value = "config/portcullis.toml"
    )]
    path: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Run the proxy.
    #[command(
        after_help = "Example:\n  PORTCULLIS_SESSION_SECRET=$(portcullis secret) portcullis serve -c config/portcullis.toml\n  curl -i http://127.0.0.1:8080/auth/health"
    )]
    Serve {
        #[command(flatten)]
        config: ConfigArg,
        /// Zero-downtime upgrade: take the listening sockets over from the running
        /// portcullis, then send that one SIGQUIT.
        #[arg(long)]
        upgrade: bool,
    },
    /// Validate the config and print the resolved settings, secrets redacted.
    /// Exits 1 with a message naming the key on any problem.
    #[command(
        after_help = "Before a reload (SIGHUP), say what it would change:\n  portcullis check -c new.toml --against config/portcullis.toml"
    )]
    Check {
        #[command(flatten)]
        config: ConfigArg,
        /// The config the running process was started (or last reloaded) with:
        /// also print what a reload from this file would change, and whether it
        /// would be refused.
        #[arg(long, value_name = "RUNNING")]
        against: Option<PathBuf>,
    },
    /// Print a fresh random session secret (32 bytes, base64url).
    Secret,
    /// Print a fresh API token, and the `[[tokens]]` lines (its SHA-256) to paste
    /// into the config. The token is shown once; the config holds only its hash.
    #[command(
        after_help = "Example:\n  portcullis token --name desk-display\n  curl -H \"Authorization: Bearer pct_…\" https://dash.example.com/api/status"
    )]
    Token {
        /// The token's name, shown in logs; also the user id the dashboard sees.
        #[arg(long, default_value = "api-client")]
        name: String,
    },
    /// Print a one-time sign-in link for EMAIL (needs `[links] enabled = true`
    /// and `server.public_url`). It works once, within --ttl.
    Link {
        #[command(flatten)]
        config: ConfigArg,
        /// Whom the link signs in; must pass `[access]`.
        #[arg(long = "as", value_name = "EMAIL")]
        email: String,
        /// How long the link works (1m to 24h).
        #[arg(long, default_value = "10m")]
        ttl: humantime::Duration,
    },
    /// Loopback-only demo: the proxy on 127.0.0.1 in front of a demo dashboard,
    /// with a built-in development identity provider. No accounts needed.
    #[command(after_help = "Then open http://127.0.0.1:8080 (or the port you chose) and sign in.")]
    Demo {
        /// The port for the proxy on 127.0.0.1.
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Secret => {
            println!("{}", portcullis::secret::random_token(32));
            ExitCode::SUCCESS
        }
        Command::Check { config, against } => check(&config.path, against.as_deref()),
        Command::Token { name } => token(&name),
        Command::Link { config, email, ttl } => link(&config.path, &email, ttl.into()),
        Command::Serve { config, upgrade } => serve(&config.path, upgrade),
        Command::Demo { port } => {
            portcullis::logging::init(&LogConfig::default());
            match portcullis::demo::run(port) {
                Ok(never) => match never {},
                Err(e) => {
                    eprintln!("portcullis demo: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

fn load(path: &std::path::Path) -> Result<Config, ExitCode> {
    Config::load(path).map_err(|e| {
        eprintln!("portcullis: config error in {}:\n{e}", path.display());
        ExitCode::FAILURE
    })
}

fn check(path: &std::path::Path, against: Option<&std::path::Path>) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    print!("{}", portcullis::config::summary::render(&config));
    if let Some(running) = against {
        let running = match load(running) {
            Ok(c) => c,
            Err(code) => return code,
        };
        let changes = portcullis::config::changes::changes(&running, &config);
        println!("\nA reload (SIGHUP) from this file:");
        if changes.is_empty() {
            println!("  changes nothing");
        }
        for c in &changes.applied {
            println!("  applies: {c}");
        }
        if !changes.restart.is_empty() {
            println!(
                "  is REFUSED: {} changed, which needs a restart",
                changes.restart.join(", ")
            );
        }
    }
    if config.provider_errors.is_empty() {
        println!("\nconfig OK");
        ExitCode::SUCCESS
    } else {
        for e in &config.provider_errors {
            eprintln!("portcullis: {e}");
        }
        ExitCode::FAILURE
    }
}

fn token(name: &str) -> ExitCode {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b));
    if !valid {
        eprintln!("portcullis token: --name must be 1 to 64 letters, digits, `-`, `_`, `.` or `@`");
        return ExitCode::FAILURE;
    }
    let token = portcullis::bearer::new_api_token();
    println!("{token}");
    println!();
    println!("# Paste into the config; keep the token above where the client can read it.");
    println!("[[tokens]]");
    println!("name = \"{name}\"");
    println!("sha256 = \"{}\"", portcullis::bearer::sha256_hex(&token));
    println!("subject = \"{name}\"");
    ExitCode::SUCCESS
}

fn link(path: &std::path::Path, email: &str, ttl: std::time::Duration) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let fail = |message: &str| {
        eprintln!("portcullis link: {message}");
        ExitCode::FAILURE
    };
    if !config.links.enabled {
        return fail("sign-in links are off; set `[links] enabled = true` in the config (and reload or restart portcullis) first");
    }
    let Some(public_url) = &config.server.public_url else {
        return fail("`server.public_url` is not set, so the link's address is unknown; set it (or PORTCULLIS_PUBLIC_URL)");
    };
    let (min, max) = portcullis::login::link::TTL_BOUNDS;
    if ttl.as_secs() < min || ttl.as_secs() > max {
        return fail("--ttl must be between 1m and 24h");
    }
    if !email.contains('@') || email.bytes().any(|b| b.is_ascii_control() || b == b' ') {
        return fail("--as must be an email address");
    }
    let person = portcullis::access::Person {
        email: Some(email),
        email_verified: true,
        groups: &[],
    };
    let routes = match portcullis::routing::RouteTable::new(&config.routes, &config.access) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("portcullis link: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(denial) = routes.admits_anywhere(&person) {
        return fail(&format!(
            "{email} would not pass `[access]` ({}); the link would be refused",
            denial.reason()
        ));
    }
    let s = &config.session;
    let codec = portcullis::session::codec::Codec::new(
        portcullis::session::codec::Purpose::Link,
        &s.secret,
        &s.previous_secrets,
    );
    let now = portcullis::store::unix_now();
    let token = portcullis::login::link::mint(&codec, email, ttl.as_secs() as i64, now);
    println!(
        "{}{}/auth/link?token={token}",
        public_url.origin(),
        public_url.prefix.as_str()
    );
    ExitCode::SUCCESS
}

fn serve(path: &std::path::Path, upgrade: bool) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    portcullis::logging::init(&config.log);
    for e in &config.provider_errors {
        tracing::error!("{e}; this provider is not offered until it is fixed");
    }
    // Every way in that is not a browser sign-in, said at start.
    tracing::info!(
        api_tokens = config.tokens.len(),
        pairing = if config.pairing.enabled { "on" } else { "off" },
        links = if config.links.enabled { "on" } else { "off" },
        "clients that are not browsers: API tokens from [[tokens]], device pairing at /auth/device ([pairing] enabled), one-time links at /auth/link ([links] enabled)"
    );
    for w in portcullis::config::summary::warnings(&config) {
        tracing::warn!("{w}");
    }
    let listen = config.server.listen;
    match App::new(config, Audit::stdout()) {
        Ok(app) => portcullis::server::run(app, listen, upgrade, Some(path.to_path_buf())),
        Err(e) => {
            eprintln!("portcullis: {e}");
            ExitCode::FAILURE
        }
    }
}
