//! The account pages behind emailed links (`templates/pages/`, replaced file
//! by file by a theme), their static assets, and the form tokens that keep
//! other sites from posting them. Rendering only: the HTTP side is
//! `routes/pages.rs`, the work is the use cases of `service/accounts.rs`.

pub mod csrf;

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde::Serialize;
use serde_json::{json, Value};

use crate::domain::password_policy::{PasswordRejection, MAX_PASSWORD_CHARS};
use crate::theme::{content_type_of, Asset, Branding, Theme, ThemeError};

macro_rules! embedded {
    ($dir:literal: $($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/", $dir, "/", $name)))),*]
    };
}

const TEMPLATES: [(&str, &str); 8] = embedded![
    "pages":
    "layout.html.j2",
    "macros.html.j2",
    "activate.html.j2",
    "reset_password.html.j2",
    "done.html.j2",
    "link_problem.html.j2",
    "forgot_password.html.j2",
    "error.html.j2",
];

const ASSETS: [(&str, &str); 1] = embedded!["static": "pages.css"];

/// The pages a request can end on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Activate,
    ResetPassword,
    Done,
    LinkProblem,
    ForgotPassword,
    Error,
}

impl Page {
    pub const ALL: [Page; 6] = [
        Page::Activate,
        Page::ResetPassword,
        Page::Done,
        Page::LinkProblem,
        Page::ForgotPassword,
        Page::Error,
    ];

    fn template(self) -> &'static str {
        match self {
            Page::Activate => "activate.html.j2",
            Page::ResetPassword => "reset_password.html.j2",
            Page::Done => "done.html.j2",
            Page::LinkProblem => "link_problem.html.j2",
            Page::ForgotPassword => "forgot_password.html.j2",
            Page::Error => "error.html.j2",
        }
    }
}

/// What went wrong with a form, for the page to explain (every sentence is
/// in `macros.html.j2`, by `code`). All fields are always present, so that
/// templates can be rendered with undefined variables as errors.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FormProblem {
    pub code: &'static str,
    /// The field it is about (`password`, `password_confirmation`, `email`).
    pub field: &'static str,
    pub min_length: usize,
    pub max_length: usize,
    /// The password checker's own (English) hint, or empty.
    pub hint: String,
    pub retry_after: u64,
}

impl FormProblem {
    pub fn new(code: &'static str, field: &'static str) -> Self {
        FormProblem {
            code,
            field,
            min_length: 0,
            max_length: MAX_PASSWORD_CHARS,
            hint: String::new(),
            retry_after: 0,
        }
    }

    pub fn rejected(rejection: &PasswordRejection) -> Self {
        match rejection {
            PasswordRejection::TooShort(min) => FormProblem {
                min_length: *min,
                ..FormProblem::new("too_short", "password")
            },
            PasswordRejection::TooLong => FormProblem::new("too_long", "password"),
            PasswordRejection::PersonalInformation => FormProblem::new("personal", "password"),
            PasswordRejection::Common(hint) => FormProblem {
                hint: hint
                    .trim()
                    .trim_start_matches('(')
                    .trim_end_matches(')')
                    .to_string(),
                ..FormProblem::new("common", "password")
            },
        }
    }

    pub fn rate_limited(field: &'static str, retry_after: u64) -> Self {
        FormProblem {
            retry_after,
            ..FormProblem::new("rate_limited", field)
        }
    }
}

/// The templates and assets, parsed and checked once; cheap to clone.
#[derive(Clone)]
pub struct PageTemplates {
    env: Arc<Environment<'static>>,
    branding: Arc<Branding>,
    assets: Arc<BTreeMap<String, Asset>>,
}

