//! SCIM use cases: a token's customer's members (and groups) read and
//! changed through the same use cases as the REST API, so seats, audit,
//! events and emails are exactly the REST API's. A token sees its own
//! customer only: everything here is scoped by `Token::customer_id`.
//!
//! PUT and PATCH both come down to a desired User (a PATCH is applied to the
//! current representation first), compared with the member as they are;
//! only what differs is changed, each change by its own use case, all in
//! one transaction.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::clock::from_db;
use crate::db::groups::GroupRow;
use crate::db::scim::{self as db, Member, ScimMemberRow};
use crate::db::{groups, memberships, DbConnection};
use crate::domain::email::normalize;
use crate::domain::lifecycle::{StatusTarget, UserStatus};
use crate::domain::permissions::Actor;
use crate::domain::scim::filter::{CompareOp, Filter};
use crate::domain::scim::group::{group_resource, read_group, DesiredGroup, GroupView};
use crate::domain::scim::user::{read_user, user_resource, DesiredUser, MemberView};
use crate::domain::scim::{if_match_admits, patch, schema, weak_etag, ScimFault};
use crate::error::ApiError;
use crate::service::audit::{describe, AuditContext, Event};
use crate::service::groups::{self as service_groups, valid_name, GroupEdit, NewGroup};
use crate::service::{members, users};
use crate::state::AppState;

/// The caller a SCIM token stands for.
#[derive(Debug, Clone)]
pub struct Token {
    pub actor: Actor,
    pub customer_id: String,
}

/// A SCIM use case's failure: a SCIM-specific fault, or any roster error.
#[derive(Debug)]
pub enum ScimError {
    Fault(ScimFault),
    Api(ApiError),
}

impl From<ApiError> for ScimError {
    fn from(err: ApiError) -> Self {
        ScimError::Api(err)
    }
}

impl From<ScimFault> for ScimError {
    fn from(fault: ScimFault) -> Self {
        ScimError::Fault(fault)
    }
}

/// Inside a transaction: a fault is found before anything is written, so
/// it is returned as a value (the transaction then has nothing to undo).
type Checked<T> = Result<Result<T, ScimFault>, ApiError>;

fn flatten<T>(checked: Checked<T>) -> Result<T, ScimError> {
    Ok(checked??)
}

/// A page of a list: how many matched, and the window asked for.
pub struct Listed {
    pub total: usize,
    pub start: usize,
    pub resources: Vec<Value>,
}

fn not_found() -> ApiError {
    ApiError::NotFound("User")
}

fn view(member: &Member, groups: Vec<(String, String)>) -> MemberView {
    let (membership, user, extra) = member;
    let mut modified = user.updated_at.max(membership.updated_at);
    let mut stamps = vec![i64::from(user.version), membership.stamp()];
    if let Some(extra) = extra {
        modified = modified.max(extra.updated_at);
        stamps.push(from_db(extra.updated_at).unix_timestamp_nanos() as i64 / 1_000);
    }
    MemberView {
        id: user.id.clone(),
        email: user.email.clone(),
        given_name: user.first_name.clone(),
        family_name: user.last_name.clone(),
        title: user.job_title.clone(),
        active: is_active(user.status),
        external_id: membership.external_id.clone(),
        user_name: extra.as_ref().and_then(|e| e.user_name.clone()),
        email_primary: extra.as_ref().and_then(|e| e.email_primary),
        groups,
        created: from_db(membership.added_at),
        last_modified: from_db(modified),
        version: weak_etag(&stamps),
    }
}

/// The User resources of `members`, with their groups (a query per
/// thousand members, so a large customer stays under the databases' limits
/// on bound parameters).
fn user_resources(
    conn: &mut DbConnection,
    customer_id: &str,
    members: &[Member],
    base: &str,
) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<String> = members.iter().map(|(m, _, _)| m.user_id.clone()).collect();
    let mut groups_by_user: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for chunk in ids.chunks(1_000) {
        for (user_id, group) in groups::groups_of_members(conn, customer_id, chunk)? {
            groups_by_user
                .entry(user_id)
                .or_default()
                .push((group.id, group.name));
        }
    }
    Ok(members
        .iter()
        .map(|member| {
            let mine = groups_by_user.remove(&member.0.user_id).unwrap_or_default();
            user_resource(&view(member, mine), base)
        })
        .collect())
}

