//! The data layer: one connection type over SQLite and PostgreSQL, pooled with
//! r2d2, embedded migrations per backend, and the few statements that differ.

pub mod schema;

/// The keyset every list pages by: newest first on `(at, id)`, after
/// `cursor`, fetching one row more than `limit` to know whether a next page
/// exists. The filter is `at <= c.at AND (at < c.at OR id < c.id)`: its first
/// conjunct bounds the index range on both backends (a bare OR made SQLite
/// walk the index from the top, so deep pages got slower).
macro_rules! newest_first {
    ($query:expr, $at:expr, $id:expr, $cursor:expr, $limit:expr) => {{
        let mut query = $query;
        if let Some(cursor) = $cursor {
            query = query.filter(
                $at.le(cursor.at)
                    .and($at.lt(cursor.at).or($id.lt(cursor.id.clone()))),
            );
        }
        query.order(($at.desc(), $id.desc())).limit($limit + 1)
    }};
}

/// Runs `$body` with `$conn` bound to the concrete connection. Diesel's
/// multi-row inserts exist for each backend but not through
/// `MultiConnection`, so the set-based writers (`Staged`) use this. So do
/// the hot reads (the caller and target of a request): through
/// `MultiConnection` Diesel writes a statement's SQL text on every run to
/// find its prepared statement (a seventh of a `GET /v1/users/{id}`'s
/// CPU); on the concrete connection a static query is found by its type.
macro_rules! on_backend {
    ($conn:expr, |$backend:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgres($backend) => $body,
            $crate::db::DbConnection::Sqlite($backend) => $body,
        }
    };
}

/// Rows per multi-row insert: well under both backends' limits on bound
/// parameters (SQLite's is 32,766).
pub(crate) const ROWS_PER_INSERT: usize = 1_000;

/// Inserts a slice of rows into a table in a few statements, a thousand
/// rows each; evaluates to a `QueryResult<()>`. A multi-row insert needs
/// the concrete connection, hence a macro over [`on_backend!`].
macro_rules! insert_in_chunks {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let conn: &mut $crate::db::DbConnection = $conn;
        $rows
            .chunks($crate::db::ROWS_PER_INSERT)
            .try_for_each(|chunk| -> diesel::QueryResult<()> {
                on_backend!(&mut *conn, |backend| diesel::insert_into($table)
                    .values(chunk)
                    .execute(backend))?;
                Ok(())
            })
    }};
}

pub mod action_tokens;
pub mod api_clients;
pub mod audit;
pub mod customers;
pub mod events;
pub mod groups;
pub mod idempotency;
pub mod imports;
pub mod memberships;
pub mod outbox;
pub mod refresh_tokens;
pub mod scim;
pub mod signing_keys;
pub mod types;
pub mod users;
pub mod webhooks;

use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::is_postgres_url;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

pub type Pool = r2d2::Pool<Manager>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn of_url(url: &str) -> Backend {
        if is_postgres_url(url) {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] ConnectionError),
    #[error("cannot prepare the database: {0}")]
    Prepare(#[from] diesel::result::Error),
    #[error("cannot build the connection pool: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("migrations failed: {0}")]
    Migrate(String),
}

/// Connects straight to the backend the URL names, so a bad URL or password
/// surfaces its real message (the derived `establish` hides it).
#[derive(Debug, Clone)]
pub struct Manager {
    url: String,
    backend: Backend,
    busy_timeout: Duration,
}

impl Manager {
    pub fn new(url: &str, busy_timeout: Duration) -> Self {
        let url = url.strip_prefix("sqlite://").unwrap_or(url).to_string();
        Manager {
            backend: Backend::of_url(&url),
            url,
            busy_timeout,
        }
    }

