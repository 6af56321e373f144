//! The store's ledger of sessions: who signed in, from where, since when and
//! last seen when, so that a person can see their sessions and end them, and
//! an operator can see who is in.
//!
//! A session is recorded once, at sign-in (never on the hot path), until its
//! horizon. "Last seen" is written at most once a minute per session per
//! instance, off the request's path. Ending a session is a revocation, so it
//! holds on every instance and closes the session's WebSockets there.
//!
//! Records name a session by a public id (a hash of its session id): the
//! session id itself is the key of its revocation and never leaves the gate.
//! Nothing secret is kept: browser and OS in a word, the address, the times.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::session::SessionClaims;
use crate::store::{Store, StoreError, Verdict};

/// One session, as the ledger holds it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// The public id (see [`public_id`]).
    pub id: String,
    #[serde(skip_serializing, default)]
    sid: String,
    pub user_id: String,
    pub email: Option<String>,
    pub provider: String,
    pub created_at: i64,
    /// Until when it can live (its horizon).
    pub until: i64,
    pub ip: Option<String>,
    /// Browser and OS in a word ("Firefox on Linux").
    pub user_agent: String,
    #[serde(default)]
    pub last_seen_at: Option<i64>,
}

/// The stored form, which keeps the session id.
#[derive(Serialize, Deserialize)]
struct Stored {
    sid: String,
    #[serde(flatten)]
    entry: Entry,
}

fn record_key(sid: &str) -> String {
    format!("ledger:session:{sid}")
}

fn person_key(provider: &str, sub: &str) -> String {
    format!("ledger:person:{provider}:{sub}")
}

const EVERYONE: &str = "ledger:everyone";

fn seen_key(sid: &str) -> String {
    format!("ledger:seen:{sid}")
}

/// A session's public id: what pages, JSON and operators call it.
pub fn public_id(sid: &str) -> String {
    let digest = Sha256::digest(format!("portcullis session {sid}").as_bytes());
    hex::encode(&digest[..12])
}

/// Browser and OS of a `User-Agent`, in a word each.
pub fn device_of(user_agent: &str) -> String {
    let ua = user_agent;
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else if ua.starts_with("curl/") {
        "curl"
    } else {
        "a browser"
    };
    let os = if ua.contains("Windows") {
        "Windows"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        "iOS"
    } else if ua.contains("Android") {
        "Android"
    } else if ua.contains("Mac OS X") || ua.contains("Macintosh") {
        "macOS"
    } else if ua.contains("Linux") || ua.contains("X11") {
        "Linux"
    } else {
        return browser.to_string();
    };
    format!("{browser} on {os}")
}

/// Records a session at sign-in, until `until` (its horizon).
pub async fn record(
    store: &dyn Store,
    claims: &SessionClaims,
    until: i64,
    ip: Option<IpAddr>,
    user_agent: &str,
) -> Result<(), StoreError> {
    let stored = Stored {
        sid: claims.sid.clone(),
        entry: Entry {
            id: public_id(&claims.sid),
            sid: String::new(),
            user_id: claims.sub.clone(),
            email: claims.email.clone(),
            provider: claims.provider.clone(),
            created_at: claims.iat,
            until,
            ip: ip.map(|ip| ip.to_string()),
            user_agent: device_of(user_agent),
            last_seen_at: None,
        },
    };
    let json = serde_json::to_vec(&stored).unwrap_or_default();
    store.put(&record_key(&claims.sid), &json, until).await?;
    let member = format!("{until} {}", claims.sid);
    store
        .add_member(&person_key(&claims.provider, &claims.sub), &member, until)
        .await?;
    store.add_member(EVERYONE, &member, until).await
}

/// Writes that session `sid` was used at `now`, off the request's path.
pub fn note_seen(store: std::sync::Arc<dyn Store>, sid: &str, until: i64, now: i64) {
    crate::store::note_time(store, seen_key(sid), now, until);
}

