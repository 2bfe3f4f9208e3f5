//! The account pages behind emailed links (docs/pages.md), driven as a
//! browser without JavaScript would: GET a page, keep its cookie, POST its
//! form. The real-browser suite (`browser/`) covers the same flows in
//! Chromium.

use reqwest::{Response, StatusCode};
use roster::config::Settings;
use roster::startup::Application;

use crate::helpers::{spawn_app_with, TestApp, GOOD_PASSWORD};

/// The app with email links pointing at its own pages.
async fn spawn_pages_app(extra: &[(&str, &str)]) -> TestApp {
    let mut overrides = vec![("ROSTER_APP_URL", "")];
    overrides.extend_from_slice(extra);
    spawn_app_with(&overrides).await
}

/// A page as the browser got it: status, body, and its form cookie.
struct Page {
    status: StatusCode,
    body: String,
    cookie: Option<String>,
    headers: reqwest::header::HeaderMap,
}

impl Page {
    async fn read(response: Response) -> Self {
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| value.starts_with("roster_form="))
            .map(|value| value.split(';').next().unwrap().to_string());
        Page {
            status: response.status(),
            headers: response.headers().clone(),
            cookie,
            body: response.text().await.unwrap(),
        }
    }

    /// The value of the form's hidden `name` field.
    fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no {name} field in {}", self.body))
            + marker.len();
        self.body[start..].split('"').next().unwrap().to_string()
    }

    fn heading(&self) -> &str {
        self.body
            .split("<h1>")
            .nth(1)
            .and_then(|rest| rest.split("</h1>").next())
            .unwrap_or_default()
    }
}

/// A browser's session with one page: its cookie goes back with its posts.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: Option<String>,
}

impl<'a> Browser<'a> {
    fn new(app: &'a TestApp) -> Self {
        Browser { app, cookie: None }
    }

    async fn open(&mut self, url: &str) -> Page {
        let mut request = self.app.client.get(url);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        let page = Page::read(request.send().await.unwrap()).await;
        if page.cookie.is_some() {
            self.cookie = page.cookie.clone();
        }
        page
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)], site: &str) -> Page {
        let mut request = self
            .app
            .client
            .post(self.app.url(path))
            .header("sec-fetch-site", site)
            .form(form);
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        Page::read(request.send().await.unwrap()).await
    }

    /// Posts the password form of `page` (at `path`) with these two entries.
    async fn set_password(&mut self, path: &str, page: &Page, password: &str, again: &str) -> Page {
        let (token, csrf) = (page.field("token"), page.field("csrf"));
        let form = [
            ("token", token.as_str()),
            ("csrf", csrf.as_str()),
            ("password", password),
            ("password_confirmation", again),
        ];
        self.post(path, &form, "same-origin").await
    }
}

