//! Sessions: what a signed-in person's cookie says, and how it is read and written.
//!
//! The cookie is sealed by [`codec::Codec`]; its name and attributes come from
//! [`cookie`]. A tampered, expired or foreign cookie reads as [`SessionRead::Invalid`]
//! and is cleared by the gate, never shown as an error. Revocation (logout) is checked
//! by the gate against the store, since it needs I/O.

pub mod codec;
pub mod cookie;
mod opened;

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::provider::Identity;
use crate::public_url::RequestOrigin;
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
    /// The person's groups that an `[access]` rule names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// When the person signed in at the IdP, Unix seconds; sliding refresh never
    /// carries a session past `auth_time + max_age`.
    #[serde(default)]
    pub auth_time: i64,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
}

impl SessionClaims {
    /// What `[access]` looks at.
    pub fn person(&self) -> crate::access::Person<'_> {
        crate::access::Person {
            email: self.email.as_deref(),
            email_verified: self.email_verified,
            groups: &self.groups,
        }
    }
}

/// The outcome of reading the session cookie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionRead {
    /// No session cookie at all.
    Absent,
    /// A cookie was sent but is tampered, foreign, malformed or expired.
    Invalid,
    Valid(Arc<SessionClaims>),
}

/// Issues and reads session cookies.
#[derive(Debug)]
pub struct Sessions {
    codec: Codec,
    /// Values that opened before: a busy session is opened once, not per request.
    opened: opened::Opened,
    ttl: Duration,
    cookie: cookie::CookieNames,
    /// `Some(max_age)`: sliding refresh on, never past `auth_time + max_age`.
    sliding: Option<Duration>,
}

impl Sessions {
    pub fn new(codec: Codec, ttl: Duration, cookie_base: String) -> Self {
        Self {
            codec,
            opened: opened::Opened::default(),
            ttl,
            cookie: cookie::CookieNames::new(&cookie_base),
            sliding: None,
        }
    }

    /// Turns sliding refresh on, up to `max_age` after sign-in.
    pub fn with_sliding(mut self, max_age: Duration) -> Self {
        self.sliding = Some(max_age);
        self
    }

    /// Whether sessions slide (each active use pushes the expiry on).
    pub fn slides(&self) -> bool {
        self.sliding.is_some()
    }

    /// The latest a session signed in at `auth_time` can be valid, however often
    /// it is refreshed: revocations must last that long.
    pub fn horizon(&self, claims: &SessionClaims) -> i64 {
        match self.sliding {
            Some(max_age) => claims.exp.max(claims.auth_time + max_age.as_secs() as i64),
            None => claims.exp,
        }
    }

    /// With sliding refresh on, a fresh cookie for an active session past half its
    /// life: new expiry `now + ttl`, capped at `auth_time + max_age`. `None` when no
    /// refresh is due or it would not extend the session.
    pub fn refresh(&self, claims: &SessionClaims, now: i64) -> Option<(SessionClaims, String)> {
        let max_age = self.sliding?;
        let ttl = self.ttl.as_secs() as i64;
        if now - claims.iat < ttl / 2 {
            return None;
        }
        let cap = claims.auth_time + max_age.as_secs() as i64;
        let exp = (now + ttl).min(cap);
        if exp <= claims.exp {
            return None;
        }
        let fresh = SessionClaims {
            iat: now,
            exp,
            ..claims.clone()
        };
        let sealed = self.codec.seal(&fresh);
        Some((fresh, sealed))
    }

    /// The base cookie name (without `__Host-`/`__Secure-`).
    pub fn cookie_base(&self) -> &str {
        self.cookie.base()
    }

    /// The one session cookie name read from (and written to) `origin`.
    pub fn cookie_name(&self, origin: &RequestOrigin) -> &str {
        self.cookie.for_origin(origin)
    }

    /// The claims of one sealed cookie value, when it is authentic and unexpired.
    pub fn open(&self, value: &str, now: i64) -> Option<Arc<SessionClaims>> {
        self.open_noting_use(value.as_bytes(), now)
            .map(|(claims, _)| claims)
    }

