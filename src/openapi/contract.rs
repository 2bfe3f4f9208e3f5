//! What the handlers' annotations cannot say, added to the document in one
//! pass: who may call each operation (`x-required-role`), the problem codes
//! each response can carry (`x-problem-codes`, from [`ErrorCode`]), the
//! headers every answer has, the `default` problem, and the security schemes.

use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{OpenApi, RefOr, Response};

use crate::error::ErrorCode;

/// The least a caller must be to call an operation (`x-required-role`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequiredRole {
    /// Anyone; no access token.
    Public,
    /// Any signed-in user or API client.
    SignedIn,
    /// A member (any role) of the customer in the path, or a platform admin.
    CustomerMember,
    /// An admin of the customer concerned (for users: of one of their
    /// customers), a customer API client of it, or a platform admin.
    CustomerAdmin,
    /// An admin of every customer the user belongs to (and the user is not a
    /// platform admin), or a platform admin.
    UserAdmin,
    /// A platform admin or a platform API client.
    PlatformAdmin,
    /// A SCIM token (`/scim/v2`): it sees and changes its customer only.
    ScimToken,
}

impl RequiredRole {
    pub const ALL: [RequiredRole; 7] = [
        RequiredRole::Public,
        RequiredRole::SignedIn,
        RequiredRole::CustomerMember,
        RequiredRole::CustomerAdmin,
        RequiredRole::UserAdmin,
        RequiredRole::PlatformAdmin,
        RequiredRole::ScimToken,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RequiredRole::Public => "public",
            RequiredRole::SignedIn => "signed_in",
            RequiredRole::CustomerMember => "customer_member",
            RequiredRole::CustomerAdmin => "customer_admin",
            RequiredRole::UserAdmin => "user_admin",
            RequiredRole::PlatformAdmin => "platform_admin",
            RequiredRole::ScimToken => "scim_token",
        }
    }

    pub fn meaning(self) -> &'static str {
        match self {
            RequiredRole::Public => "anyone; no access token",
            RequiredRole::SignedIn => "any signed-in user or API client",
            RequiredRole::CustomerMember => {
                "a member (any role) of the customer, or a platform admin"
            }
            RequiredRole::CustomerAdmin => {
                "an admin of the customer concerned (for a user: of one of their customers), an API client of that customer, or a platform admin"
            }
            RequiredRole::UserAdmin => {
                "an admin of every customer the user belongs to (never for a platform admin as target), or a platform admin"
            }
            RequiredRole::PlatformAdmin => "a platform admin or a platform API client",
            RequiredRole::ScimToken => {
                "a SCIM token (`POST /v1/customers/{customer_id}/scim-tokens`), which sees and changes its own customer only"
            }
        }
    }
}

/// One operation's role and the codes only it can answer with (the codes
/// every operation with a given status shares come from [`shared_codes`]).
struct OperationRule {
    id: &'static str,
    role: RequiredRole,
    codes: &'static [ErrorCode],
}

const fn rule(id: &'static str, role: RequiredRole, codes: &'static [ErrorCode]) -> OperationRule {
    OperationRule { id, role, codes }
}

use ErrorCode as C;
use RequiredRole as R;

