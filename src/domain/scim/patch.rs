//! PATCH (RFC 7644 §3.5.2): operations applied to a resource's JSON
//! representation, all or nothing. The caller then reads the patched
//! representation as the desired state, exactly as it reads a PUT body.
//!
//! Leniencies identity providers need: `op` in any case (Entra sends
//! `Replace`), no-path operations whose value keys are themselves paths
//! (`{"name.givenName": "Ada"}`), and attributes roster does not serve
//! (the enterprise extension, `phoneNumbers`, …) being ignored rather than
//! refused.

use serde_json::{Map, Value};

use super::filter::{self, AttrPath, CompareOp, Filter};
use super::schema::{Mutability, ResourceSchema};
use super::{ScimFault, PATCH_OP};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Remove,
    Replace,
}

/// `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: String,
    pub filter: Option<Filter>,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Operation {
    pub op: Op,
    pub path: Option<PatchPath>,
    pub value: Option<Value>,
}

/// Parses a PATCH path; a malformed one is 400 `invalidPath`.
pub fn parse_path(text: &str) -> Result<PatchPath, ScimFault> {
    let text = text.trim();
    let bad = |why: &str| ScimFault::invalid_path(format!("`{text}` is not a PATCH path: {why}"));
    let Some(open) = text.find('[') else {
        let path = AttrPath::parse(text).map_err(|f| bad(&f.detail))?;
        return Ok(PatchPath {
            attr: path.name,
            filter: None,
            sub: path.sub,
        });
    };
    let close = text.rfind(']').ok_or_else(|| bad("`[` is not closed"))?;
    let attr = AttrPath::parse(&text[..open]).map_err(|f| bad(&f.detail))?;
    if attr.sub.is_some() {
        return Err(bad("a filter applies to a whole attribute"));
    }
    let filter = filter::parse(&text[open + 1..close]).map_err(|f| bad(&f.detail))?;
    let rest = &text[close + 1..];
    let sub = match rest.strip_prefix('.') {
        Some(sub)
            if !sub.is_empty()
                && sub
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '$' || c == '_' || c == '-') =>
        {
            Some(sub.to_string())
        }
        None if rest.is_empty() => None,
        _ => return Err(bad("only `.subAttribute` may follow `]`")),
    };
    Ok(PatchPath {
        attr: attr.name,
        filter: Some(filter),
        sub,
    })
}

/// Reads a PatchOp request body.
pub fn parse_request(body: &Value) -> Result<Vec<Operation>, ScimFault> {
    if let Some(schemas) = body.get("schemas") {
        let named = schemas
            .as_array()
            .is_some_and(|s| s.iter().any(|u| u.as_str() == Some(PATCH_OP)));
        if !named {
            return Err(ScimFault::invalid_syntax(format!(
                "`schemas` must be [\"{PATCH_OP}\"]"
            )));
        }
    }
    let operations = filter::member(body, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimFault::invalid_syntax("`Operations` must be an array"))?;
    if operations.is_empty() {
        return Err(ScimFault::invalid_syntax("`Operations` is empty"));
    }
    operations.iter().map(parse_operation).collect()
}

fn parse_operation(operation: &Value) -> Result<Operation, ScimFault> {
    let op = filter::member(operation, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimFault::invalid_syntax("every operation needs an `op`"))?;
    let op = match op.to_ascii_lowercase().as_str() {
        "add" => Op::Add,
        "remove" => Op::Remove,
        "replace" => Op::Replace,
        other => {
            return Err(ScimFault::invalid_syntax(format!(
                "`{other}` is not add, remove or replace"
            )))
        }
    };
    let path = match filter::member(operation, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(parse_path(text)?),
        Some(_) => return Err(ScimFault::invalid_path("`path` must be a string")),
    };
    let value = filter::member(operation, "value").cloned();
    if op != Op::Remove && value.is_none() {
        return Err(ScimFault::invalid_value(format!(
            "`{}` needs a `value`",
            match op {
                Op::Add => "add",
                _ => "replace",
            }
        )));
    }
    if op == Op::Remove && path.is_none() {
        return Err(ScimFault::no_target("`remove` needs a `path`"));
    }
    Ok(Operation { op, path, value })
}

/// Applies `operations` in order to `resource` (a JSON object).
pub fn apply(
    resource: &mut Value,
    schema: &ResourceSchema,
    operations: &[Operation],
) -> Result<(), ScimFault> {
    let object = resource
        .as_object_mut()
        .ok_or_else(|| ScimFault::invalid_value("the resource is not an object"))?;
    for operation in operations {
        match &operation.path {
            Some(path) => apply_at(object, schema, operation.op, path, operation.value.clone())?,
            None => apply_without_path(object, schema, operation.op, operation.value.clone())?,
        }
    }
    Ok(())
}