/// The link in the newest `kind` email to `recipient`.
async fn emailed_link(app: &TestApp, kind: &str, recipient: &str) -> String {
    let email = app.last_email(kind, recipient).await;
    let start = email.text_body.find("http").expect("a link");
    email.text_body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

async fn invite(app: &TestApp, email: &str) -> String {
    let cid = app.customer("Acme", None).await;
    app.add_new_user(&cid, email, "full_access").await;
    emailed_link(app, "activation", email).await
}

#[tokio::test]
async fn the_invitation_links_to_roster_own_activation_page_at_the_port_it_listens_on() {
    let app = spawn_pages_app(&[]).await;
    let link = invite(&app, "jane@acme.test").await;
    assert!(
        link.starts_with(&format!("{}/activate?token=rat_", app.address)),
        "{link}"
    );
    let page = Browser::new(&app).open(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.heading(), "Set your password");
    assert!(page.body.contains("jane@acme.test"));
    assert!(page.cookie.is_some(), "the form's cookie is set");
}

#[tokio::test]
async fn every_page_forbids_framing_foreign_content_referrers_and_caching() {
    let app = spawn_pages_app(&[]).await;
    let link = invite(&app, "jane@acme.test").await;
    let mut browser = Browser::new(&app);
    for url in [
        link,
        app.url("/forgot-password"),
        app.url("/activate?token=rat_nope"),
        app.url("/assets/pages.css"),
    ] {
        let page = browser.open(&url).await;
        let header = |name: &str| page.headers[name].to_str().unwrap().to_string();
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "style-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{url}: {csp}");
        }
        assert_eq!(header("referrer-policy"), "no-referrer", "{url}");
        assert_eq!(header("cache-control"), "no-store", "{url}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{url}");
    }
    let set_cookie = Page::read(
        app.client
            .get(app.url("/forgot-password"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .headers["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
}

#[tokio::test]
async fn opening_a_link_page_never_uses_the_link() {
    let app = spawn_pages_app(&[]).await;
    let link = invite(&app, "jane@acme.test").await;
    let mut browser = Browser::new(&app);
    for _ in 0..3 {
        assert_eq!(browser.open(&link).await.status, StatusCode::OK);
    }
    let token = link.rsplit("token=").next().unwrap();
    assert_eq!(app.action_token(token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn activation_through_the_page_explains_a_mismatch_and_a_common_password_then_activates() {
    let app = spawn_pages_app(&[]).await;
    let link = invite(&app, "jane@acme.test").await;
    let mut browser = Browser::new(&app);
    let form = browser.open(&link).await;

    let mismatch = browser
        .set_password(
            "/activate",
            &form,
            GOOD_PASSWORD,
            "violet tugboat arithmetik",
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(mismatch.body.contains("The two passwords do not match."));
    assert!(mismatch.body.contains("role=\"alert\""));
    assert_eq!(mismatch.heading(), "Set your password", "the form is kept");

    let common = browser
        .set_password("/activate", &mismatch, "password1234", "password1234")
        .await;
    assert_eq!(common.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        common.body.contains("too common or too easy to guess"),
        "{}",
        common.body
    );

    let done = browser
        .set_password("/activate", &common, GOOD_PASSWORD, GOOD_PASSWORD)
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.heading(), "Your account is active");
    app.sign_in("jane@acme.test", GOOD_PASSWORD)
        .await
        .access_token();
    let again = browser.open(&link).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert_eq!(again.heading(), "This link was already used");
    assert!(again.body.contains("action=\"/forgot-password\""));
}

#[tokio::test]
async fn the_done_page_leads_on_to_the_sign_in_url_when_one_is_set() {
    let app = spawn_pages_app(&[("ROSTER_SIGN_IN_URL", "https://app.acme.test/login")]).await;
    let link = invite(&app, "jane@acme.test").await;
    let mut browser = Browser::new(&app);
    let form = browser.open(&link).await;
    let done = browser
        .set_password("/activate", &form, GOOD_PASSWORD, GOOD_PASSWORD)
        .await;
    assert!(
        done.body
            .contains("href=\"https:&#x2f;&#x2f;app.acme.test&#x2f;login\""),
        "{}",
        done.body
    );
}

#[tokio::test]
async fn a_post_from_another_site_or_without_the_pages_cookie_changes_nothing() {
    let app = spawn_pages_app(&[]).await;
    let link = invite(&app, "jane@acme.test").await;
    let mut browser = Browser::new(&app);
    let form = browser.open(&link).await;
    let (token, csrf) = (form.field("token"), form.field("csrf"));
    let fields = [
        ("token", token.as_str()),
        ("csrf", csrf.as_str()),
        ("password", GOOD_PASSWORD),
        ("password_confirmation", GOOD_PASSWORD),
    ];

    let cross = browser.post("/activate", &fields, "cross-site").await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
    assert_eq!(cross.heading(), "This form was sent from another site");

    let mut stranger = Browser::new(&app);
    let cookieless = stranger.post("/activate", &fields, "same-origin").await;
    assert_eq!(cookieless.status, StatusCode::FORBIDDEN);
    assert_eq!(cookieless.heading(), "This form has expired");

    // The form token of one link is worthless for another.
    let other = invite(&app, "sam@acme.test").await;
    browser.open(&other).await;
    let other_token = other.rsplit("token=").next().unwrap();
    let swapped = [
        ("token", other_token),
        ("csrf", csrf.as_str()),
        ("password", GOOD_PASSWORD),
        ("password_confirmation", GOOD_PASSWORD),
    ];
    let swapped = browser.post("/activate", &swapped, "same-origin").await;
    assert_eq!(swapped.status, StatusCode::FORBIDDEN);

    assert_eq!(app.action_token(&token).await.status(), StatusCode::OK);
    assert_eq!(app.action_token(other_token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn forgot_then_reset_through_the_pages_and_the_reset_link_is_unknown_to_the_activation_page()
{
    let app = spawn_pages_app(&[]).await;
    let (_, _, _) = app.active_member("pat@acme.test").await;
    let mut browser = Browser::new(&app);
    let ask = browser.open(&app.url("/forgot-password")).await;
    assert_eq!(ask.heading(), "Forgot your password?");
    let csrf = ask.field("csrf");

    let before = app.pending_outbox_rows().await;
    let mut answers = Vec::new();
    for address in ["pat@acme.test", "ghost@acme.test"] {
        let sent = browser
            .post(
                "/forgot-password",
                &[("csrf", &csrf), ("email", address)],
                "same-origin",
            )
            .await;
        assert_eq!(sent.status, StatusCode::OK);
        assert_eq!(sent.heading(), "Check your email");
        answers.push(sent.body.replace(address, "ADDRESS"));
    }
    assert_eq!(
        answers[0], answers[1],
        "the same answer whatever the address"
    );
    assert_eq!(
        app.pending_outbox_rows().await,
        before + 2,
        "one request each"
    );

    let invalid = browser
        .post(
            "/forgot-password",
            &[("csrf", &csrf), ("email", "pat")],
            "same-origin",
        )
        .await;
    assert_eq!(invalid.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(invalid.body.contains("Enter an email address"));

    app.resolve_requests().await;
    let link = emailed_link(&app, "password_reset", "pat@acme.test").await;
    assert!(link.starts_with(&format!("{}/reset-password?token=", app.address)));
    let wrong_page = link.replace("/reset-password?", "/activate?");
    let unknown = browser.open(&wrong_page).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.heading(), "This link is not valid");

    let form = browser.open(&link).await;
    assert_eq!(form.heading(), "Reset your password");
    let done = browser
        .set_password(
            "/reset-password",
            &form,
            "new harbour lantern gravel",
            "new harbour lantern gravel",
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.heading(), "Your password has been changed");
    app.sign_in("pat@acme.test", "new harbour lantern gravel")
        .await
        .access_token();
}

#[tokio::test]
async fn an_expired_link_says_so() {
    let app = spawn_pages_app(&[]).await;
    let link = invite(&app, "jane@acme.test").await;
    app.clock.advance(std::time::Duration::from_secs(49 * 3600));
    let page = Browser::new(&app).open(&link).await;
    assert_eq!(page.status, StatusCode::GONE);
    assert_eq!(page.heading(), "This link has expired");
}

#[tokio::test]
async fn posts_past_the_limit_are_explained_on_the_page_with_the_form_kept() {
    let app = spawn_pages_app(&[("ROSTER_AUTH_RATE_LIMIT", "2")]).await;
    let link = invite(&app, "jane@acme.test").await;
    let mut browser = Browser::new(&app);
    let mut page = browser.open(&link).await;
    for _ in 0..2 {
        page = browser.set_password("/activate", &page, "a", "b").await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let limited = browser
        .set_password("/activate", &page, GOOD_PASSWORD, GOOD_PASSWORD)
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key("retry-after"));
    assert!(limited
        .body
        .contains("Too many attempts from your network."));
    assert_eq!(limited.heading(), "Set your password");
    assert!(limited.body.contains("name=\"password\""));
}

#[tokio::test]
async fn the_assets_are_served_with_their_type_and_the_accent_colour() {
    let app = spawn_pages_app(&[("ROSTER_ACCENT_COLOR", "#0b5394")]).await;
    let css = app
        .client
        .get(app.url("/assets/pages.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(css.status(), StatusCode::OK);
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    let brand = app
        .client
        .get(app.url("/assets/brand.css"))
        .send()
        .await
        .unwrap();
    assert!(brand.text().await.unwrap().contains("--accent: #0b5394"));
    let missing = app
        .client
        .get(app.url("/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

fn settings_with_theme(dir: &std::path::Path) -> Settings {
    Settings::from_pairs(&[
        ("ROSTER_DATABASE_URL", ":memory:"),
        ("ROSTER_BIND", "127.0.0.1:0"),
        ("ROSTER_THEME_DIR", dir.to_str().unwrap()),
        ("ROSTER_MAIL_WORKER", "off"),
    ])
    .unwrap()
}

#[tokio::test]
async fn a_theme_template_that_does_not_render_stops_the_start_naming_it() {
    let theme = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(theme.path().join("pages")).unwrap();
    std::fs::write(
        theme.path().join("pages/activate.html.j2"),
        "{% extends \"layout.html.j2\" %}{% block content %}{{ mistyped_email }}{% endblock %}",
    )
    .unwrap();
    let err = Application::build(settings_with_theme(theme.path()))
        .await
        .err()
        .expect("the start fails")
        .to_string();
    assert!(err.contains("ROSTER_THEME_DIR"), "{err}");
    assert!(err.contains("pages/activate.html.j2"), "{err}");
}

#[tokio::test]
async fn the_example_themes_start_and_brand_the_pages_and_emails() {
    let themes = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/themes");
    let mut seen = 0;
    for entry in std::fs::read_dir(themes).unwrap() {
        let dir = entry.unwrap().path();
        let theme = dir.display().to_string();
        let app = spawn_pages_app(&[("ROSTER_THEME_DIR", &theme)]).await;
        let link = invite(&app, "jane@acme.test").await;
        let page = Browser::new(&app).open(&link).await;
        assert_eq!(page.status, StatusCode::OK, "{theme}: {}", page.body);
        seen += 1;
    }
    assert!(seen >= 2, "the two example themes");
}
