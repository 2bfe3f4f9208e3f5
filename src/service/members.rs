//! Use cases about a customer's users: add (inviting new people), list,
//! edit, remove. Each public function opens its own transaction; a private
//! `…_in` function is its body inside that transaction.

use std::collections::HashMap;

use diesel::Connection;
use serde_json::{json, Value};

use crate::auth::jwt::Claims;
use crate::db::action_tokens::Purpose;
use crate::db::customers::{self, CustomerRow};
use crate::db::groups::{self as group_rows, GroupRef, GroupRow};
use crate::db::memberships::{self, MembershipRow};
use crate::db::users::{self, NewUser, UserFilter, UserRow};
use crate::db::{is_unique_violation, DbConnection};
use crate::domain::email::EmailAddress;
use crate::domain::lifecycle::UserStatus;
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::permissions::Actor;
use crate::domain::profile::search_key;
use crate::domain::roles::{MembershipRole, PlatformRole};
use crate::domain::seats::seats_left;
use crate::email::{self, EmailKind, Message};
use crate::error::ApiError;
use crate::service::accounts::send_action_email;
use crate::service::audit::{describe, AuditContext, Event};
use crate::service::callers;
use crate::service::customers::{administered, administered_of};
use crate::service::groups;
use crate::service::guard::lock_user;
use crate::service::idempotency::{self, Answer, Created, Once};
use crate::service::seats::{free_seat, seat_limit, take_seat, take_seats};
use crate::state::AppState;

/// A validated "add user" request.
pub struct AddUser {
    pub email: EmailAddress,
    /// Required when the email is new to the platform.
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub job_title: Option<String>,
    pub role: Option<MembershipRole>,
    /// Serialized JSON object.
    pub settings: Option<String>,
    pub copy_from_user_id: Option<String>,
    pub send_invite: bool,
    /// The customer's own id for the member, unique in the customer.
    pub external_id: Option<String>,
    /// The customer's groups to put the member in; `None` copies those of
    /// `copy_from_user_id` (if given).
    pub group_ids: Option<Vec<String>>,
}

/// A membership, its user, and their groups in the customer.
pub struct Member {
    pub membership: MembershipRow,
    pub user: UserRow,
    pub groups: Vec<GroupRef>,
}

/// The membership made, and its user.
pub type Added = Member;

/// Adds a user to a customer, once per `Idempotency-Key`: a new email
/// creates an invited user (with the activation email), an existing user
/// gets a membership. `answer` shapes the stored response.
pub async fn add_user(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    customer_id: String,
    input: AddUser,
    once: Once,
    answer: impl FnOnce(&Added) -> Result<Created, ApiError> + Send + 'static,
) -> Result<Answer, ApiError> {
    let (actor2, actor3) = (actor.clone(), actor.clone());
    let customer = customer_id.clone();
    idempotency::create_once(
        state,
        actor,
        once,
        move |conn| administered(conn, &actor3, &customer).map(drop),
        move |conn, state| {
            let added = add_user_in(conn, state, &actor2, &context, &customer_id, input)?;
            answer(&added)
        },
    )
    .await
}

/// Changes a user's role, settings, external id or groups in one customer.
pub async fn update(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    customer_id: String,
    user_id: String,
    edit: MembershipEdit,
    expected_stamp: Option<i64>,
) -> Result<Member, ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            update_in(
                conn,
                state,
                &actor,
                &context,
                (&customer_id, &user_id),
                edit,
                expected_stamp,
            )
        })
        .await
}

/// Removes a user from one customer (other memberships stay), telling them
/// when `notify`.
pub async fn remove(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    customer_id: String,
    user_id: String,
    notify: bool,
) -> Result<(), ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| {
            remove_in(
                conn,
                state,
                &actor,
                &context,
                &customer_id,
                &user_id,
                notify,
            )
        })
        .await
}

