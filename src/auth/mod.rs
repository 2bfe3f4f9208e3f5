//! Authentication primitives: password hashing, opaque tokens, and signed
//! access tokens with their JWKS.

pub mod jwt;
pub mod passwords;
pub mod sealing;
pub mod tokens;
