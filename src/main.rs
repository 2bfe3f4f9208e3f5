use std::process::ExitCode;

use clap::{Parser, Subcommand};
use roster::config::Settings;
use roster::service::bootstrap::Bootstrap;
use roster::startup::{connect_database, Application};

/// roster: user administration for multi-tenant SaaS.
///
/// Configuration comes from `ROSTER_*` environment variables (see the README).
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run migrations, then serve the API (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Print the OpenAPI document.
    Openapi,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Openapi) = cli.command {
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
    roster::telemetry::init(settings.log_format);
    let outcome = actix_web::rt::System::new().block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Migrate => migrate(settings).await,
            Command::Serve | Command::Openapi => serve(settings).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn migrate(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    connect_database(&settings, true).await?;
    tracing::info!("migrations are up to date");
    Ok(())
}

async fn serve(settings: Settings) -> Result<(), Box<dyn std::error::Error>> {
    let app_url = settings.app_url.clone();
    let app = Application::build(settings).await?;
    tracing::info!(port = app.port(), "roster is listening");
    if let Bootstrap::Invited { email, link } = app.bootstrap() {
        let token = link.rsplit("token=").next().unwrap_or_default();
        eprintln!(
            "\n  The platform admin {email} is invited. Activate it with this link:\n\n    {link}\n\n  \
             or with curl (choose your own password):\n\n    \
             curl -s -X POST {app_url}/v1/auth/activate -H 'Content-Type: application/json' \\\n      \
             -d '{{\"token\": \"{token}\", \"password\": \"<a long passphrase>\"}}'\n"
        );
    }
    app.run_until_stopped().await?;
    tracing::info!("roster stopped");
    Ok(())
}
