//! Device pairing, shaped as RFC 8628 with portcullis as the authorization
//! server: the codes, what lives in the store for a pending device, a person's
//! approval (written once, atomically), the lockout, and the person's list of
//! paired devices. The pages and JSON endpoints are in `login::device`.
//!
//! Every key names a hash: the device code and the user code are secrets, and
//! the store only ever holds what cannot be turned back into them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::bearer::DeviceClaims;
use crate::secret::fill_random;
use crate::store::{Store, StoreError};

/// The letters of a user code: no vowels (no words), nothing that reads as a
/// digit (RFC 8628 section 6.1). 20^8 codes.
pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// Letters in a user code.
pub const CODE_LEN: usize = 8;
/// Seconds a device waits between polls, as told.
pub const INTERVAL_SECS: i64 = 5;
/// Wrong codes a person may type before pairing locks for them.
pub const WRONG_CODES: u64 = 5;
/// How long the lock lasts.
pub const LOCK_SECS: i64 = 15 * 60;
/// How long an expired code's record stays, so a late poll hears `expired_token`.
const EXPIRED_GRACE_SECS: i64 = 10 * 60;

/// Longest device label kept.
const MAX_LABEL: usize = 64;
/// A device label as shown to people: at most 64 characters, with no control
/// character and none of the invisible ones that make a label read as something
/// else (bidi overrides, zero-width spaces and joiners).
pub fn label(raw: Option<&str>) -> String {
    let clean: String = raw
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control() && !crate::request::is_invisible(*c))
        .collect::<String>()
        .trim()
        .chars()
        .take(MAX_LABEL)
        .collect();
    if clean.is_empty() {
        "unnamed device".into()
    } else {
        clean
    }
}

fn hash(v: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes()))
}

/// A fresh user code, as stored (8 letters, no dash).
pub fn new_user_code() -> String {
    let mut bytes = [0u8; CODE_LEN];
    fill_random(&mut bytes);
    // 256 is not a multiple of 20: redraw the bytes that would bias the pick.
    bytes
        .iter()
        .map(|&b| {
            let mut b = b;
            while b >= 240 {
                let mut one = [0u8; 1];
                fill_random(&mut one);
                b = one[0];
            }
            ALPHABET[(b % 20) as usize] as char
        })
        .collect()
}

/// `ABCDEFGH` as a person reads it: `ABCD-EFGH`.
pub fn display(code: &str) -> String {
    format!("{}-{}", &code[..4], &code[4..])
}

/// What a person typed, as stored: letters upper-cased, dashes and spaces
/// dropped; `None` when it cannot be a code.
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (code.len() == CODE_LEN && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

/// A device waiting for a person.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pending {
    pub label: String,
    /// The address the device asked from, shown to the person.
    pub ip: String,
    pub created: i64,
    pub exp: i64,
    /// The hash of the device code, the key of everything else about it.
    pub device: String,
}

/// What the person decided.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Grant {
    /// The device acts as this person, with these claims.
    Approved(Box<DeviceClaims>),
    Denied,
}

/// One paired device as the person's list shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Paired {
    pub did: String,
    pub label: String,
    pub ip: String,
    pub paired_at: i64,
    pub exp: i64,
}

/// What a poll hears.
#[derive(Debug, PartialEq, Eq)]
pub enum Poll {
    Pending,
    SlowDown,
    Denied,
    Expired,
    /// No such device code (never issued, or already answered).
    Unknown,
    Approved(Box<DeviceClaims>),
}

