//! `[access]`: who may pass once signed in.
//!
//! Two gates, each open when its lists are empty:
//! - email: the address is in `allowed_emails` or its domain in `allowed_domains`,
//!   checked only against emails the provider says it verified;
//! - groups: the person is in one of `allowed_groups` (from the provider's groups
//!   claim).
//!
//! When both gates have rules, a person must pass both.

use crate::config::AccessConfig;

/// Why a signed-in person was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denial {
    /// The provider gave no email, or did not verify it, and a rule needs one.
    EmailNotVerified,
    /// A verified email that no rule allows.
    NotAllowed,
    /// In none of `allowed_groups`.
    NotInGroup,
}

impl Denial {
    pub fn reason(self) -> &'static str {
        match self {
            Denial::EmailNotVerified => "email_not_verified",
            Denial::NotAllowed => "email_not_allowed",
            Denial::NotInGroup => "group_not_allowed",
        }
    }
}

/// What the rules look at.
#[derive(Debug, Clone, Copy)]
pub struct Person<'a> {
    pub email: Option<&'a str>,
    pub email_verified: bool,
    pub groups: &'a [String],
}

#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    config: AccessConfig,
}

impl AccessPolicy {
    pub fn new(config: AccessConfig) -> Self {
        Self { config }
    }

    /// Checks a person against the rules.
    pub fn check(&self, person: &Person<'_>) -> Result<(), Denial> {
        self.check_email(person.email, person.email_verified)?;
        if !self.config.allowed_groups.is_empty()
            && !person
                .groups
                .iter()
                .any(|g| self.config.allowed_groups.contains(g))
        {
            return Err(Denial::NotInGroup);
        }
        Ok(())
    }

    /// Whether the rules name `group`: only such groups are remembered in a
    /// session, so a cookie stays small however many groups the IdP sends.
    pub fn names_group(&self, group: &str) -> bool {
        self.config.allowed_groups.iter().any(|g| g == group)
    }

    /// Whether the rules let anyone who signed in through.
    pub fn is_open(&self) -> bool {
        self.config.allowed_emails.is_empty()
            && self.config.allowed_domains.is_empty()
            && self.config.allowed_groups.is_empty()
    }

    /// Whether a group rule is set.
    pub fn has_groups(&self) -> bool {
        !self.config.allowed_groups.is_empty()
    }

    fn check_email(&self, email: Option<&str>, email_verified: bool) -> Result<(), Denial> {
        if self.config.allowed_emails.is_empty() && self.config.allowed_domains.is_empty() {
            return Ok(());
        }
        // The lists hold lower case; the address is compared without a copy.
        let email = match email {
            Some(e) if email_verified => e,
            _ => return Err(Denial::EmailNotVerified),
        };
        if self
            .config
            .allowed_emails
            .iter()
            .any(|e| e.eq_ignore_ascii_case(email))
        {
            return Ok(());
        }
        let domain = email.rsplit_once('@').map_or("", |(_, d)| d);
        if self
            .config
            .allowed_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
        {
            return Ok(());
        }
        Err(Denial::NotAllowed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn policy(emails: &[&str], domains: &[&str]) -> AccessPolicy {
        grouped(emails, domains, &[])
    }

    fn grouped(emails: &[&str], domains: &[&str], groups: &[&str]) -> AccessPolicy {
        AccessPolicy::new(AccessConfig {
            allowed_emails: strings(emails),
            allowed_domains: strings(domains),
            allowed_groups: strings(groups),
        })
    }

    trait Check {
        fn email_only(&self, email: Option<&str>, verified: bool) -> Result<(), Denial>;
    }

    impl Check for AccessPolicy {
        fn email_only(&self, email: Option<&str>, verified: bool) -> Result<(), Denial> {
            self.check(&Person {
                email,
                email_verified: verified,
                groups: &[],
            })
        }
    }

    fn in_groups<'a>(email: Option<&'a str>, groups: &'a [String]) -> Person<'a> {
        Person {
            email,
            email_verified: true,
            groups,
        }
    }

    #[test]
    fn group_rule_needs_one_listed_group_exactly() {
        let p = grouped(&[], &[], &["admins", "ops"]);
        assert_eq!(
            p.check(&in_groups(None, &strings(&["users", "ops"]))),
            Ok(())
        );
        assert_eq!(
            p.check(&in_groups(None, &strings(&["users", "Admins", "admin"]))),
            Err(Denial::NotInGroup)
        );
        assert_eq!(p.check(&in_groups(None, &[])), Err(Denial::NotInGroup));
    }

    #[test]
    fn email_and_group_rules_must_both_pass() {
        let p = grouped(&[], &["example.com"], &["admins"]);
        let admins = strings(&["admins"]);
        assert_eq!(p.check(&in_groups(Some("a@example.com"), &admins)), Ok(()));
        assert_eq!(
            p.check(&in_groups(Some("a@other.org"), &admins)),
            Err(Denial::NotAllowed)
        );
        assert_eq!(
            p.check(&in_groups(Some("a@example.com"), &strings(&["users"]))),
            Err(Denial::NotInGroup)
        );
    }

    #[test]
    fn only_listed_groups_are_kept_for_the_session() {
        let p = grouped(&[], &[], &["admins"]);
        assert!(p.names_group("admins"));
        assert!(!p.names_group("users"));
        assert!(!p.names_group("Admins"), "exact, as the IdP sends it");
    }

    #[test]
    fn empty_lists_allow_any_signed_in_person() {
        assert_eq!(policy(&[], &[]).email_only(None, false), Ok(()));
    }

    #[test]
    fn allowed_email_passes_case_insensitively() {
        let p = policy(&["ann@example.com"], &[]);
        assert_eq!(p.email_only(Some("Ann@Example.com"), true), Ok(()));
        assert_eq!(
            p.email_only(Some("bob@example.com"), true),
            Err(Denial::NotAllowed)
        );
    }

    #[test]
    fn domain_rule_needs_a_verified_email() {
        let p = policy(&[], &["example.com"]);
        assert_eq!(p.email_only(Some("x@example.com"), true), Ok(()));
        assert_eq!(
            p.email_only(Some("x@example.com"), false),
            Err(Denial::EmailNotVerified)
        );
        assert_eq!(p.email_only(None, true), Err(Denial::EmailNotVerified));
    }

    #[test]
    fn domain_rule_matches_whole_domain_only() {
        let p = policy(&[], &["example.com"]);
        assert_eq!(
            p.email_only(Some("x@evilexample.com"), true),
            Err(Denial::NotAllowed)
        );
        assert_eq!(
            p.email_only(Some("x@example.com.evil.io"), true),
            Err(Denial::NotAllowed)
        );
        assert_eq!(
            p.email_only(Some("x@sub.example.com"), true),
            Err(Denial::NotAllowed)
        );
    }
}