/// The whole REST add (seat, user, membership, groups, invite, audit,
/// event) inside the caller's transaction.
pub fn add_user_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    customer_id: &str,
    input: AddUser,
) -> Result<Added, ApiError> {
    let customer = administered(conn, actor, customer_id)?;
    // The user's row before the customer's, the order every change that
    // touches both takes them in (see `service::seats`). A new user's row is
    // written first: nobody else can hold it, and a request that loses the
    // race to create it waits for the winner and then locks it as existing.
    let now = state.clock.now_db();
    let (user, is_new) = match find_and_lock(conn, &input, customer_id)? {
        Some(user) => (user, false),
        None => match create_invited(conn, state, context, &input, &customer, now)? {
            Some(user) => (user, true),
            None => (
                find_and_lock(conn, &input, customer_id)?.ok_or_else(changed_meanwhile)?,
                false,
            ),
        },
    };
    customers::lock(conn, customer_id)?;
    let (role, settings, groups) = membership_defaults(conn, customer_id, &input)?;
    if let Some(external_id) = &input.external_id {
        refuse_taken_external_id(conn, customer_id, &user.id, external_id)?;
    }
    take_seat(conn, customer_id)?;
    let membership = MembershipRow {
        customer_id: customer_id.to_string(),
        user_id: user.id.clone(),
        role,
        settings,
        added_at: now,
        updated_at: now,
        external_id: input.external_id.clone(),
    };
    memberships::insert(conn, &membership).map_err(|err| {
        if is_unique_violation(&err) {
            already_member(&user.id)
        } else {
            err.into()
        }
    })?;
    // A new membership is in no group yet: only the wanted ones are written.
    groups::join_new_member(conn, &user.id, &groups, now)?;
    if !is_new {
        email::enqueue(
            conn,
            &state.templates,
            Message {
                kind: EmailKind::MembershipAdded,
                to: user.email.clone(),
                context: json!({
                    "recipient_name": user.first_name,
                    "customer_name": customer.name,
                    "role_label": role.label(),
                }),
                user_id: Some(user.id.clone()),
                customer_id: Some(customer_id.to_string()),
            },
            now,
        )?;
    }
    record_added(
        conn,
        state,
        context,
        &customer,
        (&user, &membership, &groups),
        now,
    )?;
    let groups = groups::refs_by_name(&groups);
    Ok(Member {
        membership,
        user,
        groups,
    })
}

/// Refuses an external id another member of the customer has.
fn refuse_taken_external_id(
    conn: &mut DbConnection,
    customer_id: &str,
    user_id: &str,
    external_id: &str,
) -> Result<(), ApiError> {
    match memberships::find_by_external_id(conn, customer_id, external_id)? {
        Some(other) if other.user_id != user_id => Err(external_id_taken()),
        _ => Ok(()),
    }
}

fn external_id_taken() -> ApiError {
    ApiError::conflict(
        crate::error::ErrorCode::ExternalIdTaken,
        "Another member of this customer has this external_id.",
    )
}

/// The user with the new member's email, if there is one, locked.
fn find_and_lock(
    conn: &mut DbConnection,
    input: &AddUser,
    customer_id: &str,
) -> Result<Option<UserRow>, ApiError> {
    match users::find_by_email(conn, &input.email.key())? {
        Some(user) => Ok(Some(lock_existing(conn, &user.id, customer_id)?)),
        None => Ok(None),
    }
}

fn refuse_existing(
    conn: &mut DbConnection,
    user: &UserRow,
    customer_id: &str,
) -> Result<(), ApiError> {
    if user.status == UserStatus::Retired {
        return Err(ApiError::Conflict {
            code: crate::error::ErrorCode::UserRetired,
            detail: "This email belongs to a retired user; reinstate them with PUT /v1/users/{user_id}/status.".into(),
            user_id: Some(user.id.clone()),
        });
    }
    if memberships::find(conn, customer_id, &user.id)?.is_some() {
        return Err(already_member(&user.id));
    }
    Ok(())
}

/// The existing user, locked for the rest of the transaction and read again,
/// so a status change or a deletion running beside this addition either
/// finishes first (and is seen here) or waits and sees the new membership:
/// the seat counter counts it once either way.
fn lock_existing(
    conn: &mut DbConnection,
    user_id: &str,
    customer_id: &str,
) -> Result<UserRow, ApiError> {
    lock_user(conn, user_id)?;
    let user = users::find(conn, user_id)?.ok_or_else(changed_meanwhile)?;
    refuse_existing(conn, &user, customer_id)?;
    Ok(user)
}

fn changed_meanwhile() -> ApiError {
    ApiError::conflict(
        crate::error::ErrorCode::EmailTaken,
        "Another request just changed the user with this email; retry.",
    )
}

fn already_member(user_id: &str) -> ApiError {
    ApiError::Conflict {
        code: crate::error::ErrorCode::AlreadyMember,
        detail: "This user already belongs to the customer.".into(),
        user_id: Some(user_id.to_string()),
    }
}

