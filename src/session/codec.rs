//! Sealed cookies: serde values encrypted and authenticated with XChaCha20-Poly1305.
//!
//! Keys are derived with HKDF-SHA256 from `session.secret` (and each of
//! `previous_secrets`, which still open but never seal), one key per purpose, so a
//! PKCE cookie can never be replayed as a session cookie. The purpose is also bound
//! as associated data. Wire format: base64url(version ‖ nonce(24) ‖ ciphertext).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::Sha256;

use crate::secret::{fill_random, Secret};

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
/// Longest sealed value opened; browsers cap a cookie at 4096 bytes anyway.
pub const MAX_SEALED_LEN: usize = 4096;

/// What a sealed value is for; each purpose has its own key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Session,
    Pkce,
    /// A session's IdP tokens, kept in the store for logout.
    Tokens,
    /// A paired device's bearer token.
    DeviceToken,
    /// A one-time sign-in link.
    Link,
}

impl Purpose {
    fn label(self) -> &'static [u8] {
        match self {
            Purpose::Session => b"portcullis session cookie v1",
            Purpose::Pkce => b"portcullis pkce cookie v1",
            Purpose::Tokens => b"portcullis idp tokens v1",
            Purpose::DeviceToken => b"portcullis device token v1",
            Purpose::Link => b"portcullis sign-in link v1",
        }
    }

    /// Longest sealed value opened: a cookie's size for cookies, more for tokens
    /// (which never travel in a header).
    fn max_len(self) -> usize {
        match self {
            Purpose::Session | Purpose::Pkce | Purpose::DeviceToken | Purpose::Link => {
                MAX_SEALED_LEN
            }
            Purpose::Tokens => 64 * 1024,
        }
    }
}

/// Seals with the current secret; opens with the current or any previous one.
pub struct Codec {
    purpose: Purpose,
    /// `[current, previous…]`.
    ciphers: Vec<XChaCha20Poly1305>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("purpose", &self.purpose)
            .field("keys", &self.ciphers.len())
            .finish()
    }
}

impl Codec {
    /// A codec for `purpose` keyed from `current` and `previous` secrets.
    pub fn new(purpose: Purpose, current: &Secret, previous: &[Secret]) -> Self {
        let ciphers = std::iter::once(current)
            .chain(previous)
            .map(|s| derive(purpose, s))
            .collect();
        Self { purpose, ciphers }
    }

    /// Encrypts `value` under the current key.
    pub fn seal<T: Serialize>(&self, value: &T) -> String {
        // Serialising our own plain structs to JSON cannot fail.
        let plain = serde_json::to_vec(value).unwrap_or_default();
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let payload = Payload {
            msg: &plain,
            aad: self.purpose.label(),
        };
        let sealed = self.ciphers[0]
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// Decrypts and parses a sealed value; `None` for anything tampered, foreign,
    /// oversized or malformed.
    pub fn open<T: DeserializeOwned>(&self, sealed: &str) -> Option<T> {
        if sealed.len() > self.purpose.max_len() {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let (&version, rest) = raw.split_first()?;
        if version != VERSION || rest.len() < NONCE_LEN + 16 {
            return None;
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let plain = self.ciphers.iter().find_map(|c| {
            c.decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: self.purpose.label(),
                },
            )
            .ok()
        })?;
        serde_json::from_slice(&plain).ok()
    }
}

fn derive(purpose: Purpose, secret: &Secret) -> XChaCha20Poly1305 {
    let hk = Hkdf::<Sha256>::new(Some(b"portcullis"), secret.expose_secret().as_bytes());
    let mut key = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's output limit, so expand cannot fail.
    let _ = hk.expand(purpose.label(), &mut key);
    XChaCha20Poly1305::new(&key.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct V {
        a: String,
        n: i64,
    }

    fn secret(s: &str) -> Secret {
        Secret::new(format!("{s:0<40}"))
    }

    fn v() -> V {
        V {
            a: "alice".into(),
            n: 7,
        }
    }

    #[test]
    fn seal_then_open_round_trips() {
        let c = Codec::new(Purpose::Session, &secret("one"), &[]);
        let sealed = c.seal(&v());
        assert_eq!(c.open::<V>(&sealed), Some(v()));
        assert!(!sealed.contains("alice"));
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce() {
        let c = Codec::new(Purpose::Session, &secret("one"), &[]);
        assert_ne!(c.seal(&v()), c.seal(&v()));
    }

    #[test]
    fn tampered_value_does_not_open() {
        let c = Codec::new(Purpose::Session, &secret("one"), &[]);
        let sealed = c.seal(&v());
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
        for i in [0, 5, bytes.len() - 1] {
            let mut t = bytes.clone();
            t[i] ^= 1;
            assert_eq!(c.open::<V>(&URL_SAFE_NO_PAD.encode(&t)), None, "byte {i}");
        }
        bytes.truncate(20);
        assert_eq!(c.open::<V>(&URL_SAFE_NO_PAD.encode(&bytes)), None);
        assert_eq!(c.open::<V>("not base64 !!"), None);
        assert_eq!(c.open::<V>(""), None);
        assert_eq!(c.open::<V>(&"A".repeat(MAX_SEALED_LEN + 1)), None);
    }

    #[test]
    fn foreign_secret_does_not_open() {
        let a = Codec::new(Purpose::Session, &secret("one"), &[]);
        let b = Codec::new(Purpose::Session, &secret("two"), &[]);
        assert_eq!(b.open::<V>(&a.seal(&v())), None);
    }

    #[test]
    fn previous_secrets_open_but_current_seals() {
        let old = Codec::new(Purpose::Session, &secret("old"), &[]);
        let rotated = Codec::new(Purpose::Session, &secret("new"), &[secret("old")]);
        assert_eq!(rotated.open::<V>(&old.seal(&v())), Some(v()));
        // New cookies are sealed with the new key only.
        assert_eq!(old.open::<V>(&rotated.seal(&v())), None);
    }

    #[test]
    fn purposes_do_not_open_each_other() {
        let s = Codec::new(Purpose::Session, &secret("one"), &[]);
        let p = Codec::new(Purpose::Pkce, &secret("one"), &[]);
        assert_eq!(p.open::<V>(&s.seal(&v())), None);
        assert_eq!(s.open::<V>(&p.seal(&v())), None);
    }
}
