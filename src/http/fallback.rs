//! The 404/405 fallback, from the routes the OpenAPI document declares.

use actix_web::{web, HttpRequest};

use crate::error::ApiError;

/// Route templates and their methods, read from the generated OpenAPI
/// document, so an unknown path is 404 and a known one with the wrong method 405.
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<String>)>,
}

impl RouteTable {
    pub fn from_openapi(doc: &utoipa::openapi::OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("HEAD", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter(|(_, present)| *present)
                .map(|(method, _)| method.to_string())
                .collect();
                (split_path(path), methods)
            })
            .collect();
        RouteTable { routes }
    }

    /// Methods allowed on `path`, or `None` when no route has that shape.
    pub fn allowed(&self, path: &str) -> Option<Vec<String>> {
        let segments = split_path(path);
        // The template naming most segments literally wins
        // (`…/users/export` over `…/users/{user_id}`).
        self.routes
            .iter()
            .filter(|(template, _)| {
                template.len() == segments.len()
                    && template
                        .iter()
                        .zip(&segments)
                        .all(|(t, s)| t.starts_with('{') || t == s)
            })
            .min_by_key(|(template, _)| {
                std::cmp::Reverse(template.iter().filter(|t| !t.starts_with('{')).count())
            })
            .map(|(_, methods)| methods.clone())
    }
}

fn split_path(path: &str) -> Vec<String> {
    path.trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// The default service: 405 with `Allow` for a known path, 404 otherwise.
pub async fn fallback(
    req: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<actix_web::HttpResponse, ApiError> {
    Err(match routes.allowed(req.path()) {
        Some(methods) if !methods.is_empty() => ApiError::MethodNotAllowed(methods),
        _ => ApiError::NoRoute,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_table_tells_unknown_paths_from_wrong_methods() {
        let table = RouteTable {
            routes: vec![(
                split_path("/v1/users/{user_id}"),
                vec!["GET".into(), "PATCH".into()],
            )],
        };
        assert_eq!(
            table.allowed("/v1/users/123"),
            Some(vec!["GET".into(), "PATCH".into()])
        );
        assert_eq!(table.allowed("/v1/users/123/extra"), None);
        assert_eq!(table.allowed("/v1/nothing/here"), None);
    }
}
