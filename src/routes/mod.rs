//! HTTP handlers: thin, each documented with `#[utoipa::path]`.

pub mod api_clients;
pub mod audit;
pub mod auth;
pub mod common;
pub mod customers;
pub mod email_deliveries;
pub mod events;
pub mod extract;
pub mod groups;
pub mod health;
pub mod links;
pub mod me;
pub mod memberships;
pub mod pages;
pub mod scim;
pub mod scim_tokens;
pub mod user_imports;
pub mod users;
pub mod views;
pub mod webhooks;

use actix_web::middleware::from_fn;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::rate_limit::AuthRateLimit;

/// Registers every documented route; `/v1/auth/*` is throttled per client IP.
pub fn configure(auth_limit: AuthRateLimit) -> impl FnOnce(&mut ServiceConfig) {
    move |cfg| {
        let auth = utoipa_actix_web::scope("/v1/auth")
            .wrap(from_fn(move |req, next| {
                auth_limit.clone().admit(req, next)
            }))
            .service(auth::issue_token)
            .service(auth::revoke_token)
            .service(links::inspect_action_token)
            .service(links::activate)
            .service(links::forgot_password)
            .service(links::reset_password);
        cfg.service(auth);
        register(cfg);
    }
}

fn register(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(crate::metrics::metrics_endpoint)
        .service(auth::jwks)
        .service(me::me)
        .service(me::change_password)
        .service(customers::create_customer)
        .service(customers::list_customers)
        .service(customers::get_customer)
        .service(customers::update_customer)
        .service(memberships::list_customer_users)
        .service(user_imports::export_customer_users)
        .service(user_imports::create_user_import)
        .service(user_imports::get_user_import)
        .service(user_imports::list_user_import_errors)
        .service(memberships::add_customer_user)
        .service(memberships::update_customer_user)
        .service(memberships::remove_customer_user)
        .service(groups::list_groups)
        .service(groups::create_group)
        .service(groups::get_group)
        .service(groups::update_group)
        .service(groups::delete_group)
        .service(groups::add_group_member)
        .service(groups::remove_group_member)
        .service(users::list_users)
        .service(users::get_user)
        .service(users::update_user)
        .service(users::delete_user)
        .service(users::set_status)
        .service(users::unlock_user)
        .service(users::send_activation_email)
        .service(users::send_password_reset_email)
        .service(audit::list_audit_events)
        .service(api_clients::create_api_client)
        .service(api_clients::list_api_clients)
        .service(api_clients::revoke_api_client)
        .service(email_deliveries::list_email_deliveries)
        .service(email_deliveries::retry_email_delivery)
        .service(webhooks::create_webhook_endpoint)
        .service(webhooks::list_webhook_endpoints)
        .service(webhooks::get_webhook_endpoint)
        .service(webhooks::update_webhook_endpoint)
        .service(webhooks::delete_webhook_endpoint)
        .service(webhooks::rotate_webhook_secret)
        .service(webhooks::test_webhook_endpoint)
        .service(webhooks::list_webhook_deliveries)
        .service(webhooks::retry_webhook_delivery)
        .service(events::list_events)
        .service(scim_tokens::create_scim_token)
        .service(scim_tokens::list_scim_tokens)
        .service(scim_tokens::revoke_scim_token);
    register_scim(cfg);
}

/// `/scim/v2`: the resources, then SCIM-shaped 404/405 for the rest of it.
fn register_scim(cfg: &mut ServiceConfig) {
    cfg.service(scim::scim_service_provider_config)
        .service(scim::scim_list_resource_types)
        .service(scim::scim_get_resource_type)
        .service(scim::scim_list_schemas)
        .service(scim::scim_get_schema)
        .service(scim::scim_search)
        .service(scim::scim_search_users)
        .service(scim::scim_list_users)
        .service(scim::scim_create_user)
        .service(scim::scim_get_user)
        .service(scim::scim_replace_user)
        .service(scim::scim_patch_user)
        .service(scim::scim_delete_user)
        .service(scim::scim_search_groups)
        .service(scim::scim_list_groups)
        .service(scim::scim_create_group)
        .service(scim::scim_get_group)
        .service(scim::scim_replace_group)
        .service(scim::scim_patch_group)
        .service(scim::scim_delete_group)
        .route(
            "/scim/v2/{tail:.*}",
            actix_web::web::route().to(scim::scim_fallback),
        );
}
