//! Session cookies opened recently, so that a busy session costs a map lookup per
//! request instead of an AEAD open and a JSON parse (about 15,000 instructions).
//!
//! Only values that opened (authentic, under one of this instance's keys) are
//! kept, keyed by the whole sealed string: a hit is a string that was
//! authenticated before, byte for byte. What is checked per request after the
//! open (expiry, revocation, `[access]`) is still checked on every request by
//! the callers. The map is bounded and starts afresh when full; an attacker
//! cannot fill it without valid cookies, which need the session secret.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use super::SessionClaims;

/// Entries kept at most, about 2 MiB.
const CAPACITY: usize = 4096;

type Hasher = BuildHasherDefault<TagHasher>;

/// How often a session's use is worth writing down ("last seen"), per instance.
pub const SEEN_EVERY_SECS: i64 = 60;

#[derive(Debug, Default)]
pub struct Opened {
    map: RwLock<HashMap<Key, Entry, Hasher>>,
}

#[derive(Debug)]
struct Entry {
    sealed: Box<str>,
    claims: Arc<SessionClaims>,
    /// When its use was last found due for writing down.
    seen: AtomicI64,
}

/// The last 22 characters of a sealed value: its Poly1305 tag in base64, unique
/// to each seal. The whole value is compared on a hit.
#[derive(Debug, PartialEq, Eq)]
struct Key([u8; 22]);

/// A key's hash is its first eight tag characters: a tag is the
/// AEAD's output, evenly spread, and only a value that opened (made with the
/// session secret) is ever inserted, so no one can choose keys that collide.
impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut first = [0u8; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

/// Spreads a [`Key`]'s `u64` over all 64 bits (base64 characters fill only
/// part of each byte) with one multiply; no keyed hash is needed.
#[derive(Default)]
struct TagHasher(u64);

impl std::hash::Hasher for TagHasher {
    fn finish(&self) -> u64 {
        let spread = self.0.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        spread ^ (spread >> 32)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl Key {
    fn of(bytes: &[u8]) -> Option<Key> {
        let tail = bytes.get(bytes.len().checked_sub(22)?..)?;
        let mut key = [0u8; 22];
        key.copy_from_slice(tail);
        Some(Key(key))
    }
}

impl Opened {
    /// The claims `sealed` opened to before, if it did, and whether its use at
    /// `now` is due to be written down (at most once a [`SEEN_EVERY_SECS`]).
    pub fn get(&self, sealed: &[u8], now: i64) -> Option<(Arc<SessionClaims>, bool)> {
        let key = Key::of(sealed)?;
        let map = self.map.read().ok()?;
        match map.get(&key) {
            Some(e) if e.sealed.as_bytes() == sealed => {
                let last = e.seen.load(Ordering::Relaxed);
                let due = now - last >= SEEN_EVERY_SECS
                    && e.seen
                        .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                        .is_ok();
                Some((Arc::clone(&e.claims), due))
            }
            _ => None,
        }
    }

    /// Remembers that `sealed` opened to `claims`, its use written down at `now`.
    pub fn insert(&self, sealed: &str, claims: &Arc<SessionClaims>, now: i64) {
        let Some(key) = Key::of(sealed.as_bytes()) else {
            return;
        };
        let Ok(mut map) = self.map.write() else {
            return;
        };
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(
            key,
            Entry {
                sealed: sealed.into(),
                claims: Arc::clone(claims),
                seen: AtomicI64::new(now),
            },
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sid: &str) -> SessionClaims {
        SessionClaims {
            sid: sid.into(),
            sub: "ada".into(),
            email: None,
            email_verified: false,
            name: None,
            provider: "idp".into(),
            groups: vec![],
            auth_time: 0,
            iat: 0,
            exp: 100,
        }
    }

    #[test]
    fn a_hit_is_the_same_string_byte_for_byte() {
        let o = Opened::default();
        let sealed = format!("{}{}", "A".repeat(40), "TAG-of-twenty-two-char");
        o.insert(&sealed, &Arc::new(claims("s1")), 0);
        assert_eq!(
            o.get(sealed.as_bytes(), 1),
            Some((Arc::new(claims("s1")), false))
        );
        // The same tag behind other bytes: a forgery that keeps the tag.
        let forged = format!("{}{}", "B".repeat(40), "TAG-of-twenty-two-char");
        assert_eq!(o.get(forged.as_bytes(), 1), None);
        assert_eq!(o.get(b"short", 1), None);
    }

    #[test]
    fn a_use_is_due_once_a_minute() {
        let o = Opened::default();
        let sealed = format!("{}{}", "A".repeat(40), "TAG-of-twenty-two-char");
        o.insert(&sealed, &Arc::new(claims("s1")), 1000);
        assert!(!o.get(sealed.as_bytes(), 1059).unwrap().1);
        assert!(o.get(sealed.as_bytes(), 1060).unwrap().1, "a minute on");
        assert!(!o.get(sealed.as_bytes(), 1061).unwrap().1, "once");
        assert!(o.get(sealed.as_bytes(), 1120).unwrap().1);
    }

    #[test]
    fn it_stays_bounded() {
        let o = Opened::default();
        for i in 0..CAPACITY + 10 {
            o.insert(&format!("{i:0>40}"), &Arc::new(claims("s")), 0);
        }
        assert!(o.map.read().unwrap().len() <= CAPACITY);
    }
}