/// A no-path add or replace: each member of the value object is applied at
/// its own path (which may be `name.givenName` or schema-qualified).
fn apply_without_path(
    object: &mut Map<String, Value>,
    schema: &ResourceSchema,
    op: Op,
    value: Option<Value>,
) -> Result<(), ScimFault> {
    let Some(Value::Object(members)) = value else {
        return Err(ScimFault::invalid_value(
            "without a `path`, `value` must be an object of attributes",
        ));
    };
    for (key, value) in members {
        if key.contains(':') && value.is_object() && !key.contains('.') {
            // A whole extension (e.g. the enterprise User): not served.
            continue;
        }
        let path = parse_path(&key)?;
        apply_at(object, schema, op, &path, Some(value))?;
    }
    Ok(())
}

fn apply_at(
    object: &mut Map<String, Value>,
    schema: &ResourceSchema,
    op: Op,
    path: &PatchPath,
    value: Option<Value>,
) -> Result<(), ScimFault> {
    let Some(definition) = schema.attribute(&path.attr) else {
        // Not an attribute roster serves: nothing to change.
        return Ok(());
    };
    if definition.mutability == Mutability::ReadOnly {
        return Err(ScimFault::mutability(format!(
            "`{}` is read-only",
            definition.name
        )));
    }
    let sub = match &path.sub {
        None => None,
        Some(sub) => match definition.sub(sub) {
            Some(found) => Some(found.name),
            None => return Ok(()),
        },
    };
    let key = definition.name.to_string();
    // Find the stored key whatever its case, so it is replaced, not doubled.
    if let Some(existing) = object
        .keys()
        .find(|k| k.eq_ignore_ascii_case(&key) && **k != key)
        .cloned()
    {
        let moved = object.remove(&existing).unwrap_or(Value::Null);
        object.insert(key.clone(), moved);
    }
    match (&path.filter, sub, definition.multi_valued) {
        (Some(filter), sub, _) => apply_filtered(object, &key, filter, sub, op, value),
        (None, Some(sub), false) => {
            let target = object
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()));
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            let inner = target.as_object_mut().expect("made an object");
            match op {
                Op::Remove => {
                    inner.remove(sub);
                }
                _ => {
                    inner.insert(sub.to_string(), value.unwrap_or(Value::Null));
                }
            }
            Ok(())
        }
        (None, Some(sub), true) => {
            let items = as_items(object.entry(key).or_insert(Value::Null));
            if items.is_empty() && op != Op::Remove {
                items.push(Value::Object(Map::new()));
            }
            for item in items.iter_mut() {
                if let Some(inner) = item.as_object_mut() {
                    match op {
                        Op::Remove => drop(inner.remove(sub)),
                        _ => drop(
                            inner.insert(sub.to_string(), value.clone().unwrap_or(Value::Null)),
                        ),
                    }
                }
            }
            Ok(())
        }
        (None, None, true) => {
            apply_multi_valued(object, &key, op, value);
            Ok(())
        }
        (None, None, false) => {
            match op {
                Op::Remove => {
                    object.remove(&key);
                }
                _ => {
                    let value = value.unwrap_or(Value::Null);
                    match (object.get_mut(&key), value) {
                        // A complex value merges: sub-attributes left out stay.
                        (Some(Value::Object(current)), Value::Object(given)) => {
                            for (k, v) in given {
                                current.retain(|existing, _| !existing.eq_ignore_ascii_case(&k));
                                current.insert(k, v);
                            }
                        }
                        (_, value) => {
                            object.insert(key, value);
                        }
                    }
                }
            }
            Ok(())
        }
    }
}

/// The items of a multi-valued attribute, made an array if it was not.
fn as_items(slot: &mut Value) -> &mut Vec<Value> {
    if !slot.is_array() {
        let previous = std::mem::take(slot);
        *slot = Value::Array(if previous.is_null() {
            Vec::new()
        } else {
            vec![previous]
        });
    }
    slot.as_array_mut().expect("made an array")
}

fn listed(value: Option<Value>) -> Vec<Value> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items,
        Some(one) => vec![one],
    }
}

/// The `value` of a complex item, or the item itself.
fn identity(item: &Value) -> &Value {
    filter::member(item, "value").unwrap_or(item)
}

