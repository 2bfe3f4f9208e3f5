//! Assembling the service: database, keys, mailer templates, the first
//! admin, the HTTP server on its own listener (port 0 in tests), and the
//! background jobs.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};
use secrecy::ExposeSecret;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::auth::jwt::{self, JwtKeys, KeyError};
use crate::auth::passwords::PasswordHasher;
use crate::client_ip::TrustedProxies;
use crate::clock::Clock;
use crate::config::Settings;
use crate::db::outbox::OutboxRow;
use crate::db::{self, signing_keys, Db, DbError, DbSetupError};
use crate::email::providers::Mailer;
use crate::email::worker::{DeliveryWorker, Resolve};
use crate::email::EmailTemplates;
use crate::email::RequestKind;
use crate::error::ApiError;
use crate::http::{fallback, request_id_middleware, RosterRootSpan, RouteTable};
use crate::openapi::{self, ApiDoc};
use crate::pages::PageTemplates;
use crate::rate_limit::AuthRateLimit;
use crate::rate_limit::FormRateLimit;
use crate::service::bootstrap::{self, Bootstrap, BootstrapError};
use crate::service::{accounts, keys, maintenance, user_imports};
use crate::state::AppState;
use crate::theme::{Branding, Theme, ThemeError};
use crate::webhooks::courier::Courier;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] DbSetupError),
    #[error(transparent)]
    Keys(#[from] KeyError),
    #[error(transparent)]
    Bootstrap(#[from] BootstrapError),
    #[error("cannot listen on {addr}: {cause}")]
    Bind { addr: String, cause: std::io::Error },
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Theme(#[from] ThemeError),
}

pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    bootstrap: Bootstrap,
    shutdown: tokio::sync::watch::Sender<bool>,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Clock::default()).await
    }

    pub async fn build_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        crate::metrics::handle();
        let listener = TcpListener::bind(settings.bind).map_err(|cause| StartupError::Bind {
            addr: settings.bind.to_string(),
            cause,
        })?;
        let port = listener.local_addr()?.port();
        let mut settings = settings;
        settings.settle_port(port);
        let state = build_state(settings, clock).await?;
        let settings = state.settings.clone();
        let bootstrap = bootstrap::ensure_admin(&state).await?;
        let auth_limit = AuthRateLimit::new(settings.auth_rate_limit);
        let form_limit = FormRateLimit::new(settings.auth_rate_limit);
        let server = serve(
            listener,
            state.clone(),
            auth_limit.clone(),
            form_limit.clone(),
            settings.workers,
        )?;
        crate::memory::return_free_pages();
        let (shutdown, stopped) = tokio::sync::watch::channel(false);
        let mut jobs = vec![
            auth_limit.spawn_pruning(stopped.clone()),
            form_limit.spawn_pruning(stopped.clone()),
            maintenance::spawn((**state).clone(), stopped.clone()),
            crate::request_log::spawn(stopped.clone()),
            crate::wal_checkpoint::spawn(
                state.db.clone(),
                settings.database_busy_timeout,
                stopped.clone(),
            ),
        ];
        if settings.mail.worker {
            jobs.push(delivery_worker(&state).spawn(stopped));
        }
        Ok(Application {
            port,
            server,
            state,
            bootstrap,
            shutdown,
            jobs,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// What start-up did about the first admin (the link to print, if any).
    pub fn bootstrap(&self) -> &Bootstrap {
        &self.bootstrap
    }

    /// Serves until a signal: on SIGTERM in-flight requests finish first (up
    /// to 30 s), SIGINT stops at once; then the background jobs stop.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        let _ = self.shutdown.send(true);
        for job in self.jobs {
            let _ = job.await;
        }
        served
    }
}

/// Everything a request needs, without the HTTP server (also used by the CLI).
pub async fn build_state(
    settings: Settings,
    clock: Clock,
) -> Result<web::Data<AppState>, StartupError> {
    let settings = Arc::new(settings);
    let theme = Theme::load(settings.theme_dir.as_deref())?;
    let branding = Branding::new(&settings, &theme);
    let templates = EmailTemplates::new(&branding, &theme)?;
    let pages = PageTemplates::new(&branding, &theme)?;
    let db = connect_database(&settings, true).await?;
    let keys = Arc::new(load_keys(&settings, &db, &clock).await?);
    Ok(web::Data::new(AppState {
        db,
        keys,
        hasher: PasswordHasher::new(
            settings.hash_concurrency,
            settings.hash_queue,
            settings.hash_queue_wait,
            settings.hash_memory,
        ),
        templates,
        pages,
        clock,
        settings,
    }))
}

/// The app's delivery worker: the configured mailer, the use cases that
/// resolve the requests waiting in the outbox, and the webhook courier.
pub fn delivery_worker(state: &AppState) -> DeliveryWorker {
    let settings = &state.settings.mail;
    DeliveryWorker::new(
        state.db.clone(),
        Mailer::new(settings),
        settings.clone(),
        state.clock.clone(),
        resolver(state.clone()),
    )
    .with_webhooks(Courier::new(
        state.db.clone(),
        &state.settings.webhooks,
        state.clock.clone(),
    ))
}