const RULES: &[OperationRule] = &[
    rule("issue_token", R::Public, &[]),
    rule("revoke_token", R::Public, &[]),
    rule("inspect_action_token", R::Public, &[]),
    rule("activate_account", R::Public, &[]),
    rule("request_password_reset", R::Public, &[]),
    rule("reset_password", R::Public, &[]),
    rule("check_liveness", R::Public, &[]),
    rule("check_readiness", R::Public, &[]),
    rule("get_metrics", R::Public, &[]),
    rule("get_jwks", R::Public, &[]),
    rule("get_me", R::SignedIn, &[]),
    rule("change_password", R::SignedIn, &[C::RateLimited]),
    rule("list_customers", R::SignedIn, &[]),
    rule("create_customer", R::PlatformAdmin, &[]),
    rule("get_customer", R::CustomerMember, &[]),
    rule("update_customer", R::PlatformAdmin, &[]),
    rule("list_customer_users", R::CustomerAdmin, &[]),
    rule(
        "export_customer_users",
        R::CustomerAdmin,
        &[C::NotAcceptable],
    ),
    rule(
        "create_user_import",
        R::CustomerAdmin,
        &[C::PayloadTooLarge, C::UnsupportedMediaType],
    ),
    rule("get_user_import", R::CustomerAdmin, &[]),
    rule("list_user_import_errors", R::CustomerAdmin, &[]),
    rule(
        "add_customer_user",
        R::CustomerAdmin,
        &[
            C::AlreadyMember,
            C::SeatLimitReached,
            C::UserRetired,
            C::EmailTaken,
            C::ExternalIdTaken,
        ],
    ),
    rule(
        "update_customer_user",
        R::CustomerAdmin,
        &[C::ExternalIdTaken],
    ),
    rule("list_groups", R::CustomerAdmin, &[]),
    rule(
        "create_group",
        R::CustomerAdmin,
        &[C::GroupNameTaken, C::ExternalIdTaken],
    ),
    rule("get_group", R::CustomerAdmin, &[]),
    rule(
        "update_group",
        R::CustomerAdmin,
        &[C::GroupNameTaken, C::ExternalIdTaken],
    ),
    rule("delete_group", R::CustomerAdmin, &[]),
    rule("add_group_member", R::CustomerAdmin, &[]),
    rule("remove_group_member", R::CustomerAdmin, &[]),
    rule("remove_customer_user", R::CustomerAdmin, &[]),
    rule("list_users", R::PlatformAdmin, &[]),
    rule("get_user", R::CustomerAdmin, &[]),
    rule("update_user", R::UserAdmin, &[C::EmailTaken]),
    rule("delete_user", R::PlatformAdmin, &[C::CannotChangeSelf]),
    rule(
        "set_user_status",
        R::UserAdmin,
        &[
            C::SeatLimitReached,
            C::UserNotActivated,
            C::UserRetired,
            C::CannotChangeSelf,
        ],
    ),
    rule("unlock_user", R::UserAdmin, &[]),
    rule("send_activation_email", R::UserAdmin, &[C::NotInvited]),
    rule("send_password_reset_email", R::UserAdmin, &[C::NotActive]),
    rule("list_audit_events", R::CustomerAdmin, &[]),
    rule("list_api_clients", R::CustomerAdmin, &[]),
    rule("create_api_client", R::CustomerAdmin, &[]),
    rule("revoke_api_client", R::CustomerAdmin, &[]),
    rule("list_email_deliveries", R::PlatformAdmin, &[]),
    rule("retry_email_delivery", R::PlatformAdmin, &[C::NotFailed]),
    rule("list_events", R::CustomerAdmin, &[]),
    rule("create_webhook_endpoint", R::CustomerAdmin, &[]),
    rule("list_webhook_endpoints", R::CustomerAdmin, &[]),
    rule("get_webhook_endpoint", R::CustomerAdmin, &[]),
    rule("update_webhook_endpoint", R::CustomerAdmin, &[]),
    rule("delete_webhook_endpoint", R::CustomerAdmin, &[]),
    rule("rotate_webhook_secret", R::CustomerAdmin, &[]),
    rule(
        "test_webhook_endpoint",
        R::CustomerAdmin,
        &[C::EndpointDisabled],
    ),
    rule("list_webhook_deliveries", R::CustomerAdmin, &[]),
    rule(
        "retry_webhook_delivery",
        R::CustomerAdmin,
        &[C::NotFailed, C::EndpointDisabled],
    ),
    rule("create_scim_token", R::CustomerAdmin, &[]),
    rule("list_scim_tokens", R::CustomerAdmin, &[]),
    rule("revoke_scim_token", R::CustomerAdmin, &[]),
    rule("scim_get_service_provider_config", R::ScimToken, &[]),
    rule("scim_list_resource_types", R::ScimToken, &[]),
    rule("scim_get_resource_type", R::ScimToken, &[]),
    rule("scim_list_schemas", R::ScimToken, &[]),
    rule("scim_get_schema", R::ScimToken, &[]),
    rule("scim_list_users", R::ScimToken, &[]),
    rule("scim_search", R::ScimToken, &[]),
    rule("scim_search_users", R::ScimToken, &[]),
    rule("scim_create_user", R::ScimToken, &[]),
    rule("scim_get_user", R::ScimToken, &[]),
    rule("scim_replace_user", R::ScimToken, &[]),
    rule("scim_patch_user", R::ScimToken, &[]),
    rule("scim_delete_user", R::ScimToken, &[]),
    rule("scim_list_groups", R::ScimToken, &[]),
    rule("scim_search_groups", R::ScimToken, &[]),
    rule("scim_create_group", R::ScimToken, &[]),
    rule("scim_get_group", R::ScimToken, &[]),
    rule("scim_replace_group", R::ScimToken, &[]),
    rule("scim_patch_group", R::ScimToken, &[]),
    rule("scim_delete_group", R::ScimToken, &[]),
];

