//! Bearer tokens, for clients that are not browsers: the operator's API tokens
//! (`[[tokens]]`, known by their SHA-256) and paired devices' tokens (sealed with
//! a key of their own, naming the person who approved the device).
//!
//! Both are judged with no store round trip: an API token by a hash lookup, a
//! device token by opening its seal and asking the local revocation view about
//! its device id. Either becomes the [`SessionClaims`] the gate forwards with, so
//! the upstream, the assertion and live WebSockets treat it as any session.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::ApiToken;
use crate::secret::random_token;
use crate::session::codec::Codec;
use crate::session::SessionClaims;

/// What every API token `portcullis token` prints starts with.
pub const API_PREFIX: &str = "pct_";
/// What every paired device's token starts with.
pub const DEVICE_PREFIX: &str = "pcd_";
/// How long a device token lives, however often it is used: a year. It ends
/// sooner when revoked.
pub const DEVICE_TOKEN_SECS: i64 = 365 * 24 * 3600;
/// The `provider` of an API token's identity.
pub const TOKEN_PROVIDER: &str = "token";

/// A fresh API token.
pub fn new_api_token() -> String {
    format!("{API_PREFIX}{}", random_token(32))
}

/// The hex SHA-256 `[[tokens]]` holds.
pub fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What a device token carries: the person who approved the device, as their
/// session knew them, and the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceClaims {
    /// The device id: the key of its revocation and of its record.
    pub did: String,
    pub label: String,
    pub sub: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    pub provider: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    pub iat: i64,
    pub exp: i64,
}

impl DeviceClaims {
    /// The identity the device acts with.
    pub fn session(&self) -> SessionClaims {
        SessionClaims {
            sid: self.did.clone(),
            sub: self.sub.clone(),
            email: self.email.clone(),
            email_verified: self.email_verified,
            name: self.name.clone(),
            provider: self.provider.clone(),
            groups: self.groups.clone(),
            auth_time: self.iat,
            iat: self.iat,
            exp: self.exp,
        }
    }
}

/// Whose a presented bearer token is.
#[derive(Debug, PartialEq, Eq)]
pub enum Holder {
    /// An API token of `[[tokens]]`, by name.
    Api(String),
    /// A paired device.
    Device(DeviceClaims),
}

/// How often a device's "last used" is written to the store, at most.
pub const LAST_USED_EVERY_SECS: i64 = 60;

/// The bearer tokens portcullis knows.
pub struct Bearers {
    api: HashMap<[u8; 32], ApiToken>,
    devices: Codec,
    /// When this instance last wrote each device's "last used".
    recorded: Mutex<HashMap<String, i64>>,
}

