//! Builds the pingora server around the gate and runs it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use pingora::apps::HttpServerOptions;
use pingora::listeners::{L4BufferSettings, ListenerConfig};
use pingora::proxy::http_proxy_service;
use pingora::server::configuration::{Opt, ServerConf};
use pingora::server::Server;

use pingora::services::background::background_service;
use pingora::services::listening::Service;

use crate::admin::AdminApp;
use crate::app::{App, SharedApp};
use crate::discovery::DiscoveryRetry;
use crate::gate::Gate;
use crate::live::Sweeper;
use crate::reload::{OnHangup, Reloader};
use crate::revalidate::Revalidator;
use crate::store::StoreFeed;
use arc_swap::ArcSwap;

/// Fetches provider discovery once (on a short-lived runtime of its own), then runs
/// the proxy on `listen` (and `/metrics` on the admin listener, when configured)
/// until the process is told to stop. Providers not ready by then are retried in
/// the background (see [`crate::discovery`]).
///
/// SIGTERM stops accepting at once and gives in-flight requests
/// `server.shutdown_grace` to finish; SIGINT stops at once; SIGQUIT hands the
/// listening sockets to a new process (pingora's zero-downtime upgrade).
///
/// SIGHUP reloads the config from `config_path` (see [`crate::reload`]).
pub fn run(app: App, listen: SocketAddr, upgrade: bool, config_path: Option<PathBuf>) -> ! {
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
        grace_period_seconds: Some(app.config.server.shutdown_grace.as_secs()),
        graceful_shutdown_timeout_seconds: Some(2),
        ..ServerConf::default()
    };
    let admin = app.config.admin_listen;
    // With `upgrade`, take the listening sockets over from the running process
    // (which is then sent SIGQUIT) instead of binding them.
    let opt = Opt {
        upgrade,
        ..Opt::default()
    };
    let mut server = Server::new_with_opt_and_conf(Some(opt), conf);
    server.bootstrap();
    let mut options = HttpServerOptions::default();
    options.h1_header_timeout = Some(app.config.server.header_timeout);
    options.h1_idle_timeout = Some(app.config.server.idle_timeout);
    server.add_service(background_service(
        "websocket sweeper",
        Sweeper(app.live.clone()),
    ));
    server.add_service(background_service(
        "store feed",
        StoreFeed(Arc::clone(&app.store)),
    ));
    let app: SharedApp = Arc::new(ArcSwap::from_pointee(app));
    server.add_service(background_service(
        "config reload",
        OnHangup(config_path.map(|path| Reloader::new(Arc::clone(&app), path))),
    ));
    server.add_service(background_service(
        "provider discovery",
        DiscoveryRetry::new(app.load().providers.clone()),
    ));
    server.add_service(background_service(
        "session re-validation",
        Revalidator(Arc::clone(&app)),
    ));
    let admin_app = Arc::clone(&app);
    let mut proxy = http_proxy_service(&server.configuration, Gate::new(app));
    if let Some(logic) = proxy.app_logic_mut() {
        logic.server_options = Some(options);
    }
    // No read buffer in front of the socket: pingora parses heads and bodies in
    // buffers of its own, so a 64 KiB `BufReader` per connection only doubles the
    // copy and, on an idle WebSocket, holds memory for nothing (bench/README.md).
    proxy.add_listener(
        ListenerConfig::tcp(listen.to_string()).l4_buffer(L4BufferSettings::default().read(0)),
    );
    server.add_service(proxy);
    if let Some(admin) = admin {
        let mut metrics = Service::new("portcullis admin".to_string(), AdminApp { app: admin_app });
        metrics.add_tcp(&admin.to_string());
        server.add_service(metrics);
        tracing::info!(%admin, "metrics at http://{admin}/metrics");
    }
    tracing::info!(%listen, "portcullis is serving");
    server.run_forever()
}
