//! The account lifecycle (docs/api.md, "Lifecycle"): which status changes an admin
//! may make, and what each one must do besides changing the status.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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
/// Where a user is in their lifecycle:
///
/// - `invited`: added, has not set a password yet (holds a seat; cannot sign in).
/// - `active`: has a password and may sign in, unless `locked`.
/// - `inactive`: turned off by an admin ("Inactivate user"); holds a seat; cannot sign in until reactivated.
/// - `expired`: set by roster after `ROSTER_DORMANCY_DAYS` without a sign-in; holds a seat; an admin reactivates it.
/// - `retired`: dropped; the record is kept with `retired_at`, the seat is freed in every customer; an admin may reinstate it.
pub enum UserStatus {
    /// Added, has not yet set a password.
    Invited,
    /// Has a password and may use it.
    Active,
    /// Turned off by an admin; cannot sign in.
    Inactive,
    /// No sign-in for `ROSTER_DORMANCY_DAYS`.
    Expired,
    /// Dropped: record kept, seat freed.
    Retired,
}

impl UserStatus {
    pub const ALL: [UserStatus; 5] = [
        UserStatus::Invited,
        UserStatus::Active,
        UserStatus::Inactive,
        UserStatus::Expired,
        UserStatus::Retired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            UserStatus::Invited => "invited",
            UserStatus::Active => "active",
            UserStatus::Inactive => "inactive",
            UserStatus::Expired => "expired",
            UserStatus::Retired => "retired",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "invited" => Some(UserStatus::Invited),
            "active" => Some(UserStatus::Active),
            "inactive" => Some(UserStatus::Inactive),
            "expired" => Some(UserStatus::Expired),
            "retired" => Some(UserStatus::Retired),
            _ => None,
        }
    }

    /// The `code` a correct-password sign-in answers with when the account
    /// cannot be used; `None` when it can.
    pub fn sign_in_refusal(self) -> Option<&'static str> {
        match self {
            UserStatus::Active => None,
            UserStatus::Invited => Some("account_not_activated"),
            UserStatus::Inactive => Some("account_inactive"),
            UserStatus::Expired => Some("account_expired"),
            UserStatus::Retired => Some("account_retired"),
        }
    }
}

/// Whether an account may act: sign in, rotate its refresh tokens, and use
/// its access tokens. The lock comes first, so a locked account's answer
/// never tells its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    Usable,
    Locked,
    /// Not active; the `code` a correct-password sign-in answers with.
    Refused(&'static str),
}

pub fn standing(status: UserStatus, locked: bool) -> Standing {
    if locked {
        return Standing::Locked;
    }
    match status.sign_in_refusal() {
        None => Standing::Usable,
        Some(code) => Standing::Refused(code),
    }
}

/// The statuses an admin may set with `PUT /v1/users/{user_id}/status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusTarget {
    Active,
    Inactive,
    Retired,
}

impl StatusTarget {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        match value {
            "active" => Ok(StatusTarget::Active),
            "inactive" => Ok(StatusTarget::Inactive),
            "retired" => Ok(StatusTarget::Retired),
            "invited" | "expired" => {
                Err("cannot be set by an admin: use active, inactive or retired")
            }
            _ => Err("must be one of active, inactive, retired"),
        }
    }
}

/// What a status change must do. Built by [`plan_status_change`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusPlan {
    pub to: UserStatus,
    /// False when the user already is in the asked state (idempotent no-op).
    pub changes: bool,
    pub revoke_sessions: bool,
    /// Every pending activation and reset link dies, so that no link sent
    /// before the change works after it (a reactivation never revives one).
    pub void_links: bool,
    /// What the user is told, in this order.
    pub emails: &'static [StatusEmail],
    /// The audit event the change records; `None` when nothing changes.
    pub audit_action: Option<&'static str>,
    pub set_retired_at: bool,
    pub clear_retired_at: bool,
}

/// An email a status change sends to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusEmail {
    /// `account_deactivated`: "your account was deactivated; contact your administrator".
    AccountDeactivated,
    /// A fresh activation link: the user never set a password, so coming
    /// back means being invited again.
    Activation,
}

const STATUS_CHANGED: Option<&str> = Some("user.status_changed");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a retired user must be reinstated (status active) before being inactivated")]
    RetiredCannotBeInactivated,
    #[error("the user has not activated the account yet; resend the activation email instead")]
    NotActivated,
}

