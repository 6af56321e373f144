//! `session.revalidate`: each session re-checked with its IdP once that long
//! has passed since its last check, off the request's path.
//!
//! A background pass once a second looks through the store's ledger (see
//! [`crate::ledger`]) for sessions due a check; one instance takes each check
//! (a short claim in the store), asks the IdP with the tokens kept sealed for
//! the session, and:
//!
//! - the IdP vouches for it, and the person it describes may still use some
//!   route: the check is recorded (and rotated tokens kept);
//! - the IdP says no (a revoked grant, no longer in the organisation, a
//!   refused token), or describes someone no route admits: the session ends
//!   on every instance, its WebSockets with it (audit `logout`,
//!   `revalidation_failed`);
//! - the IdP cannot be reached: the session goes on until
//!   `session.revalidate_grace` past the due check, then ends (audit
//!   `logout`, `revalidation_unreachable`), so the person signs in again.
//!
//! Requests never wait for any of it: while a check is in flight they pass.

use std::time::Duration;

use crate::app::{App, SharedApp};
use crate::audit::{AuditEvent, AuditKind};
use crate::ledger::{self, Entry};
use crate::login::flow::tokens_key;
use crate::provider::{ProviderError, Tokens};

/// How often the ledger is looked through for checks that are due.
const PASS_EVERY: Duration = Duration::from_secs(1);
/// How long one instance holds a session's check before another may take it
/// (released as soon as the check is done).
const CLAIM_SECS: i64 = 30;

fn checked_key(sid: &str) -> String {
    format!("ledger:checked:{sid}")
}

fn claim_key(sid: &str) -> String {
    format!("ledger:checking:{sid}")
}

/// The background service that runs the passes.
pub struct Revalidator(pub SharedApp);

#[async_trait::async_trait]
impl pingora::services::background::BackgroundService for Revalidator {
    async fn start(&self, mut shutdown: pingora::server::ShutdownWatch) {
        let mut tick = tokio::time::interval(PASS_EVERY);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    let app = self.0.load_full();
                    if let Some(every) = app.config.session.revalidate {
                        pass(&app, every.as_secs() as i64, crate::store::unix_now()).await;
                    }
                }
                _ = shutdown.changed() => return,
            }
        }
    }
}

/// One look through the ledger: every session due a check is checked.
pub async fn pass(app: &App, every: i64, now: i64) {
    let Ok(entries) = ledger::everyone(&*app.store, now).await else {
        return;
    };
    for entry in entries {
        let store = &*app.store;
        let checked = match store.get(&checked_key(entry.sid())).await {
            Ok(v) => v
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(entry.created_at),
            Err(_) => return,
        };
        let due_at = checked + every;
        if now < due_at {
            continue;
        }
        match store
            .put_if_absent(&claim_key(entry.sid()), b"1", now + CLAIM_SECS)
            .await
        {
            Ok(true) => {
                check(app, &entry, due_at, now).await;
                let _ = store.delete(&claim_key(entry.sid())).await;
            }
            Ok(false) => {}
            Err(_) => return,
        }
    }
}

async fn mark_checked(app: &App, entry: &Entry, now: i64) {
    let _ = app
        .store
        .put(
            &checked_key(entry.sid()),
            now.to_string().as_bytes(),
            entry.until,
        )
        .await;
}

async fn end(app: &App, entry: &Entry, reason: &str) {
    if let Err(e) = entry.end(&*app.store).await {
        tracing::warn!(error = %e, "a session the IdP no longer vouches for could not be ended yet; the next pass tries again");
        return;
    }
    tracing::info!(provider = %entry.provider, reason, "ended a session after re-validating it with its IdP");
    app.audit.emit(
        AuditEvent::new(AuditKind::Logout, None)
            .provider(&entry.provider)
            .user(&entry.user_id)
            .reason(reason),
    );
}

/// Re-checks one session that was due at `due_at`.
async fn check(app: &App, entry: &Entry, due_at: i64, now: i64) {
    let provider = match app.providers.get(&entry.provider) {
        Some(p) if p.revalidates() => p,
        // Nothing to ask (a link's session, a provider that cannot re-check).
        _ => return mark_checked(app, entry, now).await,
    };
    let tokens = match app.store.get(&tokens_key(entry.sid())).await {
        Ok(sealed) => sealed
            .and_then(|s| String::from_utf8(s).ok())
            .and_then(|s| app.token_codec.open::<Tokens>(&s)),
        Err(_) => return,
    };
    let Some(tokens) = tokens else {
        return mark_checked(app, entry, now).await;
    };
    match provider.revalidate(&tokens).await {
        Ok(None) => mark_checked(app, entry, now).await,
        Ok(Some(standing)) => {
            if let Some(identity) = &standing.identity {
                let same = identity.user_id == entry.user_id;
                if !same || app.routes.admits_anywhere(&identity.person()).is_err() {
                    return end(app, entry, "revalidation_failed").await;
                }
            }
            let sealed = app.token_codec.seal(&standing.tokens);
            let _ = app
                .store
                .put(&tokens_key(entry.sid()), sealed.as_bytes(), entry.until)
                .await;
            mark_checked(app, entry, now).await;
        }
        Err(ProviderError::Unreachable(why)) => {
            let grace = app.config.session.revalidate_grace.as_secs() as i64;
            if now >= due_at + grace {
                end(app, entry, "revalidation_unreachable").await;
            } else {
                tracing::warn!(provider = %entry.provider, error = %why, "cannot re-validate a session: its IdP is unreachable; the session goes on until session.revalidate_grace has passed");
            }
        }
        Err(e) => {
            tracing::info!(provider = %entry.provider, error = %e, "the IdP no longer vouches for a session");
            end(app, entry, "revalidation_failed").await;
        }
    }
}
