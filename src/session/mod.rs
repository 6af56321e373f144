//! Sessions: what a signed-in person's cookie says, and how it is read and written.
//!
//! The cookie is sealed by [`codec::Codec`]; its name and attributes come from
//! [`cookie`]. A tampered, expired or foreign cookie reads as [`SessionRead::Invalid`]
//! and is cleared by the gate, never shown as an error. Revocation (logout) is checked
//! by the gate against the store, since it needs I/O.

pub mod codec;
pub mod cookie;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::provider::Identity;
use crate::secret::random_token;
use codec::Codec;

/// What the session cookie carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaims {
    /// Random session id, the key of revocations.
    pub sid: String,
    /// The user id (the IdP's subject).
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// The provider id that signed the person in.
    pub provider: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
}

/// The outcome of reading the session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRead {
    /// No session cookie at all.
    Absent,
    /// A cookie was sent but is tampered, foreign, malformed or expired.
    Invalid,
    Valid(SessionClaims),
}

/// Issues and reads session cookies.
#[derive(Debug)]
pub struct Sessions {
    codec: Codec,
    ttl: Duration,
    cookie_base: String,
}

impl Sessions {
    pub fn new(codec: Codec, ttl: Duration, cookie_base: String) -> Self {
        Self {
            codec,
            ttl,
            cookie_base,
        }
    }

    /// The base cookie name (without `__Host-`/`__Secure-`).
    pub fn cookie_base(&self) -> &str {
        &self.cookie_base
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// New claims for `identity`, valid for the session ttl from `now`.
    pub fn issue(&self, identity: &Identity, provider: &str, now: i64) -> (SessionClaims, String) {
        let claims = SessionClaims {
            sid: random_token(16),
            sub: identity.user_id.clone(),
            email: identity.email.clone(),
            email_verified: identity.email_verified,
            name: identity.name.clone(),
            provider: provider.to_string(),
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
        };
        let sealed = self.codec.seal(&claims);
        (claims, sealed)
    }

    /// Reads the session from a `Cookie` header value at time `now`.
    pub fn read(&self, cookie_header: Option<&str>, now: i64) -> SessionRead {
        let Some(header) = cookie_header else {
            return SessionRead::Absent;
        };
        let mut seen = false;
        for value in cookie::values(header, &self.cookie_base) {
            seen = true;
            if let Some(claims) = self.codec.open::<SessionClaims>(value) {
                if claims.exp > now {
                    return SessionRead::Valid(claims);
                }
            }
        }
        if seen {
            SessionRead::Invalid
        } else {
            SessionRead::Absent
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use codec::Purpose;

    fn sessions() -> Sessions {
        let codec = Codec::new(Purpose::Session, &Secret::new("k".repeat(40)), &[]);
        Sessions::new(codec, Duration::from_secs(3600), "sess".into())
    }

    fn identity() -> Identity {
        Identity {
            user_id: "u1".into(),
            email: Some("u1@example.com".into()),
            email_verified: true,
            name: Some("U One".into()),
        }
    }

    #[test]
    fn issued_cookie_reads_back_under_any_variant_name() {
        let s = sessions();
        let (claims, sealed) = s.issue(&identity(), "idp", 1000);
        assert_eq!(claims.exp, 1000 + 3600);
        for name in ["sess", "__Host-sess", "__Secure-sess"] {
            let header = format!("x=1; {name}={sealed}");
            assert_eq!(
                s.read(Some(&header), 1001),
                SessionRead::Valid(claims.clone())
            );
        }
    }

    #[test]
    fn expired_cookie_is_invalid() {
        let s = sessions();
        let (_, sealed) = s.issue(&identity(), "idp", 1000);
        assert_eq!(
            s.read(Some(&format!("sess={sealed}")), 1000 + 3600),
            SessionRead::Invalid
        );
    }

    #[test]
    fn tampered_cookie_is_invalid_and_missing_is_absent() {
        let s = sessions();
        assert_eq!(s.read(Some("sess=garbage"), 0), SessionRead::Invalid);
        assert_eq!(s.read(Some("other=1"), 0), SessionRead::Absent);
        assert_eq!(s.read(None, 0), SessionRead::Absent);
    }

    #[test]
    fn a_valid_cookie_wins_over_a_stale_duplicate() {
        let s = sessions();
        let (claims, sealed) = s.issue(&identity(), "idp", 1000);
        let header = format!("sess=stale; __Host-sess={sealed}");
        assert_eq!(s.read(Some(&header), 1001), SessionRead::Valid(claims));
    }

    #[test]
    fn session_ids_are_unique() {
        let s = sessions();
        let (a, _) = s.issue(&identity(), "idp", 0);
        let (b, _) = s.issue(&identity(), "idp", 0);
        assert_ne!(a.sid, b.sid);
    }
}
