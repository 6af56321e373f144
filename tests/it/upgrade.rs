//! WebSocket upgrades authenticated by the session cookie: allowed only from the
//! dashboard's own origin (cross-site WebSocket hijacking defence), never redirected.

use crate::common::{Browser, Proxy, World};

async fn connect(
    proxy: &Proxy,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<crate::common::Ws, u16> {
    crate::common::ws_open(proxy, "/ws", cookie, origin).await
}
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread")]
async fn same_origin_upgrade_with_session_reaches_the_upstream() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    assert_eq!(b.sign_in(&proxy, "/", "ada@example.com").await.status, 302);
    let cookie = format!("portcullis_session={}", b.cookies["portcullis_session"]);
    let own = format!("http://{}", proxy.addr);
    let mut ws = connect(&proxy, Some(&cookie), Some(&own))
        .await
        .expect("upgrade");
    ws.send(Message::Text("ping".into())).await.unwrap();
    let reply = ws.next().await.unwrap().unwrap();
    assert_eq!(reply.into_text().unwrap().as_str(), "echo: ping");
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_from_foreign_or_missing_origin_is_401() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let mut b = Browser::new();
    assert_eq!(b.sign_in(&proxy, "/", "ada@example.com").await.status, 302);
    let cookie = format!("portcullis_session={}", b.cookies["portcullis_session"]);
    assert_eq!(
        connect(&proxy, Some(&cookie), Some("http://evil.example"))
            .await
            .err(),
        Some(401)
    );
    assert_eq!(connect(&proxy, Some(&cookie), None).await.err(), Some(401));
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrade_without_session_is_401_not_a_redirect() {
    let world = World::new().await;
    let proxy = Proxy::start(&world.config("", "")).await;
    let own = format!("http://{}", proxy.addr);
    assert_eq!(connect(&proxy, None, Some(&own)).await.err(), Some(401));
}
