//! Schemas that say exactly what the handlers accept, for `schema_with`.
//!
//! Text fields are trimmed by the server, then must not contain control
//! characters; NUL is refused anywhere (PostgreSQL cannot store it). The
//! patterns spell that out so that every value matching them is accepted
//! and every value violating them is refused.

use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

/// Unicode White_Space, which Rust's `str::trim` removes.
macro_rules! ws {
    () => {
        r"[\t-\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    };
}
/// Anything but a control character (Unicode Cc).
macro_rules! visible {
    () => {
        r"[^\x00-\x1F\x7F-\x9F]"
    };
}
/// Blank, or text without control characters once trimmed.
pub const OPTIONAL_TEXT: &str = concat!("^", ws!(), "*", visible!(), "*", ws!(), "*$");
/// Text without control characters once trimmed, and not blank.
pub const REQUIRED_TEXT: &str = concat!(
    "^",
    ws!(),
    "*",
    visible!(),
    "*",
    r"[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
    visible!(),
    "*",
    ws!(),
    "*$"
);
/// A group name: [`REQUIRED_TEXT`] without `;` (the import's separator).
pub const GROUP_NAME: &str = concat!(
    "^",
    ws!(),
    "*",
    r"[^\x00-\x1F\x7F-\x9F;]*",
    r"[^\x00-\x20\x7F-\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000;]",
    r"[^\x00-\x1F\x7F-\x9F;]*",
    ws!(),
    "*$"
);
/// Only whitespace (or nothing): an optional field left blank.
pub const BLANK: &str = concat!("^", ws!(), "*$");
/// Any text without NUL.
pub const NO_NUL: &str = r"^[^\x00]*$";
/// See [`crate::domain::pagination::Cursor::encode`]; empty means the first page.
pub const CURSOR: &str = r"^([A-Za-z0-9_-]{32})?$";

fn string(pattern: &str, max_length: Option<usize>, nullable: bool) -> ObjectBuilder {
    let types = if nullable {
        utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null])
    } else {
        utoipa::openapi::schema::SchemaType::new(Type::String)
    };
    ObjectBuilder::new()
        .schema_type(types)
        .pattern(Some(pattern))
        .max_length(max_length)
}

fn email_or_blank(nullable: bool) -> Schema {
    let mut any = AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
                .max_length(Some(254)),
        )
        .item(string(BLANK, None, false));
    if nullable {
        any = any.item(ObjectBuilder::new().schema_type(Type::Null));
    }
    any.into()
}

/// A UUID, blank or null for none (`customer_id` of a new API client).
pub fn nullable_uuid_or_blank() -> RefOr<Schema> {
    uuid_or_blank_choices()
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// Any JSON value.
fn any_value() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::AnyValue)
}

/// The component `Settings`: a customer's product defaults for one member.
/// Not recursive on purpose (generators choke on self-references): values
/// are any JSON; the server's NUL and size rules are in the description.
pub fn settings_object() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(string(NO_NUL, None, false)))
        .additional_properties(Some(any_value()))
        .description(Some(
            "Product defaults of one membership (menu, chat tags, user-group tags): a free JSON object of at most 16 KiB once serialized. No key or string anywhere in it may contain NUL (`\\u0000`). roster stores it and hands it back unchanged; the product reads it.",
        ))
        .examples([serde_json::json!({"menu": "energy", "chat_tags": ["billing"], "user_groups": ["east-region"]})])
        .into()
}

/// The component `AuditChange`: one field's value before and after an event.
pub fn audit_change() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "before",
            any_value().description(Some(
                "The value before the change (any JSON; null when the field was unset).",
            )),
        )
        .required("before")
        .property(
            "after",
            any_value().description(Some(
                "The value after the change (any JSON; null when the field was cleared).",
            )),
        )
        .required("after")
        .description(Some("One field's value before and after the event."))
        .examples([serde_json::json!({"before": "active", "after": "inactive"})])
        .into()
}

/// `changes` of an audit event: field name to its before and after.
pub fn audit_changes() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .additional_properties(Some(utoipa::openapi::Ref::from_schema_name("AuditChange")))
        .description(Some(
            "What the event changed, by field (`status`, `role`, `settings`, `email`…): each with its value before and after. Empty for events that change no field (an email sent, a sign-in).",
        ))
        .into()
}

/// `settings` in a view: the `Settings` component.
pub fn settings_view() -> RefOr<Schema> {
    utoipa::openapi::Ref::from_schema_name("Settings").into()
}

