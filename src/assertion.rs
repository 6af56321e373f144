//! The signed identity assertion (`X-Portcullis-Assertion`): a short-lived EdDSA
//! (Ed25519) JWT naming who a forwarded request is from, so that a dashboard
//! reachable by others too (Fly's private network) can tell a request that
//! passed the gate from a forged `X-Forwarded-User`.
//!
//! Every instance derives the same signing key from `session.secret` (HKDF-SHA256,
//! a label of its own), so no key is stored or shared; keys derived from
//! `previous_secrets` stay published at `/.well-known/portcullis/jwks.json` so
//! assertions signed before a rotation still verify. Signing is `jsonwebtoken`'s
//! (ring underneath). A session's assertion is reused until shortly before it
//! expires, so the hot path signs once per session every few minutes.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hkdf::Hkdf;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::secret::Secret;
use crate::session::SessionClaims;

/// The request header that carries the assertion.
pub const HEADER: &str = "x-portcullis-assertion";
/// How long an assertion is valid.
pub const LIFETIME_SECS: i64 = 300;
/// An assertion is reused until this little of its life is left.
const RENEW_BEFORE_SECS: i64 = 60;
/// Cached assertions; past this the cache starts afresh.
const CACHE_MAX: usize = 16_384;

/// One signing key's public half, as a JWK.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Jwk {
    pub kty: &'static str,
    pub crv: &'static str,
    pub alg: &'static str,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub kid: String,
    pub x: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    aud: &'a str,
    sub: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    provider: &'a str,
    iat: i64,
    exp: i64,
}

/// A cached assertion's session id, issuer and audience.
type CacheKey = (String, String, String);

pub struct Signer {
    key: EncodingKey,
    kid: String,
    /// The current key first, then those of `previous_secrets`.
    jwks: Vec<Jwk>,
    /// (session id, issuer, audience) → (expiry, assertion).
    cache: Mutex<HashMap<CacheKey, (i64, String)>>,
}

impl Signer {
    pub fn new(current: &Secret, previous: &[Secret]) -> Self {
        let (key, current_jwk) = derive(current);
        let mut jwks = vec![current_jwk];
        jwks.extend(previous.iter().map(|s| derive(s).1));
        Self {
            kid: jwks[0].kid.clone(),
            key,
            jwks,
            cache: Mutex::default(),
        }
    }

    /// The JWK Set to publish.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({ "keys": self.jwks })
    }

    /// The assertion for `claims` at `issuer` (the public origin) to `audience`
    /// (the route's upstream's origin), reused while it has more than a minute
    /// left.
    pub fn assertion(
        &self,
        claims: &SessionClaims,
        issuer: &str,
        audience: &str,
        now: i64,
    ) -> Option<String> {
        let key = (claims.sid.clone(), issuer.to_string(), audience.to_string());
        if let Ok(cache) = self.cache.lock() {
            if let Some((exp, token)) = cache.get(&key) {
                if exp - now > RENEW_BEFORE_SECS {
                    return Some(token.clone());
                }
            }
        }
        let exp = now + LIFETIME_SECS;
        let token = self.sign(claims, issuer, audience, now, exp)?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_MAX {
                cache.retain(|_, (e, _)| *e - now > RENEW_BEFORE_SECS);
                if cache.len() >= CACHE_MAX {
                    cache.clear();
                }
            }
            cache.insert(key, (exp, token.clone()));
        }
        Some(token)
    }

    fn sign(
        &self,
        c: &SessionClaims,
        issuer: &str,
        audience: &str,
        iat: i64,
        exp: i64,
    ) -> Option<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        let claims = Claims {
            iss: issuer,
            aud: audience,
            sub: &c.sub,
            email: c.email.as_deref(),
            name: c.name.as_deref(),
            provider: &c.provider,
            iat,
            exp,
        };
        match jsonwebtoken::encode(&header, &claims, &self.key) {
            Ok(token) => Some(token),
            Err(e) => {
                tracing::error!(error = %e, "cannot sign the identity assertion; the request is refused");
                None
            }
        }
    }
}

