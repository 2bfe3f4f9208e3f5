//! Use cases about one user across the platform: User Info, the list, profile
//! edits, status, unlock, link emails, deletion, and the user's own password.
//!
//! Each public function is one use case and opens its own transaction; a
//! private `…_in` function is its body inside that transaction.

use secrecy::SecretString;
use serde_json::json;

use crate::auth::jwt::Claims;
use crate::db::action_tokens::{self, Purpose};
use crate::db::memberships::{self, MembershipInfo};
use crate::db::users::{self, ProfileChange, StatusChange, UserFilter, UserRow};
use crate::db::{audit as audit_db, outbox, refresh_tokens, DbConnection};
use crate::domain::email::{mask, EmailAddress};
use crate::domain::lifecycle::{
    plan_email_change, plan_status_change, Standing, StatusEmail, StatusTarget, UserStatus,
};
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::permissions::Actor;
use crate::domain::profile::search_key;
use crate::domain::roles::MembershipRole;
use crate::email::{self, EmailKind, Message};
use crate::error::ApiError;
use crate::service::accounts::{self, send_action_email};
use crate::service::audit::{describe, AuditContext, Event, Origin};
use crate::service::callers;
use crate::service::guard::{administered_user, lock_user, require, visible_user, LoadedUser};
use crate::service::seats::{free_seat, move_seats};
use crate::service::sessions::{issue_pair, TokenResponse};
use crate::state::AppState;

/// Verifies the current password (a wrong one counts toward lockout), checks
/// and hashes the new one, then stores it and issues a fresh session.
pub async fn change_own_password(
    state: &AppState,
    actor: &Actor,
    current_password: SecretString,
    new_password: SecretString,
    origin: Origin,
) -> Result<TokenResponse, ApiError> {
    let id = own_id(actor)?;
    let user = state
        .read(move |conn, _| users::find(conn, &id)?.ok_or(ApiError::NotFound("user")))
        .await?;
    let current_ok = state
        .hasher
        .verify(current_password, user.password_hash.clone())
        .await?;
    if !current_ok {
        let id = user.id.clone();
        state
            .write(move |conn, state| {
                crate::service::sessions::count_failed_sign_in(conn, state, &id)
            })
            .await?;
        return Err(ApiError::invalid(
            "current_password",
            "is not your current password",
        ));
    }
    accounts::check_new_password(state, &user, &new_password, "new_password")?;
    let hash = state.hasher.hash(new_password).await?;
    let verified_hash = user.password_hash.clone();
    state
        .write(move |conn, state| {
            // The password was checked outside the transaction; if another
            // change won the race meanwhile, it is no longer the current one.
            lock_user(conn, &user.id)?;
            let user = users::find(conn, &user.id)?.ok_or(ApiError::NotFound("user"))?;
            // Guesses running beside this request may have locked the
            // account meanwhile: a lock ends the session, right password or not.
            if user.standing() == Standing::Locked {
                return Err(ApiError::Unauthorized(
                    "This session has ended; sign in again.".into(),
                ));
            }
            if user.password_hash != verified_hash {
                return Err(ApiError::invalid(
                    "current_password",
                    "is not your current password",
                ));
            }
            let now = state.clock.now_db();
            accounts::password_changed(conn, state, &user, &hash, None, now)?;
            Event::new(
                "user.password_changed",
                format!("{} changed their password", user.email),
            )
            .about(&user.id)
            .record(conn, state, &AuditContext::for_self(&user.id, &origin), now)?;
            Ok(issue_pair(
                conn,
                state,
                &user.id,
                user.session_version + 1,
                None,
                now,
            )?)
        })
        .await
}

/// The caller's own user id; API clients have no account.
fn own_id(actor: &Actor) -> Result<String, ApiError> {
    actor
        .user_id()
        .map(str::to_string)
        .ok_or_else(|| ApiError::Forbidden("API clients have no user account.".into()))
}

/// The signed-in user's own User Info (`GET /v1/me`) for the token's
/// `claims`: the caller's re-check is the read itself (one statement, one
/// blocking call).
pub async fn me(state: &AppState, claims: Claims) -> Result<UserInfo, ApiError> {
    let (actor, own) = state
        .read(move |conn, _| {
            let own_id = claims.sub.clone();
            callers::caller_and_user(conn, &claims, &own_id)
        })
        .await?;
    callers::note(&actor);
    own_id(&actor)?;
    own.ok_or(ApiError::NotFound("user"))
}

