//! A customer's groups (the job aid's "user group tags"): named sets of the
//! customer's members, managed by its admins. Every change is audited. Each
//! async function opens its own transaction; the `…_in` functions are the
//! same use cases inside a caller's transaction (imports, SCIM).

use std::collections::BTreeSet;

use serde_json::Value;
use time::PrimitiveDateTime;

use crate::db::customers::CustomerRow;
use crate::db::groups::{self, GroupFilter, GroupRef, GroupRow};
use crate::db::{is_unique_violation, memberships, users, DbConnection};
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::permissions::Actor;
use crate::error::{ApiError, ErrorCode};
use crate::service::audit::{describe, AuditContext, Event};
use crate::service::customers::administered;
use crate::state::AppState;

/// The longest group name and description, in characters.
pub const MAX_NAME: usize = 100;
pub const MAX_DESCRIPTION: usize = 1000;

/// A validated new group.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub name: String,
    pub description: Option<String>,
    pub external_id: Option<String>,
}

/// A requested group edit; `Some(None)` clears a field.
#[derive(Debug, Clone, Default)]
pub struct GroupEdit {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub external_id: Option<Option<String>>,
}

/// A group with how many members it has.
#[derive(Debug, Clone)]
pub struct Group {
    pub row: GroupRow,
    pub member_count: i64,
}

/// Checks a group name: trimmed, 1 to [`MAX_NAME`] characters, no `;`
/// (the separator of the import's `groups` column).
/// Lengths count the characters as sent, blanks around them included, as
/// the contract's `maxLength` does.
pub fn valid_name(name: &str) -> Result<String, &'static str> {
    let too_long = name.chars().count() > MAX_NAME;
    let name = name.trim();
    let problem = if name.is_empty() {
        Some("must not be empty")
    } else if too_long {
        Some("must be at most 100 characters")
    } else if name.contains(';') || name.chars().any(char::is_control) {
        Some("must not contain ';' or control characters")
    } else {
        None
    };
    match problem {
        Some(message) => Err(message),
        None => Ok(name.to_string()),
    }
}

pub async fn create(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    customer_id: String,
    new: NewGroup,
) -> Result<Group, ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            let row = create_in(conn, state, &actor, &context, &customer_id, new)?;
            Ok(Group {
                row,
                member_count: 0,
            })
        })
        .await
}

pub async fn list(
    state: &AppState,
    actor: &Actor,
    customer_id: String,
    filter: GroupFilter,
    page: PageRequest,
) -> Result<Page<Group>, ApiError> {
    let actor = actor.clone();
    state
        .read(move |conn, _| {
            administered(conn, &actor, &customer_id)?;
            let rows = groups::list(
                conn,
                &customer_id,
                &filter,
                page.cursor.as_ref(),
                page.limit,
            )?;
            let page = page.cut(rows, |row| Cursor {
                at: row.created_at,
                id: row.id.clone(),
            });
            let ids: Vec<String> = page.items.iter().map(|row| row.id.clone()).collect();
            let counts = groups::member_counts(conn, &ids)?;
            Ok(page.map(|row| Group {
                member_count: counts.get(&row.id).copied().unwrap_or(0),
                row,
            }))
        })
        .await
}

/// A group with its members' user ids, in the order they joined.
pub async fn get(
    state: &AppState,
    actor: &Actor,
    customer_id: String,
    group_id: String,
) -> Result<(Group, Vec<String>), ApiError> {
    let actor = actor.clone();
    state
        .read(move |conn, _| {
            administered(conn, &actor, &customer_id)?;
            let row = find(conn, &customer_id, &group_id)?;
            let members = groups::member_ids(conn, &row.id)?;
            let member_count = members.len() as i64;
            Ok((Group { row, member_count }, members))
        })
        .await
}

pub async fn update(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    (customer_id, group_id): (String, String),
    edit: GroupEdit,
    expected_version: Option<i32>,
) -> Result<Group, ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            let row = update_in(
                conn,
                state,
                &actor,
                &context,
                (&customer_id, &group_id),
                edit,
                expected_version,
            )?;
            let member_count = groups::member_count(conn, &row.id)?;
            Ok(Group { row, member_count })
        })
        .await
}

pub async fn delete(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    customer_id: String,
    group_id: String,
) -> Result<(), ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| delete_in(conn, state, &actor, &context, &customer_id, &group_id))
        .await
}

