//! Bulk user imports: the job and the rows of its file.

use diesel::prelude::*;
use time::PrimitiveDateTime;

use super::schema::{user_import_rows, user_imports};
use super::DbConnection;

/// A job's state.
pub const QUEUED: &str = "queued";
pub const RUNNING: &str = "running";
pub const COMPLETED: &str = "completed";
pub const FAILED: &str = "failed";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_imports)]
pub struct ImportRow {
    pub id: String,
    pub customer_id: String,
    pub status: String,
    pub dry_run: bool,
    pub send_invites: bool,
    pub total_rows: i32,
    pub processed_rows: i32,
    pub last_row: i32,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub failed: i32,
    pub seats_planned: i32,
    pub started_by: String,
    pub created_at: PrimitiveDateTime,
    pub started_at: Option<PrimitiveDateTime>,
    pub finished_at: Option<PrimitiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = user_import_rows)]
pub struct FileRow {
    pub import_id: String,
    pub row_number: i32,
    pub email: Option<String>,
    pub data: String,
    pub error_field: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// What one batch did, added to the job's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub processed: i32,
    pub last_row: i32,
    pub created: i32,
    pub updated: i32,
    pub unchanged: i32,
    pub failed: i32,
    pub seats_planned: i32,
}

pub fn insert(conn: &mut DbConnection, job: &ImportRow) -> QueryResult<()> {
    diesel::insert_into(user_imports::table)
        .values(job)
        .execute(conn)
        .map(drop)
}

/// Stores rows of the file (a chunk at a time: a statement has a bounded
/// number of parameters).
pub fn insert_rows(conn: &mut DbConnection, rows: &[FileRow]) -> QueryResult<()> {
    for chunk in rows.chunks(500) {
        let insert = diesel::insert_into(user_import_rows::table).values(chunk);
        match conn {
            DbConnection::Postgres(pg) => insert.execute(pg)?,
            DbConnection::Sqlite(lite) => insert.execute(lite)?,
        };
    }
    Ok(())
}

pub fn set_total(conn: &mut DbConnection, id: &str, total: i32) -> QueryResult<()> {
    diesel::update(user_imports::table.find(id))
        .set(user_imports::total_rows.eq(total))
        .execute(conn)
        .map(drop)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ImportRow>> {
    user_imports::table
        .find(id)
        .select(ImportRow::as_select())
        .first(conn)
        .optional()
}

/// The job, locked until the transaction ends (on PostgreSQL; a SQLite
/// write transaction already excludes every other writer).
pub fn lock(conn: &mut DbConnection, id: &str) -> QueryResult<Option<ImportRow>> {
    match conn {
        DbConnection::Postgres(pg) => user_imports::table
            .find(id)
            .select(ImportRow::as_select())
            .for_update()
            .first(pg)
            .optional(),
        DbConnection::Sqlite(_) => find(conn, id),
    }
}

/// The next `limit` rows after row `after`.
pub fn rows_after(
    conn: &mut DbConnection,
    id: &str,
    after: i32,
    limit: i64,
) -> QueryResult<Vec<FileRow>> {
    user_import_rows::table
        .filter(user_import_rows::import_id.eq(id))
        .filter(user_import_rows::row_number.gt(after))
        .order(user_import_rows::row_number.asc())
        .limit(limit)
        .select(FileRow::as_select())
        .load(conn)
}

/// Records why a row failed while the job ran.
pub fn fail_row(
    conn: &mut DbConnection,
    id: &str,
    row_number: i32,
    (field, code, message): (&str, &str, &str),
) -> QueryResult<()> {
    diesel::update(user_import_rows::table.find((id, row_number)))
        .set((
            user_import_rows::error_field.eq(field),
            user_import_rows::error_code.eq(code),
            user_import_rows::error_message.eq(message),
        ))
        .execute(conn)
        .map(drop)
}

pub fn start(conn: &mut DbConnection, id: &str, now: PrimitiveDateTime) -> QueryResult<()> {
    diesel::update(
        user_imports::table
            .find(id)
            .filter(user_imports::status.eq(QUEUED)),
    )
    .set((
        user_imports::status.eq(RUNNING),
        user_imports::started_at.eq(now),
    ))
    .execute(conn)
    .map(drop)
}

/// Adds a batch's counts to the job's and moves its progress past it.
pub fn record(conn: &mut DbConnection, id: &str, tally: &Tally) -> QueryResult<()> {
    use user_imports as t;
    diesel::update(t::table.find(id))
        .set((
            t::processed_rows.eq(t::processed_rows + tally.processed),
            t::last_row.eq(tally.last_row),
            t::created.eq(t::created + tally.created),
            t::updated.eq(t::updated + tally.updated),
            t::unchanged.eq(t::unchanged + tally.unchanged),
            t::failed.eq(t::failed + tally.failed),
            t::seats_planned.eq(t::seats_planned + tally.seats_planned),
        ))
        .execute(conn)
        .map(drop)
}

pub fn finish(
    conn: &mut DbConnection,
    id: &str,
    status: &str,
    now: PrimitiveDateTime,
) -> QueryResult<()> {
    diesel::update(user_imports::table.find(id))
        .set((
            user_imports::status.eq(status),
            user_imports::finished_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// The job's failed rows up to row `through`, by row number, after `after`.
pub fn errors(
    conn: &mut DbConnection,
    id: &str,
    through: i32,
    after: i32,
    limit: i64,
) -> QueryResult<Vec<FileRow>> {
    user_import_rows::table
        .filter(user_import_rows::import_id.eq(id))
        .filter(user_import_rows::error_code.is_not_null())
        .filter(user_import_rows::row_number.gt(after))
        .filter(user_import_rows::row_number.le(through))
        .order(user_import_rows::row_number.asc())
        .limit(limit + 1)
        .select(FileRow::as_select())
        .load(conn)
}