/// `settings` in a request body: the `Settings` component, or null for none.
pub fn settings() -> Schema {
    AnyOfBuilder::new()
        .item(utoipa::openapi::Ref::from_schema_name("Settings"))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// A UUID (query filters; leaving it out means any, see [`enum_or_empty`]).
pub fn uuid_or_blank() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
        .into()
}

fn uuid_or_blank_choices() -> AnyOfBuilder {
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([""])),
        )
}

/// One of the named enum's values (query filters). Leaving the parameter
/// out means "any"; the server takes an empty value the same way, which the
/// document leaves unsaid so that generated types stay the plain enum.
fn enum_or_empty(name: &str) -> RefOr<Schema> {
    utoipa::openapi::Ref::from_schema_name(name).into()
}

pub fn user_status_or_empty() -> RefOr<Schema> {
    enum_or_empty("UserStatus")
}
pub fn membership_role_or_empty() -> RefOr<Schema> {
    enum_or_empty("MembershipRole")
}
pub fn delivery_status_or_empty() -> RefOr<Schema> {
    enum_or_empty("DeliveryStatus")
}
pub fn email_kind_or_empty() -> RefOr<Schema> {
    enum_or_empty("EmailKind")
}

pub fn cursor() -> Schema {
    string(CURSOR, None, false).into()
}
/// Free text without NUL (`q`, `action`, `recipient`).
pub fn search_text() -> Schema {
    string(NO_NUL, None, false).into()
}
/// `requester_name` in a JSON body: at most 200 characters.
pub fn requester_name() -> Schema {
    string(OPTIONAL_TEXT, Some(200), true).into()
}
pub fn requester_name_query() -> Schema {
    string(OPTIONAL_TEXT, Some(200), false).into()
}
/// `confirmation_email` in a JSON body: an address, blank or null for none.
pub fn optional_email() -> Schema {
    email_or_blank(true)
}
pub fn optional_email_query() -> Schema {
    email_or_blank(false)
}
/// A first or last name: 1–100 characters once trimmed.
pub fn person_name() -> Schema {
    string(REQUIRED_TEXT, Some(100), true).into()
}
/// A job title: blank or null for none, at most 200 characters.
pub fn job_title() -> Schema {
    string(OPTIONAL_TEXT, Some(200), true).into()
}
/// The feed's `types`: comma-separated event types (blanks around them and
/// empty entries are ignored); blank means all.
pub fn event_types_query() -> Schema {
    let names: Vec<String> = crate::domain::events::EventType::ALL
        .iter()
        .map(|t| t.as_str().replace('.', r"\."))
        .collect();
    let one = format!("{}*({})?{}*", ws!(), names.join("|"), ws!());
    let pattern = format!("^{one}(,{one})*$");
    string(&pattern, None, false)
        .examples([serde_json::json!("user.status_changed,user.deleted")])
        .into()
}
/// An external id in a JSON body: at most 255 characters, blank or null for none.
pub fn external_id() -> Schema {
    string(OPTIONAL_TEXT, Some(255), true).into()
}
/// An external id filter in a query: blank means any.
pub fn external_id_or_empty() -> Schema {
    string(OPTIONAL_TEXT, Some(255), false).into()
}
/// A group name: not blank, at most 100 characters, no `;`.
pub fn group_name() -> Schema {
    string(GROUP_NAME, Some(100), false).into()
}
/// A group description: blank or null for none, at most 1000 characters.
pub fn group_description() -> Schema {
    string(OPTIONAL_TEXT, Some(1000), true).into()
}
/// A free-text description (of a webhook endpoint): one line, blank or null
/// for none, at most 200 characters.
pub fn optional_description() -> Schema {
    string(OPTIONAL_TEXT, Some(200), true).into()
}
/// A customer or API client name: not blank, at most 200 characters.
pub fn label() -> Schema {
    string(REQUIRED_TEXT, Some(200), false).into()
}
pub fn optional_label() -> Schema {
    string(REQUIRED_TEXT, Some(200), true).into()
}
/// A secret or token in a JSON body: anything without NUL.
pub fn secret_text() -> Schema {
    string(NO_NUL, None, false).into()
}
/// A password as the policy's fixed bounds allow: 8 (the lowest
/// configurable minimum) to 128 characters, without NUL.
pub fn new_password() -> Schema {
    string(NO_NUL, Some(128), false)
        .min_length(Some(8))
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Password)))
        .into()
}
