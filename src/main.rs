use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use roster::clock::Clock;
use roster::config::Settings;
use roster::domain::imports::Format;
use roster::service::audit::AuditContext;
use roster::service::bootstrap::{self, Bootstrap};
use roster::service::keys::RotateError;
use roster::startup::{build_state, connect_database, Application};
use secrecy::SecretString;

/// roster: user administration for multi-tenant SaaS.
///
/// Configuration comes from `ROSTER_*` environment variables; `roster
/// check-config` shows what is in effect. Without a command, `serve` runs.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run pending migrations, then serve the API until SIGTERM (the default).
    Serve,
    /// Apply pending database migrations and exit (run before a new version serves).
    Migrate,
    /// Print the OpenAPI document (the committed `openapi/openapi.json`).
    Openapi,
    /// Print the effective configuration, secrets masked, and exit non-zero if invalid.
    CheckConfig,
    /// Administration tasks that need no HTTP call.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The keys that sign access tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Bulk import and export of a customer's users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Recount every customer's seats in use and compare them with the stored
    /// counters; print each difference and exit non-zero if there is one.
    Check,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new signing key kept in the database: every instance signs with
    /// it within a minute, and the previous key keeps verifying (and stays in
    /// the JWKS) until every token it signed has expired. Refused when
    /// ROSTER_JWT_KEY_FILE is set.
    Rotate,
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Import users from a CSV (header row) or NDJSON file, as
    /// `POST /v1/customers/{id}/user-imports` does, on the configured
    /// database in this process, with a progress bar; then print the
    /// summary and the failed rows.
    Import {
        /// The customer's id.
        #[arg(long)]
        customer: String,
        /// The file: `.ndjson` or `.jsonl` is NDJSON, anything else CSV
        /// (unless --format says).
        file: std::path::PathBuf,
        #[arg(long, value_parser = ["csv", "ndjson"])]
        format: Option<String>,
        /// Report what would happen; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Send no activation emails to new users.
        #[arg(long)]
        no_invites: bool,
    },
    /// Export every member of a customer (the import's columns plus id,
    /// status and added_at).
    Export {
        /// The customer's id.
        #[arg(long)]
        customer: String,
        #[arg(long, default_value = "csv", value_parser = ["csv", "ndjson"])]
        format: String,
        /// Write here instead of standard output.
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create a platform admin: active with a password read from stdin, or
    /// invited with an activation link printed.
    Create {
        #[arg(long)]
        email: String,
        /// Read the password from standard input (one line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Manage API clients.
    #[command(subcommand)]
    ApiClient(ApiClientCommand),
}

#[derive(Subcommand)]
enum ApiClientCommand {
    /// Create an API client and print its id and secret (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// Scope it to one customer (id); platform scope without it.
        #[arg(long)]
        customer: Option<String>,
    },
}

mod cli;

