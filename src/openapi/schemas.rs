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

/// Any JSON value whose strings and keys hold no NUL (the component
/// `JsonValue`, registered by `openapi::document`).
pub fn json_value() -> Schema {
    let value = || utoipa::openapi::Ref::from_schema_name("JsonValue");
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                Type::Null,
                Type::Boolean,
                Type::Number,
            ])),
        )
        .item(string(NO_NUL, None, false))
        .item(utoipa::openapi::schema::ArrayBuilder::new().items(value()))
        .item(no_nul_object(value()))
        .into()
}

fn no_nul_object(values: utoipa::openapi::Ref) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property_names(Some(string(NO_NUL, None, false)))
        .additional_properties(Some(values))
}

/// `settings`: a JSON object (≤ 16 KiB) without NUL in any key or string.
pub fn settings() -> Schema {
    let mut object = no_nul_object(utoipa::openapi::Ref::from_schema_name("JsonValue"));
    object = object.description(Some(
        "Product defaults (menu, chat tags, user-group tags): a JSON object of at most 16 KiB, without NUL characters.",
    ));
    let mut schema: utoipa::openapi::schema::Object = object.build();
    schema.schema_type = utoipa::openapi::schema::SchemaType::from_iter([Type::Object, Type::Null]);
    Schema::Object(schema)
}

/// A UUID, or blank for none (query filters).
pub fn uuid_or_blank() -> RefOr<Schema> {
    uuid_or_blank_choices().into()
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

/// One of the named enum's values, or empty for any (query filters).
fn enum_or_empty(name: &str) -> RefOr<Schema> {
    AnyOfBuilder::new()
        .item(utoipa::openapi::Ref::from_schema_name(name))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some([""])),
        )
        .into()
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
