//! Building blocks of a scenario: they act as the platform admin (unless a
//! token is given), insist on success and return what the test needs next;
//! and what a test reads back: User Info, seat counts, the outbox, the audit
//! log.

use reqwest::StatusCode;
use roster::db::outbox::{self, OutboxFilter, OutboxRow};
use serde_json::{json, Value};

use super::{expect_json, id_of, items, link_token, new_person, TestApp, Tokens, GOOD_PASSWORD};

/// People and sessions.
impl TestApp {
    /// Signs in with a password and insists on success.
    pub async fn sign_in(&self, email: &str, password: &str) -> Tokens {
        let response = self.password_grant(email, password).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "sign-in of {email} failed: {body}");
        Tokens(body)
    }

    /// A sign-in attempt's answer: "ok", or the `code` beside `invalid_grant`
    /// ("invalid_grant" when there is none).
    pub async fn sign_in_outcome(&self, email: &str, password: &str) -> String {
        let response = self.password_grant(email, password).await;
        if response.status() == StatusCode::OK {
            return "ok".into();
        }
        let body = expect_json(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(body["error"], "invalid_grant", "{body}");
        body["code"].as_str().unwrap_or("invalid_grant").to_string()
    }

    /// Five wrong passwords: enough to lock an active account.
    pub async fn lock_out(&self, email: &str) {
        for _ in 0..5 {
            let refused = self.password_grant(email, "not the password at all").await;
            assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        }
    }

    /// The user's stored failed-sign-in counter.
    pub async fn failed_logins(&self, uid: &str) -> i32 {
        let id = uid.to_string();
        self.state
            .read(move |conn, _| Ok(roster::db::users::find(conn, &id)?.unwrap().failed_logins))
            .await
            .unwrap()
    }

    /// A second active platform admin (as `roster admin create` makes one); its token.
    pub async fn another_platform_admin(&self, email: &str) -> String {
        roster::service::bootstrap::create_admin(
            &self.state,
            email,
            Some(secrecy::SecretString::from(GOOD_PASSWORD)),
        )
        .await
        .expect("a second platform admin");
        self.sign_in(email, GOOD_PASSWORD).await.access_token()
    }

    /// The id of the user behind `token`.
    pub async fn my_id(&self, token: &str) -> String {
        id_of(&expect_json(self.me(token).await, StatusCode::OK).await)
    }
}

/// Customers and their users.
impl TestApp {
    /// A new customer; its id.
    pub async fn customer(&self, name: &str, seats: Option<i32>) -> String {
        let body = json!({"name": name, "licensed_seats": seats});
        let response = self.create_customer(self.admin_token(), &body).await;
        id_of(&expect_json(response, StatusCode::CREATED).await)
    }

    /// Adds a new person ([`new_person`]) to the customer as `role`; their user id.
    pub async fn add_new_user(&self, cid: &str, email: &str, role: &str) -> String {
        let mut body = new_person(email);
        body["role"] = json!(role);
        let response = self.add_customer_user(self.admin_token(), cid, &body).await;
        id_of(&expect_json(response, StatusCode::CREATED).await)
    }

    /// Adds someone who already has an account to the customer; the answer.
    pub async fn add_existing_user(&self, cid: &str, email: &str) -> Value {
        let body = json!({"email": email});
        let response = self.add_customer_user(self.admin_token(), cid, &body).await;
        expect_json(response, StatusCode::CREATED).await
    }

    /// Redeems the newest activation email to `email` with [`GOOD_PASSWORD`].
    pub async fn activate(&self, email: &str) -> Tokens {
        let token = self.token_from_email("activation", email).await;
        let response = self.activate_account(&token, GOOD_PASSWORD).await;
        Tokens(expect_json(response, StatusCode::OK).await)
    }

    /// Adds a new person and activates them; (user id, access token).
    pub async fn invite_and_activate(
        &self,
        cid: &str,
        email: &str,
        role: &str,
    ) -> (String, String) {
        let uid = self.add_new_user(cid, email, role).await;
        (uid, self.activate(email).await.access_token())
    }

    /// A customer "Acme" with one active full-access member; (customer id,
    /// user id, their tokens).
    pub async fn active_member(&self, email: &str) -> (String, String, Tokens) {
        let cid = self.customer("Acme", None).await;
        let uid = self.add_new_user(&cid, email, "full_access").await;
        let tokens = self.activate(email).await;
        (cid, uid, tokens)
    }

    /// Sets the user's status; their User Info.
    pub async fn admin_set_status(&self, uid: &str, status: &str) -> Value {
        let body = json!({"status": status});
        let response = self.set_status(self.admin_token(), uid, &body).await;
        expect_json(response, StatusCode::OK).await
    }

    /// User Info as the platform admin sees it.
    pub async fn user_info(&self, uid: &str) -> Value {
        expect_json(self.get_user(self.admin_token(), uid).await, StatusCode::OK).await
    }

