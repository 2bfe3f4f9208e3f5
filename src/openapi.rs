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
    let (_, mut doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::configure(
            crate::rate_limit::AuthRateLimit::new(0),
        ))
        .split_for_parts();
    document_shared_problems(&mut doc);
    doc
}

/// The errors every operation shares by construction (the JSON extractor and
/// the query parser are the same everywhere), added where a handler's own
/// list does not already name them.
fn document_shared_problems(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::path::ParameterIn;
    const BODY: [(&str, &str); 3] = [
        ("400", "The body is not valid JSON"),
        ("413", "The body is larger than 64 KiB"),
        ("415", "The body is not `application/json`"),
    ];
    const QUERY: [(&str, &str); 1] = [("422", "A query parameter is invalid")];
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let json_body = operation.request_body.as_ref().is_some_and(|body| {
                body.content.contains_key("application/json")
                    && !body
                        .content
                        .contains_key("application/x-www-form-urlencoded")
            });
            let has_query = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| p.parameter_in == ParameterIn::Query);
            let shared = json_body
                .then_some(&BODY[..])
                .into_iter()
                .chain(has_query.then_some(&QUERY[..]))
                .flatten();
            for (status, description) in shared {
                operation
                    .responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem_response(description));
            }
        }
    }
}

fn problem_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            crate::error::PROBLEM_CONTENT_TYPE,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
        .into()
}

/// The committed form of the document (`openapi/openapi.json`).
pub fn document_json() -> String {
    let mut text = document()
        .to_pretty_json()
        .expect("the document serializes");
    text.push('\n');
    text
}
