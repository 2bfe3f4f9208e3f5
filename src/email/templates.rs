//! Email templates (`templates/email/<kind>/{subject.txt,body.txt,body.html}.j2`),
//! embedded in the binary, replaced file by file by a theme
//! (`ROSTER_THEME_DIR/email/…`), and rendered with minijinja. HTML is
//! auto-escaped, text is not. Any use of a variable the caller did not give
//! is an error (`UndefinedBehavior::Strict`); optional ones are written
//! `x | default("")`. The branding variables (`product_name`,
//! `support_email`, `logo_url`, `accent_color`, `sign_in_url`, `app_url`,
//! `public_url`) are always there.

use std::sync::Arc;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use serde_json::{json, Value};

use super::EmailKind;
use crate::theme::{Branding, Theme, ThemeError};

#[derive(Debug)]
pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot render the {kind} email: {source}")]
pub struct TemplateError {
    kind: &'static str,
    #[source]
    source: minijinja::Error,
}

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        [$(($name, include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/templates/email/", $name)))),*]
    };
}

const TEMPLATES: [(&str, &str); 29] = embedded![
    "layout.html.j2",
    "macros.html.j2",
    "activation/subject.txt.j2",
    "activation/body.txt.j2",
    "activation/body.html.j2",
    "password_reset/subject.txt.j2",
    "password_reset/body.txt.j2",
    "password_reset/body.html.j2",
    "password_changed/subject.txt.j2",
    "password_changed/body.txt.j2",
    "password_changed/body.html.j2",
    "account_deactivated/subject.txt.j2",
    "account_deactivated/body.txt.j2",
    "account_deactivated/body.html.j2",
    "account_locked/subject.txt.j2",
    "account_locked/body.txt.j2",
    "account_locked/body.html.j2",
    "membership_added/subject.txt.j2",
    "membership_added/body.txt.j2",
    "membership_added/body.html.j2",
    "membership_removed/subject.txt.j2",
    "membership_removed/body.txt.j2",
    "membership_removed/body.html.j2",
    "action_confirmation/subject.txt.j2",
    "action_confirmation/body.txt.j2",
    "action_confirmation/body.html.j2",
    "email_changed/subject.txt.j2",
    "email_changed/body.txt.j2",
    "email_changed/body.html.j2",
];

/// The templates, parsed once; cheap to clone.
#[derive(Clone)]
pub struct EmailTemplates {
    env: Arc<Environment<'static>>,
    branding: Arc<Branding>,
}

impl EmailTemplates {
    /// The built-in templates with `theme`'s in their place, each kind
    /// rendered once with sample data (a theme that breaks one is refused).
    pub fn new(branding: &Branding, theme: &Theme) -> Result<Self, ThemeError> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html.j2") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        env.set_keep_trailing_newline(false);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|err| panic!("template {name} does not parse: {err}"));
        }
        // Globals, so that imported macros see them too.
        for (name, value) in branding.email_context() {
            env.add_global(name, minijinja::Value::from_serialize(&value));
        }
        for (name, source) in theme.templates_in("email") {
            env.add_template_owned(name.to_string(), source.to_string())
                .map_err(|err| ThemeError::template(format!("email/{name}"), &err))?;
        }
        let templates = EmailTemplates {
            env: Arc::new(env),
            branding: Arc::new(branding.clone()),
        };
        templates.check()?;
        Ok(templates)
    }

    /// Every kind renders with full and with minimal sample data.
    fn check(&self) -> Result<(), ThemeError> {
        for kind in EmailKind::ALL {
            for context in [sample_context(), required_context(kind)] {
                self.render(kind, &context).map_err(|err| {
                    ThemeError::template(format!("email/{}/…", kind.as_str()), &err.source)
                })?;
            }
        }
        Ok(())
    }

    /// Renders `kind` with `context` (an object) plus the branding and a
    /// default empty `recipient_name`.
    pub fn render(&self, kind: EmailKind, context: &Value) -> Result<RenderedEmail, TemplateError> {
        let mut values = self.branding.email_context();
        values.insert("recipient_name".into(), Value::from(""));
        if let Value::Object(given) = context {
            for (name, value) in given {
                if !values.contains_key(name) || name == "recipient_name" {
                    values.insert(name.clone(), value.clone());
                }
            }
        }
        let context = Value::Object(values);
        let render = |part: &str| {
            self.env
                .get_template(&format!("{}/{part}", kind.as_str()))
                .and_then(|template| template.render(&context))
                .map_err(|source| TemplateError {
                    kind: kind.as_str(),
                    source,
                })
        };
        Ok(RenderedEmail {
            subject: one_line(&render("subject.txt.j2")?),
            text: render("body.txt.j2")?.trim().to_string() + "\n",
            html: render("body.html.j2")?,
        })
    }
}

