//! The `roster users` commands: bulk import and export on the configured
//! database, in this process, through the same use cases as the API.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use roster::clock::Clock;
use roster::config::Settings;
use roster::domain::imports::Format;
use roster::domain::pagination::PageRequest;
use roster::domain::permissions::{Actor, ActorKind};
use roster::service::audit::AuditContext;
use roster::service::user_imports::{self, export_header, render_export, Upload};
use roster::startup::build_state;

use super::Outcome;

/// Members read from the database per chunk of an export.
const EXPORT_CHUNK: i64 = 1000;

/// Whoever runs the CLI on the server: the platform, acting as the service.
pub fn operator() -> Actor {
    Actor {
        kind: ActorKind::Client {
            id: user_imports::OPERATOR.into(),
        },
        platform_admin: true,
        member_of: Default::default(),
        admin_of: Default::default(),
    }
}

pub async fn import_users(
    settings: Settings,
    customer_id: String,
    file: &Path,
    format: Format,
    dry_run: bool,
    send_invites: bool,
) -> Outcome {
    let body = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let state = build_state(settings, Clock::default()).await?;
    let upload = Upload {
        customer_id: roster::http::field_id(&customer_id, "--customer")?,
        format,
        body,
        dry_run,
        send_invites,
    };
    let job = user_imports::start(&state, &operator(), AuditContext::system(), upload).await?;
    let bar = ProgressBar::new(u64::try_from(job.total_rows).unwrap_or(0));
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {pos}/{len} rows  {per_sec}  ETA {eta}",
    )?);
    bar.enable_steady_tick(Duration::from_millis(200));
    let done = user_imports::run_to_end(&state, &job.id, |now| {
        bar.set_position(u64::try_from(now.processed_rows).unwrap_or(0));
    })
    .await?;
    bar.finish();
    println!(
        "import {}{}: {} rows, {} created, {} updated, {} unchanged, {} failed",
        done.id,
        if done.dry_run { " (dry run)" } else { "" },
        done.processed_rows,
        done.created,
        done.updated,
        done.unchanged,
        done.failed
    );
    print_errors(&state, &done.id).await
}

async fn print_errors(state: &roster::state::AppState, id: &str) -> Outcome {
    let mut cursor = None;
    loop {
        let page = PageRequest { limit: 200, cursor };
        let found = user_imports::errors(state, &operator(), id.to_string(), page).await?;
        for failure in &found.items {
            println!(
                "row {}: {} {}: {} ({})",
                failure.row,
                failure.email.as_deref().unwrap_or("-"),
                failure.field,
                failure.message,
                failure.code
            );
        }
        match found.next_cursor {
            Some(next) => cursor = Some(roster::domain::pagination::Cursor::decode(&next)?),
            None => return Ok(()),
        }
    }
}

pub async fn export_users(
    settings: Settings,
    customer_id: String,
    format: Format,
    output: Option<&Path>,
) -> Outcome {
    let state = build_state(settings, Clock::default()).await?;
    let customer_id = roster::http::field_id(&customer_id, "--customer")?;
    user_imports::authorize_export(&state, &operator(), customer_id.clone()).await?;
    let mut out: Box<dyn Write> = match output {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path)?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    if format == Format::Csv {
        out.write_all(&export_header())?;
    }
    let mut after = None;
    loop {
        let (users, next) =
            user_imports::export_chunk(&state, customer_id.clone(), after, EXPORT_CHUNK).await?;
        out.write_all(&render_export(&users, format))?;
        match next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    out.flush()?;
    Ok(())
}