impl Bearers {
    pub fn new(tokens: &[ApiToken], devices: Codec) -> Self {
        Self {
            api: tokens.iter().map(|t| (t.sha256, t.clone())).collect(),
            devices,
            recorded: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a use of device `did` at `now` should be written as its "last
    /// used" (at most once a minute per instance, so a busy device costs the
    /// store nothing on its hot path).
    pub fn use_is_due(&self, did: &str, now: i64) -> bool {
        let Ok(mut recorded) = self.recorded.lock() else {
            return false;
        };
        if recorded.len() > 10_000 {
            recorded.retain(|_, at| *at > now - LAST_USED_EVERY_SECS);
        }
        match recorded.get(did) {
            Some(at) if *at > now - LAST_USED_EVERY_SECS => false,
            _ => {
                recorded.insert(did.to_string(), now);
                true
            }
        }
    }

    /// Seals a device's token.
    pub fn seal_device(&self, claims: &DeviceClaims) -> String {
        format!("{DEVICE_PREFIX}{}", self.devices.seal(claims))
    }

    /// Whether `token` is portcullis's to judge: one of our prefixes, or the
    /// hash of an API token (an operator may bring a token of their own). Any
    /// other bearer token is the dashboard's, and passes untouched.
    pub fn is_ours(&self, token: &str) -> bool {
        token.starts_with(API_PREFIX)
            || token.starts_with(DEVICE_PREFIX)
            || self.api.contains_key(&digest(token))
    }

    /// Who holds `token`, unexpired at `now`; `None` for a token that is wrong,
    /// tampered or expired. Revocation and `[access]` are the caller's.
    pub fn holder(&self, token: &str, now: i64) -> Option<Holder> {
        if let Some(sealed) = token.strip_prefix(DEVICE_PREFIX) {
            return self
                .devices
                .open::<DeviceClaims>(sealed)
                .filter(|c| c.exp > now)
                .map(Holder::Device);
        }
        // Looked up by hash: the token is never compared, so nothing about it
        // leaks through timing.
        self.api
            .get(&digest(token))
            .map(|t| Holder::Api(t.name.clone()))
    }

    /// The identity an API token acts with, for this request.
    pub fn api_session(&self, name: &str, now: i64) -> Option<SessionClaims> {
        let t = self.api.values().find(|t| t.name == name)?;
        Some(SessionClaims {
            sid: format!("token:{}", t.name),
            sub: t.subject.clone(),
            email: t.email.clone(),
            email_verified: t.email.is_some(),
            name: Some(t.name.clone()),
            provider: TOKEN_PROVIDER.into(),
            groups: Vec::new(),
            auth_time: now,
            iat: now,
            // An API token lives as long as its config entry; a WebSocket it
            // opened is not cut off at some expiry.
            exp: now + DEVICE_TOKEN_SECS,
        })
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The bearer token of an `Authorization: Bearer …` header.
pub fn presented(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::session::codec::Purpose;

    fn bearers() -> (Bearers, String) {
        let token = new_api_token();
        let api = ApiToken {
            name: "desk".into(),
            sha256: digest(&token),
            subject: "desk-display".into(),
            email: None,
        };
        let secret = Secret::new("unit-test-secret-0123456789-abcdefghijklmnop");
        let codec = Codec::new(Purpose::DeviceToken, &secret, &[]);
        (Bearers::new(&[api], codec), token)
    }

    fn device(exp: i64) -> DeviceClaims {
        DeviceClaims {
            did: "dev_1".into(),
            label: "kitchen".into(),
            sub: "ada".into(),
            email: Some("ada@example.com".into()),
            email_verified: true,
            name: None,
            provider: "idp".into(),
            groups: vec![],
            iat: 100,
            exp,
        }
    }

    #[test]
    fn an_api_token_is_known_by_its_hash_alone() {
        let (b, token) = bearers();
        assert_eq!(b.holder(&token, 0), Some(Holder::Api("desk".into())));
        assert_eq!(sha256_hex(&token).len(), 64);
        let wrong = new_api_token();
        assert!(b.is_ours(&wrong), "our prefix: ours to refuse");
        assert_eq!(b.holder(&wrong, 0), None);
        assert!(!b.is_ours("the-dashboards-own-token"));
        let s = b.api_session("desk", 1000).unwrap();
        assert_eq!(
            (s.sub.as_str(), s.provider.as_str()),
            ("desk-display", "token")
        );
    }

    #[test]
    fn a_device_token_opens_until_it_expires_and_not_when_tampered() {
        let (b, _) = bearers();
        let sealed = b.seal_device(&device(1000));
        assert_eq!(b.holder(&sealed, 999), Some(Holder::Device(device(1000))));
        assert_eq!(b.holder(&sealed, 1000), None, "expired");
        let mut tampered = sealed.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(b.holder(&String::from_utf8(tampered).unwrap(), 0), None);
        // A session cookie's key does not open it, nor does it open as one.
        let secret = Secret::new("unit-test-secret-0123456789-abcdefghijklmnop");
        let sessions = Codec::new(Purpose::Session, &secret, &[]);
        let body = sealed.strip_prefix(DEVICE_PREFIX).unwrap();
        assert!(sessions.open::<SessionClaims>(body).is_none());
    }

    #[test]
    fn only_a_bearer_authorization_presents_a_token() {
        let mut h = http::HeaderMap::new();
        h.insert("authorization", "Bearer pct_abc".parse().unwrap());
        assert_eq!(presented(&h), Some("pct_abc"));
        h.insert("authorization", "bearer  pct_abc ".parse().unwrap());
        assert_eq!(presented(&h), Some("pct_abc"));
        h.insert("authorization", "Basic dXNlcjpwdw==".parse().unwrap());
        assert_eq!(presented(&h), None);
        h.insert("authorization", "Bearer ".parse().unwrap());
        assert_eq!(presented(&h), None);
    }
}