    fn establish(&self) -> Result<DbConnection, ConnectionError> {
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.url).map(DbConnection::Postgres),
            Backend::Sqlite => {
                let mut conn = SqliteConnection::establish(&self.url)?;
                // WAL is set once by `prepare`; these are per connection.
                // The page cache is 512 KiB a connection (SQLite's default is
                // 2 MiB): the hot pages fit, the rest is in the OS's cache,
                // and a pool no longer fills 32 MiB over many minutes.
                conn.batch_execute(&format!(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}; PRAGMA synchronous = NORMAL; PRAGMA cache_size = -512;",
                    self.busy_timeout.as_millis()
                ))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

/// A connection that was used moment ago is not pinged again on check-out:
/// a `SELECT 1` per request would double the round trips of a simple read.
const TRUSTED_AFTER_USE: Duration = Duration::from_secs(1);

/// A pooled connection with what the pool needs to judge it without asking
/// the server: when it was last handed back, and whether a query on it found
/// the server gone.
pub struct PooledConnection {
    conn: DbConnection,
    returned_at: Option<Instant>,
    lost: bool,
}

impl Deref for PooledConnection {
    type Target = DbConnection;

    fn deref(&self) -> &DbConnection {
        &self.conn
    }
}

impl DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut DbConnection {
        &mut self.conn
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = PooledConnection;
    type Error = ConnectionError;

    fn connect(&self) -> Result<PooledConnection, ConnectionError> {
        Ok(PooledConnection {
            conn: self.establish()?,
            returned_at: None,
            lost: false,
        })
    }

    fn is_valid(&self, conn: &mut PooledConnection) -> Result<(), ConnectionError> {
        let recently_used = conn
            .returned_at
            .is_some_and(|at| at.elapsed() < TRUSTED_AFTER_USE);
        if recently_used {
            return Ok(());
        }
        conn.batch_execute("SELECT 1")
            .map_err(ConnectionError::CouldntSetupConfiguration)
    }

    /// Called as the connection goes back to the pool.
    fn has_broken(&self, conn: &mut PooledConnection) -> bool {
        conn.returned_at = Some(Instant::now());
        conn.lost
            || <DbConnection as Connection>::TransactionManager::is_broken_transaction_manager(
                &mut conn.conn,
            )
    }
}

/// Connects once (failing fast with the real error), sets SQLite's WAL mode,
/// runs migrations when asked, and builds the pool.
pub struct PoolOptions {
    pub size: u32,
    /// How long a request waits for a connection before it is a 503.
    pub timeout: Duration,
    /// SQLite: how long a writer waits for the lock before it is a 503.
    pub busy_timeout: Duration,
}

pub fn connect(url: &str, options: &PoolOptions, migrate: bool) -> Result<Pool, DbSetupError> {
    let manager = Manager::new(url, options.busy_timeout);
    let mut first = manager.establish()?;
    if let DbConnection::Sqlite(conn) = &mut first {
        conn.batch_execute("PRAGMA journal_mode = WAL;")?;
    }
    if migrate {
        run_migrations(&mut first)?;
    }
    drop(first);
    let pool = r2d2::Pool::builder()
        .max_size(options.size)
        .min_idle(Some(options.size.min(2)))
        .connection_timeout(options.timeout)
        .build(manager)?;
    Ok(pool)
}

pub fn run_migrations(conn: &mut DbConnection) -> Result<usize, DbSetupError> {
    let applied = match conn {
        DbConnection::Postgres(pg) => pg.run_pending_migrations(POSTGRES_MIGRATIONS),
        DbConnection::Sqlite(lite) => lite.run_pending_migrations(SQLITE_MIGRATIONS),
    }
    .map_err(|e| DbSetupError::Migrate(e.to_string()))?;
    Ok(applied.len())
}

/// Runs `work` in a transaction that holds the write lock from its start.
///
/// SQLite's default deferred transactions fail with SQLITE_BUSY when two of
/// them upgrade from reading to writing at once, so writes begin IMMEDIATE.
/// PostgreSQL takes row locks as it goes (see `customers::lock`).
pub fn write_transaction<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let deferred = Deferred::open();
    match conn {
        DbConnection::Sqlite(lite) => {
            AnsiTransactionManager::begin_transaction_sql(lite, "BEGIN IMMEDIATE")?
        }
        DbConnection::Postgres(_) => {
            <DbConnection as Connection>::TransactionManager::begin_transaction(conn)?
        }
    }
    let done = work(conn).and_then(|value| {
        deferred.run(conn)?;
        Ok(value)
    });
    match done {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(err) => {
            match <DbConnection as Connection>::TransactionManager::rollback_transaction(conn) {
                Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(err),
                Err(rollback) => Err(rollback.into()),
            }
        }
    }
}