/// The codes any operation answering `status` can carry.
fn shared_codes(status: u16) -> &'static [ErrorCode] {
    match status {
        400 => &[C::MalformedRequest],
        401 => &[C::Unauthorized],
        403 => &[C::Forbidden],
        404 => &[C::NotFound],
        410 => &[C::Gone],
        412 => &[C::PreconditionFailed],
        406 => &[C::NotAcceptable],
        413 => &[C::PayloadTooLarge],
        415 => &[C::UnsupportedMediaType],
        422 => &[C::ValidationFailed],
        _ => &[],
    }
}

/// The codes of the `default` response: what any operation may meet.
const DEFAULT_CODES: [ErrorCode; 3] =
    [C::MethodNotAllowed, C::InternalError, C::ServiceUnavailable];

pub const REQUIRED_ROLE: &str = "x-required-role";
pub const PROBLEM_CODES: &str = "x-problem-codes";

/// Summaries, descriptions and examples, by operation id: prose lives in a
/// data file so the handlers stay short.
const PROSE: &str = include_str!("operations.json");

#[derive(serde::Deserialize)]
struct Prose {
    summary: String,
    description: String,
    request_example: Option<serde_json::Value>,
    response_example: Option<serde_json::Value>,
}

fn prose() -> std::collections::BTreeMap<String, Prose> {
    serde_json::from_str(PROSE).expect("src/openapi/operations.json is valid")
}

fn write_prose(operation: &mut Operation, prose: &Prose) {
    operation.summary = Some(prose.summary.clone());
    operation.description = Some(prose.description.clone());
    if let (Some(example), Some(body)) = (&prose.request_example, operation.request_body.as_mut()) {
        for content in body.content.values_mut() {
            content.example = Some(example.clone());
        }
    }
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        if !status.starts_with('2') {
            continue;
        }
        if response.description.is_empty() {
            response.description = success_description(status).to_string();
        }
        for media_type in ["application/json", "application/scim+json"] {
            if let (Some(example), Some(content)) = (
                &prose.response_example,
                response.content.get_mut(media_type),
            ) {
                content.example = Some(example.clone());
            }
        }
    }
}

fn success_description(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted: the email is queued for the delivery worker",
        "204" => "Done; no body",
        _ => "Success",
    }
}

/// The operation's error codes, appended to its description.
fn list_codes_in_description(operation: &mut Operation) {
    let mut lines = Vec::new();
    for (status, response) in &operation.responses.responses {
        let RefOr::T(response) = response else {
            continue;
        };
        let codes = response
            .extensions
            .as_ref()
            .and_then(|e| e.get(PROBLEM_CODES).or_else(|| e.get(OAUTH_ERRORS)))
            .and_then(|v| v.as_array());
        if let Some(codes) = codes {
            let names: Vec<String> = codes
                .iter()
                .filter_map(|c| c.as_str())
                .map(|c| format!("`{c}`"))
                .collect();
            lines.push(format!("- {status}: {}", names.join(", ")));
        }
    }
    if let Some(description) = operation.description.as_mut() {
        description.push_str("\n\n**Errors:**\n");
        description.push_str(&lines.join("\n"));
    }
}

pub const OAUTH_ERRORS: &str = "x-oauth-errors";

/// The RFC 6749 `error` values each OAuthError answer can carry.
fn document_oauth_errors(operation: &mut Operation, id: &str) {
    use crate::routes::auth::OAuthErrorKind as K;
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let is_oauth = response.content.values().any(|content| {
            matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/OAuthError"))
        });
        if !is_oauth {
            continue;
        }
        let kinds: &[K] = match (id, status.as_str()) {
            ("issue_token", "400") => {
                &[K::InvalidRequest, K::InvalidGrant, K::UnsupportedGrantType]
            }
            ("issue_token", "401") => &[K::InvalidClient],
            _ => &[K::InvalidRequest],
        };
        let names: Vec<serde_json::Value> = kinds.iter().map(|k| k.as_str().into()).collect();
        let lines: Vec<String> = kinds
            .iter()
            .map(|k| format!("- `{}`: {}", k.as_str(), k.meaning()))
            .collect();
        let lead = first_sentence_or_reason(&response.description, status.parse().unwrap_or(0));
        response.description = format!("{lead}\n\nErrors (`error`):\n{}", lines.join("\n"));
        response
            .extensions
            .get_or_insert_with(Default::default)
            .insert(OAUTH_ERRORS.to_string(), names.into());
    }
}

