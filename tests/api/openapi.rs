//! The committed contract must be exactly what the code generates.

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = roster::openapi::document_json();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed != generated {
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, &generated).unwrap();
            return;
        }
        panic!(
            "openapi/openapi.json is stale.\nRegenerate it with:\n\n    cargo run -- openapi > openapi/openapi.json\n"
        );
    }
}

#[test]
fn every_operation_documents_its_error_responses() {
    let doc = roster::openapi::document();
    for (path, item) in &doc.paths.paths {
        for (method, operation) in [
            ("get", &item.get),
            ("post", &item.post),
            ("put", &item.put),
            ("patch", &item.patch),
            ("delete", &item.delete),
        ] {
            let Some(operation) = operation else { continue };
            let codes: Vec<&String> = operation.responses.responses.keys().collect();
            assert!(
                codes.iter().any(|c| c.starts_with('2')),
                "{method} {path} documents no success response"
            );
            let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            if secured {
                assert!(
                    codes.iter().any(|c| *c == "401"),
                    "{method} {path} is secured but does not document 401"
                );
            }
        }
    }
}

/// The committed document as a frontend team reads it.
fn committed() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn operations(doc: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            found.push((format!("{} {path}", method.to_uppercase()), operation));
        }
    }
    found
}

#[test]
fn every_operation_has_a_short_summary_a_description_and_a_required_role() {
    let doc = committed();
    for (name, operation) in operations(&doc) {
        let summary = operation["summary"].as_str().unwrap_or_default();
        assert!(!summary.is_empty(), "{name} has no summary");
        assert!(
            summary.chars().count() <= 80 && !summary.contains('\n'),
            "{name}: the summary is longer than one line of 80 characters: {summary:?}"
        );
        let description = operation["description"].as_str().unwrap_or_default();
        // Past the "Who may call" line the contract adds to every operation.
        let own = description
            .split("**Who may call:**")
            .next()
            .unwrap_or_default();
        assert!(
            own.trim().len() >= 40,
            "{name} has no description of its own"
        );
        assert!(
            operation["x-required-role"].is_string(),
            "{name} does not state the role it needs"
        );
    }
}

#[test]
fn every_4xx_response_names_the_codes_it_can_carry() {
    let doc = committed();
    for (name, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().unwrap() {
            if !(status.starts_with('4') || status == "default") {
                continue;
            }
            // SCIM answers SCIM Errors (`status`, `scimType`, RFC 7644
            // §3.12), not problems: their description says what each means.
            let scim_error = &response["content"]["application/scim+json"]["schema"]["$ref"];
            if scim_error == "#/components/schemas/ScimError" {
                assert!(
                    response["description"]
                        .as_str()
                        .is_some_and(|d| d.len() >= 20),
                    "{name} {status}: the SCIM error is not described"
                );
                continue;
            }
            let codes = response["x-problem-codes"]
                .as_array()
                .or_else(|| response["x-oauth-errors"].as_array());
            let codes = codes.unwrap_or_else(|| panic!("{name} {status} lists no codes"));
            assert!(!codes.is_empty(), "{name} {status} lists no codes");
            let description = response["description"].as_str().unwrap_or_default();
            for code in codes {
                let code = code.as_str().unwrap();
                assert!(
                    description.contains(&format!("`{code}`")),
                    "{name} {status}: the description does not explain `{code}`"
                );
            }
        }
    }
}

#[test]
fn every_parameter_and_nearly_every_property_is_described() {
    let doc = committed();
    for (name, operation) in operations(&doc) {
        for parameter in operation["parameters"].as_array().into_iter().flatten() {
            assert!(
                parameter["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{name}: parameter {} has no description",
                parameter["name"]
            );
        }
    }
    let (mut described, mut total) = (0, 0);
    let mut missing = Vec::new();
    for (schema_name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        let mut objects = vec![schema];
        objects.extend(schema["allOf"].as_array().into_iter().flatten());
        objects.extend(schema["oneOf"].as_array().into_iter().flatten());
        for object in objects {
            for (property, value) in object["properties"].as_object().into_iter().flatten() {
                total += 1;
                let own = value["description"].as_str().is_some_and(|d| !d.is_empty());
                // A reference is described by the schema it names.
                let by_reference = value["$ref"].is_string();
                if own || by_reference {
                    described += 1;
                } else {
                    missing.push(format!("{schema_name}.{property}"));
                }
            }
        }
    }
    assert!(
        described * 10 >= total * 9,
        "only {described} of {total} schema properties are described; missing: {missing:?}"
    );
}

#[test]
fn every_success_response_and_request_body_has_an_example() {
    let doc = committed();
    let has_example = |media: &serde_json::Value| {
        media["example"].is_object() || media["example"].is_array() || media["examples"].is_object()
    };
    for (name, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().unwrap() {
            if !status.starts_with('2') {
                continue;
            }
            for (media_type, media) in response["content"].as_object().into_iter().flatten() {
                if media_type == "application/json" {
                    assert!(has_example(media), "{name} {status} has no example");
                }
            }
        }
        for (media_type, media) in operation["requestBody"]["content"]
            .as_object()
            .into_iter()
            .flatten()
        {
            // A file (CSV, NDJSON) is shown as its text.
            let is_text_file = media_type != "application/json" && media["example"].is_string();
            assert!(
                has_example(media) || is_text_file,
                "{name}: the {media_type} body has no example"
            );
        }
    }
}
