//! Events (docs/webhooks.md): written by [`publish`] in the transaction of
//! the audited change that causes them (an event exists if and only if its
//! change committed), each with one outbox row per webhook endpoint that
//! receives it; read back by polling consumers through [`feed`]; pruned
//! after `ROSTER_EVENT_RETENTION` by the housekeeping job.
//!
//! A body is `{"type", "timestamp", "data"}`. `data` holds the user (as
//! User Info shows it, without memberships, which are other customers'
//! business), the membership or the customer the event is about, the
//! changes, the actor and the request id. Every receiver gets the same body:
//! it holds nothing that a customer admin of one of the event's customers
//! may not see.

use std::collections::BTreeSet;

use diesel::QueryResult;
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::PrimitiveDateTime;

use crate::clock::{from_db, span};
use crate::db::events::{self, EventRow, FeedFilter, NewEvent};
use crate::db::groups::{self as group_rows, GroupRow};
use crate::db::memberships::MembershipRow;
use crate::db::users::UserRow;
use crate::db::webhooks::{self as endpoints, EndpointRow};
use crate::db::{customers, memberships, outbox, users, DbConnection};
use crate::domain::delivery::WEBHOOK_KIND;
use crate::domain::events::EventType;
use crate::domain::pagination::MAX_LIMIT;
use crate::domain::permissions::{Actor, AuditScope};
use crate::error::{ApiError, FieldError};
use crate::service::audit::AuditContext;
use crate::state::AppState;

/// An audited change, as far as its event goes.
pub struct Audited<'a> {
    pub action: &'a str,
    pub user_id: Option<&'a str>,
    pub customer_id: Option<&'a str>,
    /// `{"field": {"before": …, "after": …}}`.
    pub changes: &'a Value,
    pub shown: &'a Shown,
}

/// The user and membership as an event's body shows them, when the change
/// has them in hand as they now are (otherwise they are read).
#[derive(Debug, Default)]
pub struct Shown {
    pub user: Option<UserRow>,
    pub membership: Option<(MembershipRow, Vec<GroupRow>)>,
}

/// Writes the event of an audited change, if it is one that is told, with
/// its customers (those of the audit event), and queues it for every
/// enabled endpoint that asked for it and may see it.
///
/// The body shows the resource as it is now; the rows are written at the
/// end of the transaction (see `db::stage`), after its row locks.
pub fn publish(
    conn: &mut DbConnection,
    audited: &Audited,
    context: &AuditContext,
    customers: &BTreeSet<String>,
    now: PrimitiveDateTime,
) -> Result<(), ApiError> {
    let Some(event_type) = EventType::of_action(audited.action) else {
        return Ok(());
    };
    let data = data_of(conn, event_type, audited, context)?;
    let event = Told {
        id: crate::db::new_id(),
        event_type,
        payload: body(event_type, now, data),
        user_id: audited.user_id.map(str::to_string),
        customers: customers.clone(),
        occurred_at: now,
    };
    crate::db::stage(conn, event)?;
    Ok(())
}

/// An event about to be written and queued.
struct Told {
    id: String,
    event_type: EventType,
    payload: String,
    user_id: Option<String>,
    customers: BTreeSet<String>,
    occurred_at: PrimitiveDateTime,
}

impl crate::db::Staged for Told {
    /// The transaction's events in one insert (with one more for their
    /// customers), then an outbox row for every endpoint that receives each.
    fn write_all(conn: &mut DbConnection, told: Vec<Self>) -> QueryResult<()> {
        let rows: Vec<(NewEvent, &BTreeSet<String>)> = told
            .iter()
            .map(|event| {
                let row = NewEvent {
                    id: &event.id,
                    event_type: event.event_type.as_str(),
                    occurred_at: event.occurred_at,
                    user_id: event.user_id.as_deref(),
                    endpoint_id: None,
                    payload: &event.payload,
                };
                (row, &event.customers)
            })
            .collect();
        let seqs = events::insert_all(conn, &rows)?;
        for (event, seq) in told.iter().zip(seqs) {
            let customer_ids: Vec<String> = event.customers.iter().cloned().collect();
            let queued = Queued {
                event_id: &event.id,
                event_type: event.event_type,
                seq,
                user_id: event.user_id.as_deref(),
                payload: &event.payload,
            };
            for endpoint in receivers(conn, &customer_ids)? {
                if endpoint.wants(event.event_type.as_str()) {
                    queue(conn, &endpoint, &queued, event.occurred_at)?;
                }
            }
        }
        Ok(())
    }
}

