//! The OpenAPI document: metadata and security schemes here; paths and
//! schemas are collected from the handlers when the app is assembled.

pub mod contract;
pub mod responses;
pub mod schemas;
mod types;

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "roster",
        description = "User administration for a multi-tenant SaaS: customers and their licensed seats, the password users who belong to them (with a role and product settings in each), the users' lifecycle (invited, active, inactive, expired, retired), emailed links, API clients for provisioning scripts, and an audit log of every change.\n\n## Where to start\n\n1. **Sign in**: `POST /v1/auth/token` with a form body `grant_type=password&username=…&password=…` answers an access token (15 min) and a refresh token. Send the access token as `Authorization: Bearer …`; before it expires, trade the refresh token for a new pair (`grant_type=refresh_token`). Scripts use `grant_type=client_credentials` with an API client's id and secret.\n2. **Who am I**: `GET /v1/me` returns your user and memberships: a platform admin (`platform_role: admin`) administers everything, a customer `admin` administers that customer's users.\n3. **The first admin task**: `GET /v1/customers` to find the customer, then `POST /v1/customers/{customer_id}/users` to add a user (a new email gets an invited user and an activation email), `GET /v1/customers/{customer_id}/users` to list them, and `PUT /v1/users/{user_id}/status` to inactivate or reactivate one.\n\n## Conventions\n\n- **Errors** are RFC 9457 `application/problem+json` with a machine `code` (the `ErrorCode` schema lists every one): switch on `code`, show `detail`. Each response lists the codes it can carry in its description and in `x-problem-codes`; `default` covers 405, 500 and 503. The token endpoints answer in RFC 6749 form (`OAuthError`).\n- **Roles**: each operation states the least role it needs in `x-required-role`; a caller without it gets 403, or 404 when it may not even see the resource.\n- **Lists** take `?limit=` (1–200, default 50) and an opaque `?cursor=`; follow `next_cursor` until it is null. Newest first.\n- **Concurrency**: editable resources answer an `ETag`; send it back as `If-Match` to get 412 instead of overwriting someone else's change.\n- **Retries**: creations accept an `Idempotency-Key`; a 429 or 503 carries `Retry-After`.\n- **Tracing**: every answer carries `X-Request-Id`; audit events record it.",
        contact(name = "roster maintainers", email = "roster-maintainers@example.com"),
        license(name = "MIT", identifier = "MIT"),
    ),
    servers((url = "/", description = "The roster instance that serves this document, in production or in a test environment alike (every path below starts at its root, e.g. https://roster.example.com/v1/me)")),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Sign-in, tokens and emailed links"),
        (name = "me", description = "The signed-in user"),
        (name = "customers", description = "Customers and their seats"),
        (name = "memberships", description = "A customer's users"),
        (name = "groups", description = "A customer's groups of users (user group tags)"),
        (name = "user-imports", description = "Bulk import and export of a customer's users"),
        (name = "users", description = "Users across the platform, status and lifecycle"),
        (name = "audit", description = "Audit events"),
        (name = "api-clients", description = "Credentials for provisioning scripts"),
        (name = "scim-tokens", description = "Bearer tokens for identity providers' SCIM connectors"),
        (name = "SCIM", description = "SCIM 2.0 (RFC 7643, RFC 7644) for identity providers, with a SCIM token: the customer's members and groups (docs/scim.md)"),
        (name = "email", description = "The email outbox"),
        (name = "webhooks", description = "Webhook endpoints, their deliveries and the event feed"),
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
                    .description(Some("An access token from `POST /v1/auth/token`: a short-lived EdDSA JWT, issued and checked as RFC8725 recommends."))
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
    declare_public_operations(&mut doc);
    parameters_are_never_null(&mut doc);
    spell_links_in_camel_case(&mut doc);
    page_items_by_reference(&mut doc);
    if let Some(description) = doc.info.description.as_mut() {
        description.push_str("\n\n### Values of `x-required-role`\n\n");
        description.push_str(&contract::required_roles_table());
    }
    contract::add_component_schemas(&mut doc);
    contract::apply(&mut doc);
    types::tidy(&mut doc);
    doc
}

