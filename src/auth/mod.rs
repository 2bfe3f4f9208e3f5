//! Authentication: password hashing, opaque tokens, signed access tokens,
//! and the extractor that turns a bearer token into an [`crate::domain::permissions::Actor`].

pub mod extractor;
pub mod jwt;
pub mod passwords;
pub mod tokens;

pub use extractor::Authenticated;