fn apply_multi_valued(object: &mut Map<String, Value>, key: &str, op: Op, value: Option<Value>) {
    match op {
        Op::Replace => {
            object.insert(key.to_string(), Value::Array(listed(value)));
        }
        Op::Add => {
            let items = as_items(object.entry(key.to_string()).or_insert(Value::Null));
            for new in listed(value) {
                match items.iter_mut().find(|i| identity(i) == identity(&new)) {
                    Some(existing) => *existing = new,
                    None => items.push(new),
                }
            }
        }
        Op::Remove => {
            let removed = listed(value);
            if removed.is_empty() {
                object.remove(key);
                return;
            }
            // Entra's `{"op":"Remove","path":"members","value":[{"value":"…"}]}`.
            let items = as_items(object.entry(key.to_string()).or_insert(Value::Null));
            items.retain(|item| !removed.iter().any(|r| identity(r) == identity(item)));
        }
    }
}

fn apply_filtered(
    object: &mut Map<String, Value>,
    key: &str,
    filter: &Filter,
    sub: Option<&str>,
    op: Op,
    value: Option<Value>,
) -> Result<(), ScimFault> {
    let items = as_items(object.entry(key.to_string()).or_insert(Value::Null));
    let mut matched = Vec::new();
    for (index, item) in items.iter().enumerate() {
        if filter.matches(item)? {
            matched.push(index);
        }
    }
    if matched.is_empty() {
        return match op {
            Op::Remove => Ok(()),
            Op::Replace if sub.is_none() => Err(ScimFault::no_target(format!(
                "no value of `{key}` matches the filter"
            ))),
            // `add` (or a `replace` of a sub-attribute, as Entra sends for
            // `emails[type eq "work"].value`) makes the value the filter
            // describes.
            _ => {
                let mut made = seed_of(filter).ok_or_else(|| {
                    ScimFault::no_target(format!("no value of `{key}` matches the filter"))
                })?;
                match (sub, value) {
                    (Some(sub), value) => {
                        made.insert(sub.to_string(), value.unwrap_or(Value::Null));
                    }
                    (None, Some(Value::Object(given))) => made.extend(given),
                    (None, _) => {
                        return Err(ScimFault::invalid_value(
                            "the value of a filtered path must be an object",
                        ))
                    }
                }
                items.push(Value::Object(made));
                Ok(())
            }
        };
    }
    match (op, sub) {
        (Op::Remove, None) => {
            let mut index = 0;
            items.retain(|_| {
                let keep = !matched.contains(&index);
                index += 1;
                keep
            });
        }
        (Op::Remove, Some(sub)) => {
            for &i in &matched {
                if let Some(inner) = items[i].as_object_mut() {
                    inner.remove(sub);
                }
            }
        }
        (_, Some(sub)) => {
            for &i in &matched {
                if let Some(inner) = items[i].as_object_mut() {
                    inner.insert(sub.to_string(), value.clone().unwrap_or(Value::Null));
                }
            }
        }
        (_, None) => {
            let Some(Value::Object(given)) = value else {
                return Err(ScimFault::invalid_value(
                    "the value of a filtered path must be an object",
                ));
            };
            for &i in &matched {
                if let Some(inner) = items[i].as_object_mut() {
                    inner.extend(given.clone());
                }
            }
        }
    }
    Ok(())
}