/// Role, settings and groups: copied from `copy_from_user_id`'s membership
/// in this customer, with explicit values winning; `full_access`, `{}` and
/// no groups otherwise.
fn membership_defaults(
    conn: &mut DbConnection,
    customer_id: &str,
    input: &AddUser,
) -> Result<(MembershipRole, String, Vec<GroupRow>), ApiError> {
    let copied =
        match &input.copy_from_user_id {
            None => None,
            Some(source) => Some(memberships::find(conn, customer_id, source)?.ok_or_else(
                || ApiError::invalid("copy_from_user_id", "is not a user of this customer"),
            )?),
        };
    let role = input
        .role
        .or_else(|| copied.as_ref().map(|m| m.role))
        .unwrap_or_default();
    let groups = match (&input.group_ids, &copied) {
        (Some(ids), _) => groups::resolve_ids(conn, customer_id, ids, "group_ids")?,
        (None, Some(source)) => group_rows::groups_of(conn, customer_id, &source.user_id)?,
        (None, None) => Vec::new(),
    };
    let settings = input
        .settings
        .clone()
        .or_else(|| copied.map(|m| m.settings))
        .unwrap_or_else(|| "{}".to_string());
    Ok((role, settings, groups))
}

/// Creates the invited user, or `None` when another request has just
/// created a user with this email.
fn create_invited(
    conn: &mut DbConnection,
    state: &AppState,
    context: &AuditContext,
    input: &AddUser,
    customer: &CustomerRow,
    now: time::PrimitiveDateTime,
) -> Result<Option<UserRow>, ApiError> {
    let new = invited_user(input, now)?;
    // In a savepoint: on PostgreSQL a concurrent insert of the same email
    // waits for the other transaction and then fails, and the failure must
    // not abort ours, so the caller can add the now existing user instead.
    match conn.transaction(|conn| users::insert(conn, &new)) {
        Ok(()) => {}
        Err(err) if is_unique_violation(&err) => return Ok(None),
        Err(err) => return Err(err.into()),
    }
    let user = users::find(conn, &new.id)?.ok_or(ApiError::NotFound("user"))?;
    invite(
        conn,
        state,
        context,
        &user,
        input.send_invite,
        customer,
        now,
    )?;
    Ok(Some(user))
}

/// The row of a user invited by `input`, or why there can be none.
fn invited_user(input: &AddUser, now: time::PrimitiveDateTime) -> Result<NewUser, ApiError> {
    let (Some(first_name), Some(last_name)) = (&input.first_name, &input.last_name) else {
        let mut errors = Vec::new();
        for (field, value) in [
            ("first_name", &input.first_name),
            ("last_name", &input.last_name),
        ] {
            if value.is_none() {
                errors.push(crate::error::FieldError::new(
                    field,
                    "is required for a new user",
                ));
            }
        }
        return Err(ApiError::Validation(errors));
    };
    Ok(NewUser {
        id: crate::db::new_id(),
        email: input.email.to_string(),
        email_lower: input.email.key(),
        first_name: first_name.clone(),
        first_name_lower: search_key(first_name),
        last_name: last_name.clone(),
        last_name_lower: search_key(last_name),
        job_title: input.job_title.clone(),
        status: UserStatus::Invited,
        platform_role: PlatformRole::None,
        password_hash: None,
        password_changed_at: None,
        invited_at: Some(now),
        activated_at: None,
        status_changed_at: now,
        created_at: now,
        updated_at: now,
    })
}

/// Sends a just created user their activation email (when asked) and
/// records the invitation.
fn invite(
    conn: &mut DbConnection,
    state: &AppState,
    context: &AuditContext,
    user: &UserRow,
    send_invite: bool,
    customer: &CustomerRow,
    now: time::PrimitiveDateTime,
) -> Result<(), ApiError> {
    if send_invite {
        send_action_email(
            conn,
            state,
            user,
            Purpose::Activation,
            Some(&customer.name),
            now,
        )?;
    }
    // The confirmation email belongs to the membership event, sent once.
    let quiet = AuditContext {
        confirmation_email: None,
        ..context.clone()
    };
    Event::new("user.invited", format!("{} was invited", describe(user)))
        .about(&user.id)
        .in_customer(&customer.id, &customer.name)
        .showing_user(user)
        .change("email", Value::Null, &user.email)
        .change("first_name", Value::Null, &user.first_name)
        .change("last_name", Value::Null, &user.last_name)
        .change("job_title", Value::Null, &user.job_title)
        .change("status", Value::Null, "invited")
        .record(conn, state, &quiet, now)
}