/// User Info as the caller of `claims` may see it: the caller's re-check and
/// the user come from one statement, in one blocking call.
pub async fn get(state: &AppState, claims: Claims, id: String) -> Result<UserInfo, ApiError> {
    let (actor, info) = state
        .read(move |conn, _| {
            let (actor, found) = callers::caller_and_user(conn, &claims, &id)?;
            let info = visible_info(&actor, found, &id);
            Ok((actor, info))
        })
        .await?;
    callers::note(&actor);
    info
}

/// Filters of the platform-wide user list.
pub struct PlatformUserList {
    pub filter: UserFilter,
    pub customer_id: Option<String>,
    pub role: Option<MembershipRole>,
    pub page: PageRequest,
}

/// One page of every user of the platform (platform admins).
pub async fn list(
    state: &AppState,
    actor: &Actor,
    query: PlatformUserList,
) -> Result<Page<UserRow>, ApiError> {
    require(actor.platform(), "user")?;
    state
        .read(move |conn, _| {
            let rows = users::list(
                conn,
                &query.filter,
                query.customer_id.as_deref(),
                query.role,
                query.page.cursor.as_ref(),
                query.page.limit,
            )?;
            Ok(query.page.cut(rows, |user| Cursor {
                at: user.created_at,
                id: user.id.clone(),
            }))
        })
        .await
}

pub async fn update_profile(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    id: String,
    expected_version: Option<i32>,
    edit: ProfileEdit,
) -> Result<UserInfo, ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            update_profile_in(conn, state, &actor, &context, &id, expected_version, edit)
        })
        .await
}

/// Inactivate, reactivate, retire or reinstate (docs/api.md, "Lifecycle").
pub async fn set_status(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    id: String,
    target: StatusTarget,
    expected_version: Option<i32>,
) -> Result<UserInfo, ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            set_status_in(conn, state, &actor, &context, &id, target, expected_version)
        })
        .await
}

/// Clears a lockout; doing it twice is fine.
pub async fn unlock(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    id: String,
) -> Result<(), ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| unlock_in(conn, state, &actor, &context, &id))
        .await
}

/// Resends the activation email (invited users) or sends a reset email
/// (active users); the previous link stops working.
pub async fn send_link(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    id: String,
    purpose: Purpose,
) -> Result<(), ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| send_link_in(conn, state, &actor, &context, &id, purpose))
        .await
}

/// Deletes the user from the platform (platform admins).
pub async fn delete(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    id: String,
) -> Result<(), ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| delete_in(conn, state, &actor, &context, &id))
        .await
}

/// User Info: the user and their memberships with customer names.
pub type UserInfo = memberships::UserWithMemberships;

fn info(conn: &mut DbConnection, id: &str) -> Result<UserInfo, ApiError> {
    memberships::user_with_memberships(conn, id)?.ok_or(ApiError::NotFound("user"))
}

