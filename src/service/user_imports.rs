//! Bulk import and export of a customer's users (docs/api.md, "Bulk import
//! and export").
//!
//! An upload is parsed and checked at once into stored rows (bad rows are
//! row errors, not a refused file), and the job waits in the outbox's request
//! lane. Each claim of it runs batches of rows, one transaction each, that
//! re-read the job's progress under its lock and commit the progress with
//! the batch: an interrupted job resumes after its last committed batch, and
//! two instances never run the same batch. Every row goes through the REST
//! API's use cases (`service::members`, `service::users`), so seats, audit,
//! events and emails are the same; the actor is the admin who uploaded the
//! file, with the upload's request id.
//!
//! A dry run runs each batch the same way inside a savepoint it then rolls
//! back, so it reports exactly what would happen; the seats its earlier
//! batches would have taken are counted in before each batch.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use time::PrimitiveDateTime;

use crate::db::groups as group_rows;
use crate::db::imports::{self, FileRow, ImportRow as JobRow, Tally};
use crate::db::memberships::{self, MembershipRow};
use crate::db::schema::{memberships as memberships_t, users as users_t};
use crate::db::users::{UserFilter, UserRow};
use crate::db::{customers, outbox, savepoint, DbConnection};
use crate::domain::email::{normalize, EmailAddress};
use crate::domain::imports::{
    parse, FileError, Format, ImportRow, ParsedRow, RowError, COLUMNS, EXPORT_ONLY_COLUMNS,
    GROUP_SEPARATOR,
};
use crate::domain::lifecycle::Standing;
use crate::domain::pagination::{Cursor, Page, PageRequest};
use crate::domain::permissions::{Actor, ActorKind};
use crate::email::{self, RequestKind};
use crate::error::{ApiError, ErrorCode};
use crate::service::audit::AuditContext;
use crate::service::customers::administered;
use crate::service::groups;
use crate::service::members::{self, AddUser, MembershipEdit};
use crate::service::users::{self, ProfileEdit};
use crate::state::AppState;

/// Rows per batch (one transaction each).
pub const BATCH_ROWS: i64 = 500;
/// How long one claim of a job keeps running batches before it hands the
/// job back to the outbox (well inside any lease).
const CLAIM_BUDGET: Duration = Duration::from_secs(2);
/// Rows the upload stores per statement batch.
const STORE_CHUNK: usize = 1000;

/// An upload to start a job from.
pub struct Upload {
    pub customer_id: String,
    pub format: Format,
    pub body: Vec<u8>,
    pub dry_run: bool,
    pub send_invites: bool,
}

/// Checks the caller may import into the customer, stores the file's rows
/// and queues the job.
pub async fn start(
    state: &AppState,
    actor: &Actor,
    context: AuditContext,
    upload: Upload,
) -> Result<JobRow, ApiError> {
    let actor = actor.clone();
    state
        .write(move |conn, state| start_in(conn, state, &actor, &context, upload))
        .await
}

