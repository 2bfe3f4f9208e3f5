//! Changes to one user: profile, status, lock, emails, deletion.

use std::net::IpAddr;

use actix_web::web;
use secrecy::SecretString;
use serde_json::json;

use crate::db::action_tokens::Purpose;
use crate::db::memberships::{self, MembershipRow};
use crate::db::users::{self, ProfileChange, StatusChange, UserFilter, UserRow};
use crate::db::{audit as audit_db, customers, outbox, refresh_tokens, DbConnection};
use crate::domain::email::EmailAddress;
use crate::domain::lifecycle::{plan_status_change, StatusTarget, UserStatus};
use crate::domain::pagination::Cursor;
use crate::domain::permissions::Actor;
use crate::domain::profile::search_key;
use crate::domain::seats::has_free_seat;
use crate::email::{self, EmailKind, Message};
use crate::error::ApiError;
use crate::service::accounts::{self, send_action_email};
use crate::service::audit::{self, AuditContext, Event};
use crate::service::guard::{administered_user, lock_user, require, visible_user, LoadedUser};
use crate::service::members::{describe, seat_limit};
use crate::service::sessions::{issue_pair, TokenResponse};
use crate::state::AppState;

/// Verifies the current password (a wrong one counts toward lockout), checks
/// and hashes the new one, then stores it and issues a fresh session.
pub async fn change_own_password(
    state: &web::Data<AppState>,
    user_id: &str,
    current_password: SecretString,
    new_password: SecretString,
    request_id: &str,
    client_ip: Option<IpAddr>,
) -> Result<TokenResponse, ApiError> {
    let id = user_id.to_string();
    let user = state
        .db
        .run(move |conn| users::find(conn, &id)?.ok_or(ApiError::NotFound("user")))
        .await?;
    let current_ok = state
        .hasher
        .verify(current_password, user.password_hash.clone())
        .await?;
    if !current_ok {
        let (state2, user) = (state.clone(), user.clone());
        state
            .db
            .write(move |conn| crate::service::sessions::count_failed_sign_in(conn, &state2, &user))
            .await?;
        return Err(ApiError::invalid(
            "current_password",
            "is not your current password",
        ));
    }
    accounts::check_new_password(state, &user, &new_password, "new_password")?;
    let hash = state.hasher.hash(new_password).await?;
    let (state2, request_id) = (state.clone(), request_id.to_string());
    let verified_hash = user.password_hash.clone();
    state
        .db
        .write(move |conn| {
            // The password was checked outside the transaction; if another
            // change won the race meanwhile, it is no longer the current one.
            lock_user(conn, &user.id)?;
            let user = users::find(conn, &user.id)?.ok_or(ApiError::NotFound("user"))?;
            if user.password_hash != verified_hash {
                return Err(ApiError::invalid(
                    "current_password",
                    "is not your current password",
                ));
            }
            let now = state2.clock.now_db();
            accounts::password_changed(conn, &state2, &user, &hash, None, now)?;
            audit::record(
                conn,
                &state2.templates,
                &AuditContext::for_self(&user.id, &request_id).with_client_ip(client_ip),
                Event {
                    action: "user.password_changed",
                    customer_id: None,
                    target_user_id: Some(&user.id),
                    changes: json!({}),
                    summary: format!("{} changed their password", user.email),
                    customer_name: None,
                },
                now,
            )?;
            Ok(issue_pair(
                conn,
                &state2,
                &user.id,
                user.session_version + 1,
                None,
                now,
            )?)
        })
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
    mut memberships: Vec<(MembershipRow, String)>,
) -> Vec<(MembershipRow, String)> {
    memberships.retain(|(membership, _)| actor.sees_membership(user_id, &membership.customer_id));
    memberships
}

