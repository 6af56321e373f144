//! The real Hermes dashboard at `/hermes/` and the real JupyterLab at
//! `/jupyter/` behind one portcullis, behind nginx with TLS, in Chromium: alice
//! may use both and bob only Hermes; then a reload takes `/jupyter/` from alice
//! while her sockets are open.

use serde_json::json;

use crate::common::hermes::Hermes;
use crate::common::jupyter::Jupyter;
use crate::common::nginx::{location, Nginx};
use crate::common::node_idp::NodeIdp;
use crate::common::{chromium, free_port, Proxy};

const CLIENT: &str = "portcullis-dashboards";
const SECRET: &str = "dashboards-client-secret-0123456789";
const HOST: &str = "dash.example.test";

fn config(
    site: &str,
    idp: &NodeIdp,
    hermes: &Hermes,
    jupyter: &Jupyter,
    lab_users: &str,
) -> String {
    format!(
        r#"
[server]
listen = "{{listen}}"
public_url = "{site}"
trusted_proxies = ["127.0.0.1/32"]

[session]
secret = "{secret}"

[access]
allowed_emails = ["alice@example.com", "bob@example.com"]

[[routes]]
path = "/hermes/"
upstream = "http://127.0.0.1:{hermes}"

[[routes]]
path = "/jupyter/"
upstream = "{jupyter}"
allowed_emails = {lab_users}

[[providers]]
id = "idp"
kind = "oidc"
issuer = "{issuer}"
client_id = "{CLIENT}"
client_secret = "{SECRET}"
"#,
        secret = crate::common::SECRET,
        hermes = hermes.port,
        jupyter = jupyter.url(),
        issuer = idp.issuer,
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn hermes_and_jupyter_behind_one_gate_a_rule_each_changed_live() {
    let _turn = crate::jupyter::ONE_LAB_AT_A_TIME.lock().await;
    let hermes = Hermes::start();
    let jupyter = Jupyter::start("/jupyter").await;
    let (edge, port) = (free_port(), free_port());
    let site = format!("https://{HOST}:{edge}");
    let idp = NodeIdp::start(CLIENT, SECRET, &[format!("{site}/auth/callback")]);
    let both = config(&site, &idp, &hermes, &jupyter, r#"["alice@example.com"]"#);
    let proxy = Proxy::start_on(port, &both, &[]).await;
    let nginx = Nginx::start(edge, &location("/", port, false, ""));
    let next = tempfile::NamedTempFile::new().unwrap();
    let without_alice = config(&site, &idp, &hermes, &jupyter, r#"["carol@example.com"]"#)
        .replace("{listen}", &proxy.addr.to_string());
    std::fs::write(next.path(), without_alice).unwrap();

    let seen = chromium::run_script_unchecked(
        "routes.mjs",
        json!({
            "site": site,
            "hostname": HOST,
            "reload": {"from": next.path(), "to": proxy.config_path, "pid": proxy.pid()},
            "shots": {
                "forbidden": chromium::output_dir().join("routes-forbidden.png"),
                "lab": chromium::output_dir().join("routes-lab.png"),
            },
        }),
    )
    .await;
    let context = || {
        format!(
            "{seen}\n--- portcullis ---\n{}\n--- jupyter ---\n{}",
            proxy.stderr(),
            jupyter.log()
        )
    };
    assert!(
        seen.get("error").is_none(),
        "browser journey failed: {}",
        context()
    );
    assert_eq!(
        seen["aliceOutput"],
        "42",
        "alice's kernel ran: {}",
        context()
    );
    assert_eq!(seen["aliceKernelSocket"], true, "{}", context());
    assert_eq!(seen["aliceHermesSocket"], true, "{}", context());
    assert_eq!(seen["bobHermesTitle"], "Hermes Agent - Dashboard");
    assert_eq!(seen["bobLabStatus"], 403, "{seen}");
    assert!(
        seen["bobLabText"]
            .as_str()
            .unwrap()
            .contains("bob@example.com"),
        "{seen}"
    );
    assert_eq!(
        seen["bobLabSignOut"], 1,
        "the 403 page has a sign-out: {seen}"
    );
    assert_eq!(seen["bobApi"]["status"], 403, "{seen}");
    assert!(
        seen["bobApi"]["body"]
            .as_str()
            .unwrap()
            .contains("forbidden"),
        "{seen}"
    );
    assert_eq!(
        seen["bobKernelSocket"], false,
        "bob's kernel socket is refused: {seen}"
    );
    let closed = seen["kernelClosedMs"].as_u64().unwrap_or(u64::MAX);
    assert!(
        closed <= 2000,
        "alice's kernel socket closed within 2 s of the reload: {seen}"
    );
    if seen["hermesStillOpen"] != true {
        let audit = proxy.audit_when("config_reloaded").await;
        panic!("her Hermes socket stays: {seen}\n{audit:?}");
    }
    assert!(
        seen["hermesEventAfter"]
            .as_str()
            .is_some_and(|e| e.contains("the reload")),
        "an event published after the reload reaches her Hermes socket: {seen}"
    );
    assert_eq!(seen["aliceLabAfter"]["status"], 403, "{seen}");
    assert_eq!(seen["aliceHermesAfter"], 200, "{seen}");
    // bob's three refusals were portcullis's (page, API, kernel socket).
    let lines = proxy.audit_when("access_denied").await;
    let bob_refused = lines
        .iter()
        .filter(|l| l["event"] == "access_denied" && l["route"] == "/jupyter/")
        .filter(|l| l["user_id"].as_str().is_some_and(|u| u.contains("bob")))
        .count();
    assert_eq!(bob_refused, 3, "{lines:?}");
    let revoked = proxy.audit_event("access_revoked").await;
    assert_eq!(revoked["route"], "/jupyter/");
    assert_eq!(
        revoked["user_id"].as_str().map(|u| u.contains("alice")),
        Some(true),
        "{revoked}"
    );
    eprintln!("kernel socket closed {closed} ms after the reload");
    drop(nginx);
}
