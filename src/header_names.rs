//! The header names portcullis reads and writes that `http` has no constant
//! for. A name given as a string is parsed on every lookup; these are parsed
//! once, at compile time.

use http::HeaderName;

pub const X_FORWARDED_USER: HeaderName = HeaderName::from_static("x-forwarded-user");
pub const X_FORWARDED_EMAIL: HeaderName = HeaderName::from_static("x-forwarded-email");
pub const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
pub const X_FORWARDED_PREFIX: HeaderName = HeaderName::from_static("x-forwarded-prefix");
pub const X_REQUESTED_WITH: HeaderName = HeaderName::from_static("x-requested-with");
pub const SEC_FETCH_MODE: HeaderName = HeaderName::from_static("sec-fetch-mode");
pub const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
pub const X_PORTCULLIS_ASSERTION: HeaderName = HeaderName::from_static(crate::assertion::HEADER);