/// The live sessions of a set: unexpired at `now`, not revoked.
async fn live_in(store: &dyn Store, set: &str, now: i64) -> Result<Vec<Entry>, StoreError> {
    let mut entries = Vec::new();
    for member in store.members(set).await? {
        let Some((until, sid)) = member.split_once(' ') else {
            continue;
        };
        if until.parse::<i64>().map_or(true, |u| u <= now)
            || store.revocations().check(sid, now) != Verdict::Live
        {
            continue;
        }
        let Some(bytes) = store.get(&record_key(sid)).await? else {
            continue;
        };
        let Ok(stored) = serde_json::from_slice::<Stored>(&bytes) else {
            continue;
        };
        let mut entry = stored.entry;
        entry.sid = stored.sid;
        entry.last_seen_at = store
            .get(&seen_key(sid))
            .await?
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse().ok());
        entries.push(entry);
    }
    entries.sort_by_key(|e| std::cmp::Reverse(e.created_at));
    Ok(entries)
}

/// A person's live sessions, newest first.
pub async fn of_person(
    store: &dyn Store,
    provider: &str,
    sub: &str,
    now: i64,
) -> Result<Vec<Entry>, StoreError> {
    live_in(store, &person_key(provider, sub), now).await
}

/// Every live session, newest first (for operators).
pub async fn everyone(store: &dyn Store, now: i64) -> Result<Vec<Entry>, StoreError> {
    live_in(store, EVERYONE, now).await
}

impl Entry {
    /// Whether this entry is the session `sid`.
    pub fn is(&self, sid: &str) -> bool {
        self.sid == sid
    }

    /// The session id, for the gate's own use (its WebSockets, its revocation).
    pub fn sid(&self) -> &str {
        &self.sid
    }

    /// Ends the session on every instance: its revocation (its cookie is refused
    /// and its WebSockets close wherever they are), then its records.
    pub async fn end(&self, store: &dyn Store) -> Result<(), StoreError> {
        store.revoke(&self.sid, self.until).await?;
        let member = format!("{} {}", self.until, self.sid);
        let _ = store
            .remove_member(&person_key(&self.provider, &self.user_id), &member)
            .await;
        let _ = store.remove_member(EVERYONE, &member).await;
        let _ = store.delete(&record_key(&self.sid)).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;

    /// The store keeps entries in real time.
    fn base() -> i64 {
        crate::store::unix_now()
    }

    fn claims(sid: &str, sub: &str) -> SessionClaims {
        SessionClaims {
            sid: sid.into(),
            sub: sub.into(),
            email: Some(format!("{sub}@example.com")),
            email_verified: true,
            name: None,
            provider: "idp".into(),
            groups: vec![],
            auth_time: base(),
            iat: base(),
            exp: base() + 3600,
        }
    }

    #[tokio::test]
    async fn a_person_sees_their_live_sessions_and_ending_one_revokes_it() {
        let store = MemoryStore::new();
        let ua = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
        for sid in ["s1", "s2"] {
            record(&store, &claims(sid, "alice"), base() + 3600, None, ua)
                .await
                .unwrap();
        }
        record(&store, &claims("s3", "bob"), base() + 3600, None, ua)
            .await
            .unwrap();
        let mine = of_person(&store, "idp", "alice", base()).await.unwrap();
        assert_eq!(mine.len(), 2);
        assert_eq!(mine[0].user_agent, "Chrome on Linux");
        assert_eq!(everyone(&store, base()).await.unwrap().len(), 3);
        let json = serde_json::to_string(&mine[0]).unwrap();
        assert!(
            !json.contains("\"sid\"") && !json.contains("s1\""),
            "no session id leaves: {json}"
        );
        mine[0].end(&store).await.unwrap();
        assert_eq!(
            store.revocations().check(mine[0].sid(), base()),
            Verdict::Revoked
        );
        assert_eq!(
            of_person(&store, "idp", "alice", base())
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            of_person(&store, "idp", "alice", base() + 3600)
                .await
                .unwrap()
                .is_empty(),
            "expired"
        );
    }

    #[test]
    fn devices_are_named_in_a_word() {
        for (ua, name) in [
            ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36 Edg/131.0", "Edge on Windows"),
            ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) Gecko/20100101 Firefox/133.0", "Firefox on macOS"),
            ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile Safari/604.1", "Safari on iOS"),
            ("curl/8.5.0", "curl"),
            ("", "a browser"),
        ] {
            assert_eq!(device_of(ua), name, "{ua}");
        }
    }
}