impl PageTemplates {
    /// The built-in pages and assets with `theme`'s in their place; every
    /// page is rendered with sample data, so a theme that breaks one is
    /// refused here, at start.
    pub fn new(branding: &Branding, theme: &Theme) -> Result<Self, ThemeError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|err| panic!("page template {name} does not parse: {err}"));
        }
        for (name, value) in branding.page_context() {
            env.add_global(name, minijinja::Value::from_serialize(&value));
        }
        for (name, source) in theme.templates_in("pages") {
            env.add_template_owned(name.to_string(), source.to_string())
                .map_err(|err| ThemeError::template(format!("pages/{name}"), &err))?;
        }
        let mut assets: BTreeMap<String, Asset> = ASSETS
            .into_iter()
            .map(|(name, text)| {
                let asset = Asset {
                    content_type: content_type_of(name).unwrap_or("text/plain"),
                    bytes: text.as_bytes().into(),
                };
                (name.to_string(), asset)
            })
            .collect();
        assets.extend(theme.assets.clone());
        assets.insert(
            "brand.css".into(),
            Asset {
                content_type: "text/css; charset=utf-8",
                bytes: format!(":root {{ --accent: {}; }}\n", branding.accent_color)
                    .into_bytes()
                    .into(),
            },
        );
        let pages = PageTemplates {
            env: Arc::new(env),
            branding: Arc::new(branding.clone()),
            assets: Arc::new(assets),
        };
        pages.check()?;
        Ok(pages)
    }

    /// Every page renders with each of its sample contexts.
    fn check(&self) -> Result<(), ThemeError> {
        for page in Page::ALL {
            for context in samples(page) {
                self.env
                    .get_template(page.template())
                    .and_then(|template| template.render(&context))
                    .map_err(|err| {
                        ThemeError::template(format!("pages/{}", page.template()), &err)
                    })?;
            }
        }
        Ok(())
    }

    /// Renders `page` with `context` (an object).
    pub fn render(&self, page: Page, context: &Value) -> Result<String, minijinja::Error> {
        self.env
            .get_template(page.template())
            .and_then(|template| template.render(context))
    }

    /// A static asset by file name.
    pub fn asset(&self, name: &str) -> Option<&Asset> {
        self.assets.get(name)
    }

    pub fn branding(&self) -> &Branding {
        &self.branding
    }
}

