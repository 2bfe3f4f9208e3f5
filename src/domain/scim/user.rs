//! A SCIM User as a roster member, both ways.
//!
//! - roster's email is the primary (else first) of `emails`, else `userName`;
//! - `userName` is that email unless the identity provider names the
//!   member otherwise (kept per membership, unique in the customer);
//! - `name.givenName`/`familyName` are the first and last name, `title` the
//!   job title, `externalId` the membership's external id;
//! - `active` is false once the user is inactive, retired or dormant.

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::filter::member;
use super::{ScimFault, USER_SCHEMA};
use crate::domain::email::EmailAddress;
use crate::domain::profile::{parse_job_title, parse_name};

/// What a User resource is built from.
pub struct MemberView {
    pub id: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    pub title: Option<String>,
    pub active: bool,
    pub external_id: Option<String>,
    /// The `userName` kept when it is not the email.
    pub user_name: Option<String>,
    pub email_primary: Option<bool>,
    pub groups: Vec<(String, String)>,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    pub version: String,
}

fn timestamp(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// The User resource at `base` (the `/scim/v2` URL).
pub fn user_resource(view: &MemberView, base: &str) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([USER_SCHEMA]));
    out.insert("id".into(), json!(view.id));
    if let Some(external_id) = &view.external_id {
        out.insert("externalId".into(), json!(external_id));
    }
    out.insert(
        "userName".into(),
        json!(view.user_name.as_deref().unwrap_or(&view.email)),
    );
    out.insert(
        "name".into(),
        json!({"givenName": view.given_name, "familyName": view.family_name}),
    );
    if let Some(title) = &view.title {
        out.insert("title".into(), json!(title));
    }
    out.insert(
        "emails".into(),
        json!([{
            "value": view.email,
            "type": "work",
            "primary": view.email_primary.unwrap_or(true),
        }]),
    );
    out.insert("active".into(), json!(view.active));
    if !view.groups.is_empty() {
        let groups: Vec<Value> = view
            .groups
            .iter()
            .map(|(id, name)| {
                json!({"value": id, "$ref": format!("{base}/Groups/{id}"), "display": name})
            })
            .collect();
        out.insert("groups".into(), Value::Array(groups));
    }
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "User",
            "created": timestamp(view.created),
            "lastModified": timestamp(view.last_modified),
            "version": view.version,
            "location": format!("{base}/Users/{}", view.id),
        }),
    );
    Value::Object(out)
}

/// A User as a client wants it (a POST or PUT body, or a patched resource).
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredUser {
    pub email: EmailAddress,
    /// `Some` when `userName` is not the email.
    pub user_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub title: Option<String>,
    /// Absent means unchanged (PUT) or active (POST).
    pub active: Option<bool>,
    pub external_id: Option<String>,
    pub email_primary: Option<bool>,
}

fn text<'a>(value: Option<&'a Value>, field: &str) -> Result<Option<&'a str>, ScimFault> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ScimFault::invalid_value(format!(
            "`{field}` must be a string"
        ))),
    }
}

/// `true`/`false`, or the strings `"True"`/`"False"` Entra sends.
pub fn boolean(value: &Value, field: &str) -> Result<bool, ScimFault> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimFault::invalid_value(format!(
            "`{field}` must be true or false"
        ))),
    }
}

/// The email roster keeps: the primary one, else the first.
fn chosen_email(emails: Option<&Value>) -> Result<Option<(String, Option<bool>)>, ScimFault> {
    let items = match emails {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ScimFault::invalid_value("`emails` must be an array")),
    };
    let primary = |item: &&Value| {
        member(item, "primary").is_some_and(|p| boolean(p, "emails.primary").unwrap_or(false))
    };
    let Some(item) = items.iter().find(primary).or(items.first()) else {
        return Ok(None);
    };
    let value = text(member(item, "value"), "emails.value")?
        .ok_or_else(|| ScimFault::invalid_value("every email needs a `value`"))?;
    let primary = member(item, "primary")
        .map(|p| boolean(p, "emails.primary"))
        .transpose()?;
    Ok(Some((value.to_string(), primary)))
}