/// A context that satisfies every kind, with a recognisable token.
pub fn sample_context() -> Value {
    json!({
        "recipient_name": "Jane",
        "link": "https://app.example.com/activate?token=rat_SAMPLE",
        "expires_hours": 48,
        "customer_name": "UBM Demo",
        "changed_at": "2026-11-22T10:00:00Z",
        "forgot_password_url": "https://app.example.com/forgot-password",
        "role_label": "Full Access",
        "summary": "Jane Doe (user@email.com) was inactivated",
        "actor": "user:0190",
        "requester_name": "Sam Admin",
        "occurred_at": "2026-11-22T10:00:00Z",
        "new_email": "j***@example.org",
    })
}

/// Only the variables each kind cannot do without.
pub fn required_context(kind: EmailKind) -> Value {
    match kind {
        EmailKind::Activation | EmailKind::PasswordReset => {
            json!({"link": "https://app.example.com/x?token=t", "expires_hours": 48})
        }
        EmailKind::PasswordChanged | EmailKind::AccountDeactivated => json!({}),
        EmailKind::AccountLocked => {
            json!({"forgot_password_url": "https://app.example.com/forgot-password"})
        }
        EmailKind::MembershipAdded | EmailKind::MembershipRemoved => {
            json!({"customer_name": "UBM Demo"})
        }
        EmailKind::EmailChanged => json!({"new_email": "j***@example.org"}),
        EmailKind::ActionConfirmation => json!({
            "summary": "Jane Doe (user@email.com) was inactivated",
            "actor": "user:0190",
            "occurred_at": "2026-11-22T10:00:00Z",
        }),
    }
}

