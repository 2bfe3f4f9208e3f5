//! The OpenAPI document: metadata and security schemes here; paths and
//! schemas are collected from the handlers when the app is assembled.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "roster",
        description = "User administration for multi-tenant SaaS: customers, seats, password users, their lifecycle and audit.\n\nErrors are RFC 9457 `application/problem+json` with a machine `code`; the token endpoint answers in RFC 6749 form. Lists use `?limit=` (1–200) and an opaque `?cursor=`, newest first.",
        license(name = "MIT"),
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign-in, tokens and emailed links"),
        (name = "me", description = "The signed-in user"),
        (name = "customers", description = "Customers and their seats"),
        (name = "memberships", description = "A customer's users"),
        (name = "users", description = "Users across the platform, status and lifecycle"),
        (name = "audit", description = "Audit events"),
        (name = "api-clients", description = "Credentials for provisioning scripts"),
        (name = "email", description = "The email outbox"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some("An access token from `POST /v1/auth/token`."))
                    .build(),
            ),
        );
    }
}

/// The whole document, exactly as `/openapi.json` serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    use utoipa_actix_web::AppExt;
    let (_, doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::configure(
            crate::rate_limit::AuthRateLimit::new(0),
        ))
        .split_for_parts();
    doc
}

/// The committed form of the document (`openapi/openapi.json`).
pub fn document_json() -> String {
    let mut text = document()
        .to_pretty_json()
        .expect("the document serializes");
    text.push('\n');
    text
}