/// Descriptions for parameters whose schema helper loses the doc comment.
fn describe_parameters(operation: &mut Operation) {
    for parameter in operation.parameters.iter_mut().flatten() {
        let missing = parameter
            .description
            .as_deref()
            .is_none_or(|d| d.trim().is_empty());
        if !missing {
            continue;
        }
        let text = match parameter.name.as_str() {
            "cursor" => "The `next_cursor` of the previous page; leave it out for the first page.",
            "limit" => "Items per page, 1–200 (default 50).",
            "q" => "Only items whose text starts with this (case-insensitive); leave it out for all.",
            "status" => "Only items in this status; leave it out for any.",
            "role" => "Only members with this role; leave it out for any.",
            "kind" => "Only emails of this kind; leave it out for any.",
            "recipient" => "Only emails to this address; leave it out for any.",
            "action" => "Only events with this action (e.g. `user.status_changed`); leave it out for any.",
            "user_id" => "The user's id.",
            "customer_id" => "The customer's id.",
            "requester_name" => "The person who asked for the change (\"Requester Name\"), kept in the audit log; leave it out for none.",
            "confirmation_email" => "Send an `action_confirmation` email about this change to this address; leave it out for none.",
            "token" => "The token from the emailed link.",
            "external_id" => "Only the one with this external id (exact match); leave it out for any.",
            "name" => "Only the one with this name (case-insensitive); leave it out for any.",
            "group_id" => "The group's id.",
            "types" => "Only events of these types, comma-separated (e.g. `user.status_changed,user.deleted`); leave it out for all.",
            other => panic!("parameter {other} has no description"),
        };
        parameter.description = Some(text.to_string());
    }
}

pub fn apply(doc: &mut OpenApi) {
    add_security_schemes(doc);
    for server in doc.servers.iter_mut().flatten() {
        server
            .extensions
            .get_or_insert_with(Default::default)
            .insert("x-internal".to_string(), false.into());
    }
    describe_properties(doc);
    let prose = prose();
    for (path, item) in doc.paths.paths.iter_mut() {
        for operation in super::operations_mut(item) {
            let id = operation.operation_id.clone().unwrap_or_default();
            let rule = RULES
                .iter()
                .find(|rule| rule.id == id)
                .unwrap_or_else(|| panic!("no rule for operation {id}: add it to RULES"));
            let text = prose.get(&id).unwrap_or_else(|| {
                panic!("no prose for operation {id}: add it to operations.json")
            });
            write_prose(operation, text);
            describe_parameters(operation);
            declare_role(operation, rule.role);
            if path.starts_with("/scim/v2/") {
                document_scim(operation);
                continue;
            }
            if id == "issue_token" {
                accept_client_basic(operation);
            }
            let codes = operation_codes(path, operation, rule);
            add_missing_problem_responses(operation, &codes);
            document_problem_codes(operation, &codes);
            add_internal_error(operation);
            add_default_problem(operation);
            document_oauth_errors(operation, &id);
            document_headers(operation);
            list_codes_in_description(operation);
        }
    }
}

/// Every code `operation` can answer with, beyond the shared ones.
fn operation_codes(path: &str, operation: &Operation, rule: &OperationRule) -> Vec<ErrorCode> {
    let mut codes = rule.codes.to_vec();
    let has_header = |name: &str| {
        operation
            .parameters
            .iter()
            .flatten()
            .any(|p| p.parameter_in == ParameterIn::Header && p.name == name)
    };
    if has_header("Idempotency-Key") {
        codes.extend([C::IdempotencyKeyReused, C::IdempotencyRequestInProgress]);
    }
    let responses = &operation.responses.responses;
    if path.starts_with("/v1/auth/") && responses.contains_key("429") {
        codes.push(C::RateLimited);
    }
    if confirms(operation) {
        codes.push(C::ConfirmationLimitReached);
    }
    codes
}

/// Whether the operation may send an action-confirmation email (its 429
/// says so: see `openapi::document_shared_problems`).
fn confirms(operation: &Operation) -> bool {
    match operation.responses.responses.get("429") {
        Some(RefOr::T(response)) => response.description.contains("confirmation_limit_reached"),
        _ => false,
    }
}