/// The member `user_id` of the customer as a User resource.
fn user_resource_of(
    conn: &mut DbConnection,
    customer_id: &str,
    user_id: &str,
    base: &str,
) -> Result<Value, ApiError> {
    let member = db::member(conn, customer_id, user_id)?.ok_or_else(not_found)?;
    Ok(user_resources(conn, customer_id, &[member], base)?.remove(0))
}

/// SCIM's `active`: an invited member (no password yet) is active; an
/// inactive, retired or dormant one is not.
fn is_active(status: UserStatus) -> bool {
    matches!(status, UserStatus::Active | UserStatus::Invited)
}

/// The `userName eq "…"` an identity provider looks a member up by, which
/// is answered by an index rather than by reading every member.
fn user_name_lookup(filter: &Filter) -> Option<String> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, Value::String(name)) if path.is("userName", None) => {
            Some(normalize(name))
        }
        _ => None,
    }
}

/// The `externalId eq "…"` lookup, answered by the unique index.
fn external_id_lookup(filter: &Filter) -> Option<String> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, Value::String(id)) if path.is("externalId", None) => {
            Some(id.clone())
        }
        _ => None,
    }
}

/// The members a filter can match: found by index for the lookups
/// identity providers make, else all of them.
fn candidates(
    conn: &mut DbConnection,
    customer_id: &str,
    filter: Option<&Filter>,
) -> Result<Vec<Member>, ApiError> {
    if let Some(key) = filter.and_then(user_name_lookup) {
        return Ok(db::members_named(conn, customer_id, &key)?);
    }
    if let Some(external_id) = filter.and_then(external_id_lookup) {
        let Some(found) = memberships::find_by_external_id(conn, customer_id, &external_id)? else {
            return Ok(Vec::new());
        };
        return Ok(db::member(conn, customer_id, &found.user_id)?
            .into_iter()
            .collect());
    }
    Ok(db::members(conn, customer_id)?)
}

/// The customer's members matching `filter`, in a stable order.
pub async fn list_users(
    state: &AppState,
    token: &Token,
    base: String,
    filter: Option<Filter>,
    (start, count): (usize, usize),
) -> Result<Listed, ScimError> {
    let customer_id = token.customer_id.clone();
    let checked = state
        .read(move |conn, _| {
            let members = candidates(conn, &customer_id, filter.as_ref())?;
            let mut matching = Vec::new();
            for resource in user_resources(conn, &customer_id, &members, &base)? {
                match filter.as_ref().map(|f| f.matches(&resource)) {
                    None | Some(Ok(true)) => matching.push(resource),
                    Some(Ok(false)) => {}
                    Some(Err(fault)) => return Ok(Err(fault)),
                }
            }
            let total = matching.len();
            let resources = matching.into_iter().skip(start - 1).take(count).collect();
            Ok(Ok(Listed {
                total,
                start,
                resources,
            }))
        })
        .await;
    flatten(checked)
}

/// One member of the token's customer.
pub async fn get_user(
    state: &AppState,
    token: &Token,
    base: String,
    id: String,
) -> Result<Value, ScimError> {
    let customer_id = token.customer_id.clone();
    Ok(state
        .read(move |conn, _| user_resource_of(conn, &customer_id, &id, &base))
        .await?)
}

/// POST /Users: adds the person to the customer, as `POST
/// /v1/customers/{id}/users` does (a new email is invited, an existing
/// user gets a membership); already a member is 409 `uniqueness`.
pub async fn create_user(
    state: &AppState,
    token: &Token,
    context: AuditContext,
    base: String,
    body: Value,
) -> Result<Value, ScimError> {
    let desired = read_user(&body)?;
    let token = token.clone();
    let checked = state
        .write(move |conn, state| -> Checked<Value> {
            let customer_id = &token.customer_id;
            if let Some(name) = &desired.user_name {
                if !db::members_named(conn, customer_id, &normalize(name))?.is_empty() {
                    return Ok(Err(taken_user_name()));
                }
            }
            let added = members::add_user_in(
                conn,
                state,
                &token.actor,
                &context,
                customer_id,
                members::AddUser {
                    email: desired.email.clone(),
                    first_name: desired.given_name.clone(),
                    last_name: desired.family_name.clone(),
                    job_title: desired.title.clone(),
                    role: None,
                    settings: None,
                    copy_from_user_id: None,
                    send_invite: true,
                    external_id: desired.external_id.clone(),
                    group_ids: None,
                },
            )?;
            let user_id = added.user.id.clone();
            let member = db::member(conn, customer_id, &user_id)?.ok_or_else(not_found)?;
            if desired.active == Some(false) {
                change_status(
                    conn,
                    state,
                    &token,
                    &context,
                    &user_id,
                    StatusTarget::Inactive,
                )?;
            }
            keep_extras(conn, state, &token, &context, &member, &desired)?;
            Ok(Ok(user_resource_of(conn, customer_id, &user_id, &base)?))
        })
        .await;
    flatten(checked)
}

