//! Keeps SQLite's write-ahead log bounded under a steady load.
//!
//! SQLite's automatic checkpoint is passive: it copies what it can into the
//! database and starts the WAL over only when no reader is using it at that
//! moment. Under a load where some read is always running (the soak in
//! BENCHMARKS.md), that moment never comes and the WAL file grows in steps
//! without end. Every [`CHECKPOINT_INTERVAL`] this job runs a `TRUNCATE`
//! checkpoint, which waits up to [`CHECKPOINT_WAIT`] for the readers of
//! the moment to finish (holding new writers back meanwhile) and then empties
//! the file. When it cannot, the next round tries again. PostgreSQL needs
//! none of this: the job ends at once.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::sql_types::Integer;
use diesel::{QueryableByName, RunQueryDsl, SqliteConnection};

use crate::db::{Db, DbConnection};
use crate::error::ApiError;

pub const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(30);
/// The longest a checkpoint waits for readers, and so holds writers back.
pub const CHECKPOINT_WAIT: Duration = Duration::from_millis(250);

/// What `PRAGMA wal_checkpoint` answers.
#[derive(Debug, QueryableByName)]
pub struct Checkpoint {
    /// 1 when readers or writers kept it from completing.
    #[diesel(sql_type = Integer)]
    pub busy: i32,
    /// Frames in the WAL before it was emptied.
    #[diesel(sql_type = Integer)]
    pub log: i32,
    /// Frames copied into the database.
    #[diesel(sql_type = Integer)]
    pub checkpointed: i32,
}

/// Checkpoints every [`CHECKPOINT_INTERVAL`] until `stopped` turns true.
/// `busy_timeout` is the pool's own, restored after each checkpoint.
pub fn spawn(
    db: Db,
    busy_timeout: Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(CHECKPOINT_INTERVAL) => {}
                _ = stopped.changed() => break,
            }
            match db.run(move |conn| truncate(conn, busy_timeout)).await {
                Ok(None) => break,
                Ok(Some(done)) if done.busy != 0 => {
                    tracing::debug!(frames = done.log, "WAL checkpoint put off: readers busy")
                }
                Ok(Some(done)) => tracing::debug!(
                    frames = done.log,
                    copied = done.checkpointed,
                    "WAL checkpointed and emptied"
                ),
                Err(err) => tracing::warn!(
                    error = %crate::request_log::bounded(&err.to_string()),
                    "WAL checkpoint failed; trying again later"
                ),
            }
        }
    })
}

/// A `TRUNCATE` checkpoint on SQLite; `None` on PostgreSQL.
pub fn truncate(
    conn: &mut DbConnection,
    busy_timeout: Duration,
) -> Result<Option<Checkpoint>, ApiError> {
    let DbConnection::Sqlite(lite) = conn else {
        return Ok(None);
    };
    lite.batch_execute(&format!(
        "PRAGMA busy_timeout = {};",
        CHECKPOINT_WAIT.as_millis()
    ))?;
    let done = checkpoint(lite);
    lite.batch_execute(&format!(
        "PRAGMA busy_timeout = {};",
        busy_timeout.as_millis()
    ))?;
    Ok(Some(done?))
}

fn checkpoint(lite: &mut SqliteConnection) -> Result<Checkpoint, ApiError> {
    Ok(diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)").get_result(lite)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_truncate_checkpoint_empties_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("roster.db");
        let options = crate::db::PoolOptions {
            size: 2,
            timeout: Duration::from_secs(5),
            busy_timeout: Duration::from_secs(5),
        };
        let pool = crate::db::connect(path.to_str().unwrap(), &options, true).unwrap();
        let mut pooled = pool.get().unwrap();
        let conn: &mut DbConnection = &mut pooled;
        conn.batch_execute(
            "CREATE TABLE filler (x TEXT); INSERT INTO filler VALUES (hex(randomblob(100000)));",
        )
        .unwrap();
        let wal = dir.path().join("roster.db-wal");
        assert!(std::fs::metadata(&wal).unwrap().len() > 100_000);
        let done = truncate(conn, Duration::from_secs(5)).unwrap().unwrap();
        assert_eq!(done.busy, 0, "{done:?}");
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0, "{done:?}");
    }
}
