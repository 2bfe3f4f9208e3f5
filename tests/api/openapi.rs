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