/// PUT /Users/{id}: the member becomes what the body says.
pub async fn replace_user(
    state: &AppState,
    token: &Token,
    context: AuditContext,
    base: String,
    id: String,
    if_match: Option<String>,
    body: Value,
) -> Result<Value, ScimError> {
    let desired = read_user(&body)?;
    change_user(state, token, context, base, id, if_match, move |_| {
        Ok(desired)
    })
    .await
}

/// PATCH /Users/{id}: the operations are applied to the member's
/// representation, which is then read as a PUT body.
pub async fn patch_user(
    state: &AppState,
    token: &Token,
    context: AuditContext,
    base: String,
    id: String,
    if_match: Option<String>,
    body: Value,
) -> Result<Value, ScimError> {
    let operations = patch::parse_request(&body)?;
    change_user(state, token, context, base, id, if_match, move |current| {
        let mut resource = current.clone();
        patch::apply(&mut resource, &schema::USER, &operations)?;
        read_user(&resource)
    })
    .await
}

async fn change_user(
    state: &AppState,
    token: &Token,
    context: AuditContext,
    base: String,
    id: String,
    if_match: Option<String>,
    desire: impl FnOnce(&Value) -> Result<DesiredUser, ScimFault> + Send + 'static,
) -> Result<Value, ScimError> {
    let token = token.clone();
    let checked = state
        .write(move |conn, state| -> Checked<Value> {
            let customer_id = &token.customer_id;
            let member = db::member(conn, customer_id, &id)?.ok_or_else(not_found)?;
            let current =
                user_resources(conn, customer_id, std::slice::from_ref(&member), &base)?.remove(0);
            let version = current["meta"]["version"].as_str().unwrap_or_default();
            if if_match.is_some_and(|tag| !if_match_admits(&tag, version)) {
                return Err(ApiError::PreconditionFailed);
            }
            let desired = match desire(&current) {
                Ok(desired) => desired,
                Err(fault) => return Ok(Err(fault)),
            };
            if let Some(name) = &desired.user_name {
                let others = db::members_named(conn, customer_id, &normalize(name))?;
                if others.iter().any(|(m, _, _)| m.user_id != id) {
                    return Ok(Err(taken_user_name()));
                }
            }
            apply_desired(conn, state, &token, &context, &member, &desired)?;
            Ok(Ok(user_resource_of(conn, customer_id, &id, &base)?))
        })
        .await;
    flatten(checked)
}

fn taken_user_name() -> ScimFault {
    ScimFault::uniqueness("Another member of this customer already has this userName.")
}

/// Changes what differs between the member and `desired`, each through
/// the REST API's use case (and so under its permission rule: a person who
/// also belongs to another customer cannot be changed by this customer).
fn apply_desired(
    conn: &mut DbConnection,
    state: &AppState,
    token: &Token,
    context: &AuditContext,
    member: &Member,
    desired: &DesiredUser,
) -> Result<(), ApiError> {
    let (membership, user, _) = member;
    let differs =
        |wanted: &Option<String>, have: &str| wanted.as_deref().is_some_and(|w| w != have);
    let edit = users::ProfileEdit {
        first_name: desired
            .given_name
            .clone()
            .filter(|_| differs(&desired.given_name, &user.first_name)),
        last_name: desired
            .family_name
            .clone()
            .filter(|_| differs(&desired.family_name, &user.last_name)),
        job_title: (desired.title != user.job_title).then(|| desired.title.clone()),
        email: (desired.email.as_str() != user.email).then(|| desired.email.clone()),
    };
    let changes_profile = edit.first_name.is_some()
        || edit.last_name.is_some()
        || edit.job_title.is_some()
        || edit.email.is_some();
    if changes_profile {
        users::update_profile_in(conn, state, &token.actor, context, &user.id, None, edit)?;
    }
    match desired.active {
        Some(wanted) if wanted != is_active(user.status) => {
            let target = if wanted {
                StatusTarget::Active
            } else {
                StatusTarget::Inactive
            };
            change_status(conn, state, token, context, &user.id, target)?;
        }
        _ => {}
    }
    if desired.external_id != membership.external_id {
        let edit = members::MembershipEdit {
            role: None,
            settings: None,
            external_id: Some(desired.external_id.clone()),
            group_ids: None,
        };
        members::update_in(
            conn,
            state,
            &token.actor,
            context,
            (&token.customer_id, &user.id),
            edit,
            None,
        )?;
    }
    keep_extras(conn, state, token, context, member, desired)
}

