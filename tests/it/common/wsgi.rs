//! A CGI-style dashboard for the header tests.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::free_port;

/// A Python `wsgiref` app that answers every request with the `HTTP_*` entries of
/// its WSGI environ: CGI-style servers read `X_Forwarded_User` as
/// `X-Forwarded-User`, and join repeats with a comma.
pub struct Wsgiref {
    pub port: u16,
    child: Child,
}

impl Wsgiref {
    pub async fn start() -> Wsgiref {
        const APP: &str = r#"
import json, sys
from wsgiref.simple_server import make_server, WSGIRequestHandler
class Quiet(WSGIRequestHandler):
    def log_message(self, *args): pass
def app(environ, start_response):
    body = json.dumps({k: v for k, v in environ.items() if k.startswith("HTTP_")}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
make_server("127.0.0.1", int(sys.argv[1]), app, handler_class=Quiet).serve_forever()
"#;
        let port = free_port();
        let child = Command::new("python3")
            .args(["-c", APP, &port.to_string()])
            .stdout(Stdio::null())
            .spawn()
            .expect("python3");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(Instant::now() < deadline, "wsgiref did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Wsgiref { port, child }
    }
}

impl Drop for Wsgiref {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