/// The Ed25519 key of `secret`: its signing half and its published JWK.
fn derive(secret: &Secret) -> (EncodingKey, Jwk) {
    let hk = Hkdf::<Sha256>::new(Some(b"portcullis"), secret.expose_secret().as_bytes());
    let mut seed = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's output limit, so expand cannot fail.
    let _ = hk.expand(b"portcullis identity assertion ed25519 v1", &mut seed);
    // RFC 8410 section 7: PKCS#8 v1 of an Ed25519 private key is this fixed
    // prefix, then the 32-byte seed. jsonwebtoken hands it to ring.
    let mut pkcs8 = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    pkcs8.extend_from_slice(&seed);
    let public = Ed25519KeyPair::from_seed_unchecked(&seed)
        .map(|pair| pair.public_key().as_ref().to_vec())
        .unwrap_or_default();
    let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(&public)[..12]);
    let jwk = Jwk {
        kty: "OKP",
        crv: "Ed25519",
        alg: "EdDSA",
        use_: "sig",
        kid,
        x: URL_SAFE_NO_PAD.encode(&public),
    };
    (EncodingKey::from_ed_der(&pkcs8), jwk)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};

    fn claims() -> SessionClaims {
        SessionClaims {
            sid: "sid-1".into(),
            sub: "dev|ada@example.com".into(),
            email: Some("ada@example.com".into()),
            email_verified: true,
            name: Some("Ada".into()),
            provider: "dev".into(),
            groups: vec![],
            auth_time: 0,
            iat: 0,
            exp: i64::MAX,
        }
    }

    fn verify(token: &str, jwk: &Jwk, aud: &str, iss: &str) -> serde_json::Value {
        let key = DecodingKey::from_ed_components(&jwk.x).unwrap();
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&[aud]);
        v.set_issuer(&[iss]);
        decode::<serde_json::Value>(token, &key, &v).unwrap().claims
    }

    #[test]
    fn the_assertion_verifies_with_the_published_key_and_names_the_person() {
        let s = Signer::new(&Secret::new("a".repeat(40)), &[]);
        let now = crate::store::unix_now();
        let token = s
            .assertion(
                &claims(),
                "https://gate.example",
                "http://127.0.0.1:9119",
                now,
            )
            .unwrap();
        assert_eq!(
            decode_header(&token).unwrap().kid.as_deref(),
            Some(s.jwks[0].kid.as_str())
        );
        let c = verify(
            &token,
            &s.jwks[0],
            "http://127.0.0.1:9119",
            "https://gate.example",
        );
        assert_eq!(c["sub"], "dev|ada@example.com");
        assert_eq!(c["email"], "ada@example.com");
        assert_eq!(c["name"], "Ada");
        assert_eq!(c["provider"], "dev");
        assert_eq!(
            c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
            LIFETIME_SECS
        );
    }

    #[test]
    fn every_instance_derives_the_same_key_and_rotation_keeps_the_old_one_published() {
        let old = Secret::new("o".repeat(40));
        let new = Secret::new("n".repeat(40));
        let a = Signer::new(&old, &[]);
        let b = Signer::new(&old, &[]);
        assert_eq!(a.jwks, b.jwks, "same secret, same key, on every instance");
        let rotated = Signer::new(&new, std::slice::from_ref(&old));
        assert_ne!(rotated.jwks[0], a.jwks[0]);
        assert_eq!(rotated.jwks[1], a.jwks[0], "the old key stays published");
        let now = 1_000_000;
        let before = a.assertion(&claims(), "iss", "aud", now).unwrap();
        let _ = verify_at(&before, &rotated.jwks[1], now);
    }

    fn verify_at(token: &str, jwk: &Jwk, now: i64) -> serde_json::Value {
        let key = DecodingKey::from_ed_components(&jwk.x).unwrap();
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&["aud"]);
        v.validate_exp = false;
        let c = decode::<serde_json::Value>(token, &key, &v).unwrap().claims;
        assert_eq!(c["iat"], now);
        c
    }

    #[test]
    fn an_assertion_is_reused_until_a_minute_before_it_expires() {
        let s = Signer::new(&Secret::new("a".repeat(40)), &[]);
        let first = s.assertion(&claims(), "iss", "aud", 1000).unwrap();
        assert_eq!(
            s.assertion(
                &claims(),
                "iss",
                "aud",
                1000 + LIFETIME_SECS - RENEW_BEFORE_SECS - 1
            )
            .unwrap(),
            first
        );
        let renewed = s
            .assertion(
                &claims(),
                "iss",
                "aud",
                1000 + LIFETIME_SECS - RENEW_BEFORE_SECS,
            )
            .unwrap();
        assert_ne!(renewed, first);
        assert_ne!(
            s.assertion(&claims(), "other-iss", "aud", 1000).unwrap(),
            first,
            "per issuer"
        );
        assert_ne!(
            s.assertion(&claims(), "iss", "other-aud", 1000).unwrap(),
            first,
            "per audience: each route's upstream gets its own"
        );
    }

    #[test]
    fn a_key_of_another_secret_does_not_verify() {
        let s = Signer::new(&Secret::new("a".repeat(40)), &[]);
        let other = Signer::new(&Secret::new("b".repeat(40)), &[]);
        let token = s.assertion(&claims(), "iss", "aud", 1000).unwrap();
        let key = DecodingKey::from_ed_components(&other.jwks[0].x).unwrap();
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_audience(&["aud"]);
        v.validate_exp = false;
        assert!(decode::<serde_json::Value>(&token, &key, &v).is_err());
    }
}
