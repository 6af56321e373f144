//! Real nginx terminating TLS in front of portcullis, with a self-signed
//! certificate made by `openssl` for 127.0.0.1, as the test's TLS front.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Nginx {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

impl Nginx {
    /// Starts nginx on `port` with TLS, serving `locations` (nginx `location`
    /// blocks) in its one server.
    pub fn start(port: u16, locations: &str) -> Nginx {
        Self::start_with(port, locations, true)
    }

    /// Starts nginx on `port` speaking plain HTTP (an upstream, not a front).
    pub fn start_plain(port: u16, locations: &str) -> Nginx {
        Self::start_with(port, locations, false)
    }

    fn start_with(port: u16, locations: &str, tls: bool) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display().to_string();
        let cert = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "1",
            ])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .args([
                "-keyout",
                &format!("{d}/key.pem"),
                "-out",
                &format!("{d}/cert.pem"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(cert.success(), "openssl could not make a certificate");
        let listen = if tls {
            format!("    listen 127.0.0.1:{port} ssl;\n    ssl_certificate {d}/cert.pem;\n    ssl_certificate_key {d}/key.pem;")
        } else {
            format!("    listen 127.0.0.1:{port};")
        };
        let conf = format!(
            r#"
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  server {{
{listen}
{locations}
  }}
}}
"#
        );
        std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
        let nginx = ["/usr/sbin/nginx", "nginx"]
            .into_iter()
            .find(|p| {
                Command::new(p)
                    .arg("-v")
                    .stderr(Stdio::null())
                    .status()
                    .is_ok()
            })
            .expect("nginx is not installed: run scripts/setup.sh");
        let child = Command::new(nginx)
            .args(["-p", &d, "-c", &format!("{d}/nginx.conf")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "nginx did not start: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx { child, port, dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    /// Stops nginx as its own signals do (SIGTERM: the master takes its worker
    /// down); a SIGKILL to the master alone left the worker running.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An nginx `location` proxying `path` to portcullis on `upstream_port`, sending
/// the usual forwarding headers and `X-Forwarded-Prefix: prefix` (when not empty),
/// with WebSocket upgrades passed through.
pub fn location(path: &str, upstream_port: u16, strip: bool, prefix_header: &str) -> String {
    let target = if strip { "/" } else { "" };
    let prefix = if prefix_header.is_empty() {
        String::new()
    } else {
        format!("proxy_set_header X-Forwarded-Prefix {prefix_header};")
    };
    format!(
        r#"    location {path} {{
      proxy_pass http://127.0.0.1:{upstream_port}{target};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-Proto https;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      {prefix}
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
    }}
"#
    )
}
