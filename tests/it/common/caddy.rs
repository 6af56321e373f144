//! Real Caddy (Debian's package) as a front on loopback, plain HTTP, with its
//! admin endpoint and automatic HTTPS off.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Caddy {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Caddy {
    /// Starts Caddy on `port` with `sites` (Caddyfile site blocks) after a
    /// global block that turns the admin endpoint and automatic HTTPS off.
    pub fn start(port: u16, sites: &str) -> Caddy {
        let dir = tempfile::tempdir().unwrap();
        let caddyfile = format!("{{\n\tadmin off\n\tauto_https off\n}}\n{sites}");
        let path = dir.path().join("Caddyfile");
        std::fs::write(&path, caddyfile).unwrap();
        let log = std::fs::File::create(dir.path().join("caddy.log")).unwrap();
        let child = Command::new("caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&path)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("caddy is missing: run scripts/setup.sh first");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "caddy did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Caddy { child, port, dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("caddy.log")).unwrap_or_default()
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
