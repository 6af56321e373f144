//! The development IdP's signing keys: Ed25519, made fresh at start.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::EncodingKey;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::json;

use crate::secret::random_token;

pub(super) struct SigningKey {
    pub(super) kid: String,
    pub(super) pair: Ed25519KeyPair,
    pub(super) encoding: EncodingKey,
}

impl SigningKey {
    pub(super) fn generate() -> Result<Self, String> {
        let (pair, encoding) = keypair()?;
        Ok(Self {
            kid: random_token(8),
            pair,
            encoding,
        })
    }

    /// The public half as a JWK, as the JWKS endpoint publishes it.
    pub(super) fn jwk(&self) -> serde_json::Value {
        json!({
            "kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(self.pair.public_key().as_ref()),
        })
    }
}

pub(super) fn keypair() -> Result<(Ed25519KeyPair, EncodingKey), String> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| "cannot generate a key")?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| "cannot load the key")?;
    Ok((pair, EncodingKey::from_ed_der(pkcs8.as_ref())))
}