/// The item a filter of `eq` comparisons joined by `and` describes
/// (`type eq "work"` → `{"type": "work"}`); `None` for any other filter.
fn seed_of(filter: &Filter) -> Option<Map<String, Value>> {
    match filter {
        Filter::Compare(path, CompareOp::Eq, value) if path.sub.is_none() => {
            let mut made = Map::new();
            made.insert(path.name.clone(), value.clone());
            Some(made)
        }
        Filter::And(a, b) => {
            let mut made = seed_of(a)?;
            made.extend(seed_of(b)?);
            Some(made)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::{GROUP, USER};
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "u1",
            "userName": "ada@example.com",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
            "active": true
        })
    }

    fn patched(resource: Value, body: Value) -> Result<Value, ScimFault> {
        let mut resource = resource;
        let operations = parse_request(&body)?;
        let schema = if resource.get("displayName").is_some() {
            &GROUP
        } else {
            &USER
        };
        apply(&mut resource, schema, &operations)?;
        Ok(resource)
    }

    fn ops(operations: Value) -> Value {
        json!({"schemas": [PATCH_OP], "Operations": operations})
    }

    #[test]
    fn paths_parse_with_filters_and_sub_attributes() {
        let path = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(path.attr, "emails");
        assert_eq!(path.sub.as_deref(), Some("value"));
        assert!(path.filter.is_some());
        let path = parse_path("name.givenName").unwrap();
        assert_eq!(
            (path.attr.as_str(), path.sub.as_deref()),
            ("name", Some("givenName"))
        );
        let path = parse_path(r#"members[value eq "2819c223"]"#).unwrap();
        assert_eq!(path.sub, None);
        let path =
            parse_path("urn:ietf:params:scim:schemas:core:2.0:User:name.familyName").unwrap();
        assert_eq!(path.attr, "name");
    }

    #[test]
    fn malformed_paths_are_invalid_path() {
        for bad in [
            "",
            "emails[type eq",
            "emails[type eq \"work\"]x",
            "a b",
            "name.given.name",
        ] {
            assert_eq!(
                parse_path(bad).unwrap_err().scim_type,
                Some("invalidPath"),
                "{bad}"
            );
        }
    }

    #[test]
    fn capitalised_ops_replace_sub_attributes_and_filtered_values() {
        let out = patched(
            user(),
            ops(json!([
                {"op": "Replace", "path": "name.givenName", "value": "Augusta"},
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "aal@example.com"},
                {"op": "REPLACE", "path": "active", "value": "False"}
            ])),
        )
        .unwrap();
        assert_eq!(out["name"]["givenName"], "Augusta");
        assert_eq!(out["name"]["familyName"], "Lovelace");
        assert_eq!(out["emails"][0]["value"], "aal@example.com");
        assert_eq!(out["active"], "False");
    }

    #[test]
    fn entra_no_path_value_objects_apply_each_member() {
        let out = patched(
            user(),
            ops(json!([{"op": "Replace", "value": {
                "active": false,
                "name.familyName": "King",
                "title": "Countess",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
            }}])),
        )
        .unwrap();
        assert_eq!(out["active"], false);
        assert_eq!(out["name"]["familyName"], "King");
        assert_eq!(out["title"], "Countess");
    }

    #[test]
    fn add_of_a_filtered_value_that_is_absent_makes_it() {
        let mut resource = user();
        resource["emails"] = json!([]);
        let out = patched(
            resource,
            ops(json!([{"op": "Add", "path": "emails[type eq \"work\"].value", "value": "x@example.com"}])),
        )
        .unwrap();
        assert_eq!(
            out["emails"],
            json!([{"type": "work", "value": "x@example.com"}])
        );
    }

    #[test]
    fn replace_of_a_filtered_value_that_is_absent_is_no_target() {
        let fault = patched(
            user(),
            ops(json!([{"op": "replace", "path": "emails[type eq \"home\"]", "value": {"value": "h@example.com"}}])),
        )
        .unwrap_err();
        assert_eq!(fault.scim_type, Some("noTarget"));
    }

    #[test]
    fn remove_needs_a_path_and_read_only_attributes_are_refused() {
        let fault = patched(user(), ops(json!([{"op": "remove"}]))).unwrap_err();
        assert_eq!(fault.scim_type, Some("noTarget"));
        let fault = patched(
            user(),
            ops(json!([{"op": "replace", "path": "id", "value": "x"}])),
        )
        .unwrap_err();
        assert_eq!(fault.scim_type, Some("mutability"));
        let fault = patched(user(), ops(json!([{"op": "jump", "path": "id"}]))).unwrap_err();
        assert_eq!(fault.scim_type, Some("invalidSyntax"));
    }

    #[test]
    fn remove_clears_attributes_and_unknown_attributes_are_ignored() {
        let mut resource = user();
        resource["title"] = json!("Countess");
        let out = patched(
            resource,
            ops(json!([
                {"op": "remove", "path": "title"},
                {"op": "replace", "path": "nickName", "value": "Ada"}
            ])),
        )
        .unwrap();
        assert!(out.get("title").is_none());
        assert!(out.get("nickName").is_none());
    }

    #[test]
    fn group_members_are_added_and_removed_the_okta_and_entra_ways() {
        let group = json!({"displayName": "Ops", "members": [{"value": "a"}, {"value": "b"}]});
        let out = patched(
            group.clone(),
            ops(json!([
                {"op": "add", "path": "members", "value": [{"value": "c"}, {"value": "a"}]},
                {"op": "remove", "path": "members[value eq \"b\"]"}
            ])),
        )
        .unwrap();
        assert_eq!(out["members"], json!([{"value": "a"}, {"value": "c"}]));
        let out = patched(
            group,
            ops(json!([{"op": "Remove", "path": "members", "value": [{"value": "a"}]}])),
        )
        .unwrap();
        assert_eq!(out["members"], json!([{"value": "b"}]));
    }

    #[test]
    fn a_body_without_operations_is_invalid_syntax() {
        assert_eq!(
            parse_request(&json!({"schemas": [PATCH_OP]}))
                .unwrap_err()
                .scim_type,
            Some("invalidSyntax")
        );
        assert_eq!(
            parse_request(&json!({"schemas": ["x"], "Operations": []}))
                .unwrap_err()
                .scim_type,
            Some("invalidSyntax")
        );
    }
}
