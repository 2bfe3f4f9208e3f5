//! Placeholder replaced by the templates work.
use super::EmailKind;

pub struct RenderedEmail {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Clone)]
pub struct EmailTemplates;

impl EmailTemplates {
    pub fn new(_product_name: &str, _app_url: &str) -> Self {
        EmailTemplates
    }

    pub fn render(
        &self,
        kind: EmailKind,
        context: &serde_json::Value,
    ) -> Result<RenderedEmail, String> {
        Ok(RenderedEmail {
            subject: kind.as_str().into(),
            text: context.to_string(),
            html: context.to_string(),
        })
    }
}
