//! Events (`service::events`): one row per change worth telling, written in
//! the change's transaction, with the customers it belongs to.

use std::collections::{BTreeSet, HashMap};

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::{event_customers, events};
use super::DbConnection;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub seq: i64,
    pub id: String,
    pub event_type: String,
    pub occurred_at: PrimitiveDateTime,
    pub user_id: Option<String>,
    pub endpoint_id: Option<String>,
    /// The JSON body delivered and listed.
    pub payload: String,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub struct NewEvent<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    pub occurred_at: PrimitiveDateTime,
    pub user_id: Option<&'a str>,
    pub endpoint_id: Option<&'a str>,
    pub payload: &'a str,
}

/// An arbitrary constant: the lock that serialises event writers.
const EVENT_WRITERS_LOCK: i64 = 0x726f_7374_6576;

/// Inserts one event (see [`insert_all`]); returns its `seq`.
pub fn insert(
    conn: &mut DbConnection,
    event: NewEvent,
    customers: &BTreeSet<String>,
) -> QueryResult<i64> {
    let seqs = insert_all(conn, &[(event, customers)])?;
    seqs.first().copied().ok_or(diesel::result::Error::NotFound)
}

/// Inserts events, each with the customers it belongs to, in a few
/// statements; returns their `seq`s, in the order given.
///
/// The feed is read by `seq`, so `seq` must follow commit order. SQLite
/// has one writer at a time; on PostgreSQL the writer takes a lock held
/// until its transaction ends, so a later `seq` cannot commit first and
/// be read (and passed by a consumer's cursor) before an earlier one. The
/// lock is taken once per transaction, however many events it writes.
pub fn insert_all(
    conn: &mut DbConnection,
    new_events: &[(NewEvent, &BTreeSet<String>)],
) -> QueryResult<Vec<i64>> {
    if matches!(conn, DbConnection::Postgres(_)) {
        super::hold_once(conn, "event writers", |conn| {
            let DbConnection::Postgres(pg) = conn else {
                return Ok(());
            };
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<diesel::sql_types::BigInt, _>(EVENT_WRITERS_LOCK)
                .execute(pg)
                .map(drop)
        })?;
    }
    let mut seqs = Vec::with_capacity(new_events.len());
    for chunk in new_events.chunks(super::ROWS_PER_INSERT) {
        let rows: Vec<&NewEvent> = chunk.iter().map(|(event, _)| event).collect();
        let written: HashMap<String, i64> = on_backend!(&mut *conn, |backend| {
            diesel::insert_into(events::table)
                .values(rows)
                .returning((events::id, events::seq))
                .get_results::<(String, i64)>(backend)
        })?
        .into_iter()
        .collect();
        let chunk_seqs: Vec<i64> = chunk
            .iter()
            .map(|(event, _)| written.get(event.id).copied())
            .collect::<Option<_>>()
            .ok_or(diesel::result::Error::NotFound)?;
        let belongs: Vec<_> = chunk
            .iter()
            .zip(&chunk_seqs)
            .flat_map(|((_, customers), seq)| {
                customers.iter().map(move |customer_id| {
                    (
                        event_customers::event_seq.eq(*seq),
                        event_customers::customer_id.eq(customer_id),
                    )
                })
            })
            .collect();
        insert_in_chunks!(&mut *conn, event_customers::table, belongs)?;
        seqs.extend(chunk_seqs);
    }
    Ok(seqs)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<EventRow>> {
    events::table
        .filter(events::id.eq(id))
        .select(EventRow::as_select())
        .first(conn)
        .optional()
}

/// What the feed lists.
pub struct FeedFilter {
    /// Events after this one (by `seq`); none for the oldest kept.
    pub after_seq: Option<i64>,
    /// Only these types; empty for all.
    pub types: Vec<String>,
    /// Only events of these customers; `None` for all (platform admins).
    pub customers: Option<BTreeSet<String>>,
}

/// Up to `limit` feed events, oldest first (pings are never in the feed).
pub fn feed(
    conn: &mut DbConnection,
    filter: &FeedFilter,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    let mut query = events::table
        .filter(events::endpoint_id.is_null())
        .select(EventRow::as_select())
        .into_boxed();
    if let Some(after) = filter.after_seq {
        query = query.filter(events::seq.gt(after));
    }
    if !filter.types.is_empty() {
        query = query.filter(events::event_type.eq_any(filter.types.clone()));
    }
    if let Some(customers) = &filter.customers {
        let customers: Vec<String> = customers.iter().cloned().collect();
        query = query.filter(
            events::seq.eq_any(
                event_customers::table
                    .filter(event_customers::customer_id.eq_any(customers))
                    .select(event_customers::event_seq),
            ),
        );
    }
    query.order(events::seq.asc()).limit(limit).load(conn)
}

/// The customers an event belongs to.
pub fn customers_of(conn: &mut DbConnection, seq: i64) -> QueryResult<Vec<String>> {
    event_customers::table
        .filter(event_customers::event_seq.eq(seq))
        .select(event_customers::customer_id)
        .load(conn)
}

/// Removes events that occurred before `cutoff`; returns how many.
pub fn prune(conn: &mut DbConnection, cutoff: PrimitiveDateTime) -> QueryResult<usize> {
    let old = events::table
        .filter(events::occurred_at.lt(cutoff))
        .select(events::seq);
    diesel::delete(event_customers::table.filter(event_customers::event_seq.eq_any(old)))
        .execute(conn)?;
    diesel::delete(events::table.filter(events::occurred_at.lt(cutoff))).execute(conn)
}