fn change_status(
    conn: &mut DbConnection,
    state: &AppState,
    token: &Token,
    context: &AuditContext,
    user_id: &str,
    target: StatusTarget,
) -> Result<(), ApiError> {
    users::set_status_in(conn, state, &token.actor, context, user_id, target, None).map(drop)
}

/// Keeps a `userName` that is not the email, and the email's `primary`
/// flag, when they change (audited as `scim_member.updated`).
fn keep_extras(
    conn: &mut DbConnection,
    state: &AppState,
    token: &Token,
    context: &AuditContext,
    member: &Member,
    desired: &DesiredUser,
) -> Result<(), ApiError> {
    let (membership, user, extra) = member;
    let before_name = extra.as_ref().and_then(|e| e.user_name.clone());
    let before_primary = extra.as_ref().and_then(|e| e.email_primary);
    if before_name == desired.user_name && before_primary == desired.email_primary {
        return Ok(());
    }
    let now = state.clock.now_db();
    db::save(
        conn,
        &ScimMemberRow {
            customer_id: membership.customer_id.clone(),
            user_id: membership.user_id.clone(),
            user_name: desired.user_name.clone(),
            user_name_key: desired.user_name.as_deref().map(normalize),
            email_primary: desired.email_primary,
            updated_at: now,
        },
    )
    .map_err(|err| {
        if crate::db::is_unique_violation(&err) {
            ApiError::conflict(
                crate::error::ErrorCode::AlreadyMember,
                "Another member of this customer already has this userName.",
            )
        } else {
            err.into()
        }
    })?;
    Event::new(
        "scim_member.updated",
        format!("The SCIM userName of {} was set", describe(user)),
    )
    .about(&user.id)
    .in_customer_id(Some(&token.customer_id))
    .changed("user_name", &before_name, &desired.user_name)
    .changed("email_primary", before_primary, desired.email_primary)
    .record(conn, state, context, now)
}

/// DELETE /Users/{id}: removes the membership only; the person keeps their
/// account and any other customer.
pub async fn delete_user(
    state: &AppState,
    token: &Token,
    context: AuditContext,
    id: String,
    if_match: Option<String>,
) -> Result<(), ScimError> {
    let token = token.clone();
    state
        .write(move |conn, state| {
            let member = db::member(conn, &token.customer_id, &id)?.ok_or_else(not_found)?;
            if if_match
                .is_some_and(|tag| !if_match_admits(&tag, &view(&member, Vec::new()).version))
            {
                return Err(ApiError::PreconditionFailed);
            }
            members::remove_in(
                conn,
                state,
                &token.actor,
                &context,
                &token.customer_id,
                &id,
                false,
            )
        })
        .await?;
    Ok(())
}

/// The resources of a list, as a ListResponse.
pub fn list_response(listed: Listed) -> Value {
    json!({
        "schemas": [crate::domain::scim::LIST_RESPONSE],
        "totalResults": listed.total,
        "startIndex": listed.start,
        "itemsPerPage": listed.resources.len(),
        "Resources": listed.resources,
    })
}

// ---------------------------------------------------------------------------
// Groups: the customer's groups, through `service::groups`.

fn group_not_found() -> ApiError {
    ApiError::NotFound("Group")
}