/// Each kind of request goes to its use case.
fn resolver(state: AppState) -> Resolve {
    Arc::new(move |row: OutboxRow| {
        let state = state.clone();
        Box::pin(async move {
            match RequestKind::parse(&row.kind) {
                Some(RequestKind::ForgotPassword) => {
                    Ok(accounts::resolve_forgot_password(&state, row.id, row.recipient).await?)
                }
                Some(RequestKind::UserImport) => {
                    user_imports::resolve(&state, row.id, row.recipient).await?;
                    Ok(())
                }
                None => Err(format!("`{}` is not a request", row.kind).into()),
            }
        })
    })
}

/// Connects (failing fast with the real error) and optionally migrates.
pub async fn connect_database(settings: &Settings, migrate: bool) -> Result<Db, DbSetupError> {
    let url = settings.database_url.expose_secret().to_string();
    let options = db::PoolOptions {
        size: settings.database_pool_size,
        timeout: settings.database_timeout,
        busy_timeout: settings.database_busy_timeout,
    };
    let pool = actix_web::rt::task::spawn_blocking(move || db::connect(&url, &options, migrate))
        .await
        .map_err(|e| DbSetupError::Migrate(e.to_string()))??;
    Ok(Db::new(pool))
}

/// The signing keys: from `ROSTER_JWT_KEY_FILE`, or those kept in the
/// database, the first generated on a new one (if instances race, the first
/// insert wins for all).
async fn load_keys(settings: &Settings, db: &Db, clock: &Clock) -> Result<JwtKeys, StartupError> {
    if let Some(path) = &settings.jwt_key_file {
        return Ok(JwtKeys::from_file(path, &settings.jwt_issuer)?);
    }
    let now = clock.now_db();
    let stored = db
        .run(move |conn| -> Result<_, DbError> {
            if signing_keys::all(conn)?.is_empty() {
                signing_keys::insert_first(conn, &jwt::generate_pem(), now)?;
            }
            keys::stored_keys(conn)
        })
        .await?;
    Ok(JwtKeys::stored(
        &stored,
        &settings.jwt_issuer,
        settings.access_token_ttl,
        clock.now().unix_timestamp(),
    )?)
}

/// The OpenAPI document, as served at `/openapi.json`.
struct OpenApiJson(web::Bytes);

async fn serve_openapi(document: web::Data<OpenApiJson>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .body(document.0.clone())
}

fn serve(
    listener: TcpListener,
    state: web::Data<AppState>,
    auth_limit: AuthRateLimit,
    form_limit: FormRateLimit,
    workers: usize,
) -> std::io::Result<Server> {
    let document = openapi::document();
    let routes = web::Data::new(RouteTable::from_openapi(&document));
    // Serialized once and shared by every worker: the document is large,
    // and Swagger UI's own handler keeps a copy per worker and serializes it
    // on every request.
    let document = web::Data::new(OpenApiJson(web::Bytes::from(
        serde_json::to_vec(&document).map_err(std::io::Error::other)?,
    )));
    let trusted_proxies = TrustedProxies::new(&state.settings.trusted_proxies);
    let pool_size = state.settings.database_pool_size as usize;
    let throttle = web::Data::new(auth_limit.clone());
    let server = HttpServer::new(move || {
        let (app, _) = App::new()
            .into_utoipa_app()
            .openapi(ApiDoc::openapi())
            .configure(crate::routes::configure(auth_limit.clone()))
            .split_for_parts();
        app.app_data(state.clone())
            .app_data(routes.clone())
            .app_data(trusted_proxies.clone())
            .app_data(throttle.clone())
            .app_data(document.clone())
            .route("/openapi.json", web::get().to(serve_openapi))
            .service(SwaggerUi::new("/docs/{_:.*}").config(SwaggerConfig::from("/openapi.json")))
            .route("/docs", web::get().to(redirect_to_docs))
            .configure(crate::routes::pages::configure(
                &state.pages,
                form_limit.clone(),
            ))
            .default_service(web::to(fallback))
            .wrap(from_fn(crate::metrics::record_requests))
            .wrap(TracingLogger::<RosterRootSpan>::new())
            .wrap(from_fn(request_id_middleware))
            .wrap(from_fn(crate::client_ip::middleware))
    })
    .workers(workers)
    // Blocking work is database work, which never runs wider than the pool:
    // more threads would only wait for a connection, each holding a stack and
    // an allocator arena (a sign-in flood once grew 370 of them). Twice the
    // pool leaves room for requests that wait out a pool timeout. The cap is
    // per worker: twice the pool in all, not per worker.
    .worker_max_blocking_threads((pool_size * 2).div_ceil(workers.max(1)))
    .shutdown_timeout(30)
    .listen(listener)?
    .run();
    Ok(server)
}

async fn redirect_to_docs() -> actix_web::HttpResponse {
    actix_web::HttpResponse::MovedPermanently()
        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
        .finish()
}