fn pending_key(device: &str) -> String {
    format!("pairing:{device}")
}
fn user_code_key(code: &str) -> String {
    format!("pairing_code:{}", hash(code))
}
fn grant_key(device: &str) -> String {
    format!("pairing_grant:{device}")
}
fn poll_key(device: &str) -> String {
    format!("pairing_poll:{device}")
}
fn person_key(provider: &str, sub: &str) -> String {
    hash(&format!("{provider}\0{sub}"))
}
fn devices_key(provider: &str, sub: &str) -> String {
    format!("devices:{}", person_key(provider, sub))
}
fn paired_key(did: &str) -> String {
    format!("device:{did}")
}
fn wrong_key(provider: &str, sub: &str) -> String {
    format!("pairing_wrong:{}", person_key(provider, sub))
}
fn lock_key(provider: &str, sub: &str) -> String {
    format!("pairing_lock:{}", person_key(provider, sub))
}
/// Where a device's "last used" time is kept.
pub fn last_used_key(did: &str) -> String {
    format!("device_used:{did}")
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}
fn parse<T: for<'de> Deserialize<'de>>(bytes: Option<Vec<u8>>) -> Option<T> {
    bytes.and_then(|b| serde_json::from_slice(&b).ok())
}

/// Starts a pairing: returns the device code (the device's secret) and the
/// user code (shown on the device's screen, typed by the person).
pub async fn start(
    store: &dyn Store,
    label: &str,
    ip: &str,
    now: i64,
    ttl: i64,
) -> Result<(String, String), StoreError> {
    let device_code = crate::secret::random_token(32);
    let device = hash(&device_code);
    let exp = now + ttl;
    let pending = Pending {
        label: label.to_string(),
        ip: ip.to_string(),
        created: now,
        exp,
        device: device.clone(),
    };
    // A user code taken by another pending device is drawn again.
    for _ in 0..4 {
        let code = new_user_code();
        if store
            .put_if_absent(&user_code_key(&code), device.as_bytes(), exp)
            .await?
        {
            store
                .put(
                    &pending_key(&device),
                    &json(&pending),
                    exp + EXPIRED_GRACE_SECS,
                )
                .await?;
            return Ok((device_code, code));
        }
    }
    Err(StoreError("no free user code; try again".into()))
}

/// The device waiting behind a typed user code, while it may still be decided.
pub async fn lookup(
    store: &dyn Store,
    code: &str,
    now: i64,
) -> Result<Option<Pending>, StoreError> {
    let Some(device) = store.get(&user_code_key(code)).await? else {
        return Ok(None);
    };
    let device = String::from_utf8_lossy(&device).into_owned();
    let pending: Option<Pending> = parse(store.get(&pending_key(&device)).await?);
    match pending {
        Some(p) if p.exp > now && store.get(&grant_key(&device)).await?.is_none() => Ok(Some(p)),
        _ => Ok(None),
    }
}

/// Records the person's decision, once: `false` when the code was already
/// decided (an approved code can never be approved again).
pub async fn decide(
    store: &dyn Store,
    pending: &Pending,
    grant: &Grant,
) -> Result<bool, StoreError> {
    store
        .put_if_absent(
            &grant_key(&pending.device),
            &json(grant),
            pending.exp + EXPIRED_GRACE_SECS,
        )
        .await
}

/// Adds an approved device to its person's list.
pub async fn remember(
    store: &dyn Store,
    claims: &DeviceClaims,
    ip: &str,
) -> Result<(), StoreError> {
    let paired = Paired {
        did: claims.did.clone(),
        label: claims.label.clone(),
        ip: ip.to_string(),
        paired_at: claims.iat,
        exp: claims.exp,
    };
    store
        .put(&paired_key(&claims.did), &json(&paired), claims.exp)
        .await?;
    store
        .add_member(
            &devices_key(&claims.provider, &claims.sub),
            &claims.did,
            claims.exp,
        )
        .await
}