/// The Group resource of `row`; its members are read unless `with_members`
/// is false (Entra reads groups with `excludedAttributes=members`).
fn group_resource_of(
    conn: &mut DbConnection,
    row: &GroupRow,
    with_members: bool,
    base: &str,
) -> Result<Value, ApiError> {
    let members = if with_members {
        Some(groups::member_ids(conn, &row.id)?)
    } else {
        None
    };
    let stamp = from_db(row.updated_at).unix_timestamp_nanos() as i64 / 1_000;
    let view = GroupView {
        id: row.id.clone(),
        display_name: row.name.clone(),
        external_id: row.external_id.clone(),
        members,
        created: from_db(row.created_at),
        last_modified: from_db(row.updated_at),
        version: weak_etag(&[i64::from(row.version), stamp]),
    };
    Ok(group_resource(&view, base))
}

/// The customer's groups matching `filter` (by index for `displayName eq`
/// and `externalId eq`), oldest first.
pub async fn list_groups(
    state: &AppState,
    token: &Token,
    base: String,
    filter: Option<Filter>,
    (start, count): (usize, usize),
    with_members: bool,
) -> Result<Listed, ScimError> {
    let customer_id = token.customer_id.clone();
    let checked = state
        .read(move |conn, _| {
            let mut lookup = groups::GroupFilter::default();
            match &filter {
                Some(Filter::Compare(path, CompareOp::Eq, Value::String(v)))
                    if path.is("displayName", None) =>
                {
                    lookup.name = Some(v.clone());
                }
                Some(Filter::Compare(path, CompareOp::Eq, Value::String(v)))
                    if path.is("externalId", None) =>
                {
                    lookup.external_id = Some(v.clone());
                }
                _ => {}
            }
            let mut rows = groups::list(conn, &customer_id, &lookup, None, i64::from(i32::MAX))?;
            rows.reverse();
            let mut matching = Vec::new();
            for row in &rows {
                // Members are needed to filter on them, whatever is shown.
                let resource = group_resource_of(conn, row, true, &base)?;
                match filter.as_ref().map(|f| f.matches(&resource)) {
                    None | Some(Ok(true)) => matching.push((row, resource)),
                    Some(Ok(false)) => {}
                    Some(Err(fault)) => return Ok(Err(fault)),
                }
            }
            let total = matching.len();
            let resources = matching
                .into_iter()
                .skip(start - 1)
                .take(count)
                .map(|(row, resource)| {
                    if with_members {
                        Ok(resource)
                    } else {
                        group_resource_of(conn, row, false, &base)
                    }
                })
                .collect::<Result<Vec<_>, ApiError>>()?;
            Ok(Ok(Listed {
                total,
                start,
                resources,
            }))
        })
        .await;
    flatten(checked)
}

pub async fn get_group(
    state: &AppState,
    token: &Token,
    base: String,
    id: String,
    with_members: bool,
) -> Result<Value, ScimError> {
    let customer_id = token.customer_id.clone();
    Ok(state
        .read(move |conn, _| {
            let row = groups::find(conn, &customer_id, &id)?.ok_or_else(group_not_found)?;
            group_resource_of(conn, &row, with_members, &base)
        })
        .await?)
}

/// Checks the members a client asks for are the customer's (a fault
/// otherwise: the group is there, the value is wrong).
fn check_members(
    conn: &mut DbConnection,
    customer_id: &str,
    desired: &DesiredGroup,
) -> Result<Result<(), ScimFault>, ApiError> {
    for user_id in &desired.members {
        if !groups::is_customer_member(conn, customer_id, user_id)? {
            return Ok(Err(ScimFault::invalid_value(format!(
                "`{user_id}` is not a member of this customer"
            ))));
        }
    }
    Ok(Ok(()))
}

fn group_name(desired: &DesiredGroup) -> Result<String, ScimFault> {
    valid_name(&desired.display_name)
        .map_err(|why| ScimFault::invalid_value(format!("`displayName` {why}")))
}

