//! The look and words of roster's pages and emails: the branding settings
//! every template sees, and the files of `ROSTER_THEME_DIR`, which replace
//! the built-in templates and static assets file by file:
//!
//! ```text
//! <theme>/email/<kind>/{subject.txt,body.txt,body.html}.j2, email/layout.html.j2 …
//! <theme>/pages/<page>.html.j2, pages/layout.html.j2 …
//! <theme>/static/pages.css, static/logo.svg (or logo.png) …
//! ```
//!
//! The theme is read once at start; the renderers check every template with
//! sample data there, so a broken theme stops the start, never a request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::config::Settings;

/// Files larger than this are refused (a theme is words, styles, a logo).
const MAX_FILE_BYTES: u64 = 512 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ThemeError {
    #[error("ROSTER_THEME_DIR: cannot read {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("ROSTER_THEME_DIR: {path}: {message}")]
    File { path: String, message: String },
    #[error("ROSTER_THEME_DIR: the template {name} {message}")]
    Template { name: String, message: String },
}

impl ThemeError {
    /// A template that does not parse or render, with minijinja's account
    /// of where (its `Display` names the line).
    pub fn template(name: impl Into<String>, err: &minijinja::Error) -> Self {
        let mut message = format!("does not render with sample data: {err}");
        let mut source = std::error::Error::source(err);
        while let Some(cause) = source {
            message.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        ThemeError::Template {
            name: name.into(),
            message,
        }
    }
}

/// A static asset served under `/assets/`.
#[derive(Debug, Clone)]
pub struct Asset {
    pub content_type: &'static str,
    pub bytes: Arc<[u8]>,
}

/// The content type of a static asset by its extension; others are refused.
pub fn content_type_of(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        _ => return None,
    })
}

/// The logo file names a theme may ship, in order of preference.
pub const LOGO_FILES: [&str; 2] = ["logo.svg", "logo.png"];

/// The files of a theme folder: template sources by name (`email/…`,
/// `pages/…`) and static assets by file name.
#[derive(Debug, Default, Clone)]
pub struct Theme {
    pub templates: BTreeMap<String, String>,
    pub assets: BTreeMap<String, Asset>,
}

impl Theme {
    /// Reads `dir` (none: the built-in look only). Files outside `email/`,
    /// `pages/` and `static/` are ignored (a README, notes).
    pub fn load(dir: Option<&Path>) -> Result<Theme, ThemeError> {
        let mut theme = Theme::default();
        let Some(dir) = dir else {
            return Ok(theme);
        };
        if !dir.is_dir() {
            return Err(ThemeError::Read {
                path: dir.to_path_buf(),
                cause: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
            });
        }
        for folder in ["email", "pages"] {
            for (name, path) in files_under(&dir.join(folder), folder)? {
                if !name.ends_with(".j2") {
                    return Err(ThemeError::File {
                        path: name,
                        message: "templates end in `.j2`".into(),
                    });
                }
                let source =
                    String::from_utf8(read_bounded(&path)?).map_err(|_| ThemeError::File {
                        path: name.clone(),
                        message: "is not UTF-8 text".into(),
                    })?;
                theme.templates.insert(name, source);
            }
        }
        for (name, path) in files_under(&dir.join("static"), "static")? {
            let file = name.trim_start_matches("static/").to_string();
            let content_type = content_type_of(&file).ok_or_else(|| ThemeError::File {
                path: name.clone(),
                message: "is not a stylesheet, image or font (.css .svg .png .jpg .webp .gif .ico .woff2 .woff)".into(),
            })?;
            let bytes = read_bounded(&path)?;
            theme.assets.insert(
                file,
                Asset {
                    content_type,
                    bytes: bytes.into(),
                },
            );
        }
        Ok(theme)
    }

    /// The theme's templates under `folder/`, named relative to it.
    pub fn templates_in<'a>(&'a self, folder: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.templates.iter().filter_map(move |(name, source)| {
            name.strip_prefix(folder)
                .and_then(|rest| rest.strip_prefix('/'))
                .map(|rest| (rest, source.as_str()))
        })
    }

    /// The theme's logo file, if it ships one.
    pub fn logo_file(&self) -> Option<&'static str> {
        LOGO_FILES
            .into_iter()
            .find(|name| self.assets.contains_key(*name))
    }
}

/// Every file below `root`, named `prefix/relative/path` with `/`.
fn files_under(root: &Path, prefix: &str) -> Result<Vec<(String, PathBuf)>, ThemeError> {
    let mut found = Vec::new();
    if !root.exists() {
        return Ok(found);
    }
    let mut pending = vec![(root.to_path_buf(), prefix.to_string())];
    while let Some((dir, name)) = pending.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|cause| ThemeError::Read {
            path: dir.clone(),
            cause,
        })?;
        for entry in entries {
            let entry = entry.map_err(|cause| ThemeError::Read {
                path: dir.clone(),
                cause,
            })?;
            let path = entry.path();
            let child = format!("{name}/{}", entry.file_name().to_string_lossy());
            if path.is_dir() {
                pending.push((path, child));
            } else {
                found.push((child, path));
            }
        }
    }
    found.sort();
    Ok(found)
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, ThemeError> {
    let read_error = |cause| ThemeError::Read {
        path: path.to_path_buf(),
        cause,
    };
    let size = std::fs::metadata(path).map_err(read_error)?.len();
    if size > MAX_FILE_BYTES {
        return Err(ThemeError::File {
            path: path.display().to_string(),
            message: format!("is {size} bytes; theme files are at most {MAX_FILE_BYTES}"),
        });
    }
    std::fs::read(path).map_err(read_error)
}

