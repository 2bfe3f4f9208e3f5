//! Membership roles and platform roles.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A user's role in one customer:
///
/// - `standard_user`: a plain member; the product gives them its standard (restricted) features.
/// - `full_access`: a plain member with every product feature (the default role).
/// - `admin`: may administer this customer's users (add, edit, remove, change status), besides using the product.
///
/// `standard_user` and `full_access` mean something only to the product; to roster both are members with no admin powers.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    Default,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum MembershipRole {
    /// A plain member with the product's standard features.
    StandardUser,
    /// A plain member with every product feature (the default).
    #[default]
    FullAccess,
    /// May administer this customer's users.
    Admin,
}

impl MembershipRole {
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipRole::StandardUser => "standard_user",
            MembershipRole::FullAccess => "full_access",
            MembershipRole::Admin => "admin",
        }
    }

    /// How emails name the role.
    pub fn label(self) -> &'static str {
        match self {
            MembershipRole::StandardUser => "Standard User",
            MembershipRole::FullAccess => "Full Access",
            MembershipRole::Admin => "Admin",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "standard_user" => Some(MembershipRole::StandardUser),
            "full_access" => Some(MembershipRole::FullAccess),
            "admin" => Some(MembershipRole::Admin),
            _ => None,
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum PlatformRole {
    /// An ordinary user: powers come only from memberships.
    None,
    /// Administers every customer and user.
    Admin,
}

impl PlatformRole {
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformRole::None => "none",
            PlatformRole::Admin => "admin",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "none" => Some(PlatformRole::None),
            "admin" => Some(PlatformRole::Admin),
            _ => None,
        }
    }
}

/// Largest `settings` object a membership may carry, serialized.
pub const MAX_SETTINGS_BYTES: usize = 16 * 1024;

/// Membership settings: a JSON object of at most 16 KiB.
pub fn check_settings(settings: &serde_json::Value) -> Result<String, &'static str> {
    if !settings.is_object() {
        return Err("must be a JSON object");
    }
    let text = settings.to_string();
    if text.len() > MAX_SETTINGS_BYTES {
        return Err("is larger than 16 KiB");
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn full_access_is_the_default_role() {
        assert_eq!(MembershipRole::default(), MembershipRole::FullAccess);
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in [
            MembershipRole::StandardUser,
            MembershipRole::FullAccess,
            MembershipRole::Admin,
        ] {
            assert_eq!(MembershipRole::parse(role.as_str()), Some(role));
        }
    }

    #[test]
    fn settings_must_be_a_small_object() {
        assert!(check_settings(&json!({"menu": "energy", "chat_tags": ["a"]})).is_ok());
        assert!(check_settings(&json!([1, 2])).is_err());
        assert!(check_settings(&json!({"blob": "x".repeat(17 * 1024)})).is_err());
    }
}