/// Rows a write transaction writes at its very end, all of a kind together
/// (see [`stage`]).
pub trait Staged: Sized + 'static {
    /// Writes the rows of this kind one transaction staged, in the order it
    /// staged them: in a few statements, however many there are.
    fn write_all(conn: &mut DbConnection, rows: Vec<Self>) -> QueryResult<()>;
}

type WriteAll = fn(&mut DbConnection, Vec<Box<dyn Any>>) -> QueryResult<()>;

/// One staged row, with the writer of its kind.
struct StagedRow {
    kind: TypeId,
    row: Box<dyn Any>,
    write_all: WriteAll,
}

/// The staged rows of one kind, in the order they were staged.
struct StagedKind {
    kind: TypeId,
    write_all: WriteAll,
    rows: Vec<Box<dyn Any>>,
}

/// The write transaction running on this thread: its number, the rows it
/// staged, and the locks it already holds (see [`hold_once`]).
struct Pending {
    id: u64,
    staged: Vec<StagedRow>,
    held: Vec<&'static str>,
}

thread_local! {
    static DEFERRED: RefCell<Option<Pending>> = const { RefCell::new(None) };
}

/// Numbers write transactions, so per-transaction memos can tell them apart.
static TRANSACTIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The number of the write transaction running on this thread, if one is.
pub fn write_transaction_id() -> Option<u64> {
    DEFERRED.with_borrow(|deferred| deferred.as_ref().map(|pending| pending.id))
}

/// Takes a transaction-scoped lock named `name` with `take`, once per write
/// transaction (outside one, every time). Only for locks taken at the top
/// level of the transaction (rows written by [`stage`] are): a savepoint
/// rolled back would release the lock but not this memory of it.
pub fn hold_once(
    conn: &mut DbConnection,
    name: &'static str,
    take: impl FnOnce(&mut DbConnection) -> QueryResult<()>,
) -> QueryResult<()> {
    let held = DEFERRED.with_borrow(|deferred| {
        deferred
            .as_ref()
            .is_some_and(|pending| pending.held.contains(&name))
    });
    if held {
        return Ok(());
    }
    take(conn)?;
    DEFERRED.with_borrow_mut(|deferred| {
        if let Some(pending) = deferred {
            pending.held.push(name);
        }
    });
    Ok(())
}

/// Writes `row` at the end of the write transaction running on this thread,
/// after everything else it does and just before it commits, together with
/// every other row of its kind the transaction staged; outside one (a
/// read), writes it now.
///
/// Audit rows and events are written this way. An import's batch stages
/// thousands, and writes them in a few statements instead of one or two
/// each. And on PostgreSQL an event takes the lock that keeps the feed in
/// commit order: a transaction that holds it must not then wait for a row
/// lock, or it can deadlock with one that holds the row and waits for the
/// event lock.
pub fn stage<T: Staged>(conn: &mut DbConnection, row: T) -> QueryResult<()> {
    let staged = StagedRow {
        kind: TypeId::of::<T>(),
        row: Box::new(row),
        write_all: write_boxed::<T>,
    };
    let now = DEFERRED.with_borrow_mut(|deferred| match deferred {
        Some(pending) => {
            pending.staged.push(staged);
            None
        }
        None => Some(staged),
    });
    match now {
        Some(staged) => (staged.write_all)(conn, vec![staged.row]),
        None => Ok(()),
    }
}

