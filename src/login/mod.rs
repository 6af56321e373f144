//! The login journey: the PKCE cookie between `/auth/login` and `/auth/callback`,
//! and the server-rendered pages a person sees.

pub mod page;
pub mod pkce;
