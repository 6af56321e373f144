//! Builds the pingora server around the gate and runs it.

use std::net::SocketAddr;
use std::sync::Arc;

use pingora::proxy::http_proxy_service;
use pingora::server::configuration::ServerConf;
use pingora::server::Server;

use crate::app::App;
use crate::gate::Gate;

/// Fetches provider discovery once (on a short-lived runtime of its own), then runs
/// the proxy on `listen` until the process is told to stop.
pub fn run(app: App, listen: SocketAddr) -> ! {
    if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        rt.block_on(async {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(15), app.warm_up()).await;
        });
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let conf = ServerConf {
        threads,
        // SIGTERM: stop accepting, then let in-flight requests finish.
        grace_period_seconds: Some(1),
        graceful_shutdown_timeout_seconds: Some(10),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();
    let mut proxy = http_proxy_service(&server.configuration, Gate::new(Arc::new(app)));
    proxy.add_tcp(&listen.to_string());
    server.add_service(proxy);
    tracing::info!(%listen, "portcullis is serving");
    server.run_forever()
}