pub fn get(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<UserInfo, ApiError> {
    let (row, memberships) = info(conn, id)?;
    let customer_ids = memberships
        .iter()
        .map(|(m, _)| m.customer_id.clone())
        .collect();
    let user = LoadedUser { row, customer_ids };
    require(actor.view_user(&user.target()), "user")?;
    Ok((user.row, visible_memberships(actor, id, memberships)))
}

pub fn list(
    conn: &mut DbConnection,
    actor: &Actor,
    filter: &UserFilter,
    customer_id: Option<&str>,
    role: Option<&str>,
    cursor: Option<&Cursor>,
    limit: i64,
) -> Result<Vec<UserRow>, ApiError> {
    require(actor.platform(), "user")?;
    Ok(users::list(conn, filter, customer_id, role, cursor, limit)?)
}

/// A requested profile edit; `job_title: Some(None)` clears it.
pub struct ProfileEdit {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<Option<String>>,
    pub email: Option<EmailAddress>,
}

pub fn update_profile(
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
    if let Some(email) = &edit.email {
        let taken = users::find_by_email(conn, &email.key())?.is_some_and(|other| other.id != id);
        if taken {
            return Err(ApiError::conflict(
                "email_taken",
                "Another user already has this email address.",
            ));
        }
    }
    let change = ProfileChange {
        email_lower: edit.email.as_ref().map(EmailAddress::key),
        email: edit.email.as_ref().map(EmailAddress::to_string),
        first_name_lower: edit.first_name.as_deref().map(search_key),
        first_name: edit.first_name,
        last_name_lower: edit.last_name.as_deref().map(search_key),
        last_name: edit.last_name,
        job_title: edit.job_title,
    };
    let now = state.clock.now_db();
    let applied = users::update_profile(conn, id, before.version, &change, now).map_err(|err| {
        if crate::db::is_unique_violation(&err) {
            ApiError::conflict(
                "email_taken",
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
    audit::record(
        conn,
        &state.templates,
        context,
        Event {
            action: "user.updated",
            customer_id: None,
            target_user_id: Some(id),
            changes: audit::diff(&[
                ("email", json!(before.email), json!(after.email)),
                (
                    "first_name",
                    json!(before.first_name),
                    json!(after.first_name),
                ),
                ("last_name", json!(before.last_name), json!(after.last_name)),
                ("job_title", json!(before.job_title), json!(after.job_title)),
            ]),
            summary: format!("{} was edited", describe(&after)),
            customer_name: None,
        },
        now,
    )?;
    Ok((after, memberships))
}

/// Inactivate, reactivate, retire or reinstate (API.md's lifecycle table).
pub fn set_status(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    id: &str,
    target: StatusTarget,
) -> Result<UserInfo, ApiError> {
    let loaded = administered_user(conn, actor, id)?;
    let user = loaded.row;
    if actor.user_id() == Some(id) {
        return Err(ApiError::conflict(
            "cannot_change_self",
            "You cannot change your own status.",
        ));
    }
    let from = UserStatus::parse(&user.status).unwrap_or(UserStatus::Inactive);
    let plan = plan_status_change(from, target, user.password_hash.is_some())
        .map_err(|err| ApiError::conflict(err.code(), err.to_string()))?;
    if !plan.changes {
        return info_for(conn, actor, id);
    }
    let now = state.clock.now_db();
    if plan.needs_seats {
        for customer_id in &loaded.customer_ids {
            customers::lock(conn, customer_id)?;
            let customer =
                customers::find(conn, customer_id)?.ok_or(ApiError::NotFound("customer"))?;
            let named = customers::named_users(conn, customer_id)?;
            if !has_free_seat(customer.licensed_seats, named) {
                return Err(seat_limit(&customer, named));
            }
        }
    }
    let change = StatusChange {
        status: plan.to.as_str().to_string(),
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
    if plan.notify_deactivated {
        email::enqueue(
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
        )?;
    }
    if plan.send_activation {
        let fresh = users::find(conn, id)?.ok_or(ApiError::NotFound("user"))?;
        send_action_email(conn, state, &fresh, Purpose::Activation, None, now)?;
    }
    audit::record(
        conn,
        &state.templates,
        context,
        Event {
            action: "user.status_changed",
            customer_id: None,
            target_user_id: Some(id),
            changes: json!({"status": {"before": from.as_str(), "after": plan.to.as_str()}}),
            summary: format!("{} is now {}", describe(&user), plan.to.as_str()),
            customer_name: None,
        },
        now,
    )?;
    info_for(conn, actor, id)
}

/// Clears a lockout; doing it twice is fine.
pub fn unlock(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    id: &str,
) -> Result<(), ApiError> {
    let user = administered_user(conn, actor, id)?.row;
    let now = state.clock.now_db();
    if users::unlock(conn, id, now)? {
        audit::record(
            conn,
            &state.templates,
            context,
            Event {
                action: "user.unlocked",
                customer_id: None,
                target_user_id: Some(id),
                changes: json!({"locked": {"before": true, "after": false}}),
                summary: format!("{} was unlocked", describe(&user)),
                customer_name: None,
            },
            now,
        )?;
    }
    Ok(())
}

/// Resends the activation email (invited users) or sends a reset email
/// (active users); the previous link stops working.
pub fn send_link(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    id: &str,
    purpose: Purpose,
) -> Result<(), ApiError> {
    let user = administered_user(conn, actor, id)?.row;
    let (required, code, action) = match purpose {
        Purpose::Activation => ("invited", "not_invited", "user.activation_email_sent"),
        Purpose::PasswordReset => ("active", "not_active", "user.password_reset_email_sent"),
    };
    if user.status != required {
        return Err(ApiError::conflict(
            code,
            format!(
                "The user is {}; this email is only for {required} users.",
                user.status
            ),
        ));
    }
    let now = state.clock.now_db();
    send_action_email(conn, state, &user, purpose, None, now)?;
    audit::record(
        conn,
        &state.templates,
        context,
        Event {
            action,
            customer_id: None,
            target_user_id: Some(id),
            changes: json!({}),
            summary: format!(
                "{} was sent a new {} link",
                describe(&user),
                purpose.as_str().replace('_', " ")
            ),
            customer_name: None,
        },
        now,
    )
}

const PERSONAL_FIELDS: [&str; 4] = ["email", "first_name", "last_name", "job_title"];

/// Deletes the user from the platform: personal data, memberships, tokens
/// and queued emails go; audit events keep the id with personal values redacted.
pub fn delete(
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
    let user = visible_user(conn, actor, id)?.row;
    require(actor.platform(), "user")?;
    if actor.user_id() == Some(id) {
        return Err(ApiError::conflict(
            "cannot_change_self",
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
    users::delete(conn, id)?;
    let now = state.clock.now_db();
    audit::record(
        conn,
        &state.templates,
        context,
        Event {
            action: "user.deleted",
            customer_id: None,
            target_user_id: Some(id),
            changes: json!({}),
            summary: format!("{} was deleted from the platform", describe(&user)),
            customer_name: None,
        },
        now,
    )
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