/// Records a membership just made, as its user, membership and groups are.
fn record_added(
    conn: &mut DbConnection,
    state: &AppState,
    context: &AuditContext,
    customer: &CustomerRow,
    (user, membership, groups): (&UserRow, &MembershipRow, &[GroupRow]),
    now: time::PrimitiveDateTime,
) -> Result<(), ApiError> {
    let group_names: Vec<String> = groups::refs_by_name(groups)
        .into_iter()
        .map(|group| group.name)
        .collect();
    Event::new(
        "membership.added",
        format!("{} was added to {}", describe(user), customer.name),
    )
    .about(&user.id)
    .in_customer(&customer.id, &customer.name)
    .showing_user(user)
    .showing_membership(membership, groups)
    .change("role", Value::Null, membership.role)
    .change("settings", Value::Null, parse(&membership.settings))
    .changed("external_id", Value::Null, &membership.external_id)
    .changed("groups", Vec::<String>::new(), &group_names)
    .record(conn, state, context, now)
}

/// Adds people new to the platform to a customer, many at once (an
/// import's batch): for each, what [`add_user_in`] does for a new email
/// (the invited user, their membership and groups, a seat, the activation
/// email when asked, both audit events), in a few statements for them all.
/// Returns each input's outcome, in order: one refused (no name, a group
/// that is not the customer's, no seat left) adds nothing.
///
/// Inputs name no `copy_from_user_id` or `settings`. Fails as a whole when
/// another request added one of the emails or external ids, or took a
/// seat, since the caller looked: the caller then rolls back and adds them
/// one at a time with [`add_user_in`].
pub fn add_new_users_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    customer_id: &str,
    inputs: &[AddUser],
) -> Result<Vec<Result<(), ApiError>>, ApiError> {
    let customer = administered(conn, actor, customer_id)?;
    let now = state.clock.now_db();
    let group_ids: Vec<String> = inputs
        .iter()
        .flat_map(|input| input.group_ids.iter().flatten().cloned())
        .collect();
    let customer_groups = group_rows::find_all(conn, customer_id, &group_ids)?;
    let mut seats_left = seats_left(customer.licensed_seats, customer.named_users);
    let mut outcomes = Vec::with_capacity(inputs.len());
    // Each accepted input and its groups, beside the user it invites.
    let mut planned: Vec<(&AddUser, Vec<GroupRow>)> = Vec::new();
    let mut new_users: Vec<NewUser> = Vec::new();
    for input in inputs {
        let prepared = invited_user(input, now).and_then(|user| {
            let wanted = input.group_ids.as_deref().unwrap_or_default();
            Ok((
                user,
                groups::pick_ids(&customer_groups, wanted, "group_ids")?,
            ))
        });
        let outcome = match prepared {
            Ok(_) if seats_left == Some(0) => Err(()),
            Ok((user, groups)) => {
                seats_left = seats_left.map(|left| left - 1);
                planned.push((input, groups));
                new_users.push(user);
                Ok(Ok(()))
            }
            Err(refused) => Ok(Err(refused)),
        };
        outcomes.push(outcome);
    }
    users::insert_all(conn, &new_users)?;
    let taken = i64::try_from(planned.len()).unwrap_or(i64::MAX);
    let customer = take_seats(conn, customer_id, taken)?;
    let members: Vec<MembershipRow> = planned
        .iter()
        .zip(&new_users)
        .map(|((input, _), user)| MembershipRow {
            customer_id: customer_id.to_string(),
            user_id: user.id.clone(),
            role: input.role.unwrap_or_default(),
            settings: "{}".to_string(),
            added_at: now,
            updated_at: now,
            external_id: input.external_id.clone(),
        })
        .collect();
    memberships::insert_all(conn, &members)?;
    join_new_members(conn, &planned, &new_users, now)?;
    let ids: Vec<String> = new_users.iter().map(|user| user.id.clone()).collect();
    let mut written: HashMap<String, UserRow> = users::find_all(conn, &ids)?
        .into_iter()
        .map(|user| (user.id.clone(), user))
        .collect();
    for (((input, groups), new), membership) in planned.iter().zip(&new_users).zip(&members) {
        let user = written.remove(&new.id).ok_or(ApiError::NotFound("user"))?;
        invite(
            conn,
            state,
            context,
            &user,
            input.send_invite,
            &customer,
            now,
        )?;
        record_added(
            conn,
            state,
            context,
            &customer,
            (&user, membership, groups),
            now,
        )?;
    }
    let full = CustomerRow {
        named_users: customer.named_users + taken,
        ..customer
    };
    Ok(outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Ok(outcome) => outcome,
            Err(()) => Err(seat_limit(&full)),
        })
        .collect())
}

