//! `[access]`: who may pass once signed in. Email and domain rules are checked only
//! against emails the provider says it verified; with both lists empty, any
//! signed-in person passes.

use crate::config::AccessConfig;

/// Why a signed-in person was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The provider gave no email, or did not verify it, and a rule needs one.
    EmailNotVerified,
    /// A verified email that no rule allows.
    NotAllowed,
}

impl Denial {
    pub fn reason(self) -> &'static str {
        match self {
            Denial::EmailNotVerified => "email_not_verified",
            Denial::NotAllowed => "email_not_allowed",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    config: AccessConfig,
}

impl AccessPolicy {
    pub fn new(config: AccessConfig) -> Self {
        Self { config }
    }

    /// Whether any rule is configured.
    pub fn is_open(&self) -> bool {
        self.config.allowed_emails.is_empty() && self.config.allowed_domains.is_empty()
    }

    /// Checks a person's email against the rules.
    pub fn check(&self, email: Option<&str>, email_verified: bool) -> Result<(), Denial> {
        if self.is_open() {
            return Ok(());
        }
        let email = match email {
            Some(e) if email_verified => e.to_ascii_lowercase(),
            _ => return Err(Denial::EmailNotVerified),
        };
        if self.config.allowed_emails.contains(&email) {
            return Ok(());
        }
        let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        if self.config.allowed_domains.iter().any(|d| d == domain) {
            return Ok(());
        }
        Err(Denial::NotAllowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(emails: &[&str], domains: &[&str]) -> AccessPolicy {
        AccessPolicy::new(AccessConfig {
            allowed_emails: emails.iter().map(|s| s.to_string()).collect(),
            allowed_domains: domains.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn empty_lists_allow_any_signed_in_person() {
        assert_eq!(policy(&[], &[]).check(None, false), Ok(()));
    }

    #[test]
    fn allowed_email_passes_case_insensitively() {
        let p = policy(&["ann@example.com"], &[]);
        assert_eq!(p.check(Some("Ann@Example.com"), true), Ok(()));
        assert_eq!(
            p.check(Some("bob@example.com"), true),
            Err(Denial::NotAllowed)
        );
    }

    #[test]
    fn domain_rule_needs_a_verified_email() {
        let p = policy(&[], &["example.com"]);
        assert_eq!(p.check(Some("x@example.com"), true), Ok(()));
        assert_eq!(
            p.check(Some("x@example.com"), false),
            Err(Denial::EmailNotVerified)
        );
        assert_eq!(p.check(None, true), Err(Denial::EmailNotVerified));
    }

    #[test]
    fn domain_rule_matches_whole_domain_only() {
        let p = policy(&[], &["example.com"]);
        assert_eq!(
            p.check(Some("x@evilexample.com"), true),
            Err(Denial::NotAllowed)
        );
        assert_eq!(
            p.check(Some("x@example.com.evil.io"), true),
            Err(Denial::NotAllowed)
        );
        assert_eq!(
            p.check(Some("x@sub.example.com"), true),
            Err(Denial::NotAllowed)
        );
    }
}
