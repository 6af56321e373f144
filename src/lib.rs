//! portcullis: a reverse-proxy sidecar that puts an OAuth/OIDC login in front of a
//! web dashboard.
//!
//! The request's journey: [`config`] comes in, the [`gate`] routes each request,
//! [`login`], [`provider`] and [`session`] decide who you are, and the upstream gets
//! a clean request.

pub mod access;
pub mod admin;
pub mod app;
pub mod assertion;
pub mod audit;
pub mod bearer;
pub mod config;
pub mod demo;
pub mod discovery;
pub mod gate;
pub mod header_names;
pub mod identify;
pub mod ledger;
pub mod live;
pub mod logging;
pub mod login;
pub mod metrics;
pub mod pairing;
pub mod paths;
pub mod provider;
pub mod public_routes;
pub mod public_url;
pub mod redirect;
pub mod reload;
pub mod reply;
pub mod request;
pub mod revalidate;
pub mod routing;
pub mod secret;
pub mod server;
pub mod session;
pub mod store;
pub mod tickets;