/// What every page and email may show about the deployment.
#[derive(Debug, Clone)]
pub struct Branding {
    pub product_name: String,
    pub support_email: Option<String>,
    /// Absolute, for emails (`ROSTER_LOGO_URL`, or the theme's logo under
    /// `ROSTER_PUBLIC_URL`).
    pub email_logo_url: Option<String>,
    /// For pages: `ROSTER_LOGO_URL`, or the theme's logo on roster's own origin.
    pub page_logo_url: Option<String>,
    pub accent_color: String,
    pub sign_in_url: Option<String>,
    /// The base of emailed links (the frontend's, or roster's own).
    pub app_url: String,
    pub public_url: String,
}

impl Branding {
    pub fn new(settings: &Settings, theme: &Theme) -> Self {
        let theme_logo = theme.logo_file().map(|file| format!("/assets/{file}"));
        Branding {
            product_name: settings.product_name.clone(),
            support_email: settings.support_email.clone(),
            email_logo_url: settings.logo_url.clone().or_else(|| {
                theme_logo
                    .as_ref()
                    .map(|path| format!("{}{path}", settings.public_url))
            }),
            page_logo_url: settings.logo_url.clone().or(theme_logo),
            accent_color: settings.accent_color.clone(),
            sign_in_url: settings.sign_in_url.clone(),
            app_url: settings.link_base().to_string(),
            public_url: settings.public_url.clone(),
        }
    }

    /// Plain values, for the template tests.
    pub fn sample() -> Self {
        Branding {
            product_name: "Utility Bill Management".into(),
            support_email: Some("support@example.com".into()),
            email_logo_url: Some("https://app.example.com/assets/logo.svg".into()),
            page_logo_url: Some("/assets/logo.svg".into()),
            accent_color: "#1d4ed8".into(),
            sign_in_url: Some("https://app.example.com/sign-in".into()),
            app_url: "https://app.example.com".into(),
            public_url: "https://roster.example.com".into(),
        }
    }

    /// The variables every template sees (absent ones as empty text, so a
    /// template can write `{% if support_email %}`).
    pub fn context(&self, logo_url: Option<&str>) -> Map<String, Value> {
        let text = |value: Option<&str>| Value::from(value.unwrap_or_default());
        let mut values = Map::new();
        values.insert(
            "product_name".into(),
            Value::from(self.product_name.as_str()),
        );
        values.insert("support_email".into(), text(self.support_email.as_deref()));
        values.insert("logo_url".into(), text(logo_url));
        values.insert(
            "accent_color".into(),
            Value::from(self.accent_color.as_str()),
        );
        values.insert("sign_in_url".into(), text(self.sign_in_url.as_deref()));
        values.insert("app_url".into(), Value::from(self.app_url.as_str()));
        values.insert("public_url".into(), Value::from(self.public_url.as_str()));
        values
    }

    pub fn email_context(&self) -> Map<String, Value> {
        self.context(self.email_logo_url.as_deref())
    }

    pub fn page_context(&self) -> Map<String, Value> {
        self.context(self.page_logo_url.as_deref())
    }

    /// The origin of an off-site logo, which the pages' CSP must allow.
    pub fn logo_origin(&self) -> Option<String> {
        let url = self.page_logo_url.as_deref()?;
        let rest = url
            .strip_prefix("https://")
            .map(|rest| ("https", rest))
            .or_else(|| url.strip_prefix("http://").map(|rest| ("http", rest)))?;
        let host = rest.1.split(['/', '?', '#']).next()?;
        Some(format!("{}://{host}", rest.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_theme_folder_gives_its_templates_and_assets_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("pages")).unwrap();
        std::fs::create_dir_all(dir.path().join("email/activation")).unwrap();
        std::fs::create_dir_all(dir.path().join("static")).unwrap();
        std::fs::write(dir.path().join("pages/done.html.j2"), "done").unwrap();
        std::fs::write(
            dir.path().join("email/activation/subject.txt.j2"),
            "Welcome",
        )
        .unwrap();
        std::fs::write(dir.path().join("static/logo.png"), [0x89, b'P']).unwrap();
        std::fs::write(dir.path().join("README.md"), "notes").unwrap();
        let theme = Theme::load(Some(dir.path())).unwrap();
        assert_eq!(
            theme.templates_in("pages").collect::<Vec<_>>(),
            [("done.html.j2", "done")]
        );
        assert_eq!(
            theme.templates_in("email").collect::<Vec<_>>(),
            [("activation/subject.txt.j2", "Welcome")]
        );
        assert_eq!(theme.logo_file(), Some("logo.png"));
        assert_eq!(theme.assets["logo.png"].content_type, "image/png");
    }

    #[test]
    fn a_static_file_of_an_unknown_kind_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("static")).unwrap();
        std::fs::write(dir.path().join("static/app.js"), "alert(1)").unwrap();
        let err = Theme::load(Some(dir.path())).unwrap_err().to_string();
        assert!(err.contains("static/app.js"), "{err}");
    }

    #[test]
    fn a_missing_theme_folder_is_an_error() {
        let err = Theme::load(Some(Path::new("/nonexistent/theme")))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("ROSTER_THEME_DIR"), "{err}");
    }

    #[test]
    fn an_off_site_logo_names_its_origin() {
        let mut branding = Branding::sample();
        branding.page_logo_url = Some("https://cdn.example.net/brand/logo.svg?v=2".into());
        assert_eq!(
            branding.logo_origin().as_deref(),
            Some("https://cdn.example.net")
        );
        branding.page_logo_url = Some("/assets/logo.svg".into());
        assert_eq!(branding.logo_origin(), None);
    }
}
