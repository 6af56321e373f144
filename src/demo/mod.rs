//! `portcullis demo`: the whole flow on a laptop with no accounts. The proxy listens
//! on 127.0.0.1 in front of the demo dashboard, with the development identity
//! provider; all three refuse anything but loopback.

pub mod dashboard;
pub mod dev_idp;

use std::net::{Ipv4Addr, SocketAddr};

use crate::app::App;
use crate::audit::Audit;
use crate::config::Config;
use crate::secret::random_token;
use dev_idp::{DevClient, DevIdp};

/// The notice on the demo's login page.
pub const BANNER: &str = "Demo mode: signing in uses a built-in development identity provider \
that lets anyone in. portcullis refuses to run the demo on anything but 127.0.0.1 (loopback). \
Use `portcullis serve` with a real provider to protect a dashboard.";

/// Runs the demo until the process is stopped.
pub fn run(port: u16) -> Result<std::convert::Infallible, String> {
    let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    if !listen.ip().is_loopback() {
        return Err("the demo runs on loopback only".into());
    }
    let client_secret = random_token(24);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (idp, dashboard) = runtime.block_on(async {
        let idp = DevIdp::start(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            DevClient {
                client_id: "portcullis-demo".into(),
                client_secret: client_secret.clone(),
                redirect_uris: vec![format!("http://{listen}/auth/callback")],
            },
        )
        .await?;
        let dashboard = dashboard::start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
        Ok::<_, String>((idp, dashboard))
    })?;
    let toml = format!(
        r#"
[server]
listen = "{listen}"
allowed_hosts = ["127.0.0.1", "localhost"]
[upstream]
url = "http://{dashboard}"
[session]
secret = "{secret}"
ttl = "1h"
[[providers]]
id = "dev"
kind = "oidc"
display_name = "Development IdP (demo only)"
issuer = "{issuer}"
client_id = "portcullis-demo"
client_secret = "{client_secret}"
"#,
        secret = random_token(32),
        issuer = idp.issuer(),
    );
    let config = Config::parse(&toml, &|_| None).map_err(|e| e.to_string())?;
    let mut app = App::new(config, Audit::stdout()).map_err(|e| e.to_string())?;
    app.banner = Some(BANNER.to_string());
    // The IdP and dashboard keep running on their runtime's worker thread.
    std::mem::forget(runtime);
    eprintln!(
        "\n  portcullis demo is up: open http://{listen}/ and sign in.\n  \
(dashboard on {dashboard}, development IdP on {}; both loopback only)\n",
        idp.addr
    );
    crate::server::run(app, listen, false, None)
}
