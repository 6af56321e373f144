//! The real Hermes dashboard (`hermes-agent` from PyPI, installed into a cached
//! virtualenv by scripts/setup.sh) on a loopback port, for the tests that put
//! portcullis in front of it.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub struct Hermes {
    child: Child,
    pub port: u16,
    _home: tempfile::TempDir,
}

/// Where scripts/setup.sh installs Hermes.
pub fn venv() -> PathBuf {
    if let Ok(v) = std::env::var("PORTCULLIS_HERMES_VENV") {
        return v.into();
    }
    let cache = std::env::var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache")
        });
    cache.join("portcullis/hermes-venv")
}

impl Hermes {
    /// Starts `hermes dashboard` on a free loopback port and waits until it is ready.
    pub fn start() -> Hermes {
        let hermes = venv().join("bin/hermes");
        assert!(
            hermes.exists(),
            "{} is missing: run scripts/setup.sh",
            hermes.display()
        );
        let home = tempfile::tempdir().unwrap();
        let port = super::free_port();
        let mut child = Command::new(hermes)
            .args([
                "dashboard",
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--no-open",
                "--skip-build",
            ])
            .env("HERMES_HOME", home.path())
            .env("HOME", home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("hermes");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("HERMES_DASHBOARD_READY") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(90))
            .expect("Hermes did not become ready");
        Hermes {
            child,
            port,
            _home: home,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Hermes {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