fn is_problem(response: &Response) -> bool {
    response
        .content
        .contains_key(crate::error::PROBLEM_CONTENT_TYPE)
}

fn add_missing_problem_responses(operation: &mut Operation, codes: &[ErrorCode]) {
    for code in codes {
        operation
            .responses
            .responses
            .entry(code.status().to_string())
            .or_insert_with(|| super::problem_response(""));
    }
}

fn document_problem_codes(operation: &mut Operation, own: &[ErrorCode]) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        let Ok(status) = status.parse::<u16>() else {
            continue;
        };
        if !is_problem(response) {
            continue;
        }
        let mut codes: Vec<ErrorCode> = shared_codes(status).to_vec();
        codes.extend(own.iter().copied().filter(|c| c.status() == status));
        codes.sort();
        codes.dedup();
        describe_codes(response, status, &codes);
    }
}

fn describe_codes(response: &mut Response, status: u16, codes: &[ErrorCode]) {
    let lead = first_sentence_or_reason(&response.description, status);
    let lines: Vec<String> = codes
        .iter()
        .map(|c| format!("- `{}`: {}", c.as_str(), c.meaning()))
        .collect();
    response.description = if lines.is_empty() {
        lead
    } else {
        format!("{lead}\n\nCodes:\n{}", lines.join("\n"))
    };
    let names: Vec<serde_json::Value> = codes.iter().map(|c| c.as_str().into()).collect();
    response
        .extensions
        .get_or_insert_with(Default::default)
        .insert(PROBLEM_CODES.to_string(), names.into());
}

/// The handler's own description of a problem response, or the status's
/// reason phrase when it gave none (the code list follows either way).
fn first_sentence_or_reason(description: &str, status: u16) -> String {
    let own = description.trim();
    if !own.is_empty() && !own.starts_with('`') {
        return own.to_string();
    }
    actix_web::http::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
        .to_string()
}

fn add_internal_error(operation: &mut Operation) {
    let RefOr::T(mut response) = super::problem_response(
        "An unexpected error; its cause is logged with the request id, never sent.",
    ) else {
        unreachable!("problem_response builds a response")
    };
    describe_codes(&mut response, 500, &[C::InternalError]);
    operation
        .responses
        .responses
        .insert("500".to_string(), RefOr::T(response));
}

fn add_default_problem(operation: &mut Operation) {
    let RefOr::T(mut response) = super::problem_response(
        "Any other problem: a wrong method (405) or the database not answering (503).",
    ) else {
        unreachable!("problem_response builds a response")
    };
    describe_codes(&mut response, 0, &DEFAULT_CODES);
    operation
        .responses
        .responses
        .insert("default".to_string(), RefOr::T(response));
}

fn string_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some(description))
        .build()
}

fn integer_header(description: &str) -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        )
        .description(Some(description))
        .build()
}

/// `X-Request-Id` on every answer, `WWW-Authenticate` on every 401 and
/// `Retry-After` on every 429 and on the default (503).
fn document_headers(operation: &mut Operation) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else {
            continue;
        };
        response.headers.insert(
            "X-Request-Id".to_string(),
            string_header("The id of this request (yours if you sent a sane `X-Request-Id`, else generated): quote it when reporting a problem; audit events record it."),
        );
        match status.as_str() {
            "401" => {
                response.headers.insert(
                    "WWW-Authenticate".to_string(),
                    string_header("The scheme to authenticate with: `Bearer realm=\"roster\"` (`Basic realm=\"roster\"` for a client that authenticated with HTTP Basic)."),
                );
            }
            "429" => {
                response.headers.insert(
                    "Retry-After".to_string(),
                    integer_header("Seconds to wait before trying again."),
                );
            }
            "default" => {
                response.headers.insert(
                    "Retry-After".to_string(),
                    integer_header("With 503: seconds to wait before trying again."),
                );
            }
            _ => {}
        }
    }
}

fn declare_role(operation: &mut Operation, role: RequiredRole) {
    operation
        .extensions
        .get_or_insert_with(Default::default)
        .insert(REQUIRED_ROLE.to_string(), role.as_str().into());
    let who = format!("**Who may call:** {}.", role.meaning());
    let description = operation.description.take().unwrap_or_default();
    operation.description = Some(if description.is_empty() {
        who
    } else {
        format!("{description}\n\n{who}")
    });
    let secured = operation
        .security
        .as_ref()
        .is_some_and(|requirements| !requirements.is_empty());
    if secured {
        use utoipa::openapi::security::SecurityRequirement;
        operation.security = Some(vec![
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("oauth2", Vec::<String>::new()),
        ]);
    }
}

