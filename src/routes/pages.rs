//! The account pages behind emailed links, as HTML forms that need no
//! JavaScript: another front door onto the use cases of the JSON API
//! (`service::accounts`). Not part of the OpenAPI document: they answer
//! browsers, not programs.
//!
//! - `GET /activate?token=…`, `GET /reset-password?token=…`: the form (never
//!   consumes the link); `POST` to the same path sets the password.
//! - `GET /forgot-password`, `POST /forgot-password`: ask for a link; the same
//!   answer, with the same work, whatever the address.
//! - `GET /assets/{file}`: the stylesheets and the theme's images.
//!
//! Every answer carries a strict CSP (`default-src 'none'`), no referrer (the
//! token is in the URL), and `Cache-Control: no-store`. Posts must come from
//! roster's own pages: a `Sec-Fetch-Site` of another site is refused, and the
//! form token must match the `SameSite=Strict` cookie (`pages::csrf`).

use std::net::IpAddr;

use actix_web::cookie::{time::Duration as CookieAge, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::DefaultHeaders;
use actix_web::{web, HttpRequest, HttpResponse};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::db::action_tokens::Purpose;
use crate::domain::email::EmailAddress;
use crate::error::ApiError;
use crate::http::RequestId;
use crate::pages::csrf;
use crate::pages::{FormProblem, Page, PageTemplates};
use crate::rate_limit::AuthRateLimit;
use crate::service::accounts::{self, LinkProblem, LinkView, SetPasswordFailure};
use crate::state::AppState;

/// Tokens are short; anything longer is no link of ours (and is not looked up).
const MAX_TOKEN_CHARS: usize = 200;

/// Registers the pages and their assets, each answer with the security headers.
pub fn configure(
    pages: &PageTemplates,
    limit: AuthRateLimit,
) -> impl FnOnce(&mut web::ServiceConfig) {
    let headers = security_headers(pages);
    move |cfg| {
        cfg.app_data(web::Data::new(FormThrottle(limit)))
            .service(
                web::resource("/activate")
                    .wrap(headers.clone())
                    .route(web::get().to(show_activation))
                    .route(web::post().to(submit_activation)),
            )
            .service(
                web::resource("/reset-password")
                    .wrap(headers.clone())
                    .route(web::get().to(show_reset))
                    .route(web::post().to(submit_reset)),
            )
            .service(
                web::resource("/forgot-password")
                    .wrap(headers.clone())
                    .route(web::get().to(show_forgot))
                    .route(web::post().to(submit_forgot)),
            )
            .service(
                web::resource("/assets/{file}")
                    .wrap(headers)
                    .route(web::get().to(asset)),
            );
    }
}

/// The form posts' own throttle (a type of its own: the app also holds the
/// `/v1/auth/*` one, for its metric).
struct FormThrottle(AuthRateLimit);

/// The headers of every page: nothing but roster's own styles and images
/// (and an off-site logo's origin, when `ROSTER_LOGO_URL` names one), no
/// framing, no referrer, no caching.
pub fn security_headers(pages: &PageTemplates) -> DefaultHeaders {
    let images = match pages.branding().logo_origin() {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_string(),
    };
    let policy = format!(
        "default-src 'none'; style-src 'self'; img-src {images}; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, policy))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((header::CACHE_CONTROL, "no-store"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add(("Cross-Origin-Opener-Policy", "same-origin"))
        .add(("Cross-Origin-Resource-Policy", "same-origin"))
}

#[derive(Debug, Deserialize)]
struct LinkQuery {
    token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirmation: String,
}

#[derive(Debug, Deserialize)]
struct ForgotForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    email: String,
}

async fn show_activation(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LinkQuery>,
) -> HttpResponse {
    show_link(&req, &state, query.into_inner().token, Purpose::Activation).await
}

async fn show_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<LinkQuery>,
) -> HttpResponse {
    show_link(
        &req,
        &state,
        query.into_inner().token,
        Purpose::PasswordReset,
    )
    .await
}

async fn submit_activation(
    req: HttpRequest,
    state: web::Data<AppState>,
    limit: web::Data<FormThrottle>,
    request_id: RequestId,
    body: web::Bytes,
) -> HttpResponse {
    let post = Post::new(&req, &state, &limit.0, &request_id);
    submit_password(post, &body, Purpose::Activation).await
}

