//! The admin listener (`[admin] listen`): Prometheus `/metrics`, nothing else.
//! Keep it on loopback or a private network; it needs no session.

use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::metrics::METRICS;

pub struct AdminApp;

#[async_trait]
impl ServeHttp for AdminApp {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let (status, content_type, body) = match session.req_header().uri.path() {
            "/metrics" => (
                200,
                "text/plain; version=0.0.4",
                METRICS.render().into_bytes(),
            ),
            _ => (404, "text/plain", b"Not found\n".to_vec()),
        };
        Response::builder()
            .status(status)
            .header("content-type", content_type)
            .header("content-length", body.len())
            .body(body)
            .unwrap_or_else(|_| Response::new(Vec::new()))
    }
}