/// Puts a member in a group; true if they were not in it yet.
pub async fn add_member(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    (customer_id, group_id, user_id): (String, String, String),
) -> Result<bool, ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            add_member_in(
                conn,
                state,
                &actor,
                &context,
                &customer_id,
                &group_id,
                &user_id,
            )
        })
        .await
}

/// Takes a member out of a group; 404 if they were not in it.
pub async fn remove_member(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    (customer_id, group_id, user_id): (String, String, String),
) -> Result<(), ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            let removed = remove_member_in(
                conn,
                state,
                &actor,
                &context,
                &customer_id,
                &group_id,
                &user_id,
            )?;
            if removed {
                Ok(())
            } else {
                Err(ApiError::NotFound("group member"))
            }
        })
        .await
}

fn find(conn: &mut DbConnection, customer_id: &str, group_id: &str) -> Result<GroupRow, ApiError> {
    groups::find(conn, customer_id, group_id)?.ok_or(ApiError::NotFound("group"))
}

fn name_taken(name: &str) -> ApiError {
    ApiError::conflict(
        ErrorCode::GroupNameTaken,
        format!("This customer already has a group named \"{name}\"."),
    )
}

fn external_id_taken() -> ApiError {
    ApiError::conflict(
        ErrorCode::ExternalIdTaken,
        "Another group of this customer has this external_id.",
    )
}

/// Refuses a name or external id another group of the customer has.
fn check_unique(conn: &mut DbConnection, group: &GroupRow) -> Result<(), ApiError> {
    let same_name =
        groups::find_by_names(conn, &group.customer_id, std::slice::from_ref(&group.name))?;
    if same_name.iter().any(|other| other.id != group.id) {
        return Err(name_taken(&group.name));
    }
    if let Some(external_id) = &group.external_id {
        let other = groups::find_by_external_id(conn, &group.customer_id, external_id)?;
        if other.is_some_and(|other| other.id != group.id) {
            return Err(external_id_taken());
        }
    }
    Ok(())
}

/// A lost race for a unique name or external id is the same 409.
fn unique_or(err: diesel::result::Error, group: &GroupRow) -> ApiError {
    if is_unique_violation(&err) {
        if err.to_string().contains("external_id") {
            external_id_taken()
        } else {
            name_taken(&group.name)
        }
    } else {
        err.into()
    }
}

pub fn create_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    customer_id: &str,
    new: NewGroup,
) -> Result<GroupRow, ApiError> {
    let customer = administered(conn, actor, customer_id)?;
    let now = state.clock.now_db();
    let row = GroupRow {
        id: crate::db::new_id(),
        customer_id: customer_id.to_string(),
        name_key: groups::name_key(&new.name),
        name: new.name,
        description: new.description,
        external_id: new.external_id,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    check_unique(conn, &row)?;
    groups::insert(conn, &row).map_err(|err| unique_or(err, &row))?;
    Event::new(
        "group.created",
        format!("The group {} was created in {}", row.name, customer.name),
    )
    .in_customer(customer_id, &customer.name)
    .change("group_id", Value::Null, &row.id)
    .change("name", Value::Null, &row.name)
    .changed("description", Value::Null, &row.description)
    .changed("external_id", Value::Null, &row.external_id)
    .record(conn, state, context, now)?;
    Ok(row)
}

pub fn update_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    (customer_id, group_id): (&str, &str),
    edit: GroupEdit,
    expected_version: Option<i32>,
) -> Result<GroupRow, ApiError> {
    let customer = administered(conn, actor, customer_id)?;
    let before = find(conn, customer_id, group_id)?;
    if expected_version.is_some_and(|version| version != before.version) {
        return Err(ApiError::PreconditionFailed);
    }
    let mut after = before.clone();
    if let Some(name) = edit.name {
        after.name_key = groups::name_key(&name);
        after.name = name;
    }
    if let Some(description) = edit.description {
        after.description = description;
    }
    if let Some(external_id) = edit.external_id {
        after.external_id = external_id;
    }
    if after.name == before.name
        && after.description == before.description
        && after.external_id == before.external_id
    {
        return Ok(before);
    }
    let now = state.clock.now_db();
    after.updated_at = now;
    check_unique(conn, &after)?;
    groups::update(conn, &after).map_err(|err| unique_or(err, &after))?;
    Event::new(
        "group.updated",
        format!("The group {} in {} was updated", after.name, customer.name),
    )
    .in_customer(customer_id, &customer.name)
    .change("group_id", &after.id, &after.id)
    .changed("name", &before.name, &after.name)
    .changed("description", &before.description, &after.description)
    .changed("external_id", &before.external_id, &after.external_id)
    .record(conn, state, context, now)?;
    find(conn, customer_id, group_id)
}