type Receivers = std::collections::HashMap<Vec<String>, Vec<EndpointRow>>;

thread_local! {
    /// The endpoints that receive events of a set of customers, as read in
    /// one write transaction (its number first): a transaction that writes
    /// many events (an import's batch) reads them once per set.
    static RECEIVERS: std::cell::RefCell<(Option<u64>, Receivers)> =
        std::cell::RefCell::new((None, Receivers::new()));
}

/// The enabled endpoints that may receive events of `customer_ids`.
fn receivers(conn: &mut DbConnection, customer_ids: &[String]) -> QueryResult<Vec<EndpointRow>> {
    let Some(transaction) = crate::db::write_transaction_id() else {
        return endpoints::receivers(conn, customer_ids);
    };
    let known = RECEIVERS.with_borrow(|(of, memo)| {
        (*of == Some(transaction))
            .then(|| memo.get(customer_ids).cloned())
            .flatten()
    });
    if let Some(found) = known {
        return Ok(found);
    }
    let found = endpoints::receivers(conn, customer_ids)?;
    RECEIVERS.with_borrow_mut(|(of, memo)| {
        if *of != Some(transaction) {
            *of = Some(transaction);
            memo.clear();
        }
        memo.insert(customer_ids.to_vec(), found.clone());
    });
    Ok(found)
}

/// One event on its way to an endpoint.
pub struct Queued<'a> {
    pub event_id: &'a str,
    pub event_type: EventType,
    pub seq: i64,
    pub user_id: Option<&'a str>,
    pub payload: &'a str,
}

/// Writes the outbox row that delivers an event to an endpoint.
pub fn queue(
    conn: &mut DbConnection,
    endpoint: &EndpointRow,
    event: &Queued,
    now: PrimitiveDateTime,
) -> QueryResult<String> {
    let mut row = crate::email::pending(WEBHOOK_KIND, endpoint.id.clone(), now);
    row.subject = event.event_type.as_str().to_string();
    row.text_body = event.payload.to_string();
    row.user_id = event.user_id.map(str::to_string);
    row.customer_id = endpoint.customer_id.clone();
    row.event_id = Some(event.event_id.to_string());
    row.event_seq = Some(event.seq);
    outbox::insert(conn, &row)?;
    Ok(row.id)
}

/// The delivered body: `{"type", "timestamp", "data"}`.
pub fn body(event_type: EventType, at: PrimitiveDateTime, data: Value) -> String {
    json!({
        "type": event_type.as_str(),
        "timestamp": rfc3339(at),
        "data": data,
    })
    .to_string()
}

fn rfc3339(at: PrimitiveDateTime) -> String {
    from_db(at).format(&Rfc3339).unwrap_or_default()
}

fn data_of(
    conn: &mut DbConnection,
    event_type: EventType,
    audited: &Audited,
    context: &AuditContext,
) -> Result<Value, ApiError> {
    let mut data = Map::new();
    if let Some(user_id) = audited.user_id {
        let user = match &audited.shown.user {
            Some(user) => Some(user.clone()),
            None => users::find(conn, user_id)?,
        };
        data.insert(
            "user".into(),
            user.as_ref()
                .map_or_else(|| json!({"id": user_id}), user_json),
        );
    }
    if event_type.is_about_membership() {
        if let (Some(customer_id), Some(user_id)) = (audited.customer_id, audited.user_id) {
            let membership = match &audited.shown.membership {
                Some(shown) => Some(shown.clone()),
                None => match memberships::find(conn, customer_id, user_id)? {
                    Some(row) => Some((row, group_rows::groups_of(conn, customer_id, user_id)?)),
                    None => None,
                },
            };
            data.insert(
                "membership".into(),
                match membership {
                    Some((row, groups)) => membership_json(&row, &groups),
                    None => json!({"customer_id": customer_id, "user_id": user_id}),
                },
            );
        }
    }
    if event_type.is_about_customer() {
        if let Some(customer_id) = audited.customer_id {
            if let Some(row) = customers::find(conn, customer_id)? {
                data.insert(
                    "customer".into(),
                    json!({
                        "id": row.id,
                        "name": row.name,
                        "licensed_seats": row.licensed_seats,
                        "named_users": row.named_users,
                        "created_at": rfc3339(row.created_at),
                        "updated_at": rfc3339(row.updated_at),
                    }),
                );
            }
        }
    }
    if event_type.is_about_user() {
        // `from` and `to` are always there (null but for a status change),
        // as the contract's `UserEventData` says.
        let status = |side: &str| match event_type {
            EventType::UserStatusChanged => audited.changes["status"][side].clone(),
            _ => Value::Null,
        };
        data.insert("from".into(), status("before"));
        data.insert("to".into(), status("after"));
    }
    data.insert("changes".into(), audited.changes.clone());
    data.insert("actor".into(), actor_json(context));
    data.insert("request_id".into(), json!(context.request_id));
    Ok(Value::Object(data))
}

