//! A SCIM Group as one of the customer's groups, both ways: `displayName`
//! is the group's name, `externalId` its external id, `members` its members
//! (users of the customer; nested groups are not supported).

use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::filter::member;
use super::{ScimFault, GROUP_SCHEMA};

/// What a Group resource is built from.
pub struct GroupView {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    /// Member user ids; `None` when they were not read (`excludedAttributes=members`).
    pub members: Option<Vec<String>>,
    pub created: OffsetDateTime,
    pub last_modified: OffsetDateTime,
    pub version: String,
}

pub fn group_resource(view: &GroupView, base: &str) -> Value {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP_SCHEMA]));
    out.insert("id".into(), json!(view.id));
    if let Some(external_id) = &view.external_id {
        out.insert("externalId".into(), json!(external_id));
    }
    out.insert("displayName".into(), json!(view.display_name));
    if let Some(members) = view.members.as_ref().filter(|m| !m.is_empty()) {
        let members: Vec<Value> = members
            .iter()
            .map(|id| json!({"value": id, "$ref": format!("{base}/Users/{id}"), "type": "User"}))
            .collect();
        out.insert("members".into(), Value::Array(members));
    }
    let at = |t: OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
    out.insert(
        "meta".into(),
        json!({
            "resourceType": "Group",
            "created": at(view.created),
            "lastModified": at(view.last_modified),
            "version": view.version,
            "location": format!("{base}/Groups/{}", view.id),
        }),
    );
    Value::Object(out)
}

/// A Group as a client wants it.
#[derive(Debug, Clone, PartialEq)]
pub struct DesiredGroup {
    pub display_name: String,
    pub external_id: Option<String>,
    /// Member user ids, each once, in the order given.
    pub members: Vec<String>,
}

pub fn read_group(body: &Value) -> Result<DesiredGroup, ScimFault> {
    if !body.is_object() {
        return Err(ScimFault::invalid_syntax("the body must be a JSON object"));
    }
    let display_name = match member(body, "displayName") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_string(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(ScimFault::invalid_value("`displayName` is required"))
        }
        Some(_) => return Err(ScimFault::invalid_value("`displayName` must be a string")),
    };
    let external_id = match member(body, "externalId") {
        None | Some(Value::Null) => None,
        Some(Value::String(e)) => Some(e.trim().to_string()).filter(|e| !e.is_empty()),
        Some(_) => return Err(ScimFault::invalid_value("`externalId` must be a string")),
    };
    let items = match member(body, "members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(_) => return Err(ScimFault::invalid_value("`members` must be an array")),
    };
    let mut members: Vec<String> = Vec::new();
    for item in &items {
        if member(item, "type")
            .and_then(Value::as_str)
            .is_some_and(|t| !t.eq_ignore_ascii_case("User"))
        {
            return Err(ScimFault::invalid_value(
                "a group's members are users (nested groups are not supported)",
            ));
        }
        let id = member(item, "value")
            .and_then(Value::as_str)
            .ok_or_else(|| ScimFault::invalid_value("every member needs a `value` (a user id)"))?;
        let id = uuid::Uuid::parse_str(id.trim())
            .map_err(|_| ScimFault::invalid_value(format!("`{id}` is not a user id")))?
            .to_string();
        if !members.contains(&id) {
            members.push(id);
        }
    }
    Ok(DesiredGroup {
        display_name,
        external_id,
        members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADA: &str = "0193a5d1-3333-7b3c-8d4e-5f60718293a4";

    #[test]
    fn a_group_reads_its_name_external_id_and_members_once_each() {
        let group = read_group(&json!({
            "displayName": " Ops ",
            "externalId": "g-1",
            "members": [{"value": ADA}, {"value": ADA, "type": "User"}]
        }))
        .unwrap();
        assert_eq!(group.display_name, "Ops");
        assert_eq!(group.external_id.as_deref(), Some("g-1"));
        assert_eq!(group.members, vec![ADA.to_string()]);
    }

    #[test]
    fn bad_groups_name_the_problem() {
        assert!(read_group(&json!({}))
            .unwrap_err()
            .detail
            .contains("displayName"));
        let fault =
            read_group(&json!({"displayName": "x", "members": [{"value": "nope"}]})).unwrap_err();
        assert_eq!(fault.scim_type, Some("invalidValue"));
        let fault =
            read_group(&json!({"displayName": "x", "members": [{"value": ADA, "type": "Group"}]}))
                .unwrap_err();
        assert!(fault.detail.contains("nested"));
    }

    #[test]
    fn the_resource_lists_members_with_their_references() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let view = GroupView {
            id: "g1".into(),
            display_name: "Ops".into(),
            external_id: None,
            members: Some(vec![ADA.into()]),
            created: now,
            last_modified: now,
            version: "W/\"1\"".into(),
        };
        let out = group_resource(&view, "https://r/scim/v2");
        assert_eq!(
            out["members"][0]["$ref"],
            format!("https://r/scim/v2/Users/{ADA}")
        );
        assert_eq!(out["meta"]["resourceType"], "Group");
        assert!(out.get("externalId").is_none());
    }
}