/// The token endpoint takes an API client's credentials with HTTP Basic
/// too: no credentials (a person's grant) or Basic.
fn accept_client_basic(operation: &mut Operation) {
    use utoipa::openapi::security::SecurityRequirement;
    operation.security = Some(vec![
        SecurityRequirement::default(),
        SecurityRequirement::new("client_basic", Vec::<String>::new()),
    ]);
}

/// The SCIM statuses an operation can answer with besides its success, and
/// what each means (RFC 7644 §3.12).
const SCIM_ERRORS: &[(&str, &str)] = &[
    ("400", "Bad input: `scimType` is `invalidFilter`, `invalidPath`, `invalidValue`, `invalidSyntax`, `noTarget` or `mutability`."),
    ("401", "No SCIM token, or it is unknown or revoked."),
    ("403", "Not allowed: the user also belongs to another customer (their name, email and status are not this customer's to change), or `seat_limit_reached`."),
    ("404", "No such resource in the token's customer."),
    ("409", "`scimType: uniqueness`: the userName, email, externalId or displayName is taken in the customer."),
    ("412", "`If-Match` does not match the resource's current `ETag` (`meta.version`)."),
    ("405", "The path exists but not with this method; `Allow` lists the methods it has."),
    ("413", "The body is larger than 64 KiB."),
    ("415", "The body is not `application/scim+json` (or `application/json`)."),
    ("500", "An unexpected error; its cause is logged with the request id."),
    ("503", "The database is not answering: retry after `Retry-After` seconds."),
];

/// A `/scim/v2` operation: a SCIM token, and SCIM Error answers
/// (`application/scim+json`) instead of problem+json.
fn document_scim(operation: &mut Operation) {
    use utoipa::openapi::content::ContentBuilder;
    use utoipa::openapi::security::SecurityRequirement;
    use utoipa::openapi::{Ref, ResponseBuilder};
    operation.security = Some(vec![SecurityRequirement::new(
        "scim_token",
        Vec::<String>::new(),
    )]);
    // Problems the shared passes added (a 422 for query parameters, …):
    // SCIM answers none of them.
    operation
        .responses
        .responses
        .retain(|status, _| status.starts_with('2'));
    for (status, description) in SCIM_ERRORS {
        let response = ResponseBuilder::new()
            .description(*description)
            .content(
                "application/scim+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ScimError")))
                    .build(),
            )
            .build();
        operation
            .responses
            .responses
            .entry(status.to_string())
            .or_insert(RefOr::T(response));
    }
    document_headers(operation);
    if let Some(RefOr::T(response)) = operation.responses.responses.get_mut("401") {
        response.headers.insert(
            "WWW-Authenticate".to_string(),
            string_header("`Bearer realm=\"roster SCIM\"`: send a SCIM token."),
        );
    }
}

fn scim_error_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::ArrayBuilder;
    ObjectBuilder::new()
        .description(Some("A SCIM error (RFC 7644 §3.12)."))
        .property(
            "schemas",
            ArrayBuilder::new()
                .items(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["urn:ietf:params:scim:api:messages:2.0:Error"])),
                )
                .description(Some("Always the SCIM Error message URI.")),
        )
        .required("schemas")
        .property(
            "status",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[45][0-9]{2}$"))
                .description(Some("The HTTP status, as a string.")),
        )
        .required("status")
        .property(
            "scimType",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([
                    "invalidFilter",
                    "tooMany",
                    "uniqueness",
                    "mutability",
                    "invalidSyntax",
                    "invalidPath",
                    "noTarget",
                    "invalidValue",
                    "invalidVers",
                    "sensitive",
                ]))
                .description(Some("The kind of 400 or 409, where RFC 7644 defines one.")),
        )
        .property(
            "detail",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("A sentence for a person.")),
        )
        .into()
}

