//! HTTP handlers: thin, each documented with `#[utoipa::path]`.

pub mod auth;
pub mod health;
pub mod me;
pub mod views;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every documented route.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(auth::issue_token)
        .service(auth::revoke_token)
        .service(auth::jwks)
        .service(auth::inspect_action_token)
        .service(auth::activate)
        .service(auth::forgot_password)
        .service(auth::reset_password)
        .service(me::me)
        .service(me::change_password);
}