/// A device's poll at `now`.
pub async fn poll(store: &dyn Store, device_code: &str, now: i64) -> Result<Poll, StoreError> {
    let device = hash(device_code);
    let Some(pending) = parse::<Pending>(store.get(&pending_key(&device)).await?) else {
        return Ok(Poll::Unknown);
    };
    if pending.exp <= now {
        return Ok(Poll::Expired);
    }
    // Polling faster than told: slow down, and wait 5 s longer from now on
    // (RFC 8628 section 3.5). A second of slack absorbs clock rounding.
    let (last, interval) = match store.get(&poll_key(&device)).await? {
        Some(b) => {
            let text = String::from_utf8_lossy(&b).into_owned();
            let mut parts = text.split(' ').map(|p| p.parse::<i64>().unwrap_or(0));
            (
                parts.next().unwrap_or(0),
                parts.next().unwrap_or(INTERVAL_SECS),
            )
        }
        None => (0, INTERVAL_SECS),
    };
    let too_soon = now - last < interval - 1;
    let interval = if too_soon { interval + 5 } else { interval };
    store
        .put(
            &poll_key(&device),
            format!("{now} {interval}").as_bytes(),
            pending.exp + EXPIRED_GRACE_SECS,
        )
        .await?;
    if too_soon {
        return Ok(Poll::SlowDown);
    }
    // The answer is taken, atomically: one poll gets the token, and the code
    // is dead after it.
    match parse::<Grant>(store.take(&grant_key(&device)).await?) {
        None => Ok(Poll::Pending),
        Some(grant) => {
            store.delete(&pending_key(&device)).await?;
            Ok(match grant {
                Grant::Approved(claims) => Poll::Approved(claims),
                Grant::Denied => Poll::Denied,
            })
        }
    }
}

/// Whether pairing is locked for this person.
pub async fn is_locked(store: &dyn Store, provider: &str, sub: &str) -> Result<bool, StoreError> {
    Ok(store.get(&lock_key(provider, sub)).await?.is_some())
}

/// Counts a wrong code typed by this person; `true` when it locked pairing.
pub async fn wrong_code(
    store: &dyn Store,
    provider: &str,
    sub: &str,
    now: i64,
) -> Result<(bool, u64), StoreError> {
    let n = store
        .count(&wrong_key(provider, sub), now + LOCK_SECS)
        .await?;
    if n >= WRONG_CODES {
        store
            .put(&lock_key(provider, sub), b"1", now + LOCK_SECS)
            .await?;
        return Ok((true, 0));
    }
    Ok((false, WRONG_CODES - n))
}

/// The person's paired devices, with when each was last used.
pub async fn devices(
    store: &dyn Store,
    provider: &str,
    sub: &str,
) -> Result<Vec<(Paired, Option<i64>)>, StoreError> {
    let mut out = Vec::new();
    for did in store.members(&devices_key(provider, sub)).await? {
        if let Some(p) = parse::<Paired>(store.get(&paired_key(&did)).await?) {
            let used = store
                .get(&last_used_key(&did))
                .await?
                .and_then(|b| String::from_utf8_lossy(&b).parse().ok());
            out.push((p, used));
        }
    }
    out.sort_by_key(|(p, _)| -p.paired_at);
    Ok(out)
}

/// Revokes one of the person's devices: its token ends on every instance.
/// `None` when the device is not theirs.
pub async fn revoke(
    store: &dyn Store,
    provider: &str,
    sub: &str,
    did: &str,
) -> Result<Option<Paired>, StoreError> {
    let set = devices_key(provider, sub);
    if !store.members(&set).await?.iter().any(|m| m == did) {
        return Ok(None);
    }
    let Some(paired) = parse::<Paired>(store.get(&paired_key(did)).await?) else {
        return Ok(None);
    };
    store.revoke(did, paired.exp).await?;
    store.remove_member(&set, did).await?;
    store.delete(&paired_key(did)).await?;
    Ok(Some(paired))
}

/// Revokes every one of the person's paired devices, on every instance; the
/// devices it ended.
pub async fn revoke_all(
    store: &dyn Store,
    provider: &str,
    sub: &str,
) -> Result<Vec<Paired>, StoreError> {
    let mut ended = Vec::new();
    for did in store.members(&devices_key(provider, sub)).await? {
        if let Some(paired) = revoke(store, provider, sub, &did).await? {
            ended.push(paired);
        }
    }
    Ok(ended)
}

#[cfg(test)]
mod tests;