pub fn delete_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    customer_id: &str,
    group_id: &str,
) -> Result<(), ApiError> {
    let customer = administered(conn, actor, customer_id)?;
    let group = find(conn, customer_id, group_id)?;
    let members = groups::member_count(conn, group_id)?;
    groups::delete(conn, group_id)?;
    let now = state.clock.now_db();
    Event::new(
        "group.deleted",
        format!(
            "The group {} was deleted from {}",
            group.name, customer.name
        ),
    )
    .in_customer(customer_id, &customer.name)
    .change("group_id", &group.id, Value::Null)
    .change("name", &group.name, Value::Null)
    .change("members", members, Value::Null)
    .record(conn, state, context, now)
}

/// Puts a member of the customer in the group; true if they were not in it.
pub fn add_member_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    customer_id: &str,
    group_id: &str,
    user_id: &str,
) -> Result<bool, ApiError> {
    let customer = administered(conn, actor, customer_id)?;
    let group = find(conn, customer_id, group_id)?;
    if memberships::find(conn, customer_id, user_id)?.is_none() {
        return Err(ApiError::NotFound("membership"));
    }
    let now = state.clock.now_db();
    // A removal of the membership (or of the group) that committed since the
    // checks above leaves nothing to add to.
    let added = groups::add_member(conn, &group, user_id, now).map_err(|err| match err {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ForeignKeyViolation,
            _,
        ) => ApiError::NotFound("membership"),
        other => other.into(),
    })?;
    if !added {
        return Ok(false);
    }
    groups::touch(conn, group_id, now)?;
    record_member_change(conn, state, context, &customer, &group, user_id, true, now)?;
    Ok(true)
}

/// Takes a member out of the group; true if they were in it.
pub fn remove_member_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    customer_id: &str,
    group_id: &str,
    user_id: &str,
) -> Result<bool, ApiError> {
    let customer = administered(conn, actor, customer_id)?;
    let group = find(conn, customer_id, group_id)?;
    if !groups::remove_member(conn, group_id, user_id)? {
        return Ok(false);
    }
    let now = state.clock.now_db();
    groups::touch(conn, group_id, now)?;
    record_member_change(conn, state, context, &customer, &group, user_id, false, now)?;
    Ok(true)
}

/// Makes the group's members exactly `user_ids` (members of the customer);
/// returns whether anything changed.
pub fn set_members_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    customer_id: &str,
    group_id: &str,
    user_ids: &[String],
) -> Result<bool, ApiError> {
    administered(conn, actor, customer_id)?;
    find(conn, customer_id, group_id)?;
    let wanted: BTreeSet<&String> = user_ids.iter().collect();
    let current = groups::member_ids(conn, group_id)?;
    let mut changed = false;
    for user_id in current.iter().filter(|id| !wanted.contains(id)) {
        changed |= remove_member_in(conn, state, actor, context, customer_id, group_id, user_id)?;
    }
    for user_id in wanted {
        changed |= add_member_in(conn, state, actor, context, customer_id, group_id, user_id)?;
    }
    Ok(changed)
}

#[allow(clippy::too_many_arguments)]
fn record_member_change(
    conn: &mut DbConnection,
    state: &AppState,
    context: &AuditContext,
    customer: &CustomerRow,
    group: &GroupRow,
    user_id: &str,
    added: bool,
    now: PrimitiveDateTime,
) -> Result<(), ApiError> {
    let who = match users::find(conn, user_id)? {
        Some(user) => describe(&user),
        None => user_id.to_string(),
    };
    let (action, summary, before, after) = if added {
        (
            "group.member_added",
            format!(
                "{who} was added to the group {} in {}",
                group.name, customer.name
            ),
            Value::Null,
            Value::from(group.name.clone()),
        )
    } else {
        (
            "group.member_removed",
            format!(
                "{who} was removed from the group {} in {}",
                group.name, customer.name
            ),
            Value::from(group.name.clone()),
            Value::Null,
        )
    };
    Event::new(action, summary)
        .about(user_id)
        .in_customer(&customer.id, &customer.name)
        .change("group", before, after)
        .change("group_id", &group.id, &group.id)
        .record(conn, state, context, now)
}

