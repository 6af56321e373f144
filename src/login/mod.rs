//! The login journey, in one place: starting a sign-in and its callback
//! ([`flow`]), signing out ([`logout`]), the PKCE cookie between `/auth/login` and
//! `/auth/callback` ([`pkce`]), and the server-rendered pages a person sees
//! ([`page`]).

pub mod flow;
pub mod logout;
pub mod page;
pub mod pkce;