fn start_in(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    upload: Upload,
) -> Result<JobRow, ApiError> {
    administered(conn, actor, &upload.customer_id)?;
    let now = state.clock.now_db();
    let mut job = JobRow {
        id: crate::db::new_id(),
        customer_id: upload.customer_id.clone(),
        status: imports::QUEUED.into(),
        dry_run: upload.dry_run,
        send_invites: upload.send_invites,
        total_rows: 0,
        processed_rows: 0,
        last_row: 0,
        created: 0,
        updated: 0,
        unchanged: 0,
        failed: 0,
        seats_planned: 0,
        started_by: StartedBy::new(actor, context).to_json()?,
        created_at: now,
        started_at: None,
        finished_at: None,
    };
    imports::insert(conn, &job)?;
    let mut pending = Vec::with_capacity(STORE_CHUNK);
    let read = parse(upload.format, &upload.body, |parsed| {
        pending.push(stored_row(&job.id, parsed));
        if pending.len() >= STORE_CHUNK {
            imports::insert_rows(conn, &pending)?;
            pending.clear();
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    let total = read.map_err(refused)?;
    imports::insert_rows(conn, &pending)?;
    imports::set_total(conn, &job.id, total)?;
    job.total_rows = total;
    email::enqueue_request(conn, RequestKind::UserImport, job.id.clone(), now)?;
    Ok(job)
}

fn refused(error: FileError) -> ApiError {
    let (field, message) = error.describe();
    ApiError::invalid(field, message)
}

fn stored_row(import_id: &str, parsed: ParsedRow) -> FileRow {
    let ParsedRow { number, email, row } = parsed;
    let (data, error) = match row {
        Ok(row) => (serde_json::to_string(&row).unwrap_or_default(), None),
        Err(error) => (String::new(), Some(error)),
    };
    FileRow {
        import_id: import_id.to_string(),
        row_number: number,
        email: email.map(|e| e.chars().take(320).collect()),
        data,
        error_field: error.as_ref().map(|e| e.field.clone()),
        error_code: error.as_ref().map(|e| e.code.clone()),
        error_message: error.map(|e| e.message),
    }
}

/// Who started a job: the actor (whose rights every row is checked
/// against) and the audit context of the upload (the CLI's is the service
/// itself).
#[derive(Debug, Serialize, Deserialize)]
struct StartedBy {
    actor_user_id: Option<String>,
    actor_client_id: Option<String>,
    platform_admin: bool,
    member_of: BTreeSet<String>,
    admin_of: BTreeSet<String>,
    audit_user_id: Option<String>,
    audit_client_id: Option<String>,
    audit_label: String,
    request_id: Option<String>,
    client_ip: Option<IpAddr>,
    requester_name: Option<String>,
    acting_for: Option<BTreeSet<String>>,
}

impl StartedBy {
    fn new(actor: &Actor, context: &AuditContext) -> Self {
        StartedBy {
            actor_user_id: actor.user_id().map(str::to_string),
            actor_client_id: actor.client_id().map(str::to_string),
            platform_admin: actor.platform_admin,
            member_of: actor.member_of.clone(),
            admin_of: actor.admin_of.clone(),
            audit_user_id: context.actor_user_id.clone(),
            audit_client_id: context.actor_client_id.clone(),
            audit_label: context.actor_label.clone(),
            request_id: context.request_id.clone(),
            client_ip: context.client_ip,
            requester_name: context.requester_name.clone(),
            acting_for: context.acting_for.clone(),
        }
    }

    fn to_json(&self) -> Result<String, ApiError> {
        serde_json::to_string(self).map_err(ApiError::internal)
    }

    fn parse(text: &str) -> Result<(Actor, AuditContext), ApiError> {
        let by: StartedBy = serde_json::from_str(text).map_err(ApiError::internal)?;
        let kind = match (by.actor_user_id, by.actor_client_id) {
            (Some(id), _) => ActorKind::User { id },
            (None, Some(id)) => ActorKind::Client { id },
            (None, None) => ActorKind::Client { id: SYSTEM.into() },
        };
        let actor = Actor {
            kind,
            platform_admin: by.platform_admin,
            member_of: by.member_of,
            admin_of: by.admin_of,
        };
        // No confirmation email per row: one import is many changes.
        let context = AuditContext {
            actor_user_id: by.audit_user_id,
            actor_client_id: by.audit_client_id,
            actor_label: by.audit_label,
            request_id: by.request_id,
            client_ip: by.client_ip,
            requester_name: by.requester_name,
            confirmation_email: None,
            acting_for: by.acting_for,
        };
        Ok((actor, context))
    }
}

/// The client id of whoever runs the command line on the server (a
/// platform admin acting as the service; see `cli::operator`).
pub const OPERATOR: &str = "cli";
/// The actor of a job that names no one.
const SYSTEM: &str = "system";

/// The uploader as they are now, not as they were at upload: each batch
/// acts with the rights they still have. Someone who left, was locked out
/// or lost their admin role (or a revoked client) has none, so the rows
/// that remain fail as their REST calls would.
fn rights_now(conn: &mut DbConnection, started_by: Actor) -> Result<Actor, ApiError> {
    let nobody = |kind: ActorKind| Actor {
        kind,
        platform_admin: false,
        member_of: BTreeSet::new(),
        admin_of: BTreeSet::new(),
    };
    match started_by.kind.clone() {
        ActorKind::User { id } => Ok(match crate::db::users::find_with_roles(conn, &id)? {
            Some((user, roles)) if user.standing() == Standing::Usable => {
                crate::service::callers::person(user, roles)
            }
            _ => nobody(ActorKind::User { id }),
        }),
        // The command line (and the service itself) keep their standing.
        ActorKind::Client { id } if id == OPERATOR || id == SYSTEM => Ok(started_by),
        ActorKind::Client { id } => {
            Ok(match crate::service::api_clients::find_usable(conn, &id)? {
                Some(client) => Actor::client(&client.id, client.customer_id.as_deref()),
                None => nobody(ActorKind::Client { id }),
            })
        }
    }
}

/// The job, if the caller may see it (imports are seen by whoever
/// administers their customer; anyone else gets the customer routes' 404/403).
pub async fn get(state: &AppState, actor: &Actor, id: String) -> Result<JobRow, ApiError> {
    let actor = actor.clone();
    state
        .read(move |conn, _| visible_job(conn, &actor, &id))
        .await
}

fn visible_job(conn: &mut DbConnection, actor: &Actor, id: &str) -> Result<JobRow, ApiError> {
    let job = imports::find(conn, id)?.ok_or(ApiError::NotFound("import"))?;
    match administered(conn, actor, &job.customer_id) {
        Ok(_) => Ok(job),
        Err(ApiError::NotFound(_)) => Err(ApiError::NotFound("import")),
        Err(err) => Err(err),
    }
}

/// One failed row.
pub struct RowFailure {
    pub row: i32,
    pub email: Option<String>,
    pub field: String,
    pub code: String,
    pub message: String,
}

/// A page of the job's failed rows so far, by row number.
pub async fn errors(
    state: &AppState,
    actor: &Actor,
    id: String,
    page: PageRequest,
) -> Result<Page<RowFailure>, ApiError> {
    let actor = actor.clone();
    state
        .read(move |conn, _| {
            let job = visible_job(conn, &actor, &id)?;
            let after = page.cursor.as_ref().map_or(0, row_of_cursor);
            let rows = imports::errors(conn, &id, job.last_row, after, page.limit)?;
            let failures = rows
                .into_iter()
                .map(|row| RowFailure {
                    row: row.row_number,
                    email: row.email,
                    field: row.error_field.unwrap_or_default(),
                    code: row.error_code.unwrap_or_default(),
                    message: row.error_message.unwrap_or_default(),
                })
                .collect();
            Ok(page.cut(failures, |failure| cursor_of_row(failure.row)))
        })
        .await
}

/// Error pages use the lists' cursor, holding the row number as its time.
fn cursor_of_row(row: i32) -> Cursor {
    let at = time::OffsetDateTime::UNIX_EPOCH + time::Duration::microseconds(i64::from(row));
    Cursor {
        at: PrimitiveDateTime::new(at.date(), at.time()),
        id: uuid::Uuid::nil().to_string(),
    }
}

fn row_of_cursor(cursor: &Cursor) -> i32 {
    let micros = (cursor.at.assume_utc() - time::OffsetDateTime::UNIX_EPOCH).whole_microseconds();
    i32::try_from(micros.max(0)).unwrap_or(i32::MAX)
}

/// What a claim of a job came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claimed {
    /// The job is done (or gone); its request was removed.
    Done,
    /// More rows wait; the request is due again.
    More,
}

/// Resolves a claimed `user_import` request (`request_id`, about job
/// `job_id`): runs batches for a couple of seconds, then hands the job back
/// to the outbox unless it is done. A batch that cannot run for a reason
/// other than the database (a bug) fails the job rather than retry forever.
pub async fn resolve(
    state: &AppState,
    request_id: String,
    job_id: String,
) -> Result<Claimed, ApiError> {
    let started = Instant::now();
    loop {
        let job = job_id.clone();
        let ran = state
            .write(move |conn, state| run_batch(conn, state, &job))
            .await;
        match ran {
            Ok(Claimed::Done) => return Ok(Claimed::Done),
            Ok(Claimed::More) if started.elapsed() < CLAIM_BUDGET => {}
            Ok(Claimed::More) => break,
            Err(err @ ApiError::Unavailable(_)) => return Err(err),
            Err(err) => {
                tracing::error!(job = %job_id, error = %err, "an import batch failed; the import stops");
                let (request, job) = (request_id.clone(), job_id.clone());
                state
                    .write(move |conn, state| {
                        imports::finish(conn, &job, imports::FAILED, state.clock.now_db())?;
                        outbox::take_request(conn, &request)?;
                        Ok(())
                    })
                    .await?;
                return Ok(Claimed::Done);
            }
        }
    }
    let now = state.clock.now_db();
    state
        .write(move |conn, _| Ok(outbox::due_again(conn, &request_id, now)?))
        .await?;
    Ok(Claimed::More)
}

/// Runs the job to its end in this process (the CLI), calling `progress`
/// after each batch. Batches are the same as the worker's, so a server
/// sharing the database may run some of them too: never the same one.
pub async fn run_to_end(
    state: &AppState,
    job_id: &str,
    mut progress: impl FnMut(&JobRow),
) -> Result<JobRow, ApiError> {
    loop {
        let job = job_id.to_string();
        let ran = state
            .write(move |conn, state| run_batch(conn, state, &job))
            .await?;
        let id = job_id.to_string();
        let now = state
            .read(move |conn, _| imports::find(conn, &id)?.ok_or(ApiError::NotFound("import")))
            .await?;
        progress(&now);
        if ran == Claimed::Done || now.finished_at.is_some() {
            return Ok(now);
        }
    }
}

/// One batch, in the caller's transaction: the job locked and its progress
/// read again, the next rows applied (each in a savepoint; a dry run's
/// batch in one it rolls back), the outcomes and the progress recorded.
fn run_batch(conn: &mut DbConnection, state: &AppState, job_id: &str) -> Result<Claimed, ApiError> {
    let Some(job) = imports::lock(conn, job_id)? else {
        drop_request(conn, job_id)?;
        return Ok(Claimed::Done);
    };
    if job.finished_at.is_some() {
        drop_request(conn, job_id)?;
        return Ok(Claimed::Done);
    }
    let now = state.clock.now_db();
    if job.status == imports::QUEUED {
        imports::start(conn, job_id, now)?;
    }
    let rows = imports::rows_after(conn, job_id, job.last_row, BATCH_ROWS)?;
    let outcomes = if job.dry_run {
        rehearse(conn, state, &job, &rows)?
    } else {
        apply_rows(conn, state, &job, &rows)?
    };
    let mut tally = Tally {
        processed: i32::try_from(rows.len()).unwrap_or(i32::MAX),
        last_row: rows.last().map_or(job.last_row, |row| row.row_number),
        ..Tally::default()
    };
    for (row, outcome) in rows.iter().zip(&outcomes) {
        match outcome {
            Outcome::Created => {
                tally.created += 1;
                tally.seats_planned += i32::from(job.dry_run);
            }
            Outcome::Updated => tally.updated += 1,
            Outcome::Unchanged => tally.unchanged += 1,
            Outcome::Failed(None) => tally.failed += 1,
            Outcome::Failed(Some(error)) => {
                tally.failed += 1;
                let error = (
                    error.field.as_str(),
                    error.code.as_str(),
                    error.message.as_str(),
                );
                imports::fail_row(conn, job_id, row.row_number, error)?;
            }
        }
    }
    imports::record(conn, job_id, &tally)?;
    if i64::try_from(rows.len()).unwrap_or(0) < BATCH_ROWS {
        imports::finish(conn, job_id, imports::COMPLETED, now)?;
        drop_request(conn, job_id)?;
        return Ok(Claimed::Done);
    }
    Ok(Claimed::More)
}

/// Removes the job's request from the outbox, whoever runs the job (the
/// worker that claimed it, or the CLI, which leaves it unclaimed).
fn drop_request(conn: &mut DbConnection, job_id: &str) -> Result<(), ApiError> {
    outbox::take_requests_about(conn, RequestKind::UserImport, job_id)?;
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Created,
    Updated,
    Unchanged,
    /// Failed; `None` when the upload already recorded why.
    Failed(Option<RowError>),
}

/// A dry run's batch: applied for real in a savepoint that is then rolled
/// back, with the seats the earlier batches would have taken counted in.
fn rehearse(
    conn: &mut DbConnection,
    state: &AppState,
    job: &JobRow,
    rows: &[FileRow],
) -> Result<Vec<Outcome>, ApiError> {
    enum Rehearsal {
        Done(Vec<Outcome>),
        Failed(ApiError),
    }
    impl From<diesel::result::Error> for Rehearsal {
        fn from(err: diesel::result::Error) -> Self {
            Rehearsal::Failed(err.into())
        }
    }
    let rehearsed = savepoint(conn, |conn| {
        let planned = i64::from(job.seats_planned);
        customers::add_named_users(conn, &job.customer_id, planned)?;
        match apply_rows(conn, state, job, rows) {
            Ok(outcomes) => Err::<(), _>(Rehearsal::Done(outcomes)),
            Err(err) => Err(Rehearsal::Failed(err)),
        }
    });
    match rehearsed {
        Err(Rehearsal::Done(outcomes)) => Ok(outcomes),
        Err(Rehearsal::Failed(err)) => Err(err),
        Ok(()) => unreachable!("a rehearsal always rolls back"),
    }
}

/// The members a batch may touch, read at once: users by email and the
/// customer's memberships of those users (and of the external ids named).
struct Known {
    users_by_email: HashMap<String, UserRow>,
    members: HashMap<String, MembershipRow>,
    by_external_id: HashMap<String, String>,
    groups: HashMap<String, Vec<String>>,
}

impl Known {
    /// Whether the row is about someone new to the platform: no user has
    /// its email, and no member its external id.
    fn is_new(&self, row: &ImportRow) -> bool {
        let matched_by_external_id = row
            .external_id
            .as_ref()
            .and_then(Option::as_ref)
            .is_some_and(|id| self.by_external_id.contains_key(id));
        !matched_by_external_id && !self.users_by_email.contains_key(&normalize(&row.email))
    }
}

fn apply_rows(
    conn: &mut DbConnection,
    state: &AppState,
    job: &JobRow,
    rows: &[FileRow],
) -> Result<Vec<Outcome>, ApiError> {
    let (started_by, context) = StartedBy::parse(&job.started_by)?;
    let actor = rights_now(conn, started_by)?;
    let parsed: Vec<Option<ImportRow>> = rows
        .iter()
        .map(|row| {
            row.error_code
                .is_none()
                .then(|| serde_json::from_str(&row.data).ok())
                .flatten()
        })
        .collect();
    let known =
        crate::db::planned_for_their_values(conn, |conn| look_up(conn, &job.customer_id, &parsed))?;
    let new_people: Vec<usize> = (0..parsed.len())
        .filter(|&index| parsed[index].as_ref().is_some_and(|row| known.is_new(row)))
        .collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; parsed.len()];
    let together = add_together(conn, state, (&actor, &context), job, &parsed, &new_people)?;
    for (index, outcome) in together.into_iter().flatten() {
        outcomes[index] = Some(outcome);
    }
    parsed
        .iter()
        .zip(outcomes)
        .map(|(row, outcome)| {
            let Some(row) = row else {
                return Ok(Outcome::Failed(None));
            };
            if let Some(outcome) = outcome {
                return Ok(outcome);
            }
            let applied = savepoint(conn, |conn| {
                apply_row(conn, state, &actor, &context, job, row, &known)
            });
            Ok(match applied {
                Ok(outcome) => outcome,
                Err(err) => Outcome::Failed(Some(row_error(err)?)),
            })
        })
        .collect()
}

/// Adds the batch's people who are new to the platform all at once
/// (`members::add_new_users_in`), in a savepoint; `None` when that failed
/// (another request took one of their emails or a seat meanwhile), and the
/// rows are then applied one at a time like the others.
fn add_together(
    conn: &mut DbConnection,
    state: &AppState,
    (actor, context): (&Actor, &AuditContext),
    job: &JobRow,
    parsed: &[Option<ImportRow>],
    new_people: &[usize],
) -> Result<Option<Vec<(usize, Outcome)>>, ApiError> {
    if new_people.is_empty() {
        return Ok(None);
    }
    let rows: Vec<&ImportRow> = new_people
        .iter()
        .filter_map(|&index| parsed[index].as_ref())
        .collect();
    let names: Vec<String> = rows
        .iter()
        .flat_map(|row| row.groups.iter().flatten().cloned())
        .collect();
    let named = group_rows::find_by_names(conn, &job.customer_id, &names)?;
    let mut valid = Vec::with_capacity(rows.len());
    let mut refused = Vec::with_capacity(rows.len());
    for row in &rows {
        let input = row
            .groups
            .as_ref()
            .map(|names| groups::pick_names(&named, names, "groups"))
            .transpose()
            .and_then(|found| {
                let group_ids =
                    found.map(|found| found.into_iter().map(|group| group.id).collect());
                new_member(job, row, group_ids)
            });
        match input {
            Ok(input) => {
                valid.push(input);
                refused.push(None);
            }
            Err(err) => refused.push(Some(err)),
        }
    }
    let added = savepoint(conn, |conn| {
        members::add_new_users_in(conn, state, actor, context, &job.customer_id, &valid)
    });
    let mut added = match added {
        Ok(added) => added.into_iter(),
        Err(err) => {
            tracing::info!(import = %job.id, error = %err, "a batch's new people are added one at a time");
            return Ok(None);
        }
    };
    let mut outcomes = Vec::with_capacity(new_people.len());
    for (&index, refusal) in new_people.iter().zip(refused) {
        let result = match refusal {
            Some(err) => Err(err),
            None => added.next().unwrap_or(Err(ApiError::NotFound("user"))),
        };
        let outcome = match result {
            Ok(()) => Outcome::Created,
            Err(err) => Outcome::Failed(Some(row_error(err)?)),
        };
        outcomes.push((index, outcome));
    }
    Ok(Some(outcomes))
}

/// Reads the batch's existing users and members in a few statements, and
/// locks those users (in id order, before any customer's row, as every
/// change does).
fn look_up(
    conn: &mut DbConnection,
    customer_id: &str,
    rows: &[Option<ImportRow>],
) -> Result<Known, ApiError> {
    let email_keys: Vec<String> = rows.iter().flatten().map(|r| normalize(&r.email)).collect();
    let external_ids: Vec<String> = rows
        .iter()
        .flatten()
        .filter_map(|r| r.external_id.clone().flatten())
        .collect();
    let mut user_ids: Vec<String> = users_t::table
        .filter(users_t::email_lower.eq_any(&email_keys))
        .select(users_t::id)
        .load(conn)?;
    user_ids.extend(member_ids_by_external_id(conn, customer_id, &external_ids)?);
    user_ids.sort();
    user_ids.dedup();
    if let DbConnection::Postgres(pg) = conn {
        users_t::table
            .filter(users_t::id.eq_any(&user_ids))
            .order(users_t::id)
            .select(users_t::id)
            .for_update()
            .load::<String>(pg)?;
    }
    let users: Vec<UserRow> = users_t::table
        .filter(users_t::id.eq_any(&user_ids))
        .select(UserRow::as_select())
        .load(conn)?;
    let members: Vec<MembershipRow> = memberships_t::table
        .filter(memberships_t::customer_id.eq(customer_id))
        .filter(memberships_t::user_id.eq_any(&user_ids))
        .select(MembershipRow::as_select())
        .load(conn)?;
    let by_external_id = members
        .iter()
        .filter_map(|m| m.external_id.clone().map(|id| (id, m.user_id.clone())))
        .collect();
    let groups = group_names_of(conn, customer_id, &user_ids)?;
    Ok(Known {
        users_by_email: users
            .into_iter()
            .map(|u| (u.email_lower.clone(), u))
            .collect(),
        members: members
            .into_iter()
            .map(|m| (m.user_id.clone(), m))
            .collect(),
        by_external_id,
        groups,
    })
}

fn apply_row(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    job: &JobRow,
    row: &ImportRow,
    known: &Known,
) -> Result<Outcome, ApiError> {
    let email_key = normalize(&row.email);
    let by_external_id = row
        .external_id
        .clone()
        .flatten()
        .and_then(|id| known.by_external_id.get(&id).cloned());
    let user = known.users_by_email.get(&email_key);
    let member_id = by_external_id.or_else(|| {
        user.filter(|u| known.members.contains_key(&u.id))
            .map(|u| u.id.clone())
    });
    let Some(member_id) = member_id else {
        return add(conn, state, actor, context, job, row);
    };
    let membership = &known.members[&member_id];
    let user = match known.users_by_email.values().find(|u| u.id == member_id) {
        Some(user) => user.clone(),
        None => crate::db::users::find(conn, &member_id)?.ok_or(ApiError::NotFound("user"))?,
    };
    let groups = known.groups.get(&member_id).cloned().unwrap_or_default();
    update(
        conn,
        state,
        actor,
        context,
        job,
        row,
        (&user, membership, &groups),
    )
}

fn add(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    job: &JobRow,
    row: &ImportRow,
) -> Result<Outcome, ApiError> {
    let input = new_member(
        job,
        row,
        group_ids(conn, &job.customer_id, row.groups.as_ref())?,
    )?;
    members::add_user_in(conn, state, actor, context, &job.customer_id, input)?;
    Ok(Outcome::Created)
}

/// The REST add a row asks for, its groups resolved to `group_ids`.
fn new_member(
    job: &JobRow,
    row: &ImportRow,
    group_ids: Option<Vec<String>>,
) -> Result<AddUser, ApiError> {
    let email = EmailAddress::parse(&row.email).map_err(|why| ApiError::invalid("email", why))?;
    Ok(AddUser {
        email,
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        job_title: row.job_title.clone().flatten(),
        role: row.role,
        settings: None,
        copy_from_user_id: None,
        send_invite: job.send_invites,
        external_id: row.external_id.clone().flatten(),
        group_ids,
    })
}

#[allow(clippy::too_many_arguments)]
fn update(
    conn: &mut DbConnection,
    state: &AppState,
    actor: &Actor,
    context: &AuditContext,
    job: &JobRow,
    row: &ImportRow,
    (user, membership, groups): (&UserRow, &MembershipRow, &[String]),
) -> Result<Outcome, ApiError> {
    let differs = |new: &Option<String>, old: &str| new.as_deref().is_some_and(|n| n != old);
    let profile = ProfileEdit {
        first_name: row
            .first_name
            .clone()
            .filter(|_| differs(&row.first_name, &user.first_name)),
        last_name: row
            .last_name
            .clone()
            .filter(|_| differs(&row.last_name, &user.last_name)),
        job_title: row
            .job_title
            .clone()
            .filter(|title| title != &user.job_title),
        // Matched by external id under another address: the address changes.
        email: Some(&row.email)
            .filter(|e| normalize(e) != user.email_lower)
            .map(|e| EmailAddress::parse(e))
            .transpose()
            .map_err(|why| ApiError::invalid("email", why))?,
    };
    let role = row.role.filter(|role| *role != membership.role);
    let external_id = row
        .external_id
        .clone()
        .filter(|id| *id != membership.external_id);
    let groups_change = row
        .groups
        .as_ref()
        .filter(|wanted| !same_groups(wanted, groups));
    let profile_changes = profile.first_name.is_some()
        || profile.last_name.is_some()
        || profile.job_title.is_some()
        || profile.email.is_some();
    if !profile_changes && role.is_none() && external_id.is_none() && groups_change.is_none() {
        return Ok(Outcome::Unchanged);
    }
    if profile_changes {
        users::update_profile_in(conn, state, actor, context, &user.id, None, profile)?;
    }
    if role.is_some() || external_id.is_some() || groups_change.is_some() {
        let edit = MembershipEdit {
            role,
            settings: None,
            external_id,
            group_ids: group_ids(conn, &job.customer_id, groups_change)?,
        };
        members::update_in(
            conn,
            state,
            actor,
            context,
            (&job.customer_id, &user.id),
            edit,
            None,
        )?;
    }
    Ok(Outcome::Updated)
}

fn same_groups(wanted: &[String], current: &[String]) -> bool {
    let key = |names: &[String]| -> BTreeSet<String> {
        names.iter().map(|n| group_rows::name_key(n)).collect()
    };
    key(wanted) == key(current)
}

/// A failed row's field, code and message, as the REST API would answer
/// it; a database failure is not a row's fault and stops the batch.
fn row_error(err: ApiError) -> Result<RowError, ApiError> {
    let field_of = |code: ErrorCode| match code {
        ErrorCode::SeatLimitReached
        | ErrorCode::UserRetired
        | ErrorCode::AlreadyMember
        | ErrorCode::EmailTaken => "email",
        ErrorCode::ExternalIdTaken => "external_id",
        _ => "row",
    };
    Ok(match err {
        ApiError::Validation(errors) | ApiError::Unprocessable { errors, .. }
            if !errors.is_empty() =>
        {
            let code = ErrorCode::ValidationFailed;
            RowError::new(&errors[0].field, code.as_str(), errors[0].message.clone())
        }
        ApiError::Conflict { code, detail, .. } => {
            RowError::new(field_of(code), code.as_str(), detail)
        }
        err @ (ApiError::Forbidden(_)
        | ApiError::NotFound(_)
        | ApiError::PreconditionFailed
        | ApiError::Limited { .. }) => {
            let code = err.code();
            RowError::new("row", code.as_str(), err.problem().detail)
        }
        other => return Err(other),
    })
}

/// The members of the customer with these external ids.
fn member_ids_by_external_id(
    conn: &mut DbConnection,
    customer_id: &str,
    external_ids: &[String],
) -> Result<Vec<String>, ApiError> {
    if external_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(memberships_t::table
        .filter(memberships_t::customer_id.eq(customer_id))
        .filter(memberships_t::external_id.eq_any(external_ids))
        .select(memberships_t::user_id)
        .load(conn)?)
}

/// Each member's group names in the customer, by name.
fn group_names_of(
    conn: &mut DbConnection,
    customer_id: &str,
    user_ids: &[String],
) -> Result<HashMap<String, Vec<String>>, ApiError> {
    let mut names: HashMap<String, Vec<String>> = HashMap::new();
    for (user_id, group) in group_rows::groups_of_members(conn, customer_id, user_ids)? {
        names.entry(user_id).or_default().push(group.name);
    }
    Ok(names)
}

/// The ids of the customer's groups a row names (422 on `groups` for a
/// name the customer does not have).
fn group_ids(
    conn: &mut DbConnection,
    customer_id: &str,
    names: Option<&Vec<String>>,
) -> Result<Option<Vec<String>>, ApiError> {
    let Some(names) = names else {
        return Ok(None);
    };
    let groups = groups::resolve_names(conn, customer_id, names, "groups")?;
    Ok(Some(groups.into_iter().map(|group| group.id).collect()))
}

/// One member as an export writes them.
#[derive(Debug, Serialize)]
pub struct ExportedUser {
    pub id: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub job_title: Option<String>,
    pub role: String,
    pub external_id: Option<String>,
    pub groups: Vec<String>,
    pub status: String,
    pub added_at: String,
}

/// Where an export has got to: the last member written.
pub type ExportCursor = Option<Cursor>;

/// Checks the caller may export the customer's users.
pub async fn authorize_export(
    state: &AppState,
    actor: &Actor,
    customer_id: String,
) -> Result<(), ApiError> {
    let actor = actor.clone();
    state
        .read(move |conn, _| administered(conn, &actor, &customer_id).map(drop))
        .await
}

/// The next `limit` members after `after` (newest first, the lists' order),
/// and where the next chunk starts (none after the last).
pub async fn export_chunk(
    state: &AppState,
    customer_id: String,
    after: ExportCursor,
    limit: i64,
) -> Result<(Vec<ExportedUser>, ExportCursor), ApiError> {
    state
        .read(move |conn, _| export_chunk_in(conn, &customer_id, after.as_ref(), limit))
        .await
}

pub fn export_chunk_in(
    conn: &mut DbConnection,
    customer_id: &str,
    after: Option<&Cursor>,
    limit: i64,
) -> Result<(Vec<ExportedUser>, ExportCursor), ApiError> {
    let everyone = memberships::MemberFilter {
        users: &UserFilter::default(),
        role: None,
        external_id: None,
    };
    let mut rows = memberships::list_customer_users(conn, customer_id, &everyone, after, limit)?;
    let more = i64::try_from(rows.len()).unwrap_or(0) > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = more.then(|| {
        rows.last().map(|(m, _)| Cursor {
            at: m.added_at,
            id: m.user_id.clone(),
        })
    });
    let ids: Vec<String> = rows.iter().map(|(m, _)| m.user_id.clone()).collect();
    let mut groups = group_names_of(conn, customer_id, &ids)?;
    let exported = rows
        .into_iter()
        .map(|(membership, user)| ExportedUser {
            external_id: membership.external_id.clone(),
            groups: groups.remove(&user.id).unwrap_or_default(),
            id: user.id,
            email: user.email,
            first_name: user.first_name,
            last_name: user.last_name,
            job_title: user.job_title,
            role: membership.role.as_str().to_string(),
            status: user.status.as_str().to_string(),
            added_at: rfc3339(membership.added_at),
        })
        .collect();
    Ok((exported, next.flatten()))
}

/// The export's CSV header: the import's columns, then `id`, `status` and `added_at`.
pub fn export_header() -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let mut names: Vec<&str> = COLUMNS.to_vec();
    names.extend(EXPORT_ONLY_COLUMNS);
    let _ = writer.write_record(&names);
    writer.into_inner().unwrap_or_default()
}

/// A chunk of an export in `format` (CSV rows without the header).
pub fn render_export(users: &[ExportedUser], format: Format) -> Vec<u8> {
    match format {
        Format::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::with_capacity(users.len() * 128));
            for user in users {
                let groups = user.groups.join(&GROUP_SEPARATOR.to_string());
                let _ = writer.write_record([
                    user.email.as_str(),
                    &user.first_name,
                    &user.last_name,
                    user.job_title.as_deref().unwrap_or_default(),
                    &user.role,
                    user.external_id.as_deref().unwrap_or_default(),
                    &groups,
                    &user.id,
                    &user.status,
                    &user.added_at,
                ]);
            }
            writer.into_inner().unwrap_or_default()
        }
        Format::Ndjson => {
            let mut out = Vec::with_capacity(users.len() * 200);
            for user in users {
                if serde_json::to_writer(&mut out, user).is_ok() {
                    out.push(b'\n');
                }
            }
            out
        }
    }
}

fn rfc3339(at: PrimitiveDateTime) -> String {
    crate::clock::from_db(at)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
