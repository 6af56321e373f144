//! Reading an identity out of a JSON document (ID token claims, a userinfo answer)
//! under configurable claim names. A name may be a dotted path into nested objects.

use serde_json::Value;

use crate::config::ClaimNames;

/// The parts of an identity a document may hold.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Profile {
    pub user_id: Option<String>,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
    /// `None`: the document has no groups claim at all.
    pub groups: Option<Vec<String>>,
}

impl Profile {
    pub fn read(doc: &Value, names: &ClaimNames) -> Self {
        Self {
            user_id: string_at(doc, &names.user_id),
            email: string_at(doc, &names.email).map(|e| e.to_ascii_lowercase()),
            email_verified: bool_at(doc, &names.email_verified),
            name: string_at(doc, &names.name),
            groups: groups_at(doc, &names.groups),
        }
    }

    /// Fills what `self` lacks from `other` (a userinfo answer for the same subject).
    pub fn fill_from(&mut self, other: Profile) {
        if self.email.is_none() {
            self.email = other.email;
            self.email_verified = other.email_verified;
        }
        if self.name.is_none() {
            self.name = other.name;
        }
        if self.groups.is_none() {
            self.groups = other.groups;
        }
    }
}

/// The value at a dotted `path`; an exact key containing dots wins (URL-named
/// claims such as `https://example.com/groups`).
pub fn lookup<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    if let Some(v) = doc.get(path) {
        return Some(v);
    }
    path.split('.').try_fold(doc, |v, key| v.get(key))
}

/// A string claim; numbers (GitHub's numeric ids) are written out as text.
pub fn string_at(doc: &Value, path: &str) -> Option<String> {
    match lookup(doc, path)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A boolean claim; some providers send `"true"` as a string.
pub fn bool_at(doc: &Value, path: &str) -> bool {
    match lookup(doc, path) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => false,
    }
}

/// A groups claim: an array of strings, or one string.
pub fn groups_at(doc: &Value, path: &str) -> Option<Vec<String>> {
    match lookup(doc, path)? {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|g| g.as_str().map(str::to_string))
                .collect(),
        ),
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn names(user_id: &str, email: &str, groups: &str) -> ClaimNames {
        ClaimNames {
            user_id: user_id.into(),
            email: email.into(),
            groups: groups.into(),
            ..ClaimNames::default()
        }
    }

    #[test]
    fn reads_nested_and_numeric_claims() {
        let doc = json!({"data": {"user": {"id": 42, "mail": "A@X.io"}}, "roles": ["a", 1, "b"]});
        let p = Profile::read(&doc, &names("data.user.id", "data.user.mail", "roles"));
        assert_eq!(p.user_id.as_deref(), Some("42"));
        assert_eq!(p.email.as_deref(), Some("a@x.io"));
        assert_eq!(p.groups, Some(vec!["a".to_string(), "b".to_string()]));
        assert!(!p.email_verified);
    }

    #[test]
    fn exact_key_with_dots_wins_and_missing_is_none() {
        let doc = json!({"https://x.io/groups": "ops", "email_verified": "true"});
        let p = Profile::read(&doc, &names("sub", "email", "https://x.io/groups"));
        assert_eq!(p.groups, Some(vec!["ops".to_string()]));
        assert_eq!(p.user_id, None);
        assert!(p.email_verified);
    }

    #[test]
    fn objects_and_empty_strings_are_not_identities() {
        let doc = json!({"sub": {"id": 1}, "email": ""});
        let p = Profile::read(&doc, &ClaimNames::default());
        assert_eq!((p.user_id, p.email), (None, None));
    }

    #[test]
    fn fill_from_keeps_what_is_there() {
        let mut a = Profile {
            email: Some("a@x.io".into()),
            email_verified: true,
            ..Profile::default()
        };
        a.fill_from(Profile {
            email: Some("b@x.io".into()),
            name: Some("B".into()),
            groups: Some(vec!["g".into()]),
            ..Profile::default()
        });
        assert_eq!(a.email.as_deref(), Some("a@x.io"));
        assert!(a.email_verified);
        assert_eq!(a.name.as_deref(), Some("B"));
        assert_eq!(a.groups, Some(vec!["g".to_string()]));
    }
}
