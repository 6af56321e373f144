//! portcullis's integration tests, one binary (each test binary links the whole
//! crate): the real `portcullis` binary on free loopback ports, in front of real
//! IdPs, dashboards, fronts and browsers. `common` holds the harness.
//!
//! Plain `cargo test` runs the fast tier. The minute-long tests (steady load, idle
//! and expiring WebSockets, the 1000-handshake race) are `#[ignore]`d there;
//! `scripts/test.sh`, and so CI, runs them after it (`cargo test --test it -- --ignored`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod access;
mod assertion;
mod backchannel;
mod behind_tls;
mod browser;
mod cli;
mod clients;
mod edges;
mod fleet;
mod forward_auth;
mod gate_flow;
mod github;
mod hardening;
mod hermes;
mod hostile;
mod idp_faults;
mod jupyter;
mod links;
mod load;
mod oauth2_portal;
mod operations;
mod path_tricks;
mod prefix;
mod properties;
mod providers;
mod public;
mod real_idp;
mod revalidate;
mod routes;
mod sessions;
mod tabs;
mod two_dashboards;
mod upgrade;
mod websocket;