pub fn plan_status_change(
    from: UserStatus,
    target: StatusTarget,
    has_password: bool,
) -> Result<StatusPlan, TransitionError> {
    let unchanged = StatusPlan {
        to: from,
        changes: false,
        revoke_sessions: false,
        void_links: false,
        emails: &[],
        audit_action: None,
        set_retired_at: false,
        clear_retired_at: false,
    };
    use UserStatus as S;
    match (target, from) {
        (StatusTarget::Inactive, S::Inactive) => Ok(unchanged),
        (StatusTarget::Inactive, S::Retired) => Err(TransitionError::RetiredCannotBeInactivated),
        (StatusTarget::Inactive, _) => Ok(StatusPlan {
            to: S::Inactive,
            changes: true,
            revoke_sessions: true,
            void_links: true,
            emails: &[StatusEmail::AccountDeactivated],
            audit_action: STATUS_CHANGED,
            ..unchanged
        }),
        (StatusTarget::Active, S::Active) => Ok(unchanged),
        (StatusTarget::Active, S::Invited) => Err(TransitionError::NotActivated),
        (StatusTarget::Active, S::Inactive | S::Expired | S::Retired) => Ok(StatusPlan {
            to: if has_password { S::Active } else { S::Invited },
            changes: true,
            void_links: true,
            emails: if has_password {
                &[]
            } else {
                &[StatusEmail::Activation]
            },
            audit_action: STATUS_CHANGED,
            clear_retired_at: from == S::Retired,
            ..unchanged
        }),
        (StatusTarget::Retired, S::Retired) => Ok(unchanged),
        (StatusTarget::Retired, _) => Ok(StatusPlan {
            to: S::Retired,
            changes: true,
            revoke_sessions: true,
            void_links: true,
            audit_action: STATUS_CHANGED,
            set_retired_at: true,
            ..unchanged
        }),
    }
}

/// What an admin's change of a user's email address must do besides storing
/// it. Built by [`plan_email_change`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmailChangePlan {
    /// Every pending activation and reset link dies: it went to the old
    /// address.
    pub void_links: bool,
    /// `email_changed` goes to the old address: the account has a password,
    /// and from now on its reset links go to the new address.
    pub notify_old_address: bool,
    /// A fresh `activation` email goes to the new address.
    pub activation_to_new_address: bool,
}

/// The plan for a new address; `None` when the address stays the same
/// mailbox (equal, or differing only in case), which is a plain profile edit.
pub fn plan_email_change(
    status: UserStatus,
    has_password: bool,
    old_key: &str,
    new_key: &str,
) -> Option<EmailChangePlan> {
    (old_key != new_key).then_some(EmailChangePlan {
        void_links: true,
        notify_old_address: has_password,
        activation_to_new_address: status == UserStatus::Invited,
    })
}

/// How stale the recorded last activity may be before a refresh writes it
/// again: dormancy counts days, and a write saved on most refreshes is a
/// write fewer per grant.
pub const ACTIVITY_PRECISION: time::Duration = time::Duration::minutes(1);

