//! One typed method per endpoint of docs/api.md ("Endpoints").
//!
//! Each takes the caller's token first (public endpoints take none), then
//! the ids of the path, then the body or the query (without its `?`, "" for
//! none), and returns the raw response: the test decides what answer it
//! expects.

use reqwest::{Method, Response};
use serde_json::{json, Value};

use super::{with_query, TestApp};

/// Sign-in, tokens and the emailed links.
impl TestApp {
    /// `POST /v1/auth/token` with a form body.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url("/v1/auth/token"))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// `POST /v1/auth/token`, `grant_type=password`.
    pub async fn password_grant(&self, email: &str, password: &str) -> Response {
        self.token_request(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ])
        .await
    }

    /// `POST /v1/auth/token`, `grant_type=refresh_token`.
    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.token_request(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    /// `POST /v1/auth/token`, `grant_type=client_credentials` in the form.
    pub async fn client_credentials(&self, client_id: &str, secret: &str) -> Response {
        self.token_request(&[
            ("grant_type", "client_credentials"),
            ("client_id", client_id),
            ("client_secret", secret),
        ])
        .await
    }

    /// `POST /v1/auth/revoke` with a form body.
    pub async fn revoke(&self, token: &str) -> Response {
        self.client
            .post(self.url("/v1/auth/revoke"))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap()
    }

    /// `GET /v1/auth/action-tokens/{token}`: what an emailed link is for.
    pub async fn action_token(&self, token: &str) -> Response {
        self.get(&format!("/v1/auth/action-tokens/{token}"), None)
            .await
    }

    /// `POST /v1/auth/activate`.
    pub async fn activate_account(&self, token: &str, password: &str) -> Response {
        self.post_json(
            "/v1/auth/activate",
            None,
            &json!({"token": token, "password": password}),
        )
        .await
    }

    /// `POST /v1/auth/forgot-password`.
    pub async fn forgot_password(&self, email: &str) -> Response {
        self.post_json("/v1/auth/forgot-password", None, &json!({"email": email}))
            .await
    }

    /// `POST /v1/auth/reset-password`.
    pub async fn reset_password(&self, token: &str, password: &str) -> Response {
        self.post_json(
            "/v1/auth/reset-password",
            None,
            &json!({"token": token, "password": password}),
        )
        .await
    }
}

/// The signed-in person.
impl TestApp {
    /// `GET /v1/me`.
    pub async fn me(&self, token: &str) -> Response {
        self.get("/v1/me", Some(token)).await
    }

    /// `POST /v1/me/password`.
    pub async fn change_password(&self, token: &str, current: &str, new: &str) -> Response {
        self.post_json(
            "/v1/me/password",
            Some(token),
            &json!({"current_password": current, "new_password": new}),
        )
        .await
    }
}

/// Customers.
impl TestApp {
    /// `POST /v1/customers`.
    pub async fn create_customer(&self, token: &str, body: &Value) -> Response {
        self.post_json("/v1/customers", Some(token), body).await
    }

    /// `GET /v1/customers?{query}`.
    pub async fn list_customers(&self, token: &str, query: &str) -> Response {
        self.get(&with_query("/v1/customers".into(), query), Some(token))
            .await
    }

    /// `GET /v1/customers/{cid}`.
    pub async fn get_customer(&self, token: &str, cid: &str) -> Response {
        self.get(&format!("/v1/customers/{cid}"), Some(token)).await
    }

    /// `PATCH /v1/customers/{cid}`.
    pub async fn update_customer(&self, token: &str, cid: &str, body: &Value) -> Response {
        self.patch_json(&format!("/v1/customers/{cid}"), Some(token), body)
            .await
    }

    /// `PATCH /v1/customers/{cid}` with `If-Match`.
    pub async fn update_customer_if_match(
        &self,
        token: &str,
        cid: &str,
        if_match: &str,
        body: &Value,
    ) -> Response {
        self.request(Method::PATCH, &format!("/v1/customers/{cid}"), Some(token))
            .header("If-Match", if_match)
            .json(body)
            .send()
            .await
            .unwrap()
    }
}

/// A customer's users (memberships).
impl TestApp {
    /// `POST /v1/customers/{cid}/users`.
    pub async fn add_customer_user(&self, token: &str, cid: &str, body: &Value) -> Response {
        self.post_json(&format!("/v1/customers/{cid}/users"), Some(token), body)
            .await
    }

    /// `GET /v1/customers/{cid}/users?{query}`.
    pub async fn list_customer_users(&self, token: &str, cid: &str, query: &str) -> Response {
        let path = with_query(format!("/v1/customers/{cid}/users"), query);
        self.get(&path, Some(token)).await
    }