/// User Info as `actor` may see it: a membership in a customer the actor
/// cannot see is another tenant's data (its name, the role and settings
/// there), so it is left out.
fn info_for(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<UserInfo, ApiError> {
    let (user, memberships) = info(conn, id)?;
    Ok((user, visible_memberships(actor, id, memberships)))
}

fn visible_memberships(
    actor: &Actor,
    user_id: &str,
    mut memberships: Vec<MembershipInfo>,
) -> Vec<MembershipInfo> {
    memberships.retain(|m| actor.sees_membership(user_id, &m.membership.customer_id));
    memberships
}

/// User Info as `actor` may see it (403 for a fellow member, 404 for anyone
/// who cannot see the user at all).
fn visible_info(actor: &Actor, found: Option<UserInfo>, id: &str) -> Result<UserInfo, ApiError> {
    let (row, memberships) = found.ok_or(ApiError::NotFound("user"))?;
    let customer_ids = memberships
        .iter()
        .map(|m| m.membership.customer_id.clone())
        .collect();
    let user = LoadedUser { row, customer_ids };
    require(actor.view_user(&user.target()), "user")?;
    Ok((user.row, visible_memberships(actor, id, memberships)))
}

/// A requested profile edit; `job_title: Some(None)` clears it.
pub struct ProfileEdit {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<Option<String>>,
    pub email: Option<EmailAddress>,
}

impl ProfileEdit {
    /// The fields that differ from `user`; empty when the edit changes nothing.
    fn changes_to(self, user: &UserRow) -> ProfileChange {
        let differs = |new: &Option<String>, old: &str| new.as_deref().is_some_and(|n| n != old);
        let email = self.email.map(|e| e.to_string());
        let email = email.filter(|e| e != &user.email);
        let first_name = Some(self.first_name)
            .filter(|n| differs(n, &user.first_name))
            .flatten();
        let last_name = Some(self.last_name)
            .filter(|n| differs(n, &user.last_name))
            .flatten();
        ProfileChange {
            email_lower: email.as_deref().map(crate::domain::email::normalize),
            email,
            first_name_lower: first_name.as_deref().map(search_key),
            first_name,
            last_name_lower: last_name.as_deref().map(search_key),
            last_name,
            job_title: self.job_title.filter(|title| title != &user.job_title),
        }
    }
}

/// [`update_profile`]'s body, inside the caller's transaction (imports and SCIM use it).
pub fn update_profile_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    id: &str,
    expected_version: Option<i32>,
    edit: ProfileEdit,
) -> Result<UserInfo, ApiError> {
    let before = administered_user(conn, actor, id)?.row;
    if expected_version.is_some_and(|v| v != before.version) {
        return Err(ApiError::PreconditionFailed);
    }
    let change = edit.changes_to(&before);
    if change.is_empty() {
        // Nothing to do: nothing is recorded, nobody is emailed.
        return info_for(conn, actor, id);
    }
    if let Some(email_key) = &change.email_lower {
        let taken = users::find_by_email(conn, email_key)?.is_some_and(|other| other.id != id);
        if taken {
            return Err(ApiError::conflict(
                crate::error::ErrorCode::EmailTaken,
                "Another user already has this email address.",
            ));
        }
    }
    let new_address = change.email_lower.as_deref().and_then(|key| {
        plan_email_change(
            before.status,
            before.password_hash.is_some(),
            &before.email_lower,
            key,
        )
    });
    let now = state.clock.now_db();
    let applied = users::update_profile(conn, id, before.version, &change, now).map_err(|err| {
        if crate::db::is_unique_violation(&err) {
            ApiError::conflict(
                crate::error::ErrorCode::EmailTaken,
                "Another user already has this email address.",
            )
        } else {
            err.into()
        }
    })?;
    if !applied {
        return Err(ApiError::PreconditionFailed);
    }
    let (after, memberships) = info_for(conn, actor, id)?;
    if let Some(plan) = new_address {
        if plan.void_links {
            action_tokens::void_all(conn, id, now)?;
        }
        if plan.activation_to_new_address {
            send_action_email(conn, state, &after, Purpose::Activation, None, now)?;
        }
        if plan.notify_old_address {
            email::enqueue(
                conn,
                &state.templates,
                Message {
                    kind: EmailKind::EmailChanged,
                    to: before.email.clone(),
                    context: json!({
                        "recipient_name": before.first_name,
                        "new_email": mask(&after.email),
                        "changed_at": crate::clock::from_db(now)
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default(),
                    }),
                    user_id: Some(id.to_string()),
                    customer_id: None,
                },
                now,
            )?;
        }
    }
    Event::new("user.updated", format!("{} was edited", describe(&after)))
        .about(id)
        .changed("email", &before.email, &after.email)
        .changed("first_name", &before.first_name, &after.first_name)
        .changed("last_name", &before.last_name, &after.last_name)
        .changed("job_title", &before.job_title, &after.job_title)
        .record(conn, state, context, now)?;
    Ok((after, memberships))
}

/// [`set_status`]'s body, inside the caller's transaction (SCIM uses it).
pub fn set_status_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    id: &str,
    target: StatusTarget,
    expected_version: Option<i32>,
) -> Result<UserInfo, ApiError> {
    let loaded = administered_user(conn, actor, id)?;
    let user = loaded.row;
    if expected_version.is_some_and(|v| v != user.version) {
        return Err(ApiError::PreconditionFailed);
    }
    if actor.user_id() == Some(id) {
        return Err(ApiError::conflict(
            crate::error::ErrorCode::CannotChangeSelf,
            "You cannot change your own status.",
        ));
    }
    let from = user.status;
    let plan =
        plan_status_change(from, target, user.password_hash.is_some()).map_err(ApiError::from)?;
    if !plan.changes {
        return info_for(conn, actor, id);
    }
    let now = state.clock.now_db();
    move_seats(conn, &loaded.customer_ids, from, plan.to)?;
    let change = StatusChange {
        status: plan.to,
        status_changed_at: now,
        retired_at: if plan.set_retired_at {
            Some(Some(now))
        } else if plan.clear_retired_at {
            Some(None)
        } else {
            None
        },
    };
    users::set_status(conn, id, &change, plan.revoke_sessions, now)?;
    if plan.revoke_sessions {
        refresh_tokens::revoke_user(conn, id, None, now)?;
    }
    if plan.void_links {
        action_tokens::void_all(conn, id, now)?;
    }
    for email in plan.emails {
        match email {
            StatusEmail::AccountDeactivated => drop(email::enqueue(
                conn,
                &state.templates,
                Message {
                    kind: EmailKind::AccountDeactivated,
                    to: user.email.clone(),
                    context: json!({"recipient_name": user.first_name}),
                    user_id: Some(user.id.clone()),
                    customer_id: None,
                },
                now,
            )?),
            StatusEmail::Activation => {
                // The link needs the user as the status change left them.
                let fresh = users::find(conn, id)?.ok_or(ApiError::NotFound("user"))?;
                drop(send_action_email(
                    conn,
                    state,
                    &fresh,
                    Purpose::Activation,
                    None,
                    now,
                )?)
            }
        }
    }
    Event::new(
        "user.status_changed",
        format!("{} is now {}", describe(&user), plan.to.as_str()),
    )
    .about(id)
    .change("status", from.as_str(), plan.to.as_str())
    .record(conn, state, context, now)?;
    info_for(conn, actor, id)
}