type Outcome = Result<(), Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::Openapi = command {
        print!("{}", roster::openapi::document_json());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::from_env() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("configuration error: {err}");
            return ExitCode::from(2);
        }
    };
    if let Command::CheckConfig = command {
        for (name, value) in settings.describe() {
            println!("{name:<34} {value}");
        }
        let set: Vec<String> = std::env::vars_os()
            .filter_map(|(name, _)| name.into_string().ok())
            .collect();
        for name in Settings::unknown_variables(set.iter().map(String::as_str)) {
            eprintln!("warning: {name} is not a roster setting and is ignored");
        }
        return ExitCode::SUCCESS;
    }
    roster::telemetry::init(settings.log_format);
    let outcome = actix_web::rt::System::new().block_on(async move {
        match command {
            Command::Migrate => migrate(settings).await,
            Command::Admin(AdminCommand::Create {
                email,
                password_stdin,
            }) => create_admin(settings, &email, password_stdin).await,
            Command::Admin(AdminCommand::ApiClient(ApiClientCommand::Create {
                name,
                customer,
            })) => create_api_client(settings, name, customer).await,
            Command::Keys(KeysCommand::Rotate) => rotate_keys(settings).await,
            Command::Users(UsersCommand::Import {
                customer,
                file,
                format,
                dry_run,
                no_invites,
            }) => {
                let format = import_format(format.as_deref(), &file);
                cli::import_users(settings, customer, &file, format, dry_run, !no_invites).await
            }
            Command::Users(UsersCommand::Export {
                customer,
                format,
                output,
            }) => {
                let format = import_format(Some(&format), std::path::Path::new(""));
                cli::export_users(settings, customer, format, output.as_deref()).await
            }
            Command::Check => check(settings).await,
            Command::Serve | Command::Openapi | Command::CheckConfig => serve(settings).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(settings: Settings) -> Outcome {
    connect_database(&settings, true).await?;
    tracing::info!("migrations are up to date");
    Ok(())
}

async fn serve(settings: Settings) -> Outcome {
    let app = Application::build(settings).await?;
    let public_url = app.state().settings.public_url.clone();
    tracing::info!(port = app.port(), %public_url, "roster is listening");
    if let Bootstrap::Invited { email, link } = app.bootstrap() {
        print_activation(email, link, &public_url);
    }
    app.run_until_stopped().await?;
    tracing::info!("roster stopped");
    Ok(())
}

/// The first admin's link (which opens roster's activation page unless
/// `ROSTER_APP_URL` sends links to a frontend), and the same over the API.
fn print_activation(email: &str, link: &str, public_url: &str) {
    let token = link.rsplit("token=").next().unwrap_or_default();
    eprintln!(
        "\n  The platform admin {email} is invited. Open this link in a browser to choose a password:\n\n    {link}\n\n  \
         or activate with curl (choose your own password):\n\n    \
         curl -s -X POST {public_url}/v1/auth/activate -H 'Content-Type: application/json' \\\n      \
         -d '{{\"token\": \"{token}\", \"password\": \"<a long passphrase>\"}}'\n"
    );
}

async fn create_admin(settings: Settings, email: &str, password_stdin: bool) -> Outcome {
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin().read_to_string(&mut line)?;
        Some(SecretString::from(
            line.trim_end_matches(['\r', '\n']).to_string(),
        ))
    } else {
        None
    };
    let public_url = settings.public_url.clone();
    let state = build_state(settings, Clock::default()).await?;
    match bootstrap::create_admin(&state, email, password).await? {
        Bootstrap::Invited { email, link } => print_activation(&email, &link, &public_url),
        Bootstrap::CreatedActive(email) => println!("created the active platform admin {email}"),
        Bootstrap::Nothing => {}
    }
    Ok(())
}

async fn check(settings: Settings) -> Outcome {
    let state = build_state(settings, Clock::default()).await?;
    let wrong = roster::service::seats::miscounted(&state).await?;
    for count in &wrong {
        println!(
            "customer {} ({}): {} seats in use stored, {} counted",
            count.customer_id, count.name, count.stored, count.counted
        );
    }
    if wrong.is_empty() {
        println!("every customer's seat count is right");
        Ok(())
    } else {
        Err(format!("{} customers' seat counts differ", wrong.len()).into())
    }
}

async fn rotate_keys(settings: Settings) -> Outcome {
    if let Some(path) = &settings.jwt_key_file {
        return Err(RotateError::KeyFileConfigured(path.display().to_string()).into());
    }
    let state = build_state(settings, Clock::default()).await?;
    let rotation = roster::service::keys::rotate(&state).await?;
    println!("new signing key:  {}", rotation.kid);
    println!(
        "previous key:     {} (verifies until {})",
        rotation.previous_kid,
        rotation
            .previous_retires_at
            .format(&time::format_description::well_known::Rfc3339)?
    );
    eprintln!("Every instance signs with the new key within a minute.");
    Ok(())
}

fn import_format(named: Option<&str>, file: &std::path::Path) -> Format {
    let extension = file
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or_default();
    match (named, extension) {
        (Some("ndjson"), _) | (None, "ndjson" | "jsonl") => Format::Ndjson,
        _ => Format::Csv,
    }
}

async fn create_api_client(settings: Settings, name: String, customer: Option<String>) -> Outcome {
    let state = build_state(settings, Clock::default()).await?;
    let operator = cli::operator();
    let name =
        roster::domain::profile::parse_label(&name, 200).map_err(|why| format!("--name {why}"))?;
    let (client, secret) = roster::service::api_clients::create(
        &state,
        &operator,
        AuditContext::system(),
        name,
        customer,
    )
    .await?;
    println!("client_id:     {}", client.id);
    println!("client_secret: {}", secret.expose());
    println!(
        "scope:         {}",
        client.customer_id.as_deref().unwrap_or("platform")
    );
    eprintln!("Store the secret now: only its hash is kept.");
    Ok(())
}