async fn submit_reset(
    req: HttpRequest,
    state: web::Data<AppState>,
    limit: web::Data<FormThrottle>,
    request_id: RequestId,
    body: web::Bytes,
) -> HttpResponse {
    let post = Post::new(&req, &state, &limit.0, &request_id);
    submit_password(post, &body, Purpose::PasswordReset).await
}

async fn show_forgot(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let mut view = View::new(&req, &state);
    let context = json!({
        "sent": false,
        "email": "",
        "csrf": view.form_token(FORGOT_ACTION),
        "expires_hours": expires_hours(&state),
        "error": null,
    });
    view.render(StatusCode::OK, Page::ForgotPassword, context)
}

async fn asset(state: web::Data<AppState>, file: web::Path<String>) -> HttpResponse {
    match state.pages.asset(&file) {
        Some(asset) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, asset.content_type))
            .body(asset.bytes.to_vec()),
        None => HttpResponse::NotFound().finish(),
    }
}

const FORGOT_ACTION: &str = "forgot-password";

/// What a link's form token is bound to: the path and the link itself.
fn link_action(purpose: Purpose, token: &str) -> String {
    format!("{}:{token}", page_path(purpose))
}

fn page_path(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Activation => "/activate",
        Purpose::PasswordReset => "/reset-password",
    }
}

fn form_page(purpose: Purpose) -> Page {
    match purpose {
        Purpose::Activation => Page::Activate,
        Purpose::PasswordReset => Page::ResetPassword,
    }
}

fn expires_hours(state: &AppState) -> u64 {
    state.settings.action_token_ttl.as_secs() / 3600
}

async fn show_link(
    req: &HttpRequest,
    state: &AppState,
    token: Option<String>,
    purpose: Purpose,
) -> HttpResponse {
    let mut view = View::new(req, state);
    let Some(token) = token.filter(|t| !t.is_empty() && t.chars().count() <= MAX_TOKEN_CHARS)
    else {
        return view.link_problem(LinkProblem::Unknown);
    };
    match accounts::open_link(state, token.clone(), purpose).await {
        Ok(Ok(link)) => view.password_form(StatusCode::OK, purpose, &token, &link, None),
        Ok(Err(problem)) => view.link_problem(problem),
        Err(err) => view.failure(&err),
    }
}

/// A form post, with what every post needs checked first.
struct Post<'a> {
    view: View<'a>,
    limit: &'a AuthRateLimit,
    request_id: &'a RequestId,
    client: Option<IpAddr>,
    from_another_site: bool,
}

impl<'a> Post<'a> {
    fn new(
        req: &'a HttpRequest,
        state: &'a AppState,
        limit: &'a AuthRateLimit,
        request_id: &'a RequestId,
    ) -> Self {
        // `same-site` too: a sibling subdomain is another application.
        let from_another_site = req
            .headers()
            .get("sec-fetch-site")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|site| matches!(site, "cross-site" | "same-site"));
        Post {
            view: View::new(req, state),
            limit,
            request_id,
            client: request_id
                .1
                .or_else(|| req.peer_addr().map(|peer| peer.ip())),
            from_another_site,
        }
    }

    /// Refuses a post from another site, or whose form token does not match
    /// its cookie and `action`: `Err` holds the reason the 403 page gives.
    fn guard(&self, action: &str, presented: &str) -> Result<(), &'static str> {
        if self.from_another_site {
            return Err("cross_site");
        }
        let genuine = self
            .view
            .cookie_nonce
            .as_deref()
            .is_some_and(|nonce| csrf::verify(nonce, action, presented));
        if !genuine {
            return Err("form_expired");
        }
        Ok(())
    }

    fn throttle(&self) -> Result<(), u64> {
        match self.client {
            Some(client) => self.limit.check(client),
            None => Ok(()),
        }
    }
}