    /// `PATCH /v1/customers/{cid}/users/{uid}`.
    pub async fn update_customer_user(
        &self,
        token: &str,
        cid: &str,
        uid: &str,
        body: &Value,
    ) -> Response {
        let path = format!("/v1/customers/{cid}/users/{uid}");
        self.patch_json(&path, Some(token), body).await
    }

    /// `DELETE /v1/customers/{cid}/users/{uid}?{query}`.
    pub async fn remove_customer_user(
        &self,
        token: &str,
        cid: &str,
        uid: &str,
        query: &str,
    ) -> Response {
        let path = with_query(format!("/v1/customers/{cid}/users/{uid}"), query);
        self.delete(&path, Some(token)).await
    }
}

/// Users across the platform.
impl TestApp {
    /// `GET /v1/users?{query}`.
    pub async fn list_users(&self, token: &str, query: &str) -> Response {
        self.get(&with_query("/v1/users".into(), query), Some(token))
            .await
    }

    /// `GET /v1/users/{uid}`: User Info.
    pub async fn get_user(&self, token: &str, uid: &str) -> Response {
        self.get(&format!("/v1/users/{uid}"), Some(token)).await
    }

    /// `PATCH /v1/users/{uid}`.
    pub async fn update_user(&self, token: &str, uid: &str, body: &Value) -> Response {
        self.patch_json(&format!("/v1/users/{uid}"), Some(token), body)
            .await
    }

    /// `PATCH /v1/users/{uid}` with `If-Match`.
    pub async fn update_user_if_match(
        &self,
        token: &str,
        uid: &str,
        if_match: &str,
        body: &Value,
    ) -> Response {
        self.request(Method::PATCH, &format!("/v1/users/{uid}"), Some(token))
            .header("If-Match", if_match)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    /// `DELETE /v1/users/{uid}?{query}`.
    pub async fn delete_user(&self, token: &str, uid: &str, query: &str) -> Response {
        let path = with_query(format!("/v1/users/{uid}"), query);
        self.delete(&path, Some(token)).await
    }

    /// `PUT /v1/users/{uid}/status`.
    pub async fn set_status(&self, token: &str, uid: &str, body: &Value) -> Response {
        let path = format!("/v1/users/{uid}/status");
        self.send_json(Method::PUT, &path, Some(token), body).await
    }

    /// `DELETE /v1/users/{uid}/lock?{query}`.
    pub async fn unlock(&self, token: &str, uid: &str, query: &str) -> Response {
        let path = with_query(format!("/v1/users/{uid}/lock"), query);
        self.delete(&path, Some(token)).await
    }

    /// `POST /v1/users/{uid}/activation-email`.
    pub async fn send_activation_email(&self, token: &str, uid: &str) -> Response {
        let path = format!("/v1/users/{uid}/activation-email");
        self.post_empty(&path, Some(token)).await
    }

    /// `POST /v1/users/{uid}/password-reset-email`.
    pub async fn send_password_reset_email(&self, token: &str, uid: &str) -> Response {
        let path = format!("/v1/users/{uid}/password-reset-email");
        self.post_empty(&path, Some(token)).await
    }
}

/// The audit log, API clients and the outbox.
impl TestApp {
    /// `GET /v1/audit-events?{query}`.
    pub async fn list_audit_events(&self, token: &str, query: &str) -> Response {
        self.get(&with_query("/v1/audit-events".into(), query), Some(token))
            .await
    }

    /// `POST /v1/api-clients`.
    pub async fn create_api_client(&self, token: &str, body: &Value) -> Response {
        self.post_json("/v1/api-clients", Some(token), body).await
    }

    /// `GET /v1/api-clients`.
    pub async fn list_api_clients(&self, token: &str) -> Response {
        self.get("/v1/api-clients", Some(token)).await
    }

    /// `DELETE /v1/api-clients/{id}`.
    pub async fn revoke_api_client(&self, token: &str, id: &str) -> Response {
        self.delete(&format!("/v1/api-clients/{id}"), Some(token))
            .await
    }

    /// `GET /v1/email-deliveries?{query}`.
    pub async fn list_email_deliveries(&self, token: &str, query: &str) -> Response {
        let path = with_query("/v1/email-deliveries".into(), query);
        self.get(&path, Some(token)).await
    }

    /// `POST /v1/email-deliveries/{id}/retry`.
    pub async fn retry_email_delivery(&self, token: &str, id: &str) -> Response {
        let path = format!("/v1/email-deliveries/{id}/retry");
        self.post_empty(&path, Some(token)).await
    }
}