/// Reads a User body. Names are checked as roster checks them.
pub fn read_user(body: &Value) -> Result<DesiredUser, ScimFault> {
    if !body.is_object() {
        return Err(ScimFault::invalid_syntax("the body must be a JSON object"));
    }
    let user_name = text(member(body, "userName"), "userName")?
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ScimFault::invalid_value("`userName` is required"))?;
    let chosen = chosen_email(member(body, "emails"))?;
    let (email_text, email_primary) = match &chosen {
        Some((value, primary)) => (value.as_str(), *primary),
        None => (user_name, None),
    };
    let email = EmailAddress::parse(email_text).map_err(|why| {
        ScimFault::invalid_value(match chosen {
            Some(_) => format!("`emails.value` {why}"),
            None => format!("`userName` {why}, and no `emails` were given"),
        })
    })?;
    let user_name =
        (!user_name.eq_ignore_ascii_case(email.as_str())).then(|| user_name.to_string());
    if user_name.as_ref().is_some_and(|u| u.chars().count() > 200) {
        return Err(ScimFault::invalid_value(
            "`userName` is longer than 200 characters",
        ));
    }
    let name = member(body, "name");
    let name_part = |field: &str, label: &str| -> Result<Option<String>, ScimFault> {
        text(name.and_then(|n| member(n, field)), label)?
            .map(|raw| {
                parse_name(raw).map_err(|why| ScimFault::invalid_value(format!("`{label}` {why}")))
            })
            .transpose()
    };
    let given_name = name_part("givenName", "name.givenName")?;
    let family_name = name_part("familyName", "name.familyName")?;
    let title = parse_job_title(text(member(body, "title"), "title")?)
        .map_err(|why| ScimFault::invalid_value(format!("`title` {why}")))?;
    let active = member(body, "active")
        .filter(|v| !v.is_null())
        .map(|v| boolean(v, "active"))
        .transpose()?;
    let external_id = text(member(body, "externalId"), "externalId")?
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string);
    if external_id
        .as_ref()
        .is_some_and(|e| e.chars().count() > 200)
    {
        return Err(ScimFault::invalid_value(
            "`externalId` is longer than 200 characters",
        ));
    }
    Ok(DesiredUser {
        email,
        user_name,
        given_name,
        family_name,
        title,
        active,
        external_id,
        email_primary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_name_is_the_email_when_no_emails_are_given() {
        let user = read_user(&json!({
            "userName": "Ada@Example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "active": "True"
        }))
        .unwrap();
        assert_eq!(user.email.as_str(), "Ada@Example.com");
        assert_eq!(user.user_name, None);
        assert_eq!(user.active, Some(true));
        assert_eq!(user.given_name.as_deref(), Some("Ada"));
    }

    #[test]
    fn the_primary_email_wins_and_a_different_user_name_is_kept() {
        let user = read_user(&json!({
            "userName": "ada.lovelace",
            "emails": [
                {"value": "home@example.com", "type": "home"},
                {"value": "ada@example.com", "type": "work", "primary": true}
            ],
            "active": false
        }))
        .unwrap();
        assert_eq!(user.email.as_str(), "ada@example.com");
        assert_eq!(user.user_name.as_deref(), Some("ada.lovelace"));
        assert_eq!(user.email_primary, Some(true));
        assert_eq!(user.active, Some(false));
    }

    #[test]
    fn bad_bodies_name_the_field() {
        let fault = read_user(&json!({"name": {}})).unwrap_err();
        assert!(fault.detail.contains("userName"));
        let fault = read_user(&json!({"userName": "nobody"})).unwrap_err();
        assert_eq!(fault.scim_type, Some("invalidValue"));
        let fault = read_user(&json!({"userName": "a@b.example", "active": "maybe"})).unwrap_err();
        assert!(fault.detail.contains("active"));
        let fault =
            read_user(&json!({"userName": "a@b.example", "emails": "a@b.example"})).unwrap_err();
        assert!(fault.detail.contains("emails"));
    }

    #[test]
    fn the_resource_shows_one_work_email_and_meta() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let view = MemberView {
            id: "u1".into(),
            email: "ada@example.com".into(),
            given_name: "Ada".into(),
            family_name: "Lovelace".into(),
            title: None,
            active: true,
            external_id: Some("E1".into()),
            user_name: None,
            email_primary: None,
            groups: vec![("g1".into(), "Ops".into())],
            created: now,
            last_modified: now,
            version: "W/\"1\"".into(),
        };
        let out = user_resource(&view, "https://r/scim/v2");
        assert_eq!(out["userName"], "ada@example.com");
        assert_eq!(out["emails"][0]["primary"], true);
        assert_eq!(out["groups"][0]["$ref"], "https://r/scim/v2/Groups/g1");
        assert_eq!(out["meta"]["location"], "https://r/scim/v2/Users/u1");
        assert!(out.get("title").is_none());
    }
}