async fn submit_password(mut post: Post<'_>, body: &[u8], purpose: Purpose) -> HttpResponse {
    let Ok(form) = serde_urlencoded::from_bytes::<PasswordForm>(body) else {
        return post.view.error(StatusCode::BAD_REQUEST, "form_expired", 0);
    };
    if let Err(reason) = post.guard(&link_action(purpose, &form.token), &form.csrf) {
        return post.view.error(StatusCode::FORBIDDEN, reason, 0);
    }
    let throttled = post.throttle();
    let state = post.view.state;
    let link = match accounts::open_link(state, form.token.clone(), purpose).await {
        Ok(Ok(link)) => link,
        Ok(Err(problem)) => return post.view.link_problem(problem),
        Err(err) => return post.view.failure(&err),
    };
    let again = |view: &mut View, status, problem| {
        view.password_form(status, purpose, &form.token, &link, Some(problem))
    };
    if let Err(wait) = throttled {
        let problem = FormProblem::rate_limited("password", wait);
        return again(&mut post.view, StatusCode::TOO_MANY_REQUESTS, problem);
    }
    if form.password.is_empty() || form.password_confirmation.is_empty() {
        let problem = FormProblem::new("missing", "password");
        return again(&mut post.view, StatusCode::UNPROCESSABLE_ENTITY, problem);
    }
    if form.password != form.password_confirmation {
        let problem = FormProblem::new("mismatch", "password_confirmation");
        return again(&mut post.view, StatusCode::UNPROCESSABLE_ENTITY, problem);
    }
    let outcome = accounts::set_password_with_link(
        state,
        form.token.clone(),
        purpose,
        SecretString::from(form.password),
        post.request_id.origin(),
    )
    .await;
    match outcome {
        Ok(()) => {
            let context = json!({"purpose": purpose.as_str(), "error": null});
            post.view.render(StatusCode::OK, Page::Done, context)
        }
        Err(SetPasswordFailure::Password(rejection)) => again(
            &mut post.view,
            StatusCode::UNPROCESSABLE_ENTITY,
            FormProblem::rejected(&rejection),
        ),
        Err(SetPasswordFailure::Link(problem)) => post.view.link_problem(problem),
        Err(SetPasswordFailure::Other(ApiError::TooManyRequests { retry_after_secs })) => again(
            &mut post.view,
            StatusCode::TOO_MANY_REQUESTS,
            FormProblem::rate_limited("password", retry_after_secs),
        ),
        Err(SetPasswordFailure::Other(ApiError::Unavailable(cause))) => {
            crate::request_log::server_error(&ApiError::Unavailable(cause));
            again(
                &mut post.view,
                StatusCode::SERVICE_UNAVAILABLE,
                FormProblem::new("busy", "password"),
            )
        }
        Err(SetPasswordFailure::Other(err)) => post.view.failure(&err),
    }
}

async fn submit_forgot(
    req: HttpRequest,
    state: web::Data<AppState>,
    limit: web::Data<FormThrottle>,
    request_id: RequestId,
    body: web::Bytes,
) -> HttpResponse {
    let mut post = Post::new(&req, &state, &limit.0, &request_id);
    let Ok(form) = serde_urlencoded::from_bytes::<ForgotForm>(&body) else {
        return post.view.error(StatusCode::BAD_REQUEST, "form_expired", 0);
    };
    if let Err(reason) = post.guard(FORGOT_ACTION, &form.csrf) {
        return post.view.error(StatusCode::FORBIDDEN, reason, 0);
    }
    let entered = form.email.trim().chars().take(254).collect::<String>();
    let answer = |view: &mut View, status, sent: bool, error: Option<FormProblem>| {
        let context = json!({
            "sent": sent,
            "email": entered,
            "csrf": view.form_token(FORGOT_ACTION),
            "expires_hours": expires_hours(&state),
            "error": error,
        });
        view.render(status, Page::ForgotPassword, context)
    };
    if let Err(wait) = post.throttle() {
        let problem = FormProblem::rate_limited("email", wait);
        return answer(
            &mut post.view,
            StatusCode::TOO_MANY_REQUESTS,
            false,
            Some(problem),
        );
    }
    let Ok(email) = EmailAddress::parse(&entered) else {
        let problem = FormProblem::new("invalid_email", "email");
        return answer(
            &mut post.view,
            StatusCode::UNPROCESSABLE_ENTITY,
            false,
            Some(problem),
        );
    };
    match accounts::forgot_password(&state, email).await {
        Ok(()) => answer(&mut post.view, StatusCode::OK, true, None),
        Err(err) => post.view.failure(&err),
    }
}

