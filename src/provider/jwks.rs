//! A provider's signing keys (JWKS), fetched on first use and refetched when a
//! token names a key id the cache does not hold (key rotation), or when a
//! signature fails to verify with the cached key (an IdP that re-keys under the
//! same `kid`). Refetches happen at most once per [`REFRESH_MIN_INTERVAL`], so a
//! stream of forged tokens cannot turn portcullis into a JWKS-fetching loop.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde::Deserialize;

use super::http::BackChannel;
use super::ProviderError;

/// Shortest time between two JWKS fetches for an unknown key id.
pub const REFRESH_MIN_INTERVAL: Duration = Duration::from_secs(10);

/// The asymmetric algorithms portcullis accepts for ID tokens. `none` and the HMAC
/// family are never accepted.
pub const ALLOWED_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<serde_json::Value>,
}

#[derive(Default)]
pub struct JwksCache {
    keys: RwLock<Arc<Vec<Jwk>>>,
    last_fetch: Mutex<Option<Instant>>,
}

impl JwksCache {
    /// The key that verifies a token with header `kid` and `alg`, fetching the JWKS
    /// from `uri` when none cached fits.
    pub async fn key_for(
        &self,
        http: &BackChannel,
        uri: &str,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, ProviderError> {
        if let Some(key) = self.find(kid, alg)? {
            return Ok(key);
        }
        if self.may_refresh() {
            self.fetch(http, uri).await?;
            if let Some(key) = self.find(kid, alg)? {
                return Ok(key);
            }
        }
        Err(ProviderError::Invalid(format!(
            "no signing key for kid {:?} and {alg:?} in the provider's JWKS",
            kid.unwrap_or("(none)")
        )))
    }

    /// After a signature failed with the cached key: the key fetched anew, when
    /// the rate limit allows a fetch and the fresh JWKS holds a fitting key; `None`
    /// otherwise (the failure stands).
    pub async fn refetched_key_for(
        &self,
        http: &BackChannel,
        uri: &str,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Option<DecodingKey>, ProviderError> {
        if !self.may_refresh() {
            return Ok(None);
        }
        self.fetch(http, uri).await?;
        self.find(kid, alg)
    }

    async fn fetch(&self, http: &BackChannel, uri: &str) -> Result<(), ProviderError> {
        let raw: RawJwks = http.get_json(uri, None).await?;
        // Keys of kinds this library cannot parse are skipped, not fatal.
        let keys: Vec<Jwk> = raw
            .keys
            .into_iter()
            .filter_map(|k| serde_json::from_value(k).ok())
            .collect();
        if let Ok(mut slot) = self.keys.write() {
            *slot = Arc::new(keys);
        }
        Ok(())
    }

    /// The first load always happens; refetches are rate-limited.
    fn may_refresh(&self) -> bool {
        let Ok(mut last) = self.last_fetch.lock() else {
            return false;
        };
        let now = Instant::now();
        let loaded = self.keys.read().is_ok_and(|k| !k.is_empty());
        if loaded && last.is_some_and(|t| now.duration_since(t) < REFRESH_MIN_INTERVAL) {
            return false;
        }
        // The initial load does not start the refetch clock.
        *last = if loaded { Some(now) } else { None };
        true
    }

    fn find(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Option<DecodingKey>, ProviderError> {
        let keys = match self.keys.read() {
            Ok(k) => Arc::clone(&k),
            Err(_) => return Ok(None),
        };
        let mut fitting = keys.iter().filter(|k| fits(k, kid, alg));
        let Some(first) = fitting.next() else {
            return Ok(None);
        };
        if kid.is_none() && fitting.next().is_some() {
            return Err(ProviderError::Invalid(
                "the token names no key id and the provider has several keys".into(),
            ));
        }
        DecodingKey::from_jwk(first)
            .map(Some)
            .map_err(|_| ProviderError::Invalid("the provider's signing key cannot be used".into()))
    }
}

fn fits(jwk: &Jwk, kid: Option<&str>, alg: Algorithm) -> bool {
    use jsonwebtoken::jwk::AlgorithmParameters as P;
    let kid_ok = kid.is_none_or(|kid| jwk.common.key_id.as_deref() == Some(kid));
    let use_ok = !matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature);
    let alg_ok = jwk
        .common
        .key_algorithm
        .is_none_or(|ka| ka.to_string() == format!("{alg:?}"));
    let family_ok = matches!(
        (&jwk.algorithm, alg),
        (
            P::RSA(_),
            Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
        ) | (
            P::RSA(_),
            Algorithm::PS256 | Algorithm::PS384 | Algorithm::PS512
        ) | (P::EllipticCurve(_), Algorithm::ES256 | Algorithm::ES384)
            | (P::OctetKeyPair(_), Algorithm::EdDSA)
    );
    kid_ok && use_ok && alg_ok && family_ok
}
