//! Business rules, free of HTTP and SQL: parsed values, the account lifecycle,
//! seats and permissions. Everything here is pure and unit-tested.

pub mod delivery;
pub mod email;
pub mod events;
pub mod imports;
pub mod lifecycle;
pub mod links;
pub mod pagination;
pub mod password_policy;
pub mod permissions;
pub mod profile;
pub mod roles;
pub mod scim;
pub mod seats;