fn membership_json(row: &MembershipRow, groups: &[GroupRow]) -> Value {
    let groups: Vec<Value> = groups
        .iter()
        .map(|g| json!({"id": g.id, "name": g.name}))
        .collect();
    json!({
        "customer_id": row.customer_id,
        "user_id": row.user_id,
        "role": row.role,
        "settings": row.settings_json(),
        "added_at": rfc3339(row.added_at),
        "external_id": row.external_id,
        "groups": groups,
    })
}

/// A user as User Info shows it, memberships aside.
fn user_json(row: &UserRow) -> Value {
    let at = |t: Option<PrimitiveDateTime>| t.map(rfc3339);
    json!({
        "id": row.id,
        "email": row.email,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "job_title": row.job_title,
        "status": row.status,
        "locked": row.locked_at.is_some(),
        "locked_at": at(row.locked_at),
        "platform_role": row.platform_role,
        "invited_at": at(row.invited_at),
        "activated_at": at(row.activated_at),
        "last_login_at": at(row.last_login_at),
        "retired_at": at(row.retired_at),
        "created_at": rfc3339(row.created_at),
        "updated_at": rfc3339(row.updated_at),
    })
}

/// `{"type": "user" | "api_client" | "system", "id"}`.
pub fn actor_json(context: &AuditContext) -> Value {
    match (&context.actor_user_id, &context.actor_client_id) {
        (Some(id), _) => json!({"type": "user", "id": id}),
        (None, Some(id)) => json!({"type": "api_client", "id": id}),
        (None, None) => json!({"type": "system", "id": null}),
    }
}

/// What a feed consumer asks for.
pub struct FeedQuery {
    /// The id of the last event already read.
    pub after: Option<String>,
    pub types: Vec<String>,
    pub limit: i64,
}

/// One page of the feed, oldest first, and where to read on from.
pub struct FeedPage {
    pub items: Vec<EventRow>,
    /// The id to pass as `after` next (the last item's, or the one given).
    pub next_after: Option<String>,
}

/// The events an admin may read, oldest first: all for platform admins,
/// those of the customers they administer for customer admins.
pub async fn feed(state: &AppState, actor: &Actor, query: FeedQuery) -> Result<FeedPage, ApiError> {
    let customers = match actor.audit_scope() {
        None => return Err(ApiError::Forbidden("Only admins can read events.".into())),
        Some(AuditScope::All) => None,
        Some(AuditScope::Customers(mine)) => Some(mine),
    };
    if let Some(bad) = query.types.iter().find(|t| EventType::parse(t).is_none()) {
        return Err(ApiError::Validation(vec![FieldError::new(
            "types",
            format!("`{bad}` is not an event type"),
        )]));
    }
    let limit = query.limit.clamp(1, MAX_LIMIT);
    state
        .read(move |conn, _| {
            let after_seq = match &query.after {
                None => None,
                Some(id) => Some(events::find(conn, id)?.map(|row| row.seq).ok_or_else(|| {
                    ApiError::invalid(
                        "after",
                        "is not the id of a kept event (events are kept for ROSTER_EVENT_RETENTION)",
                    )
                })?),
            };
            let filter = FeedFilter {
                after_seq,
                types: query.types,
                customers,
            };
            let items = events::feed(conn, &filter, limit)?;
            let next_after = items.last().map(|row| row.id.clone()).or(query.after);
            Ok(FeedPage { items, next_after })
        })
        .await
}

/// Removes events older than `ROSTER_EVENT_RETENTION`; returns how many.
pub fn prune(conn: &mut DbConnection, state: &AppState) -> Result<usize, ApiError> {
    let cutoff = state.clock.now_db() - span(state.settings.webhooks.event_retention);
    Ok(events::prune(conn, cutoff)?)
}