fn unlock_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    id: &str,
) -> Result<(), ApiError> {
    let user = administered_user(conn, actor, id)?.row;
    let now = state.clock.now_db();
    if users::unlock(conn, id, now)? {
        Event::new("user.unlocked", format!("{} was unlocked", describe(&user)))
            .about(id)
            .change("locked", true, false)
            .record(conn, state, context, now)?;
    }
    Ok(())
}

fn send_link_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    id: &str,
    purpose: Purpose,
) -> Result<(), ApiError> {
    let user = administered_user(conn, actor, id)?.row;
    let (required, code, action) = match purpose {
        Purpose::Activation => (
            UserStatus::Invited,
            crate::error::ErrorCode::NotInvited,
            "user.activation_email_sent",
        ),
        Purpose::PasswordReset => (
            UserStatus::Active,
            crate::error::ErrorCode::NotActive,
            "user.password_reset_email_sent",
        ),
    };
    if user.status != required {
        return Err(ApiError::conflict(
            code,
            format!(
                "The user is {}; this email is only for {} users.",
                user.status.as_str(),
                required.as_str()
            ),
        ));
    }
    let now = state.clock.now_db();
    send_action_email(conn, state, &user, purpose, None, now)?;
    Event::new(
        action,
        format!(
            "{} was sent a new {} link",
            describe(&user),
            purpose.as_str().replace('_', " ")
        ),
    )
    .about(id)
    .record(conn, state, context, now)
}

/// `user_name` is the SCIM userName kept when it is not the email (`scim_member.updated`).
const PERSONAL_FIELDS: [&str; 5] = ["email", "first_name", "last_name", "job_title", "user_name"];

/// Deletes the user from the platform: personal data, memberships, tokens
/// and queued emails go; audit events keep the id with personal values redacted.
fn delete_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    id: &str,
) -> Result<(), ApiError> {
    // Another tenant's user is 404 here as everywhere; a visible one 403.
    // Locked first, so a change running at the same time (a status change
    // queueing a deactivation email) either finishes before the deletion
    // removes the user's emails, or finds the user gone.
    lock_user(conn, id)?;
    let LoadedUser {
        row: user,
        customer_ids,
    } = visible_user(conn, actor, id)?;
    require(actor.platform(), "user")?;
    if actor.user_id() == Some(id) {
        return Err(ApiError::conflict(
            crate::error::ErrorCode::CannotChangeSelf,
            "You cannot delete yourself.",
        ));
    }
    for (event_id, changes) in audit_db::changes_about(conn, id)? {
        let redacted = redact(&changes);
        if redacted != changes {
            audit_db::set_changes(conn, &event_id, &redacted)?;
        }
    }
    outbox::delete_for_user(conn, id)?;
    for customer_id in &customer_ids {
        free_seat(conn, customer_id, user.status)?;
    }
    users::delete(conn, id)?;
    let now = state.clock.now_db();
    Event::new(
        "user.deleted",
        format!("{} was deleted from the platform", describe(&user)),
    )
    .about(id)
    .while_in(&customer_ids)
    .record(conn, state, context, now)
}

fn redact(changes: &str) -> String {
    let Ok(serde_json::Value::Object(mut map)) = serde_json::from_str(changes) else {
        return changes.to_string();
    };
    for field in PERSONAL_FIELDS {
        if let Some(entry) = map.get_mut(field) {
            *entry = json!({"before": "[deleted]", "after": "[deleted]"});
        }
    }
    serde_json::Value::Object(map).to_string()
}