/// A subject can never carry a line break into a mail header.
fn one_line(text: &str) -> String {
    text.split(['\r', '\n'])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn templates() -> EmailTemplates {
        EmailTemplates::new(&Branding::sample(), &Theme::default()).unwrap()
    }

    fn sample() -> Value {
        sample_context()
    }

    fn required(kind: EmailKind) -> Value {
        required_context(kind)
    }

    #[test]
    fn every_kind_renders_with_its_context() {
        for kind in EmailKind::ALL {
            let email = templates().render(kind, &sample()).unwrap();
            assert!(!email.subject.is_empty(), "{kind:?}");
            assert!(
                email.text.contains("Hello Jane,"),
                "{kind:?}: {}",
                email.text
            );
            assert!(email.html.contains("Utility Bill Management"), "{kind:?}");
            assert!(email.html.contains("<html lang=\"en\">"), "{kind:?}");
        }
    }

    #[test]
    fn optional_variables_may_be_absent_or_null() {
        let nulls = [
            "customer_name",
            "requester_name",
            "changed_at",
            "role_label",
        ];
        for kind in EmailKind::ALL {
            templates().render(kind, &required(kind)).unwrap();
            let mut context = required(kind);
            for name in nulls {
                context
                    .as_object_mut()
                    .unwrap()
                    .entry(name)
                    .or_insert(Value::Null);
            }
            let email = templates().render(kind, &context).unwrap();
            assert!(!email.text.contains("none"), "{kind:?}: {}", email.text);
        }
    }

    #[test]
    fn an_empty_recipient_name_greets_generically() {
        let email = templates()
            .render(
                EmailKind::AccountDeactivated,
                &json!({"recipient_name": ""}),
            )
            .unwrap();
        assert!(email.text.starts_with("Hello,\n"), "{}", email.text);
        assert!(email.html.contains(">Hello,</p>"));
    }

    #[test]
    fn activation_email_has_get_started_button_and_48_hours() {
        let email = templates()
            .render(EmailKind::Activation, &sample())
            .unwrap();
        assert_eq!(
            email.subject,
            "Your Utility Bill Management account has been set up"
        );
        assert!(email.html.contains(">Get Started</a>"));
        // minijinja escapes `/` inside attributes; browsers decode it.
        assert!(email.html.contains("activate?token=rat_SAMPLE\""));
        assert!(email
            .text
            .contains("Get Started: https://app.example.com/activate?token=rat_SAMPLE"));
        assert!(email.text.contains("valid for 48 hours"));
        assert!(email.text.contains("for UBM Demo"));
    }

    #[test]
    fn password_reset_email_has_reset_button_and_says_to_ignore_it_if_unrequested() {
        let email = templates()
            .render(EmailKind::PasswordReset, &sample())
            .unwrap();
        assert!(email.html.contains(">Reset Password</a>"));
        assert!(email.text.contains("valid for 48 hours"));
        assert!(email.text.contains("you can ignore this email"));
    }

    #[test]
    fn deactivation_notice_says_whom_to_ask_in_neutral_words() {
        let email = templates()
            .render(EmailKind::AccountDeactivated, &sample())
            .unwrap();
        assert!(email
            .text
            .contains("If you need access again, contact your administrator."));
    }

    #[test]
    fn branding_shows_in_the_html_logo_support_address_and_accent() {
        let email = templates()
            .render(EmailKind::PasswordReset, &sample())
            .unwrap();
        assert!(
            email.html.contains(
                "<img src=\"https:&#x2f;&#x2f;app.example.com&#x2f;assets&#x2f;logo.svg\""
            ),
            "{}",
            email.html
        );
        assert!(email.html.contains("support@example.com"));
        assert!(email.html.contains("background:#1d4ed8"));
    }

    #[test]
    fn a_theme_email_that_does_not_render_stops_with_its_name() {
        let mut theme = Theme::default();
        theme.templates.insert(
            "email/activation/subject.txt.j2".into(),
            "Welcome {{ nobody }}".into(),
        );
        let err = EmailTemplates::new(&Branding::sample(), &theme)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("email/activation"), "{err}");
    }

    #[test]
    fn a_theme_replaces_one_template_and_keeps_the_others() {
        let mut theme = Theme::default();
        theme.templates.insert(
            "email/activation/subject.txt.j2".into(),
            "Welcome to {{ product_name }}".into(),
        );
        let templates = EmailTemplates::new(&Branding::sample(), &theme).unwrap();
        let email = templates.render(EmailKind::Activation, &sample()).unwrap();
        assert_eq!(email.subject, "Welcome to Utility Bill Management");
        assert!(email.text.contains("Get Started:"));
    }

    #[test]
    fn the_email_change_notice_names_the_new_address_and_what_moves_there() {
        let email = templates()
            .render(EmailKind::EmailChanged, &sample())
            .unwrap();
        assert_eq!(
            email.subject,
            "The email address of your Utility Bill Management account was changed"
        );
        assert!(email
            .text
            .contains("to j***@example.org at 2026-11-22T10:00:00Z."));
        assert!(email.text.contains("password reset links included"));
        assert!(email.text.contains("contact your administrator right away"));
        assert!(email.html.contains("j***@example.org"));
    }

    #[test]
    fn html_escapes_user_supplied_names_and_text_does_not() {
        let mut context = sample();
        context["customer_name"] = json!("<script>alert(1)</script> & Co");
        let email = templates()
            .render(EmailKind::MembershipAdded, &context)
            .unwrap();
        assert!(!email.html.contains("<script>"));
        assert!(email
            .html
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; Co"));
        assert!(email.text.contains("<script>alert(1)</script> & Co"));
    }

    #[test]
    fn subject_never_contains_a_line_break() {
        let mut context = sample();
        context["summary"] = json!("x\r\nBcc: victim@example.com\n");
        let email = templates()
            .render(EmailKind::ActionConfirmation, &context)
            .unwrap();
        assert!(!email.subject.contains(['\r', '\n']), "{:?}", email.subject);
        assert_eq!(email.subject, email.subject.trim());
    }

    #[test]
    fn product_name_and_app_url_always_come_from_the_configuration() {
        let mut context = sample();
        context["product_name"] = json!("Evil Corp");
        context["app_url"] = json!("https://evil.example");
        let email = templates()
            .render(EmailKind::MembershipAdded, &context)
            .unwrap();
        assert!(
            !email.text.contains("Evil") && !email.text.contains("evil"),
            "{}",
            email.text
        );
    }

    #[test]
    fn a_missing_variable_is_an_error() {
        let err = templates()
            .render(EmailKind::PasswordReset, &json!({"recipient_name": "Jane"}))
            .unwrap_err();
        assert!(err.to_string().contains("password_reset"), "{err}");
    }

    /// Subject and text of every kind against `templates/email/snapshots/`;
    /// `UPDATE_SNAPSHOTS=1 cargo test --lib email::templates` rewrites them.
    #[test]
    fn the_rendered_text_of_every_kind_matches_its_snapshot() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/templates/email/snapshots");
        let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some();
        let mut stale = Vec::new();
        for kind in EmailKind::ALL {
            let email = templates().render(kind, &sample()).unwrap();
            let actual = format!("Subject: {}\n\n{}", email.subject, email.text);
            let path = format!("{dir}/{}.txt", kind.as_str());
            if update {
                std::fs::create_dir_all(dir).unwrap();
                std::fs::write(&path, &actual).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(actual.as_str()) {
                eprintln!("--- {path} should now read:\n{actual}---");
                stale.push(path);
            }
        }
        assert!(
            stale.is_empty(),
            "snapshots differ: {stale:?}; if the change is intended run \
             `UPDATE_SNAPSHOTS=1 cargo test --lib email::templates`"
        );
    }
}
