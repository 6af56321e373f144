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
    Check {
        #[command(flatten)]
        config: ConfigArg,
    },
    /// Print a fresh random session secret (32 bytes, base64url).
    Secret,
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
        Command::Check { config } => check(&config.path),
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

fn check(path: &std::path::Path) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    print!("{}", portcullis::config::summary::render(&config));
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

fn serve(path: &std::path::Path, upgrade: bool) -> ExitCode {
    let config = match load(path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    portcullis::logging::init(&config.log);
    for e in &config.provider_errors {
        tracing::error!("{e}; this provider is not offered until it is fixed");
    }
    let listen = config.server.listen;
    match App::new(config, Audit::stdout()) {
        Ok(app) => portcullis::server::run(app, listen, upgrade),
        Err(e) => {
            eprintln!("portcullis: {e}");
            ExitCode::FAILURE
        }
    }
}