    /// The customers the user belongs to, from User Info.
    pub async fn customer_ids_of(&self, uid: &str) -> Vec<String> {
        let info = self.user_info(uid).await;
        info["memberships"]
            .as_array()
            .unwrap_or_else(|| panic!("no memberships in {info}"))
            .iter()
            .map(|m| m["customer_id"].as_str().unwrap().to_string())
            .collect()
    }

    /// The customer's named users, after checking the customer and its user
    /// list agree on the number and that every customer's stored counter
    /// matches a fresh count (what `roster check` does).
    pub async fn named_users(&self, cid: &str) -> i64 {
        let customer = self.admin_get(&format!("/v1/customers/{cid}")).await;
        let list = self.admin_get(&format!("/v1/customers/{cid}/users")).await;
        assert_eq!(customer["named_users"], list["named_users"], "{list}");
        let miscounted = roster::service::seats::miscounted(&self.state)
            .await
            .unwrap();
        assert!(
            miscounted.is_empty(),
            "seat counters drifted: {miscounted:?}"
        );
        customer["named_users"].as_i64().unwrap()
    }
}

/// API clients.
impl TestApp {
    /// A new API client of the customer (of the platform with `None`); (id, secret).
    pub async fn api_client(&self, name: &str, cid: Option<&str>) -> (String, String) {
        let body = json!({"name": name, "customer_id": cid});
        let response = self.create_api_client(self.admin_token(), &body).await;
        let created = expect_json(response, StatusCode::CREATED).await;
        (
            id_of(&created),
            created["client_secret"].as_str().unwrap().to_string(),
        )
    }

    /// A SCIM token of customer `cid`, made by the platform admin: (id, token).
    pub async fn scim_token(&self, cid: &str) -> (String, String) {
        let response = self
            .post_json(
                &format!("/v1/customers/{cid}/scim-tokens"),
                Some(self.admin_token()),
                &json!({"description": "identity provider"}),
            )
            .await;
        let created = expect_json(response, StatusCode::CREATED).await;
        (
            id_of(&created),
            created["token"].as_str().unwrap().to_string(),
        )
    }

    /// An access token of the API client.
    pub async fn client_token(&self, client_id: &str, secret: &str) -> String {
        let response = self.client_credentials(client_id, secret).await;
        Tokens(expect_json(response, StatusCode::OK).await).access_token()
    }
}

/// What the app recorded: queued emails and audit events.
impl TestApp {
    /// Every outbox row, newest first.
    pub async fn outbox(&self) -> Vec<OutboxRow> {
        self.state
            .read(|conn, _| Ok(outbox::list(conn, &OutboxFilter::default(), None, 1000)?))
            .await
            .unwrap()
    }

    /// The newest queued email of `kind` to `recipient`.
    pub async fn last_email(&self, kind: &str, recipient: &str) -> OutboxRow {
        self.outbox()
            .await
            .into_iter()
            .find(|row| row.kind == kind && row.recipient.eq_ignore_ascii_case(recipient))
            .unwrap_or_else(|| panic!("no {kind} email to {recipient}"))
    }

    /// How many queued emails of `kind` went to `recipient`.
    pub async fn count_emails(&self, kind: &str, recipient: &str) -> usize {
        self.outbox()
            .await
            .iter()
            .filter(|row| row.kind == kind && row.recipient.eq_ignore_ascii_case(recipient))
            .count()
    }

    /// The token in the link of the newest `kind` email to `recipient`.
    pub async fn token_from_email(&self, kind: &str, recipient: &str) -> String {
        let email = self.last_email(kind, recipient).await;
        link_token(&email.text_body)
            .unwrap_or_else(|| panic!("no link in {kind} email: {}", email.text_body))
    }

    /// Audit events matching `query` (e.g. `action=user.updated`), as the platform admin.
    pub async fn audit_events(&self, query: &str) -> Vec<Value> {
        let page = self.admin_get(&format!("/v1/audit-events?{query}")).await;
        items(&page).clone()
    }
}

/// Forgot-password requests, which wait in the outbox for the delivery
/// worker (the app's own worker is off in tests).
impl TestApp {
    /// Lets the app's delivery worker resolve every due request into its
    /// emails, sending nothing.
    pub async fn resolve_requests(&self) {
        let worker = roster::startup::delivery_worker(&self.state);
        while worker.resolve_requests_once().await > 0 {}
    }

    /// How many outbox rows of any kind are pending.
    pub async fn pending_outbox_rows(&self) -> i64 {
        self.state
            .read(|conn, _| Ok(outbox::backlog(conn)?.0))
            .await
            .unwrap()
    }

    /// How many outbox rows of any kind mention `address` as their recipient.
    pub async fn outbox_rows_to(&self, address: &str) -> i64 {
        use diesel::prelude::*;
        use roster::db::schema::email_outbox;
        let address = address.to_string();
        self.state
            .read(move |conn, _| {
                Ok(email_outbox::table
                    .filter(email_outbox::recipient.eq(address))
                    .count()
                    .get_result(conn)?)
            })
            .await
            .unwrap()
    }
}
