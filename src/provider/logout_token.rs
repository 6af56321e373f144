//! OIDC Back-Channel Logout 1.0's logout token: the checks of its section 2.6
//! beyond the signature, `iss`, `aud` and `exp`, which the provider's JWT
//! verification makes first.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

/// The `events` member that makes a JWT a logout token.
pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// The oldest `iat` accepted, in seconds: a logout token is delivered at once.
pub const MAX_AGE_SECS: i64 = 600;

/// What a verified logout token asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutNotice {
    pub issuer: String,
    /// The IdP's subject; at least one of `sub` and `sid` is present.
    pub sub: Option<String>,
    /// The IdP's session id.
    pub sid: Option<String>,
    pub jti: String,
    /// How long the `jti` must be remembered to refuse a replay: past the
    /// latest moment this token would still be accepted.
    pub remember_until: i64,
}

fn text<'a>(claims: &'a Value, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Checks a signature-verified token's header `typ` and claims at `now`.
pub fn check(
    typ: Option<&str>,
    claims: &Value,
    now: i64,
    leeway: i64,
) -> Result<LogoutNotice, String> {
    // Explicit typing (section 2.4) keeps another JWT of the IdP's from passing.
    if let Some(typ) = typ {
        let typ = typ.to_ascii_lowercase();
        if typ != "logout+jwt" && typ != "application/logout+jwt" && typ != "jwt" {
            return Err(format!("the token's type is `{typ}`, not logout+jwt"));
        }
    }
    let is_logout = claims
        .get("events")
        .and_then(Value::as_object)
        .and_then(|events| events.get(EVENT))
        .is_some_and(Value::is_object);
    if !is_logout {
        return Err("the token's `events` claim has no back-channel logout event".into());
    }
    if claims.get("nonce").is_some() {
        return Err("the token carries a `nonce`, which a logout token never does".into());
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_i64)
        .ok_or("the token has no numeric `iat`")?;
    if iat > now + leeway {
        return Err("the token's `iat` is in the future".into());
    }
    if iat < now - MAX_AGE_SECS {
        return Err("the token's `iat` is more than 10 minutes old".into());
    }
    let jti = text(claims, "jti").ok_or("the token has no `jti`")?;
    let sub = text(claims, "sub");
    let sid = text(claims, "sid");
    if sub.is_none() && sid.is_none() {
        return Err("the token names neither `sub` nor `sid`".into());
    }
    let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    Ok(LogoutNotice {
        issuer: text(claims, "iss").unwrap_or_default().to_string(),
        sub: sub.map(str::to_string),
        sid: sid.map(str::to_string),
        jti: jti.to_string(),
        remember_until: exp.max(iat + MAX_AGE_SECS) + leeway,
    })
}

/// Who an unverified JWT says it is from and for, `(iss, [aud])`: only to pick
/// the provider whose keys then verify it, never to trust it.
pub fn addressed(token: &str) -> Option<(String, Vec<String>)> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let iss = text(&claims, "iss")?.to_string();
    let aud = match claims.get("aud")? {
        Value::String(a) => vec![a.clone()],
        Value::Array(list) => list
            .iter()
            .filter_map(|a| a.as_str().map(str::to_string))
            .collect(),
        _ => return None,
    };
    Some((iss, aud))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_800_000_000;

    fn token() -> Value {
        json!({
            "iss": "https://idp.example.com",
            "aud": "portcullis",
            "iat": NOW - 5,
            "exp": NOW + 120,
            "jti": "j-1",
            "sid": "s-1",
            "events": {EVENT: {}},
        })
    }

    fn without(name: &str) -> Value {
        let mut t = token();
        t.as_object_mut().unwrap().remove(name);
        t
    }

    #[test]
    fn a_logout_token_names_the_session_and_how_long_to_remember_it() {
        let notice = check(Some("logout+jwt"), &token(), NOW, 60).unwrap();
        assert_eq!(notice.sid.as_deref(), Some("s-1"));
        assert_eq!(notice.sub, None);
        assert_eq!(notice.jti, "j-1");
        assert_eq!(notice.remember_until, NOW - 5 + MAX_AGE_SECS + 60);
        assert!(check(None, &token(), NOW, 60).is_ok(), "typ is optional");
    }

    #[test]
    fn what_is_not_a_logout_token_is_refused() {
        let mut id_token = token();
        id_token["nonce"] = json!("n");
        let mut other_event = token();
        other_event["events"] = json!({"http://schemas.openid.net/event/other": {}});
        let mut event_not_object = token();
        event_not_object["events"] = json!({EVENT: true});
        let mut neither = without("sid");
        neither.as_object_mut().unwrap().remove("sub");
        let mut future = token();
        future["iat"] = json!(NOW + 120);
        let mut old = token();
        old["iat"] = json!(NOW - MAX_AGE_SECS - 1);
        for (why, claims) in [
            ("nonce", id_token),
            ("other event", other_event),
            ("event not an object", event_not_object),
            ("no events", without("events")),
            ("no jti", without("jti")),
            ("no iat", without("iat")),
            ("neither sub nor sid", neither),
            ("future iat", future),
            ("old iat", old),
        ] {
            assert!(check(None, &claims, NOW, 60).is_err(), "{why}");
        }
        assert!(check(Some("JWT"), &token(), NOW, 60).is_ok());
        assert!(check(Some("id_token+jwt"), &token(), NOW, 60).is_err());
    }

    #[test]
    fn the_address_is_read_without_trusting_it() {
        let payload = URL_SAFE_NO_PAD.encode(token().to_string());
        let jwt = format!("e30.{payload}.sig");
        assert_eq!(
            addressed(&jwt),
            Some(("https://idp.example.com".into(), vec!["portcullis".into()]))
        );
        assert_eq!(addressed("not a jwt"), None);
        assert_eq!(addressed("a.%%%.c"), None);
    }
}
