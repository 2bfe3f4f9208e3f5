//! Reading what the app answers: headers, ids, list pages, 422 fields,
//! timestamps, and the links in emails.

use reqwest::Response;
use serde_json::{json, Value};

/// Every field of a user, in User Info and in both user lists.
pub const USER_FIELDS: [&str; 15] = [
    "id",
    "email",
    "first_name",
    "last_name",
    "job_title",
    "status",
    "locked",
    "locked_at",
    "platform_role",
    "invited_at",
    "activated_at",
    "last_login_at",
    "retired_at",
    "created_at",
    "updated_at",
];

/// An add-user body for a new person (Pat Lee at `email`).
pub fn new_person(email: &str) -> Value {
    json!({"email": email, "first_name": "Pat", "last_name": "Lee"})
}

/// A response header as text ("" when absent).
pub fn header(response: &Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// The `id` of a JSON object.
pub fn id_of(body: &Value) -> String {
    body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {body}"))
        .to_string()
}

/// The `field` of every error in a 422 problem, in the order given.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {problem}"))
        .iter()
        .map(|e| e["field"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// The `items` of a list page.
pub fn items(page: &Value) -> &Vec<Value> {
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items in {page}"))
}

/// `key` of every item of a list page, as text.
pub fn item_strings(page: &Value, key: &str) -> Vec<String> {
    items(page)
        .iter()
        .map(|item| item[key].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Whether `value` is an RFC 3339 timestamp.
pub fn is_timestamp(value: &Value) -> bool {
    value.as_str().is_some_and(|text| {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
    })
}

/// Pulls `token=…` out of an email body.
pub fn link_token(body: &str) -> Option<String> {
    let start = body.find("token=")? + "token=".len();
    Some(
        body[start..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
            .collect(),
    )
}
