//! HTTP handlers: thin, each documented with `#[utoipa::path]`.

pub mod audit;
pub mod auth;
pub mod common;
pub mod customers;
pub mod health;
pub mod me;
pub mod memberships;
pub mod users;
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
        .service(me::change_password)
        .service(customers::create_customer)
        .service(customers::list_customers)
        .service(customers::get_customer)
        .service(customers::update_customer)
        .service(memberships::list_customer_users)
        .service(memberships::add_customer_user)
        .service(memberships::update_customer_user)
        .service(memberships::remove_customer_user)
        .service(users::list_users)
        .service(users::get_user)
        .service(users::update_user)
        .service(users::delete_user)
        .service(users::set_status)
        .service(users::unlock_user)
        .service(users::send_activation_email)
        .service(users::send_password_reset_email)
        .service(audit::list_audit_events);
}