fn write_boxed<T: Staged>(conn: &mut DbConnection, rows: Vec<Box<dyn Any>>) -> QueryResult<()> {
    let rows = rows
        .into_iter()
        .filter_map(|row| row.downcast::<T>().ok())
        .map(|row| *row)
        .collect();
    T::write_all(conn, rows)
}

/// Runs `work` with PostgreSQL planning each of its statements for the
/// values it is given, instead of reusing a plan made once for all values.
///
/// For reads of tables that grow fast (an import's lookups): a plan cached
/// while a table was small stays in use until the table's statistics are
/// next gathered, and a scan that suited a hundred rows then reads every
/// one of a hundred thousand, batch after batch. Only around such reads:
/// the foreign-key checks of inserts use cached plans too, and planning
/// those for every row costs more than it saves.
pub fn planned_for_their_values<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let set = |conn: &mut DbConnection, mode: &str| match conn {
        DbConnection::Postgres(pg) => {
            pg.batch_execute(&format!("SET LOCAL plan_cache_mode = {mode}"))
        }
        DbConnection::Sqlite(_) => Ok(()),
    };
    set(conn, "force_custom_plan")?;
    let done = work(conn)?;
    set(conn, "auto")?;
    Ok(done)
}

/// Runs `work` in a savepoint of the transaction under way: when it fails,
/// its changes are rolled back and so are the rows it staged.
pub fn savepoint<T, E>(
    conn: &mut DbConnection,
    work: impl FnOnce(&mut DbConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<diesel::result::Error>,
{
    let mark = DEFERRED.with_borrow(|deferred| deferred.as_ref().map(|p| p.staged.len()));
    let done = conn.transaction(work);
    if let (Err(_), Some(mark)) = (&done, mark) {
        DEFERRED.with_borrow_mut(|deferred| {
            if let Some(pending) = deferred {
                pending.staged.truncate(mark);
            }
        });
    }
    done
}

/// The staged rows of one write transaction; dropped (whatever happened)
/// when the transaction ends.
struct Deferred {
    owner: bool,
}

impl Deferred {
    fn open() -> Self {
        let owner = DEFERRED.with_borrow_mut(|deferred| {
            let free = deferred.is_none();
            if free {
                *deferred = Some(Pending {
                    id: TRANSACTIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                    staged: Vec::new(),
                    held: Vec::new(),
                });
            }
            free
        });
        Deferred { owner }
    }

    /// Writes the staged rows, a kind at a time in the order each kind was
    /// first staged, including rows staged while writing; an inner
    /// transaction leaves them to the outer one.
    fn run(&self, conn: &mut DbConnection) -> QueryResult<()> {
        if !self.owner {
            return Ok(());
        }
        loop {
            let staged = DEFERRED.with_borrow_mut(|deferred| {
                deferred
                    .as_mut()
                    .map(|pending| std::mem::take(&mut pending.staged))
                    .unwrap_or_default()
            });
            if staged.is_empty() {
                return Ok(());
            }
            let mut kinds: Vec<StagedKind> = Vec::new();
            for StagedRow {
                kind,
                row,
                write_all,
            } in staged
            {
                match kinds.iter_mut().find(|known| known.kind == kind) {
                    Some(known) => known.rows.push(row),
                    None => kinds.push(StagedKind {
                        kind,
                        write_all,
                        rows: vec![row],
                    }),
                }
            }
            for StagedKind {
                write_all, rows, ..
            } in kinds
            {
                write_all(conn, rows)?;
            }
        }
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        if self.owner {
            DEFERRED.with_borrow_mut(|deferred| *deferred = None);
        }
    }
}

/// What can go wrong with the database, as its callers need to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The server cannot be reached, went away, or is busy past its
    /// timeout: worth retrying shortly.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A statement failed for any other reason (a bug or a broken invariant).
    #[error("database error: {0}")]
    Query(diesel::result::Error),
    /// The blocking task running the work panicked or was cancelled.
    #[error("database task failed: {0}")]
    Task(String),
}

impl From<diesel::result::Error> for DbError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        let lost = match &err {
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => true,
            // SQLite reports a writer that held the lock past busy_timeout this way.
            Error::DatabaseError(_, info) => {
                info.message().contains("database is locked") || is_connection_loss(info.message())
            }
            _ => false,
        };
        if lost {
            DbError::Unavailable(err.to_string())
        } else {
            DbError::Query(err)
        }
    }
}

