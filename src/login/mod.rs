//! The login journey, in one place: starting a sign-in and its callback
//! ([`flow`]), signing out ([`logout`]), the IdP ending sessions ([`backchannel`]), device pairing ([`device`]),
//! one-time sign-in links ([`link`]), the PKCE cookie between `/auth/login` and
//! `/auth/callback` ([`pkce`]), and the server-rendered pages a person sees
//! ([`page`]).

pub mod approval;
pub mod backchannel;
pub mod device;
pub mod flow;
pub mod link;
pub mod logout;
pub mod page;
pub mod pkce;
pub mod sessions;
