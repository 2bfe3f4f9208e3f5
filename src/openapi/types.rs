//! Shapes that code generators turn into good types, applied to the whole
//! document after utoipa built it:
//!
//! - no `int64` format: every integer roster sends fits in 2^53, and
//!   generators would otherwise make limits, counts and seats `bigint`;
//! - a nullable field of a response is always sent (as `null`), so it is
//!   required: clients get `T | null`, not `T | null | undefined`.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use utoipa::openapi::schema::{ArrayItems, KnownFormat, Schema, SchemaFormat};
use utoipa::openapi::RefOr;

pub fn tidy(doc: &mut utoipa::openapi::OpenApi) {
    let required = nullable_response_fields(&serde_json::to_value(&*doc).expect("serializes"));
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    for (name, schema) in components.schemas.iter_mut() {
        drop_int64(schema);
        if let (Some(fields), RefOr::T(Schema::Object(object))) = (required.get(name), schema) {
            for field in fields {
                if !object.required.contains(field) {
                    object.required.push(field.clone());
                }
            }
        }
    }
    for item in doc.paths.paths.values_mut() {
        for operation in super::operations_mut(item) {
            for parameter in operation.parameters.iter_mut().flatten() {
                if let Some(schema) = parameter.schema.as_mut() {
                    drop_int64(schema);
                }
            }
        }
    }
}

fn drop_int64(schema: &mut RefOr<Schema>) {
    let RefOr::T(schema) = schema else { return };
    match schema {
        Schema::Object(object) => {
            if object.format == Some(SchemaFormat::KnownFormat(KnownFormat::Int64)) {
                object.format = None;
            }
            object.properties.values_mut().for_each(drop_int64);
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items {
                drop_int64(items);
            }
        }
        Schema::OneOf(choice) => choice.items.iter_mut().for_each(drop_int64),
        Schema::AnyOf(choice) => choice.items.iter_mut().for_each(drop_int64),
        Schema::AllOf(all) => all.items.iter_mut().for_each(drop_int64),
        _ => {}
    }
}

/// Component names `$ref`erenced anywhere under `value`.
fn refs(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            if let Some(name) = map
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
            {
                found.insert(name.to_string());
            }
            map.values().for_each(|v| refs(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
        _ => {}
    }
}

/// The schemas reachable from `roots`, following references.
fn closure(schemas: &serde_json::Map<String, Value>, roots: BTreeSet<String>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo: Vec<String> = roots.into_iter().collect();
    while let Some(name) = todo.pop() {
        if !seen.insert(name.clone()) {
            continue;
        }
        let mut next = BTreeSet::new();
        if let Some(schema) = schemas.get(&name) {
            refs(schema, &mut next);
        }
        todo.extend(next.into_iter().filter(|n| !seen.contains(n)));
    }
    seen
}

fn is_nullable(schema: &Value) -> bool {
    let type_has_null = match schema.get("type") {
        Some(Value::Array(types)) => types.iter().any(|t| t == "null"),
        _ => false,
    };
    let choice_has_null = ["anyOf", "oneOf"].iter().any(|key| {
        schema
            .get(*key)
            .and_then(Value::as_array)
            .is_some_and(|items| {
                items
                    .iter()
                    .any(|item| item.get("type") == Some(&"null".into()))
            })
    });
    type_has_null || choice_has_null
}

/// For each schema only responses use, its nullable properties.
fn nullable_response_fields(doc: &Value) -> BTreeMap<String, Vec<String>> {
    let mut in_responses = BTreeSet::new();
    let mut in_requests = BTreeSet::new();
    if let Some(paths) = doc.get("paths").and_then(Value::as_object) {
        for item in paths.values() {
            for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
                if let Some(responses) = operation.get("responses") {
                    refs(responses, &mut in_responses);
                }
                if let Some(body) = operation.get("requestBody") {
                    refs(body, &mut in_requests);
                }
            }
        }
    }
    let empty = serde_json::Map::new();
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let responses = closure(schemas, in_responses);
    let requests = closure(schemas, in_requests);
    responses
        .difference(&requests)
        .filter_map(|name| {
            let nullable: Vec<String> = schemas[name]
                .get("properties")
                .and_then(Value::as_object)
                .into_iter()
                .flat_map(|props| props.iter())
                .filter(|(_, prop)| is_nullable(prop))
                .map(|(key, _)| key.clone())
                .collect();
            (!nullable.is_empty()).then(|| (name.clone(), nullable))
        })
        .collect()
}
