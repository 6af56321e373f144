//! Prints a valid sealed session cookie value for a session secret, for the
//! benchmark (which has no IdP to sign in with).
//!
//!   cargo run --release --example mint_cookie -- "$SECRET"

use std::time::Duration;

use portcullis::provider::Identity;
use portcullis::secret::Secret;
use portcullis::session::codec::{Codec, Purpose};
use portcullis::session::Sessions;

fn main() {
    let Some(secret) = std::env::args().nth(1) else {
        eprintln!("usage: mint_cookie SESSION_SECRET");
        std::process::exit(2);
    };
    let sessions = Sessions::new(
        Codec::new(Purpose::Session, &Secret::new(secret), &[]),
        Duration::from_secs(3600),
        "portcullis_session".into(),
    );
    let identity = Identity {
        user_id: "bench-user".into(),
        email: Some("bench@example.com".into()),
        email_verified: true,
        name: Some("Bench".into()),
        groups: vec![],
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (_, sealed) = sessions.issue(&identity, vec![], "bench", now);
    println!("{sealed}");
}
