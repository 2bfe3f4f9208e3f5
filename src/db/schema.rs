//! Table definitions shared by both backends (see `migrations/`).

diesel::table! {
    customers (id) {
        id -> Text,
        name -> Text,
        name_lower -> Text,
        licensed_seats -> Nullable<Integer>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        named_users -> BigInt,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        email -> Text,
        email_lower -> Text,
        first_name -> Text,
        first_name_lower -> Text,
        last_name -> Text,
        last_name_lower -> Text,
        job_title -> Nullable<Text>,
        status -> Text,
        platform_role -> Text,
        password_hash -> Nullable<Text>,
        password_changed_at -> Nullable<Timestamp>,
        session_version -> Integer,
        failed_logins -> Integer,
        locked_at -> Nullable<Timestamp>,
        invited_at -> Nullable<Timestamp>,
        activated_at -> Nullable<Timestamp>,
        last_login_at -> Nullable<Timestamp>,
        last_active_at -> Nullable<Timestamp>,
        retired_at -> Nullable<Timestamp>,
        status_changed_at -> Timestamp,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    scim_members (customer_id, user_id) {
        customer_id -> Text,
        user_id -> Text,
        user_name -> Nullable<Text>,
        user_name_key -> Nullable<Text>,
        email_primary -> Nullable<Bool>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    memberships (customer_id, user_id) {
        customer_id -> Text,
        user_id -> Text,
        role -> Text,
        settings -> Text,
        added_at -> Timestamp,
        updated_at -> Timestamp,
        external_id -> Nullable<Text>,
    }
}

diesel::table! {
    customer_groups (id) {
        id -> Text,
        customer_id -> Text,
        name -> Text,
        name_key -> Text,
        description -> Nullable<Text>,
        external_id -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    group_members (group_id, user_id) {
        group_id -> Text,
        customer_id -> Text,
        user_id -> Text,
        added_at -> Timestamp,
    }
}

diesel::table! {
    action_tokens (id) {
        id -> Text,
        user_id -> Text,
        purpose -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Text,
        family_id -> Text,
        user_id -> Text,
        token_hash -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        family_started_at -> Timestamp,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Text,
        name -> Text,
        customer_id -> Nullable<Text>,
        secret_hash -> Text,
        created_by -> Nullable<Text>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
        created_by_client -> Nullable<Text>,
        kind -> Text,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        occurred_at -> Timestamp,
        action -> Text,
        actor_user_id -> Nullable<Text>,
        actor_client_id -> Nullable<Text>,
        customer_id -> Nullable<Text>,
        target_user_id -> Nullable<Text>,
        requester_name -> Nullable<Text>,
        confirmation_email -> Nullable<Text>,
        request_id -> Nullable<Text>,
        changes -> Text,
        client_ip -> Nullable<Text>,
    }
}

diesel::table! {
    audit_event_customers (event_id, customer_id) {
        event_id -> Text,
        customer_id -> Text,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    email_outbox (id) {
        id -> Text,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        text_body -> Text,
        html_body -> Text,
        user_id -> Nullable<Text>,
        customer_id -> Nullable<Text>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_owner -> Nullable<Text>,
        lease_expires_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        provider_message_id -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        event_id -> Nullable<Text>,
        event_seq -> Nullable<BigInt>,
        response_status -> Nullable<Integer>,
        latency_ms -> Nullable<Integer>,
    }
}

diesel::table! {
    events (seq) {
        seq -> BigInt,
        id -> Text,
        #[sql_name = "type"]
        event_type -> Text,
        occurred_at -> Timestamp,
        user_id -> Nullable<Text>,
        endpoint_id -> Nullable<Text>,
        payload -> Text,
    }
}

diesel::table! {
    event_customers (customer_id, event_seq) {
        event_seq -> BigInt,
        customer_id -> Text,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> Text,
        url -> Text,
        description -> Nullable<Text>,
        customer_id -> Nullable<Text>,
        event_types -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        disabled_at -> Nullable<Timestamp>,
        disabled_reason -> Nullable<Text>,
        version -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    sealing_keys (name) {
        name -> Text,
        key -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (principal, idempotency_key) {
        principal -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        private_key_pem -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    user_imports (id) {
        id -> Text,
        customer_id -> Text,
        status -> Text,
        dry_run -> Bool,
        send_invites -> Bool,
        total_rows -> Integer,
        processed_rows -> Integer,
        last_row -> Integer,
        created -> Integer,
        updated -> Integer,
        unchanged -> Integer,
        failed -> Integer,
        seats_planned -> Integer,
        started_by -> Text,
        created_at -> Timestamp,
        started_at -> Nullable<Timestamp>,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    user_import_rows (import_id, row_number) {
        import_id -> Text,
        row_number -> Integer,
        email -> Nullable<Text>,
        data -> Text,
        error_field -> Nullable<Text>,
        error_code -> Nullable<Text>,
        error_message -> Nullable<Text>,
    }
}

diesel::joinable!(memberships -> customers (customer_id));
diesel::joinable!(memberships -> users (user_id));
diesel::joinable!(action_tokens -> users (user_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(audit_event_customers -> audit_events (event_id));
diesel::joinable!(event_customers -> events (event_seq));
diesel::joinable!(user_import_rows -> user_imports (import_id));
diesel::joinable!(customer_groups -> customers (customer_id));
diesel::joinable!(group_members -> customer_groups (group_id));
diesel::joinable!(group_members -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    customers,
    users,
    memberships,
    action_tokens,
    refresh_tokens,
    api_clients,
    audit_events,
    audit_event_customers,
    email_outbox,
    idempotency_keys,
    signing_keys,
    events,
    event_customers,
    webhook_endpoints,
    sealing_keys,
    scim_members,
    user_imports,
    user_import_rows,
    customer_groups,
    group_members,
);