/// Contexts that reach every branch of `page`'s built-in template.
fn samples(page: Page) -> Vec<Value> {
    let form = |error: Option<FormProblem>| {
        json!({
            "email": "jane.doe@example.com",
            "token": "rat_SAMPLE",
            "csrf": "SAMPLE",
            "min_length": 12,
            "max_length": MAX_PASSWORD_CHARS,
            "expires_at": "2026-11-24T10:00:00Z",
            "error": error,
        })
    };
    let problems = [
        FormProblem::new("mismatch", "password_confirmation"),
        FormProblem::new("missing", "password"),
        FormProblem::rejected(&PasswordRejection::TooShort(12)),
        FormProblem::rejected(&PasswordRejection::TooLong),
        FormProblem::rejected(&PasswordRejection::PersonalInformation),
        FormProblem::rejected(&PasswordRejection::Common(" (a common password)".into())),
        FormProblem::rate_limited("password", 30),
        FormProblem::new("busy", "password"),
    ];
    match page {
        Page::Activate | Page::ResetPassword => std::iter::once(None)
            .chain(problems.into_iter().map(Some))
            .map(form)
            .collect(),
        Page::Done => ["activation", "password_reset"]
            .map(|purpose| json!({"purpose": purpose, "error": null}))
            .to_vec(),
        Page::LinkProblem => ["unknown", "expired", "used", "no_longer_applies"]
            .map(|reason| json!({"reason": reason, "csrf": "SAMPLE", "error": null}))
            .to_vec(),
        Page::ForgotPassword => vec![
            json!({"sent": false, "email": "", "csrf": "SAMPLE", "expires_hours": 48, "error": null}),
            json!({"sent": false, "email": "jane", "csrf": "SAMPLE", "expires_hours": 48,
                   "error": FormProblem::new("invalid_email", "email")}),
            json!({"sent": false, "email": "jane@example.com", "csrf": "SAMPLE", "expires_hours": 48,
                   "error": FormProblem::rate_limited("email", 30)}),
            json!({"sent": true, "email": "jane.doe@example.com", "csrf": "SAMPLE", "expires_hours": 48, "error": null}),
        ],
        Page::Error => [
            "cross_site",
            "form_expired",
            "rate_limited",
            "unavailable",
            "not_found",
            "internal",
        ]
        .map(|reason| json!({"reason": reason, "retry_after": 30, "error": null}))
        .to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pages() -> PageTemplates {
        PageTemplates::new(&Branding::sample(), &Theme::default()).unwrap()
    }

    fn render(page: Page, context: Value) -> String {
        pages().render(page, &context).unwrap()
    }

    #[test]
    fn every_page_has_a_language_one_h1_and_the_product_name() {
        let pages = pages();
        for page in Page::ALL {
            for context in samples(page) {
                let html = pages.render(page, &context).unwrap();
                assert!(
                    html.starts_with("<!DOCTYPE html>\n<html lang=\"en\">"),
                    "{page:?}"
                );
                assert_eq!(html.matches("<h1").count(), 1, "{page:?}: {html}");
                assert!(html.contains("alt=\"Utility Bill Management\""), "{page:?}");
                assert!(!html.contains("<script"), "{page:?}");
                assert!(
                    !html.contains("style="),
                    "{page:?}: inline styles break the CSP"
                );
            }
        }
    }

    #[test]
    fn the_password_form_labels_both_fields_for_a_new_password() {
        let html = render(Page::Activate, samples(Page::Activate).remove(0));
        assert!(html.contains("<label for=\"password\">New password</label>"));
        assert!(html.contains("<label for=\"password_confirmation\">"));
        assert_eq!(html.matches("autocomplete=\"new-password\"").count(), 2);
        assert!(html.contains("name=\"token\" value=\"rat_SAMPLE\""));
        assert!(html.contains("name=\"csrf\" value=\"SAMPLE\""));
        assert!(html.contains("jane.doe@example.com"));
        assert!(html.contains("at least 12 characters"));
    }

    #[test]
    fn a_problem_is_explained_in_an_alert_and_marks_its_field() {
        let mut context = samples(Page::Activate).remove(0);
        context["error"] = json!(FormProblem::new("mismatch", "password_confirmation"));
        let html = render(Page::Activate, context);
        assert!(html.contains("role=\"alert\""));
        assert!(html.contains("The two passwords do not match."));
        assert!(html.contains("<title>Error: "));
        let confirmation = html.split("id=\"password_confirmation\"").nth(1).unwrap();
        assert!(confirmation
            .split('>')
            .next()
            .unwrap()
            .contains("aria-invalid=\"true\""));
    }

    #[test]
    fn a_common_password_names_the_checkers_hint() {
        let problem = FormProblem::rejected(&PasswordRejection::Common(
            " (this is a top-10 common password)".into(),
        ));
        assert_eq!(problem.hint, "this is a top-10 common password");
        let mut context = samples(Page::ResetPassword).remove(0);
        context["error"] = json!(problem);
        let html = render(Page::ResetPassword, context);
        assert!(html.contains("too common or too easy to guess (this is a top-10 common password)"));
    }

    #[test]
    fn each_link_problem_says_which() {
        let pages = pages();
        let headings: Vec<String> = samples(Page::LinkProblem)
            .iter()
            .map(|context| {
                let html = pages.render(Page::LinkProblem, context).unwrap();
                assert!(html.contains("action=\"/forgot-password\""));
                html.split("<h1>")
                    .nth(1)
                    .unwrap()
                    .split("</h1>")
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(
            headings,
            [
                "This link is not valid",
                "This link has expired",
                "This link was already used",
                "This link no longer applies",
            ]
        );
    }

    #[test]
    fn user_supplied_text_is_escaped() {
        let mut context = samples(Page::ForgotPassword).remove(0);
        context["email"] = json!("\"><script>alert(1)</script>");
        let html = render(Page::ForgotPassword, context);
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn the_accent_colour_comes_in_its_own_stylesheet() {
        let pages = pages();
        let brand = pages.asset("brand.css").unwrap();
        assert_eq!(&*brand.bytes, b":root { --accent: #1d4ed8; }\n");
        assert!(pages.asset("pages.css").is_some());
        assert!(pages.asset("app.js").is_none());
    }

    #[test]
    fn a_theme_page_that_does_not_render_stops_with_its_name() {
        let mut theme = Theme::default();
        theme
            .templates
            .insert("pages/done.html.j2".into(), "{{ no_such_variable }}".into());
        let err = PageTemplates::new(&Branding::sample(), &theme)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("pages/done.html.j2"), "{err}");
        assert!(err.contains("does not render with sample data"), "{err}");
    }

    #[test]
    fn a_theme_replaces_a_page_and_an_asset() {
        let mut theme = Theme::default();
        theme.templates.insert(
            "pages/done.html.j2".into(),
            "{% extends \"layout.html.j2\" %}{% block heading %}All set, {{ product_name }}{% endblock %}".into(),
        );
        theme.assets.insert(
            "pages.css".into(),
            Asset {
                content_type: "text/css; charset=utf-8",
                bytes: b"body{}".as_slice().into(),
            },
        );
        let pages = PageTemplates::new(&Branding::sample(), &theme).unwrap();
        let html = pages
            .render(Page::Done, &json!({"purpose": "activation", "error": null}))
            .unwrap();
        assert!(
            html.contains("<h1>All set, Utility Bill Management</h1>"),
            "{html}"
        );
        assert_eq!(&*pages.asset("pages.css").unwrap().bytes, b"body{}");
    }
}