pub async fn create_group(
    state: &AppState,
    token: &Token,
    context: AuditContext,
    base: String,
    body: Value,
) -> Result<Value, ScimError> {
    let desired = read_group(&body)?;
    let name = group_name(&desired)?;
    let token = token.clone();
    let checked = state
        .write(move |conn, state| -> Checked<Value> {
            let customer_id = &token.customer_id;
            if let Err(fault) = check_members(conn, customer_id, &desired)? {
                return Ok(Err(fault));
            }
            let row = service_groups::create_in(
                conn,
                state,
                &token.actor,
                &context,
                customer_id,
                NewGroup {
                    name,
                    description: None,
                    external_id: desired.external_id.clone(),
                },
            )?;
            if !desired.members.is_empty() {
                service_groups::set_members_in(
                    conn,
                    state,
                    &token.actor,
                    &context,
                    customer_id,
                    &row.id,
                    &desired.members,
                )?;
            }
            let row = groups::find(conn, customer_id, &row.id)?.ok_or_else(group_not_found)?;
            Ok(Ok(group_resource_of(conn, &row, true, &base)?))
        })
        .await;
    flatten(checked)
}

pub async fn replace_group(
    state: &AppState,
    token: &Token,
    context: AuditContext,
    base: String,
    id: String,
    if_match: Option<String>,
    body: Value,
) -> Result<Value, ScimError> {
    let desired = read_group(&body)?;
    change_group(state, token, context, base, id, if_match, move |_| {
        Ok(desired)
    })
    .await
}

pub async fn patch_group(
    state: &AppState,
    token: &Token,
    context: AuditContext,
    base: String,
    id: String,
    if_match: Option<String>,
    body: Value,
) -> Result<Value, ScimError> {
    let operations = patch::parse_request(&body)?;
    change_group(state, token, context, base, id, if_match, move |current| {
        let mut resource = current.clone();
        patch::apply(&mut resource, &schema::GROUP, &operations)?;
        read_group(&resource)
    })
    .await
}

async fn change_group(
    state: &AppState,
    token: &Token,
    context: AuditContext,
    base: String,
    id: String,
    if_match: Option<String>,
    desire: impl FnOnce(&Value) -> Result<DesiredGroup, ScimFault> + Send + 'static,
) -> Result<Value, ScimError> {
    let token = token.clone();
    let checked = state
        .write(move |conn, state| -> Checked<Value> {
            let customer_id = &token.customer_id;
            let row = groups::find(conn, customer_id, &id)?.ok_or_else(group_not_found)?;
            let current = group_resource_of(conn, &row, true, &base)?;
            let version = current["meta"]["version"].as_str().unwrap_or_default();
            if if_match.is_some_and(|tag| !if_match_admits(&tag, version)) {
                return Err(ApiError::PreconditionFailed);
            }
            let desired = match desire(&current).and_then(|d| group_name(&d).map(|n| (d, n))) {
                Ok(found) => found,
                Err(fault) => return Ok(Err(fault)),
            };
            let (desired, name) = desired;
            if let Err(fault) = check_members(conn, customer_id, &desired)? {
                return Ok(Err(fault));
            }
            let edit = GroupEdit {
                name: (name != row.name).then_some(name),
                description: None,
                external_id: (desired.external_id != row.external_id)
                    .then(|| desired.external_id.clone()),
            };
            if edit.name.is_some() || edit.external_id.is_some() {
                service_groups::update_in(
                    conn,
                    state,
                    &token.actor,
                    &context,
                    (customer_id, &id),
                    edit,
                    None,
                )?;
            }
            service_groups::set_members_in(
                conn,
                state,
                &token.actor,
                &context,
                customer_id,
                &id,
                &desired.members,
            )?;
            let row = groups::find(conn, customer_id, &id)?.ok_or_else(group_not_found)?;
            Ok(Ok(group_resource_of(conn, &row, true, &base)?))
        })
        .await;
    flatten(checked)
}

pub async fn delete_group(
    state: &AppState,
    token: &Token,
    context: AuditContext,
    id: String,
    if_match: Option<String>,
) -> Result<(), ScimError> {
    let token = token.clone();
    state
        .write(move |conn, state| {
            let row = groups::find(conn, &token.customer_id, &id)?.ok_or_else(group_not_found)?;
            let stamp = from_db(row.updated_at).unix_timestamp_nanos() as i64 / 1_000;
            let version = weak_etag(&[i64::from(row.version), stamp]);
            if if_match.is_some_and(|tag| !if_match_admits(&tag, &version)) {
                return Err(ApiError::PreconditionFailed);
            }
            service_groups::delete_in(conn, state, &token.actor, &context, &token.customer_id, &id)
        })
        .await?;
    Ok(())
}
