//! The config file as written: serde structs that refuse unknown keys.
//!
//! Nothing here is validated beyond its TOML type; `Config::load` (through `Config::parse`) turns these
//! into types that cannot hold an invalid value.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub server: ServerFile,
    pub upstream: Option<UpstreamFile>,
    #[serde(default)]
    pub routes: Vec<RouteFile>,
    pub session: SessionFile,
    #[serde(default)]
    pub tickets: TicketsFile,
    #[serde(default)]
    pub store: StoreFile,
    #[serde(default)]
    pub access: AccessFile,
    #[serde(default)]
    pub providers: Vec<ProviderFile>,
    #[serde(default)]
    pub admin: AdminFile,
    #[serde(default)]
    pub log: LogFile,
    #[serde(default)]
    pub public: Vec<PublicFile>,
    #[serde(default)]
    pub tokens: Vec<TokenFile>,
    #[serde(default)]
    pub pairing: PairingFile,
    #[serde(default)]
    pub links: LinksFile,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenFile {
    pub name: String,
    pub sha256: String,
    pub subject: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingFile {
    pub enabled: Option<bool>,
    pub code_ttl: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksFile {
    pub enabled: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicFile {
    pub path: String,
    pub methods: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminFile {
    pub listen: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogFile {
    pub level: Option<String>,
    pub format: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    pub listen: String,
    pub public_url: Option<String>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    pub allowed_hosts: Option<Vec<String>>,
    pub client_ip_header: Option<String>,
    pub shutdown_grace: Option<String>,
    pub header_timeout: Option<String>,
    pub idle_timeout: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamFile {
    pub url: String,
    #[serde(default)]
    pub preserve_host: bool,
    #[serde(default)]
    pub identity_assertion: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteFile {
    pub path: String,
    pub upstream: String,
    #[serde(default)]
    pub preserve_host: bool,
    #[serde(default)]
    pub identity_assertion: bool,
    pub allowed_emails: Option<Vec<String>>,
    pub allowed_domains: Option<Vec<String>>,
    pub allowed_groups: Option<Vec<String>>,
    pub allow_any_signed_in: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionFile {
    pub secret: String,
    #[serde(default)]
    pub previous_secrets: Vec<String>,
    pub ttl: Option<String>,
    pub cookie_name: Option<String>,
    #[serde(default)]
    pub sliding: bool,
    pub max_age: Option<String>,
    pub revalidate: Option<String>,
    pub revalidate_grace: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketsFile {
    pub ttl: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFile {
    pub kind: Option<String>,
    pub url: Option<String>,
    pub key_prefix: Option<String>,
    pub max_staleness: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessFile {
    #[serde(default)]
    pub allowed_emails: Vec<String>,
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    #[serde(default)]
    pub allowed_groups: Vec<String>,
}

/// One `[[providers]]` entry. Every kind's keys are listed here so that a key that
/// belongs to no kind is refused by serde; which keys a kind uses is checked in
/// `config::provider` (`Serialize` only serves [`ProviderFile::keys_set`]).
#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    pub id: Option<String>,
    pub kind: Option<String>,
    pub display_name: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub revoke_on_logout: Option<bool>,
    pub idp_logout: Option<bool>,
    pub groups_claim: Option<String>,
    // oidc
    pub issuer: Option<String>,
    // github
    pub base_url: Option<String>,
    pub api_url: Option<String>,
    pub allowed_orgs: Option<Vec<String>>,
    pub allowed_teams: Option<Vec<String>>,
    // oauth2
    pub authorize_url: Option<String>,
    pub token_url: Option<String>,
    pub userinfo_url: Option<String>,
    pub revocation_url: Option<String>,
    pub end_session_url: Option<String>,
    pub token_endpoint_auth: Option<String>,
    pub user_id_claim: Option<String>,
    pub email_claim: Option<String>,
    pub email_verified_claim: Option<String>,
    pub name_claim: Option<String>,
    pub trust_email: Option<bool>,
}

impl ProviderFile {
    /// The keys this entry sets, by the names serde reads them under, so no list
    /// of key names is kept by hand beside the struct.
    pub fn keys_set(&self) -> Vec<String> {
        match serde_json::to_value(self) {
            Ok(serde_json::Value::Object(keys)) => keys
                .into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, _)| k)
                .collect(),
            _ => Vec::new(),
        }
    }
}