impl From<r2d2::Error> for DbError {
    fn from(err: r2d2::Error) -> Self {
        DbError::Unavailable(err.to_string())
    }
}

/// PostgreSQL's words for a connection that died under a statement.
fn is_connection_loss(message: &str) -> bool {
    const SIGNS: [&str; 5] = [
        "server closed the connection",
        "terminating connection",
        "connection to server",
        "no connection to the server",
        "could not receive data",
    ];
    SIGNS.iter().any(|sign| message.contains(sign))
}

/// The error type of work run through [`Db`]: it can carry a [`DbError`],
/// and says whether the connection was lost (so it is never reused).
pub trait DbFailure: From<DbError> + Send + 'static {
    fn connection_lost(&self) -> bool;
}

impl DbFailure for DbError {
    fn connection_lost(&self) -> bool {
        matches!(self, DbError::Unavailable(_))
    }
}

/// The pool, handed to handlers; every query runs off the async workers.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
}

impl Db {
    pub fn new(pool: Pool) -> Self {
        Db { pool }
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Runs `work` with a pooled connection on the blocking thread pool.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: DbFailure,
    {
        let pool = self.pool.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            let result = work(&mut conn);
            // The server went away under this connection: never reuse it.
            if result.as_ref().is_err_and(DbFailure::connection_lost) {
                conn.lost = true;
            }
            result
        })
        .await
        .map_err(|err| DbError::Task(err.to_string()))?
    }

    /// Like `run`, inside a write transaction.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: DbFailure + From<diesel::result::Error>,
    {
        self.run(move |conn| write_transaction(conn, work)).await
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.run(|conn| Ok(conn.batch_execute("SELECT 1")?)).await
    }
}

/// True when `err` is a unique-constraint violation (a lost race for a key).
pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// A fresh, time-ordered id (UUIDv7): new rows land at the right of indexes.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use diesel::result::{DatabaseErrorKind, Error};

    use super::*;

    fn database_error(kind: DatabaseErrorKind, message: &str) -> DbError {
        Error::DatabaseError(kind, Box::new(message.to_string())).into()
    }

    #[test]
    fn a_lost_or_busy_server_is_unavailable() {
        for (kind, message) in [
            (DatabaseErrorKind::ClosedConnection, "closed"),
            (DatabaseErrorKind::UnableToSendCommand, "broken pipe"),
            (
                DatabaseErrorKind::Unknown,
                "server closed the connection unexpectedly",
            ),
            (
                DatabaseErrorKind::Unknown,
                "terminating connection due to administrator command",
            ),
            (DatabaseErrorKind::Unknown, "database is locked"),
        ] {
            let err = database_error(kind, message);
            assert!(err.connection_lost(), "{message}: {err:?}");
        }
    }

    #[test]
    fn a_failed_statement_is_not_a_lost_connection() {
        for (kind, message) in [
            (DatabaseErrorKind::UniqueViolation, "duplicate key"),
            (
                DatabaseErrorKind::ForeignKeyViolation,
                "violates foreign key",
            ),
            (DatabaseErrorKind::Unknown, "syntax error at or near"),
        ] {
            let err = database_error(kind, message);
            assert!(matches!(err, DbError::Query(_)), "{message}: {err:?}");
        }
        assert!(matches!(DbError::from(Error::NotFound), DbError::Query(_)));
    }
}