    /// [`Sessions::open`], and whether this use is due to be written down as
    /// the session's "last seen" (on this instance: at sign-in, then at most
    /// once a minute; see [`crate::ledger`]).
    pub fn open_noting_use(&self, value: &[u8], now: i64) -> Option<(Arc<SessionClaims>, bool)> {
        let (claims, due) = match self.opened.get(value, now) {
            Some(hit) => hit,
            None => {
                let value = std::str::from_utf8(value).ok()?;
                let claims = Arc::new(self.codec.open::<SessionClaims>(value)?);
                self.opened.insert(value, &claims, now);
                (claims, true)
            }
        };
        (claims.exp > now).then_some((claims, due))
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// New claims for `identity`, valid for the session ttl from `now`; `groups`
    /// are the ones worth keeping (see `RouteTable::relevant_groups`).
    pub fn issue(
        &self,
        identity: &Identity,
        groups: Vec<String>,
        provider: &str,
        now: i64,
    ) -> (SessionClaims, String) {
        let claims = SessionClaims {
            sid: random_token(16),
            sub: identity.user_id.clone(),
            email: identity.email.clone(),
            email_verified: identity.email_verified,
            name: identity.name.clone(),
            provider: provider.to_string(),
            groups,
            auth_time: now,
            iat: now,
            exp: now + self.ttl.as_secs() as i64,
        };
        let sealed = self.codec.seal(&claims);
        (claims, sealed)
    }

    /// Reads the session from a request's `Cookie` header (as bytes) at time
    /// `now`, looking only at the name `origin` writes (see [`cookie`]); the first
    /// authentic, unexpired value wins.
    pub fn read(
        &self,
        cookie_header: Option<&[u8]>,
        origin: &RequestOrigin,
        now: i64,
    ) -> SessionRead {
        let Some(header) = cookie_header else {
            return SessionRead::Absent;
        };
        let mut seen = false;
        for value in cookie::values(header, self.cookie_name(origin)) {
            seen = true;
            if let Some(claims) = self.open(value, now) {
                return SessionRead::Valid(claims);
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
    use crate::public_url::{Prefix, Scheme};
    use crate::secret::Secret;
    use codec::Purpose;

    fn origin(scheme: Scheme, prefix: &str) -> RequestOrigin {
        RequestOrigin {
            scheme,
            host: "dash.example.com".into(),
            prefix: Prefix::parse(prefix).unwrap(),
        }
    }

    fn http() -> RequestOrigin {
        origin(Scheme::Http, "")
    }

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
            groups: vec![],
        }
    }

    fn sliding(ttl: u64, max_age: u64) -> Sessions {
        let codec = Codec::new(Purpose::Session, &Secret::new("k".repeat(40)), &[]);
        Sessions::new(codec, Duration::from_secs(ttl), "sess".into())
            .with_sliding(Duration::from_secs(max_age))
    }

    #[test]
    fn refresh_waits_for_half_the_ttl_then_slides() {
        let s = sliding(100, 1000);
        let (claims, _) = s.issue(&identity(), vec![], "idp", 0);
        assert_eq!(
            s.refresh(&claims, 49),
            None,
            "less than half the ttl passed"
        );
        let (fresh, sealed) = s.refresh(&claims, 50).unwrap();
        assert_eq!((fresh.iat, fresh.exp, fresh.auth_time), (50, 150, 0));
        assert_eq!(fresh.sid, claims.sid, "the session keeps its id");
        assert_eq!(
            s.read(Some(format!("sess={sealed}").as_bytes()), &http(), 120),
            SessionRead::Valid(Arc::new(fresh))
        );
    }

    #[test]
    fn refresh_never_passes_the_absolute_max_age() {
        let s = sliding(100, 230);
        let (mut claims, _) = s.issue(&identity(), vec![], "idp", 0);
        let mut refreshes = 0;
        for now in (0..400).step_by(10) {
            if let Some((fresh, _)) = s.refresh(&claims, now) {
                claims = fresh;
                refreshes += 1;
            }
        }
        assert!(
            refreshes >= 2,
            "an active person is refreshed more than once"
        );
        assert_eq!(claims.exp, 230, "capped at auth_time + max_age");
        assert!(s.refresh(&claims, 229).is_none());
        assert_eq!(s.horizon(&claims), 230);
    }

    #[test]
    fn without_sliding_there_is_no_refresh() {
        let s = sessions();
        let (claims, _) = s.issue(&identity(), vec![], "idp", 0);
        assert_eq!(s.refresh(&claims, 3000), None);
        assert_eq!(s.horizon(&claims), claims.exp);
    }

    #[test]
    fn cookie_is_read_only_under_the_name_its_origin_writes() {
        let s = sessions();
        let (claims, sealed) = s.issue(&identity(), vec![], "idp", 1000);
        assert_eq!(claims.exp, 1000 + 3600);
        let shapes = [
            (origin(Scheme::Https, ""), "__Host-sess"),
            (origin(Scheme::Https, "/hermes"), "__Secure-sess"),
            (http(), "sess"),
        ];
        for (origin, written) in &shapes {
            for name in ["sess", "__Host-sess", "__Secure-sess"] {
                let header = format!("x=1; {name}={sealed}");
                let read = s.read(Some(header.as_bytes()), origin, 1001);
                if name == *written {
                    assert_eq!(read, SessionRead::Valid(Arc::new(claims.clone())), "{name}");
                } else {
                    assert_eq!(
                        read,
                        SessionRead::Absent,
                        "{name} must not be read at {origin:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_tossed_plain_cookie_never_stands_in_on_https() {
        let s = sessions();
        let (_, attacker) = s.issue(&identity(), vec![], "idp", 1000);
        let header = format!("sess={attacker}; __Secure-sess=x");
        assert_eq!(
            s.read(Some(header.as_bytes()), &origin(Scheme::Https, ""), 1001),
            SessionRead::Absent
        );
    }

    #[test]
    fn expired_cookie_is_invalid() {
        let s = sessions();
        let (_, sealed) = s.issue(&identity(), vec![], "idp", 1000);
        assert_eq!(
            s.read(
                Some(format!("sess={sealed}").as_bytes()),
                &http(),
                1000 + 3600
            ),
            SessionRead::Invalid
        );
    }

    #[test]
    fn tampered_cookie_is_invalid_and_missing_is_absent() {
        let s = sessions();
        assert_eq!(
            s.read(Some(b"sess=garbage"), &http(), 0),
            SessionRead::Invalid
        );
        assert_eq!(s.read(Some(b"other=1"), &http(), 0), SessionRead::Absent);
        assert_eq!(s.read(None, &http(), 0), SessionRead::Absent);
    }

    #[test]
    fn a_valid_cookie_wins_over_a_stale_duplicate() {
        let s = sessions();
        let (claims, sealed) = s.issue(&identity(), vec![], "idp", 1000);
        let header = format!("__Host-sess=stale; __Host-sess={sealed}");
        assert_eq!(
            s.read(Some(header.as_bytes()), &origin(Scheme::Https, ""), 1001),
            SessionRead::Valid(Arc::new(claims))
        );
    }

    #[test]
    fn session_ids_are_unique() {
        let s = sessions();
        let (a, _) = s.issue(&identity(), vec![], "idp", 0);
        let (b, _) = s.issue(&identity(), vec![], "idp", 0);
        assert_ne!(a.sid, b.sid);
    }
}