/// Renders pages for one request, minting the form cookie when a form needs
/// one and the browser has none of ours.
struct View<'a> {
    state: &'a AppState,
    cookie_nonce: Option<String>,
    new_cookie: Option<Cookie<'static>>,
}

impl<'a> View<'a> {
    fn new(req: &HttpRequest, state: &'a AppState) -> Self {
        let cookie_nonce = req
            .cookie(csrf::cookie_name(is_secure(state)))
            .map(|cookie| cookie.value().to_string())
            .filter(|value| csrf::is_nonce(value));
        View {
            state,
            cookie_nonce,
            new_cookie: None,
        }
    }

    /// The form field for `action`, under the browser's cookie or a new one.
    fn form_token(&mut self, action: &str) -> String {
        let nonce = match &self.cookie_nonce {
            Some(nonce) => nonce.clone(),
            None => {
                let nonce = csrf::new_nonce();
                let secure = is_secure(self.state);
                self.new_cookie = Some(
                    Cookie::build(csrf::cookie_name(secure), nonce.clone())
                        .path("/")
                        .http_only(true)
                        .secure(secure)
                        .same_site(SameSite::Strict)
                        .max_age(CookieAge::seconds(csrf::COOKIE_MAX_AGE_SECS as i64))
                        .finish(),
                );
                self.cookie_nonce = Some(nonce.clone());
                nonce
            }
        };
        csrf::form_token(&nonce, action)
    }

    fn password_form(
        &mut self,
        status: StatusCode,
        purpose: Purpose,
        token: &str,
        link: &LinkView,
        error: Option<FormProblem>,
    ) -> HttpResponse {
        let context = json!({
            "email": link.email,
            "token": token,
            "csrf": self.form_token(&link_action(purpose, token)),
            "min_length": self.state.settings.password_min_length,
            "max_length": crate::domain::password_policy::MAX_PASSWORD_CHARS,
            "expires_at": crate::clock::from_db(link.expires_at)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            "error": error,
        });
        self.render(status, form_page(purpose), context)
    }

    fn link_problem(&mut self, problem: LinkProblem) -> HttpResponse {
        let status = match problem {
            LinkProblem::Unknown => StatusCode::NOT_FOUND,
            _ => StatusCode::GONE,
        };
        let context = json!({
            "reason": problem.as_str(),
            "csrf": self.form_token(FORGOT_ACTION),
            "error": null,
        });
        self.render(status, Page::LinkProblem, context)
    }

    fn error(&mut self, status: StatusCode, reason: &str, retry_after: u64) -> HttpResponse {
        let context = json!({"reason": reason, "retry_after": retry_after, "error": null});
        self.render(status, Page::Error, context)
    }

    /// A use case failed: the page says so without the cause, which goes
    /// to the log.
    fn failure(&mut self, err: &ApiError) -> HttpResponse {
        crate::request_log::server_error(err);
        match err {
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::Limited {
                retry_after_secs, ..
            } => self.error(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                *retry_after_secs,
            ),
            ApiError::Unavailable(_) => {
                self.error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", 0)
            }
            _ => self.error(StatusCode::INTERNAL_SERVER_ERROR, "internal", 0),
        }
    }

    fn render(&mut self, status: StatusCode, page: Page, context: Value) -> HttpResponse {
        let html = match self.state.pages.render(page, &context) {
            Ok(html) => html,
            Err(err) => {
                // Every page was rendered at start with sample data; this is a bug.
                crate::request_log::server_error(&ApiError::Internal(format!(
                    "page {page:?} does not render: {err}"
                )));
                return HttpResponse::InternalServerError()
                    .content_type("text/plain; charset=utf-8")
                    .body("Something went wrong.");
            }
        };
        let mut response = HttpResponse::build(status);
        response.content_type("text/html; charset=utf-8");
        if let Some(cookie) = self.new_cookie.take() {
            response.cookie(cookie);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            if let Some(wait) = context
                .pointer("/error/retry_after")
                .or_else(|| context.get("retry_after"))
                .and_then(Value::as_u64)
            {
                response.insert_header((header::RETRY_AFTER, wait.to_string()));
            }
        }
        response.body(html)
    }
}

fn is_secure(state: &AppState) -> bool {
    state.settings.public_url.starts_with("https://")
}
