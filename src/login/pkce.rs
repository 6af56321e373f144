//! The short-lived PKCE cookie that carries a login from `/auth/login` to
//! `/auth/callback`: `state`, the code verifier, `nonce`, the provider, the
//! validated `next` and the `redirect_uri` used. It is sealed like the session
//! cookie (under its own key), so none of it can be read or forged by the browser.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::redirect::SafeNext;
use crate::secret::{constant_time_eq, random_token};

/// How long a login may take at the IdP, in seconds.
pub const PKCE_COOKIE_TTL_SECS: u64 = 600;

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
