//! `[access]`: who may pass once signed in.

use super::{file, ConfigError};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessConfig {
    /// Lower-case addresses.
    pub allowed_emails: Vec<String>,
    /// Lower-case domains, without `@`.
    pub allowed_domains: Vec<String>,
    /// Group names, exact (case-sensitive, as the IdP sends them).
    pub allowed_groups: Vec<String>,
}

pub(super) fn validate_access(a: file::AccessFile) -> Result<AccessConfig, ConfigError> {
    access_lists("access", a)
}

/// The three lists of `section` (`access`, or a route's).
pub(super) fn access_lists(
    section: &str,
    a: file::AccessFile,
) -> Result<AccessConfig, ConfigError> {
    let mut access = AccessConfig::default();
    for (i, e) in a.allowed_emails.iter().enumerate() {
        let e = e.trim().to_ascii_lowercase();
        if e.matches('@').count() != 1 || e.starts_with('@') || e.ends_with('@') {
            return Err(ConfigError::invalid(
                &format!("{section}.allowed_emails[{i}]"),
                format!("`{e}` is not an email address"),
            ));
        }
        access.allowed_emails.push(e);
    }
    for (i, d) in a.allowed_domains.iter().enumerate() {
        let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        if d.is_empty() || d.contains('@') || !d.contains('.') {
            return Err(ConfigError::invalid(
                &format!("{section}.allowed_domains[{i}]"),
                format!("`{d}` is not a domain such as \"example.com\""),
            ));
        }
        access.allowed_domains.push(d);
    }
    for (i, g) in a.allowed_groups.iter().enumerate() {
        let g = g.trim();
        if g.is_empty() {
            return Err(ConfigError::invalid(
                &format!("{section}.allowed_groups[{i}]"),
                "is empty; write the group name as the IdP sends it",
            ));
        }
        access.allowed_groups.push(g.to_string());
    }
    Ok(access)
}
