//! The events roster tells webhook endpoints and the feed about, and which
//! audited action each one comes from.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "user.invited")]
    UserInvited,
    #[serde(rename = "user.activated")]
    UserActivated,
    #[serde(rename = "user.updated")]
    UserUpdated,
    #[serde(rename = "user.status_changed")]
    UserStatusChanged,
    #[serde(rename = "user.locked")]
    UserLocked,
    #[serde(rename = "user.unlocked")]
    UserUnlocked,
    #[serde(rename = "user.password_changed")]
    UserPasswordChanged,
    #[serde(rename = "user.deleted")]
    UserDeleted,
    #[serde(rename = "membership.added")]
    MembershipAdded,
    #[serde(rename = "membership.updated")]
    MembershipUpdated,
    #[serde(rename = "membership.removed")]
    MembershipRemoved,
    #[serde(rename = "customer.created")]
    CustomerCreated,
    #[serde(rename = "customer.updated")]
    CustomerUpdated,
    #[serde(rename = "ping")]
    Ping,
}

impl EventType {
    pub const ALL: [EventType; 14] = [
        EventType::UserInvited,
        EventType::UserActivated,
        EventType::UserUpdated,
        EventType::UserStatusChanged,
        EventType::UserLocked,
        EventType::UserUnlocked,
        EventType::UserPasswordChanged,
        EventType::UserDeleted,
        EventType::MembershipAdded,
        EventType::MembershipUpdated,
        EventType::MembershipRemoved,
        EventType::CustomerCreated,
        EventType::CustomerUpdated,
        EventType::Ping,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserInvited => "user.invited",
            EventType::UserActivated => "user.activated",
            EventType::UserUpdated => "user.updated",
            EventType::UserStatusChanged => "user.status_changed",
            EventType::UserLocked => "user.locked",
            EventType::UserUnlocked => "user.unlocked",
            EventType::UserPasswordChanged => "user.password_changed",
            EventType::UserDeleted => "user.deleted",
            EventType::MembershipAdded => "membership.added",
            EventType::MembershipUpdated => "membership.updated",
            EventType::MembershipRemoved => "membership.removed",
            EventType::CustomerCreated => "customer.created",
            EventType::CustomerUpdated => "customer.updated",
            EventType::Ping => "ping",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        EventType::ALL.into_iter().find(|t| t.as_str() == value)
    }

    /// The event an audited action is told as, if any: a password set by
    /// its owner or through a reset link is `user.password_changed` either
    /// way; API clients, link emails and the bootstrap admin are not told.
    pub fn of_action(action: &str) -> Option<Self> {
        match action {
            "user.password_reset" => Some(EventType::UserPasswordChanged),
            "ping" => None,
            other => EventType::parse(other),
        }
    }

    pub fn is_about_user(self) -> bool {
        matches!(
            self,
            EventType::UserInvited
                | EventType::UserActivated
                | EventType::UserUpdated
                | EventType::UserStatusChanged
                | EventType::UserLocked
                | EventType::UserUnlocked
                | EventType::UserPasswordChanged
                | EventType::UserDeleted
        )
    }

    pub fn is_about_membership(self) -> bool {
        matches!(
            self,
            EventType::MembershipAdded
                | EventType::MembershipUpdated
                | EventType::MembershipRemoved
        )
    }

    pub fn is_about_customer(self) -> bool {
        matches!(
            self,
            EventType::CustomerCreated | EventType::CustomerUpdated
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_back_from_its_name() {
        for event in EventType::ALL {
            assert_eq!(EventType::parse(event.as_str()), Some(event));
            assert_eq!(
                serde_json::to_value(event).unwrap(),
                serde_json::json!(event.as_str())
            );
        }
        assert_eq!(EventType::parse("user.exploded"), None);
    }

    #[test]
    fn the_user_events_are_the_ones_named_user() {
        for event in EventType::ALL {
            assert_eq!(event.is_about_user(), event.as_str().starts_with("user."));
        }
    }

    #[test]
    fn audited_actions_map_to_events_or_to_nothing() {
        assert_eq!(
            EventType::of_action("user.password_reset"),
            Some(EventType::UserPasswordChanged)
        );
        assert_eq!(
            EventType::of_action("user.status_changed"),
            Some(EventType::UserStatusChanged)
        );
        assert_eq!(EventType::of_action("api_client.created"), None);
        assert_eq!(EventType::of_action("user.activation_email_sent"), None);
        assert_eq!(EventType::of_action("user.bootstrapped"), None);
        assert_eq!(EventType::of_action("ping"), None);
    }
}