/// Puts just added members in their groups, and marks each group changed.
fn join_new_members(
    conn: &mut DbConnection,
    planned: &[(&AddUser, Vec<GroupRow>)],
    new_users: &[NewUser],
    now: time::PrimitiveDateTime,
) -> Result<(), ApiError> {
    let mut pairs: Vec<(&GroupRow, &str)> = planned
        .iter()
        .zip(new_users)
        .flat_map(|((_, groups), user)| groups.iter().map(|group| (group, user.id.as_str())))
        .collect();
    pairs.sort_by(|a, b| (&a.0.id, a.1).cmp(&(&b.0.id, b.1)));
    pairs.dedup_by(|a, b| a.0.id == b.0.id && a.1 == b.1);
    group_rows::add_new_members(conn, &pairs, now)?;
    let mut touched: Vec<&str> = pairs.iter().map(|(group, _)| group.id.as_str()).collect();
    touched.dedup();
    for group_id in touched {
        group_rows::touch(conn, group_id, now)?;
    }
    Ok(())
}

/// Filters of a customer's user list.
pub struct CustomerUserList {
    pub filter: UserFilter,
    pub role: Option<MembershipRole>,
    pub external_id: Option<String>,
    pub page: PageRequest,
}

/// One page of a customer's users with the seat counts.
pub struct CustomerUsers {
    pub customer: CustomerRow,
    pub named_users: i64,
    pub rows: Page<Member>,
}

/// One page of the customer's users for the caller of `claims`, re-checked
/// in the same blocking call (one pool checkout).
pub async fn list(
    state: &AppState,
    claims: Claims,
    customer_id: String,
    query: CustomerUserList,
) -> Result<CustomerUsers, ApiError> {
    let (actor, found) = state
        .read(move |conn, _| {
            let (actor, customer) = callers::caller_and_customer(conn, &claims, &customer_id)?;
            let found = administered_of(&actor, &customer_id, customer)
                .and_then(|customer| list_in(conn, customer, query));
            Ok((actor, found))
        })
        .await?;
    callers::note(&actor);
    found
}

fn list_in(
    conn: &mut DbConnection,
    customer: CustomerRow,
    query: CustomerUserList,
) -> Result<CustomerUsers, ApiError> {
    let customer_id = customer.id.as_str();
    let filter = memberships::MemberFilter {
        users: &query.filter,
        role: query.role,
        external_id: query.external_id.as_deref(),
    };
    let rows = memberships::list_customer_users(
        conn,
        customer_id,
        &filter,
        query.page.cursor.as_ref(),
        query.page.limit,
    )?;
    let page = query.page.cut(rows, |(membership, _)| Cursor {
        at: membership.added_at,
        id: membership.user_id.clone(),
    });
    let user_ids: Vec<String> = page.items.iter().map(|(m, _)| m.user_id.clone()).collect();
    let mut groups: HashMap<String, Vec<GroupRef>> = HashMap::new();
    for (user_id, group) in group_rows::groups_of_members(conn, customer_id, &user_ids)? {
        groups.entry(user_id).or_default().push(group);
    }
    let rows = page.map(|(membership, user)| Member {
        groups: groups.remove(&user.id).unwrap_or_default(),
        membership,
        user,
    });
    Ok(CustomerUsers {
        named_users: customer.named_users,
        customer,
        rows,
    })
}

/// A requested membership edit; `external_id: Some(None)` clears it and
/// `group_ids` replaces the member's groups.
#[derive(Default)]
pub struct MembershipEdit {
    pub role: Option<MembershipRole>,
    pub settings: Option<String>,
    pub external_id: Option<Option<String>>,
    pub group_ids: Option<Vec<String>>,
}

