//! The short-lived PKCE cookie that carries a login from `/auth/login` to
//! `/auth/callback`: `state`, the code verifier, `nonce`, the provider, the
//! validated `next` and the `redirect_uri` used. It is sealed like the session
//! cookie (under its own key), so none of it can be read or forged by the browser.
//!
//! One browser may have several sign-ins in flight (tabs reloaded after a
//! session expired): the cookie holds up to [`MAX_PENDING`] of them, each
//! found by its `state` and taken out when its callback arrives, so they
//! complete in any order.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::redirect::SafeNext;
use crate::secret::{constant_time_eq, random_token};
use crate::session::codec::Codec;

/// How long a login may take at the IdP, in seconds.
pub const PKCE_COOKIE_TTL_SECS: u64 = 600;
/// Sign-ins one browser may have in flight at once; a ninth drops the oldest.
pub const MAX_PENDING: usize = 8;
/// Longest sealed cookie value written: browsers drop a cookie past 4096 bytes,
/// name included, so the oldest logins go until the rest fit.
const MAX_SEALED: usize = 3800;

/// The sign-ins in flight in one browser, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogins(Vec<PendingLogin>);

impl PendingLogins {
    /// The unexpired logins of every cookie value that opens.
    pub fn read<'a>(codec: &Codec, values: impl Iterator<Item = &'a str>, now: i64) -> Self {
        let mut logins: Vec<PendingLogin> = values
            .filter_map(|v| codec.open::<PendingLogins>(v))
            .flat_map(|l| l.0)
            .filter(|p| p.exp > now)
            .collect();
        logins.sort_by_key(|p| p.exp);
        Self(logins)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Adds a login, keeping the newest [`MAX_PENDING`].
    pub fn push(&mut self, login: PendingLogin) {
        self.0.push(login);
        let excess = self.0.len().saturating_sub(MAX_PENDING);
        self.0.drain(..excess);
    }

    /// Takes out the login whose `state` this is (each compared in constant time).
    pub fn take(&mut self, state: &str) -> Option<PendingLogin> {
        let at = self.0.iter().position(|p| p.state_matches(state))?;
        Some(self.0.remove(at))
    }

    /// The cookie value holding these logins, dropping the oldest until it fits;
    /// `None` when none is left.
    pub fn seal(mut self, codec: &Codec) -> Option<String> {
        while !self.0.is_empty() {
            let sealed = codec.seal(&self);
            if sealed.len() <= MAX_SEALED {
                return Some(sealed);
            }
            self.0.remove(0);
        }
        None
    }
}

/// One login in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingLogin {
    pub state: String,
    pub verifier: String,
    pub nonce: String,
    pub provider: String,
    /// Validated with [`SafeNext`] when created and again when used.
    pub next: String,
    pub redirect_uri: String,
    /// Unix seconds after which the login is void.
    pub exp: i64,
}

impl PendingLogin {
    /// A fresh login with random `state`, verifier (32 bytes) and `nonce`.
    pub fn new(provider: &str, next: &SafeNext, redirect_uri: String, now: i64) -> Self {
        Self {
            state: random_token(32),
            verifier: random_token(32),
            nonce: random_token(32),
            provider: provider.to_string(),
            next: next.as_str().to_string(),
            redirect_uri,
            exp: now + PKCE_COOKIE_TTL_SECS as i64,
        }
    }

    /// The S256 code challenge: base64url(SHA-256(verifier)) (RFC 7636 §4.2).
    pub fn code_challenge(&self) -> String {
        URL_SAFE_NO_PAD.encode(Sha256::digest(self.verifier.as_bytes()))
    }

    /// Whether the callback's `state` is this login's, compared in constant time.
    pub fn state_matches(&self, state: &str) -> bool {
        constant_time_eq(self.state.as_bytes(), state.as_bytes())
    }

    /// The landing path, validated once more.
    pub fn next(&self) -> SafeNext {
        SafeNext::parse(&self.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::session::codec::Purpose;

    fn codec() -> Codec {
        Codec::new(Purpose::Pkce, &Secret::new("p".repeat(40)), &[])
    }

    #[test]
    fn several_logins_are_kept_and_each_is_taken_once() {
        let mut logins = PendingLogins::default();
        let made: Vec<PendingLogin> = (0..3)
            .map(|i| {
                PendingLogin::new(
                    "x",
                    &SafeNext::parse(&format!("/tab{i}")),
                    String::new(),
                    100,
                )
            })
            .collect();
        for p in &made {
            logins.push(p.clone());
        }
        let sealed = logins.seal(&codec()).unwrap();
        let mut read = PendingLogins::read(&codec(), [sealed.as_str()].into_iter(), 0);
        // In reverse order, each finds its own.
        for p in made.iter().rev() {
            assert_eq!(read.take(&p.state).as_ref(), Some(p));
            assert_eq!(read.take(&p.state), None, "once");
        }
        assert!(read.is_empty());
        assert_eq!(read.seal(&codec()), None);
    }

    #[test]
    fn the_oldest_go_beyond_eight_or_past_a_cookies_size_and_expired_ones_are_dropped() {
        let mut logins = PendingLogins::default();
        for i in 0..10 {
            logins.push(PendingLogin::new("x", &SafeNext::root(), String::new(), i));
        }
        assert_eq!(logins.0.len(), MAX_PENDING);
        assert_eq!(
            logins.0[0].exp,
            2 + PKCE_COOKIE_TTL_SECS as i64,
            "the two oldest went"
        );
        let long = SafeNext::parse(&format!("/{}", "a".repeat(1500)));
        let mut big = PendingLogins::default();
        for i in 0..4 {
            big.push(PendingLogin::new("x", &long, String::new(), i));
        }
        let sealed = big.seal(&codec()).unwrap();
        assert!(sealed.len() <= MAX_SEALED);
        let read = PendingLogins::read(&codec(), [sealed.as_str()].into_iter(), 0);
        assert!(read.0.len() < 4 && !read.is_empty());
        let expired = PendingLogins::read(&codec(), [sealed.as_str()].into_iter(), i64::MAX);
        assert!(expired.is_empty());
    }

    #[test]
    fn challenge_matches_rfc7636_example() {
        let mut p = PendingLogin::new("x", &SafeNext::root(), String::new(), 0);
        p.verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into();
        assert_eq!(
            p.code_challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn state_must_match_exactly() {
        let p = PendingLogin::new("x", &SafeNext::root(), String::new(), 0);
        assert!(p.state_matches(&p.state.clone()));
        assert!(!p.state_matches(""));
        assert!(!p.state_matches(&p.state[..10]));
    }

    #[test]
    fn logins_are_random() {
        let a = PendingLogin::new("x", &SafeNext::root(), String::new(), 0);
        let b = PendingLogin::new("x", &SafeNext::root(), String::new(), 0);
        assert_ne!(a.state, b.state);
        assert_ne!(a.verifier, b.verifier);
        assert_ne!(a.nonce, b.nonce);
        assert_eq!(a.verifier.len(), 43);
    }
}