fn add_security_schemes(doc: &mut OpenApi) {
    use utoipa::openapi::security::{
        ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes,
        SecurityScheme,
    };
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert("ScimError".to_string(), RefOr::T(scim_error_schema()));
    components.add_security_scheme(
        "scim_token",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "A SCIM token (`rst_…`) from `POST /v1/customers/{customer_id}/scim-tokens`, for `/scim/v2` only.",
                ))
                .build(),
        ),
    );
    components.add_security_scheme(
        "oauth2",
        SecurityScheme::OAuth2(OAuth2::with_description(
            [
                Flow::Password(Password::with_refresh_url(
                    "/v1/auth/token",
                    Scopes::new(),
                    "/v1/auth/token",
                )),
                Flow::ClientCredentials(ClientCredentials::new(
                    "/v1/auth/token",
                    Scopes::new(),
                )),
            ],
            "The token endpoint (RFC 6749): people sign in with the password grant, provisioning scripts with client credentials. Either way the access token goes in `Authorization: Bearer …`. Access tokens are short-lived EdDSA JWTs handled as RFC8725 recommends (one algorithm, `kid`-selected keys, `exp`, `aud` and `iss` checked). Roles, not scopes, decide what a caller may do (`x-required-role`).",
        )),
    );
    components.add_security_scheme(
        "client_basic",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Basic)
                .description(Some(
                    "An API client's `client_id:client_secret` at the token endpoint (RFC 6749 §2.3.1), instead of the body fields.",
                ))
                .build(),
        ),
    );
}

/// Descriptions for properties whose schema helper (`schema_with`) loses
/// the doc comment, by schema and property, then by property alone.
fn property_description(schema: &str, property: &str) -> Option<&'static str> {
    let specific = match (schema, property) {
        ("AddCustomerUser", "email") => "The user's email. A new address creates an invited user; an existing user's address adds a membership to them.",
        ("AddCustomerUser", "first_name") => "Given name, 1–100 characters; required for a new user, ignored for an existing one.",
        ("AddCustomerUser", "last_name") => "Family name, 1–100 characters; required for a new user, ignored for an existing one.",
        ("AddCustomerUser", "role") => "The role in this customer; defaults to `full_access`, or the copied user's role.",
        ("UpdateMembership", "role") => "The new role in this customer; leave it out to keep it.",
        ("UpdateUser", "first_name") => "New given name, 1–100 characters; leave it out to keep it.",
        ("UpdateUser", "last_name") => "New family name, 1–100 characters; leave it out to keep it.",
        ("UpdateCustomer", "name") => "New name, unique case-insensitively, at most 200 characters; leave it out to keep it.",
        ("CreateCustomer", "name") => "The customer's name, unique case-insensitively, at most 200 characters.",
        ("CreateScimToken", "description") => "What the token is for (e.g. `Okta production`), one line of at most 200 characters; blank or null for none.",
        ("CreateApiClient", "name") => "What the client is for, shown in lists (at most 200 characters).",
        ("CreateApiClient", "customer_id") => "The customer the client acts for, as an admin of it; leave it out (platform admins only) for a platform client.",
        ("ApiClientView", "name") => "What the client is for.",
        ("ApiClientView", "created_at") => "When the client was created.",
        ("ApiClientView", "last_used_at") => "When the client last got a token; null if never.",
        ("ActionTokenInfo", "email") => "The address the link was sent to, to show on the form.",
        ("ActionTokenInfo", "expires_at") => "When the link stops working.",
        ("Accepted", "message") => "A sentence for a person: what happens next.",
        ("ChangePasswordRequest", "current_password") => "Your current password.",
        ("ChangePasswordRequest", "new_password") => "The new password: 8 (or `ROSTER_PASSWORD_MIN_LENGTH`) to 128 characters, not a common password, not built from your email or name.",
        ("SetPasswordRequest", "password") => "The new password: 8 (or `ROSTER_PASSWORD_MIN_LENGTH`) to 128 characters, not a common password, not built from the email or name.",
        ("SetPasswordRequest", "token") => "The token from the emailed link.",
        ("ForgotPasswordRequest", "email") => "The address the account signs in with.",
        ("Health", "status") => "`ok` when healthy.",
        ("JwkSet", "keys") => "The keys; a token's `kid` header names the one that signed it.",
        ("Jwk", "kty") => "Key type: `OKP` (RFC 8037).",
        ("Jwk", "crv") => "Curve: `Ed25519`.",
        ("Jwk", "kid") => "Key id, matching the `kid` header of the tokens it signed.",
        ("Jwk", "alg") => "Algorithm: `EdDSA`.",
        ("Jwk", "use") => "Use: `sig` (signatures).",
        ("TokenRequest", "grant_type") => "Which grant this is.",
        ("EmailDeliveryView", "id") => "The email's id in the outbox (`delivery_id` in paths).",
        ("EmailDeliveryView", "attempts") => "Delivery attempts so far.",
        ("EmailDeliveryView", "created_at") => "When the email was queued.",
        ("EmailDeliveryView", "sent_at") => "When the provider accepted it; null until then.",
        ("EmailDeliveryView", "next_attempt_at") => "When the worker tries again; null when it will not.",
        ("EmailDeliveryView", "provider_message_id") => "The provider's id of the message, to look it up there; null until sent.",
        ("EmailDeliveryView", "recipient") => "The address it goes to.",
        ("EmailDeliveryView", "subject") => "The rendered subject line.",
        ("EmailDeliveryView", "user_id") => "The user it is about; null once the user is deleted.",
        ("EmailDeliveryView", "customer_id") => "The customer it is about, if any.",
        ("AuditEventView", "id") => "The event's id.",
        ("AuditEventView", "occurred_at") => "When it happened.",
        ("AuditEventView", "actor_user_id") => "The person who did it; null when an API client or roster itself did.",
        ("AuditEventView", "actor_client_id") => "The API client that did it; null when a person or roster itself did.",
        ("AuditEventView", "customer_id") => "The customer the event happened in; null for events about a user as a whole.",
        ("AuditEventView", "requester_name") => "The person who asked for the change, as the admin entered it; null if none.",
        ("AuditEventView", "confirmation_email") => "Where the action-confirmation email went; null if none was asked for.",
        _ => "",
    };
    if !specific.is_empty() {
        return Some(specific);
    }
    Some(match property {
        "requester_name" => "The person who asked for the change (\"Requester Name\"), at most 200 characters; kept in the audit log. Blank or null for none.",
        "confirmation_email" => "Send an `action_confirmation` email about this change to this address (at most `ROSTER_CONFIRMATION_EMAILS_PER_HOUR` an hour per caller). Blank or null for none.",
        "settings" => "The membership's product defaults (see `Settings`); null or left out for none.",
        "job_title" => "Job title, at most 200 characters; blank or null for none.",
        "items" => "This page's items, newest first (at most `limit`).",
        "next_cursor" => "Pass as `?cursor=` for the next page; null on the last page.",
        _ => return None,
    })
}