/// Whether a refresh at `now` should record activity, given the last one.
pub fn activity_outdated(
    last_active_at: Option<time::PrimitiveDateTime>,
    now: time::PrimitiveDateTime,
) -> bool {
    last_active_at.is_none_or(|last| now - last >= ACTIVITY_PRECISION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activity_is_recorded_once_a_minute_at_most() {
        let now = time::macros::datetime!(2026-11-30 12:00:00);
        assert!(activity_outdated(None, now));
        assert!(!activity_outdated(Some(now), now));
        assert!(!activity_outdated(
            Some(now - time::Duration::seconds(59)),
            now
        ));
        assert!(activity_outdated(
            Some(now - time::Duration::seconds(60)),
            now
        ));
    }
    use UserStatus as S;

    #[test]
    fn inactivating_revokes_sessions_and_sends_the_deactivation_notice() {
        for from in [S::Active, S::Invited, S::Expired] {
            let plan = plan_status_change(from, StatusTarget::Inactive, true).unwrap();
            assert_eq!(plan.to, S::Inactive);
            assert!(plan.revoke_sessions, "{from:?}");
            assert_eq!(plan.emails, [StatusEmail::AccountDeactivated], "{from:?}");
            assert_eq!(plan.audit_action, Some("user.status_changed"));
        }
    }

    #[test]
    fn reactivating_sends_no_email_to_a_user_with_a_password() {
        let plan = plan_status_change(S::Inactive, StatusTarget::Active, true).unwrap();
        assert_eq!(plan.to, S::Active);
        assert!(plan.emails.is_empty());
    }

    #[test]
    fn reactivating_a_user_without_a_password_invites_them_again() {
        let plan = plan_status_change(S::Inactive, StatusTarget::Active, false).unwrap();
        assert_eq!(plan.to, S::Invited);
        assert_eq!(plan.emails, [StatusEmail::Activation]);
    }

    #[test]
    fn an_expired_user_comes_back_to_active() {
        let plan = plan_status_change(S::Expired, StatusTarget::Active, true).unwrap();
        assert_eq!(plan.to, S::Active);
    }

    #[test]
    fn retiring_sets_the_date_and_revokes_sessions_from_any_state() {
        for from in [S::Invited, S::Active, S::Inactive, S::Expired] {
            let plan = plan_status_change(from, StatusTarget::Retired, true).unwrap();
            assert_eq!(plan.to, S::Retired);
            assert!(plan.set_retired_at && plan.revoke_sessions);
            assert!(plan.emails.is_empty(), "retiring tells nobody");
        }
    }

    #[test]
    fn reinstating_a_retired_user_clears_the_date() {
        let plan = plan_status_change(S::Retired, StatusTarget::Active, true).unwrap();
        assert!(plan.clear_retired_at);
        assert_eq!(plan.to, S::Active);
    }

    #[test]
    fn every_status_change_voids_the_links_and_asking_for_the_current_one_does_not() {
        for (from, target) in [
            (S::Active, StatusTarget::Inactive),
            (S::Invited, StatusTarget::Inactive),
            (S::Expired, StatusTarget::Inactive),
            (S::Inactive, StatusTarget::Active),
            (S::Expired, StatusTarget::Active),
            (S::Retired, StatusTarget::Active),
            (S::Active, StatusTarget::Retired),
            (S::Invited, StatusTarget::Retired),
        ] {
            for has_password in [true, false] {
                let plan = plan_status_change(from, target, has_password).unwrap();
                assert!(plan.void_links, "{from:?} → {target:?}");
            }
        }
        let plan = plan_status_change(S::Active, StatusTarget::Active, true).unwrap();
        assert!(!plan.void_links);
    }

    #[test]
    fn a_new_address_voids_the_links_and_tells_whoever_holds_the_account() {
        let active = plan_email_change(S::Active, true, "a@x.test", "b@x.test").unwrap();
        assert!(active.void_links && active.notify_old_address);
        assert!(!active.activation_to_new_address);
        let invited = plan_email_change(S::Invited, false, "a@x.test", "b@x.test").unwrap();
        assert!(invited.void_links && invited.activation_to_new_address);
        assert!(
            !invited.notify_old_address,
            "an invited user has nothing to protect"
        );
        let inactive = plan_email_change(S::Inactive, true, "a@x.test", "b@x.test").unwrap();
        assert!(inactive.notify_old_address && !inactive.activation_to_new_address);
        let never_activated = plan_email_change(S::Retired, false, "a@x.test", "b@x.test").unwrap();
        assert!(!never_activated.notify_old_address && !never_activated.activation_to_new_address);
    }

    #[test]
    fn the_same_mailbox_is_no_email_change() {
        assert_eq!(
            plan_email_change(S::Active, true, "a@x.test", "a@x.test"),
            None
        );
    }

    #[test]
    fn asking_for_the_current_state_changes_nothing() {
        for (from, target) in [
            (S::Active, StatusTarget::Active),
            (S::Inactive, StatusTarget::Inactive),
            (S::Retired, StatusTarget::Retired),
        ] {
            let plan = plan_status_change(from, target, true).unwrap();
            assert!(!plan.changes && plan.emails.is_empty() && plan.audit_action.is_none());
            assert_eq!(plan.to, from);
        }
    }

    #[test]
    fn impossible_changes_are_refused() {
        assert_eq!(
            plan_status_change(S::Retired, StatusTarget::Inactive, true),
            Err(TransitionError::RetiredCannotBeInactivated)
        );
        assert_eq!(
            plan_status_change(S::Invited, StatusTarget::Active, false),
            Err(TransitionError::NotActivated)
        );
    }

    #[test]
    fn invited_and_expired_are_not_targets() {
        assert!(StatusTarget::parse("invited").is_err());
        assert!(StatusTarget::parse("expired").is_err());
        assert!(StatusTarget::parse("bogus").is_err());
        assert_eq!(StatusTarget::parse("retired"), Ok(StatusTarget::Retired));
    }

    #[test]
    fn only_active_users_may_sign_in() {
        assert_eq!(S::Active.sign_in_refusal(), None);
        assert_eq!(S::Inactive.sign_in_refusal(), Some("account_inactive"));
        assert_eq!(S::Expired.sign_in_refusal(), Some("account_expired"));
        assert_eq!(S::Retired.sign_in_refusal(), Some("account_retired"));
        assert_eq!(S::Invited.sign_in_refusal(), Some("account_not_activated"));
    }
}