/// The membership edit inside the caller's transaction. Nothing is written,
/// recorded or sent when nothing changes.
pub fn update_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    (customer_id, user_id): (&str, &str),
    edit: MembershipEdit,
    expected_stamp: Option<i64>,
) -> Result<Member, ApiError> {
    let customer = administered(conn, actor, customer_id)?;
    let before =
        memberships::find(conn, customer_id, user_id)?.ok_or(ApiError::NotFound("membership"))?;
    if expected_stamp.is_some_and(|stamp| stamp != before.stamp()) {
        return Err(ApiError::PreconditionFailed);
    }
    let role = edit.role.unwrap_or(before.role);
    let settings = edit.settings.unwrap_or_else(|| before.settings.clone());
    let external_id = edit
        .external_id
        .unwrap_or_else(|| before.external_id.clone());
    let user = users::find(conn, user_id)?.ok_or(ApiError::NotFound("membership"))?;
    let groups_before = group_rows::groups_of(conn, customer_id, user_id)?;
    let groups_after = match &edit.group_ids {
        Some(ids) => groups::resolve_ids(conn, customer_id, ids, "group_ids")?,
        None => groups_before.clone(),
    };
    let same_groups = same_ids(&groups_before, &groups_after);
    if role == before.role
        && parse(&settings) == parse(&before.settings)
        && external_id == before.external_id
        && same_groups
    {
        // Nothing to do: nothing is recorded, nobody is emailed.
        let groups = groups::refs_of(conn, customer_id, user_id)?;
        return Ok(Member {
            membership: before,
            user,
            groups,
        });
    }
    if let Some(external_id) = &external_id {
        refuse_taken_external_id(conn, customer_id, user_id, external_id)?;
    }
    let now = state.clock.now_db();
    let change = memberships::MembershipChange {
        role,
        settings: &settings,
        external_id: external_id.as_deref(),
    };
    memberships::update(conn, (customer_id, user_id), &change, now).map_err(|err| {
        if is_unique_violation(&err) {
            external_id_taken()
        } else {
            err.into()
        }
    })?;
    let (names_before, names_after) =
        groups::replace_member_groups(conn, customer_id, user_id, &groups_after, now)?;
    let after =
        memberships::find(conn, customer_id, user_id)?.ok_or(ApiError::NotFound("membership"))?;
    Event::new(
        "membership.updated",
        format!(
            "{}'s access to {} was updated",
            describe(&user),
            customer.name
        ),
    )
    .about(user_id)
    .in_customer(customer_id, &customer.name)
    .changed("role", before.role, after.role)
    .changed("settings", parse(&before.settings), parse(&after.settings))
    .changed("external_id", &before.external_id, &after.external_id)
    .changed("groups", names_before, names_after)
    .record(conn, state, context, now)?;
    let groups = groups::refs_of(conn, customer_id, user_id)?;
    Ok(Member {
        membership: after,
        user,
        groups,
    })
}

fn same_ids(before: &[GroupRow], after: &[GroupRow]) -> bool {
    let ids = |rows: &[GroupRow]| -> std::collections::BTreeSet<String> {
        rows.iter().map(|g| g.id.clone()).collect()
    };
    ids(before) == ids(after)
}

/// [`remove`]'s body, inside the caller's transaction (SCIM uses it).
pub fn remove_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    customer_id: &str,
    user_id: &str,
    notify: bool,
) -> Result<(), ApiError> {
    let customer = administered(conn, actor, customer_id)?;
    // The user's row first: their status decides whether a seat is freed.
    lock_user(conn, user_id)?;
    let membership =
        memberships::find(conn, customer_id, user_id)?.ok_or(ApiError::NotFound("membership"))?;
    let user = users::find(conn, user_id)?.ok_or(ApiError::NotFound("membership"))?;
    memberships::delete(conn, customer_id, user_id)?;
    free_seat(conn, customer_id, user.status)?;
    let now = state.clock.now_db();
    if notify {
        email::enqueue(
            conn,
            &state.templates,
            Message {
                kind: EmailKind::MembershipRemoved,
                to: user.email.clone(),
                context: json!({"recipient_name": user.first_name, "customer_name": customer.name}),
                user_id: Some(user.id.clone()),
                customer_id: Some(customer_id.to_string()),
            },
            now,
        )?;
    }
    Event::new(
        "membership.removed",
        format!("{} was removed from {}", describe(&user), customer.name),
    )
    .about(user_id)
    .in_customer(customer_id, &customer.name)
    .change("role", membership.role, Value::Null)
    .change("notified", Value::Null, notify)
    .record(conn, state, context, now)
}

fn parse(settings: &str) -> Value {
    serde_json::from_str(settings).unwrap_or(Value::Null)
}