fn describe_properties(doc: &mut OpenApi) {
    use utoipa::openapi::schema::Schema;
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for (name, schema) in components.schemas.iter_mut() {
        let objects: Vec<&mut utoipa::openapi::schema::Object> = match schema {
            RefOr::T(Schema::Object(object)) => vec![object],
            RefOr::T(Schema::AllOf(all)) => all
                .items
                .iter_mut()
                .filter_map(|item| match item {
                    RefOr::T(Schema::Object(object)) => Some(object),
                    _ => None,
                })
                .collect(),
            RefOr::T(Schema::OneOf(one)) => one
                .items
                .iter_mut()
                .filter_map(|item| match item {
                    RefOr::T(Schema::Object(object)) => Some(object),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        for object in objects {
            for (property, value) in object.properties.iter_mut() {
                let Some(text) = property_description(name, property) else {
                    continue;
                };
                match value {
                    RefOr::T(Schema::Object(inner)) if inner.description.is_none() => {
                        inner.description = Some(text.to_string());
                    }
                    RefOr::T(Schema::AnyOf(inner)) if inner.description.is_none() => {
                        inner.description = Some(text.to_string());
                    }
                    RefOr::T(Schema::Array(inner)) if inner.description.is_none() => {
                        inner.description = Some(text.to_string());
                    }
                    _ => {}
                }
            }
        }
    }
}

/// The component schemas a frontend needs that no Rust type declares.
pub fn add_component_schemas(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.insert(
        "Settings".to_string(),
        super::schemas::settings_object().into(),
    );
    components.schemas.insert(
        "AuditChange".to_string(),
        super::schemas::audit_change().into(),
    );
}

/// The roles of `x-required-role`, for the document's description.
pub fn required_roles_table() -> String {
    RequiredRole::ALL
        .iter()
        .map(|r| format!("- `{}`: {}", r.as_str(), r.meaning()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_of_the_document_has_a_rule() {
        let mut doc = super::super::document();
        let mut ids: Vec<String> = doc
            .paths
            .paths
            .values_mut()
            .flat_map(|item| {
                super::super::operations_mut(item)
                    .map(|op| op.operation_id.clone().unwrap_or_default())
                    .collect::<Vec<_>>()
            })
            .collect();
        ids.sort();
        let mut rules: Vec<String> = RULES.iter().map(|r| r.id.to_string()).collect();
        rules.sort();
        assert_eq!(ids, rules);
    }
}