/// The customer's groups with these names (any case), in the order given;
/// an unknown name is a 422 on `field` that names it.
pub fn resolve_names(
    conn: &mut DbConnection,
    customer_id: &str,
    names: &[String],
    field: &str,
) -> Result<Vec<GroupRow>, ApiError> {
    let found = groups::find_by_names(conn, customer_id, names)?;
    pick_names(&found, names, field)
}

/// The groups with these names (any case) among `found` (the customer's,
/// read at once), in the order given; a name not among them is a 422 on
/// `field`.
pub fn pick_names(
    found: &[GroupRow],
    names: &[String],
    field: &str,
) -> Result<Vec<GroupRow>, ApiError> {
    names
        .iter()
        .map(|name| {
            let key = groups::name_key(name.trim());
            found
                .iter()
                .find(|group| group.name_key == key)
                .cloned()
                .ok_or_else(|| {
                    ApiError::invalid(field, format!("\"{name}\" is not a group of this customer"))
                })
        })
        .collect()
}

/// The customer's groups with these ids, in the order given; an unknown id
/// is a 422 on `field`.
pub fn resolve_ids(
    conn: &mut DbConnection,
    customer_id: &str,
    ids: &[String],
    field: &str,
) -> Result<Vec<GroupRow>, ApiError> {
    let found = groups::find_all(conn, customer_id, ids)?;
    pick_ids(&found, ids, field)
}

/// The groups with these ids among `found` (the customer's, read at once),
/// in the order given; an id not among them is a 422 on `field`.
pub fn pick_ids(
    found: &[GroupRow],
    ids: &[String],
    field: &str,
) -> Result<Vec<GroupRow>, ApiError> {
    ids.iter()
        .map(|id| {
            found
                .iter()
                .find(|group| group.id == *id)
                .cloned()
                .ok_or_else(|| {
                    ApiError::invalid(field, format!("{id} is not a group of this customer"))
                })
        })
        .collect()
}

/// Makes a member's groups in the customer exactly `wanted` (rows written
/// directly: the caller records the change as part of its own audit event).
/// Returns the names before and after, sorted.
pub fn replace_member_groups(
    conn: &mut DbConnection,
    customer_id: &str,
    user_id: &str,
    wanted: &[GroupRow],
    now: PrimitiveDateTime,
) -> Result<(Vec<String>, Vec<String>), ApiError> {
    let current = groups::groups_of(conn, customer_id, user_id)?;
    let wanted_ids: BTreeSet<&str> = wanted.iter().map(|g| g.id.as_str()).collect();
    for group in current
        .iter()
        .filter(|g| !wanted_ids.contains(g.id.as_str()))
    {
        groups::remove_member(conn, &group.id, user_id)?;
        groups::touch(conn, &group.id, now)?;
    }
    for group in wanted {
        if groups::add_member(conn, group, user_id, now)? {
            groups::touch(conn, &group.id, now)?;
        }
    }
    let names = |rows: &[GroupRow]| -> Vec<String> {
        refs_by_name(rows).into_iter().map(|g| g.name).collect()
    };
    Ok((names(&current), names(wanted)))
}

/// Puts a member who has just joined the customer (and so is in none of
/// its groups) in `wanted`; returns their names, sorted.
pub fn join_new_member(
    conn: &mut DbConnection,
    user_id: &str,
    wanted: &[GroupRow],
    now: PrimitiveDateTime,
) -> Result<(), ApiError> {
    for group in wanted {
        if groups::add_member(conn, group, user_id, now)? {
            groups::touch(conn, &group.id, now)?;
        }
    }
    Ok(())
}

/// Groups as a membership lists them: by name, each once.
pub fn refs_by_name(rows: &[GroupRow]) -> Vec<GroupRef> {
    let mut rows: Vec<&GroupRow> = rows.iter().collect();
    rows.sort_by(|a, b| a.name_key.cmp(&b.name_key));
    rows.dedup_by(|a, b| a.id == b.id);
    rows.into_iter()
        .map(|g| GroupRef {
            id: g.id.clone(),
            name: g.name.clone(),
        })
        .collect()
}

/// A member's groups in the customer, by name.
pub fn refs_of(
    conn: &mut DbConnection,
    customer_id: &str,
    user_id: &str,
) -> Result<Vec<GroupRef>, ApiError> {
    Ok(groups::groups_of(conn, customer_id, user_id)?
        .into_iter()
        .map(|g| GroupRef {
            id: g.id,
            name: g.name,
        })
        .collect())
}