/// utoipa 5 inlines the item schema of a generic `Page<T>`; refer to `T`'s
/// component instead, so every item type is one named schema.
fn page_items_by_reference(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{ArrayItems, Schema};
    use utoipa::openapi::{Ref, RefOr};
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let names: Vec<String> = components.schemas.keys().cloned().collect();
    for name in names {
        let Some(item) = name.strip_prefix("Page_") else {
            continue;
        };
        if !components.schemas.contains_key(item) {
            continue;
        }
        let item = item.to_string();
        if let Some(RefOr::T(Schema::Object(page))) = components.schemas.get_mut(&name) {
            if let Some(RefOr::T(Schema::Array(items))) = page.properties.get_mut("items") {
                items.items =
                    ArrayItems::RefOrSchema(Box::new(RefOr::Ref(Ref::from_schema_name(item))));
            }
        }
    }
}

fn operations_mut(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

/// An operation without a bearer requirement says so with `security: []`
/// (anyone may call it), rather than leaving it unsaid.
fn declare_public_operations(doc: &mut utoipa::openapi::OpenApi) {
    for item in doc.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            operation.security.get_or_insert_with(Vec::new);
        }
    }
}

/// Query and header parameters are strings on the wire and cannot be null;
/// utoipa marks `Option<T>` parameters nullable, so drop the `null` type.
fn parameters_are_never_null(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    use utoipa::openapi::RefOr;
    for item in doc.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            for parameter in operation.parameters.iter_mut().flatten() {
                if let Some(RefOr::T(Schema::Object(object))) = parameter.schema.as_mut() {
                    if let SchemaType::Array(types) = &object.schema_type {
                        let types: Vec<Type> = types
                            .iter()
                            .filter(|t| **t != Type::Null)
                            .cloned()
                            .collect();
                        object.schema_type = match types.as_slice() {
                            [one] => SchemaType::Type(one.clone()),
                            _ => SchemaType::Array(types),
                        };
                    }
                }
            }
        }
    }
}

/// utoipa 5 serializes the fields of a Link Object in snake_case
/// (`operation_id`); the specification spells them `operationId`,
/// `operationRef` and `requestBody`, which is what tools follow.
fn spell_links_in_camel_case(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for item in doc.paths.paths.values_mut() {
        for operation in operations_mut(item) {
            for response in operation.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                for link in response.links.values_mut() {
                    let RefOr::T(link) = link else { continue };
                    let extensions = link.extensions.get_or_insert_with(Default::default);
                    for (key, value) in [
                        ("operationId", std::mem::take(&mut link.operation_id)),
                        ("operationRef", std::mem::take(&mut link.operation_ref)),
                    ] {
                        if !value.is_empty() {
                            extensions.insert(key.to_string(), value.into());
                        }
                    }
                    if let Some(body) = link.request_body.take() {
                        extensions.insert("requestBody".to_string(), body);
                    }
                }
            }
        }
    }
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
    const THROTTLED: [(&str, &str); 1] = [(
        "429",
        "Too many requests from this address (`ROSTER_AUTH_RATE_LIMIT`); see `Retry-After`",
    )];
    const CONFIRMING: [(&str, &str); 1] = [(
        "429",
        "`confirmation_limit_reached`: the caller asked for `ROSTER_CONFIRMATION_EMAILS_PER_HOUR` confirmations in the last hour; nothing changed; see `Retry-After`",
    )];
    let confirming_bodies = schemas_with_property(doc, "confirmation_email");
    for (path, item) in doc.paths.paths.iter_mut() {
        let throttled = path.starts_with("/v1/auth/");
        for operation in operations_mut(item) {
            let confirms = operation
                .parameters
                .iter()
                .flatten()
                .any(|p| p.name == "confirmation_email")
                || json_body_schema(operation).is_some_and(|name| confirming_bodies.contains(name));
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
                .chain(throttled.then_some(&THROTTLED[..]))
                .chain(confirms.then_some(&CONFIRMING[..]))
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

/// The component schemas that have `property`.
fn schemas_with_property(
    doc: &utoipa::openapi::OpenApi,
    property: &str,
) -> std::collections::BTreeSet<String> {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    doc.components
        .iter()
        .flat_map(|components| components.schemas.iter())
        .filter(|(_, schema)| {
            matches!(schema, RefOr::T(Schema::Object(object)) if object.properties.contains_key(property))
        })
        .map(|(name, _)| name.clone())
        .collect()
}

/// The component name of an operation's JSON request body, if it is one.
fn json_body_schema(operation: &utoipa::openapi::path::Operation) -> Option<&str> {
    use utoipa::openapi::RefOr;
    let content = operation
        .request_body
        .as_ref()?
        .content
        .get("application/json")?;
    match content.schema.as_ref()? {
        RefOr::Ref(reference) => reference.ref_location.strip_prefix("#/components/schemas/"),
        RefOr::T(_) => None,
    }
}

pub(crate) fn problem_response(
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
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
