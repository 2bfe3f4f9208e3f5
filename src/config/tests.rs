//! Parsing through the declarations: defaults, bounds, derived values,
//! masking.

use super::*;

#[test]
fn defaults_need_no_environment() {
    let settings = Settings::from_pairs(&[]).unwrap();
    assert_eq!(settings.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(settings.lockout_threshold, 5);
    assert_eq!(settings.action_token_ttl, Duration::from_secs(48 * 3600));
    assert_eq!(settings.mail.provider, MailProvider::Log);
    assert!(!settings.is_postgres());
}

#[test]
fn a_bad_duration_names_the_variable() {
    let err = Settings::from_pairs(&[("ROSTER_ACTION_TOKEN_TTL", "two days")]).unwrap_err();
    assert_eq!(err.variable, "ROSTER_ACTION_TOKEN_TTL");
}

#[test]
fn a_number_out_of_range_names_the_variable() {
    let err = Settings::from_pairs(&[("ROSTER_PASSWORD_MIN_LENGTH", "3")]).unwrap_err();
    assert_eq!(err.variable, "ROSTER_PASSWORD_MIN_LENGTH");
    assert!(err.message.contains("out of range"));
}

#[test]
fn every_declared_variable_is_read_and_shown_in_order() {
    let lookup = |_: &str| None;
    let mut reader = Reader::new(&lookup);
    let settings = Settings::read(&mut reader).unwrap();
    let mut read = reader.read.clone();
    read.sort_unstable();
    let mut declared: Vec<_> = vars::ALL.iter().map(|v| v.name).collect();
    declared.sort_unstable();
    assert_eq!(
        read, declared,
        "each declared variable is read exactly once"
    );
    let shown: Vec<_> = settings.describe().into_iter().map(|(n, _)| n).collect();
    let in_order: Vec<_> = vars::ALL.iter().map(|v| v.name).collect();
    assert_eq!(shown, in_order);
}

#[test]
fn every_declared_word_is_handled() {
    for (var, words) in [
        (
            &vars::MAIL_PROVIDER,
            vec!["log", "postmark", "sendgrid", "resend"],
        ),
        (&vars::LOG_FORMAT, vec!["text", "json"]),
        (
            &vars::HASH_MEMORY,
            vec!["7MiB", "9MiB", "12MiB", "19MiB", "46MiB"],
        ),
    ] {
        let vars::Kind::OneOf(declared) = var.kind else {
            panic!("{} is a choice", var.name)
        };
        assert_eq!(declared, words.as_slice());
        for word in words {
            let settings =
                Settings::from_pairs(&[(var.name, word), ("ROSTER_MAIL_API_KEY", "k")]).unwrap();
            let shown = settings.describe();
            assert!(shown.contains(&(var.name, word.to_string())), "{shown:?}");
        }
    }
}

fn refused(pairs: &[(&str, &str)]) -> ConfigError {
    Settings::from_pairs(pairs).expect_err("out of bounds")
}

#[test]
fn durations_are_bounded_and_named() {
    for (name, value) in [
        ("ROSTER_REFRESH_TOKEN_TTL", "11y"),
        ("ROSTER_ACTION_TOKEN_TTL", "100000y"),
        ("ROSTER_ACCESS_TOKEN_TTL", "2d"),
        ("ROSTER_ACCESS_TOKEN_TTL", "0s"),
        ("ROSTER_DATABASE_TIMEOUT", "0s"),
        ("ROSTER_MAIL_POLL_INTERVAL", "0s"),
        ("ROSTER_DORMANCY_CHECK_INTERVAL", "0s"),
        ("ROSTER_MAIL_TIMEOUT", "1h"),
        ("ROSTER_MAIL_LEASE", "30d"),
    ] {
        let err = refused(&[(name, value)]);
        assert_eq!(err.variable, name, "{value}");
        assert!(err.message.contains("out of range"), "{err}");
    }
    let err = refused(&[("ROSTER_REFRESH_TOKEN_TTL", "11y")]);
    assert_eq!(
        err.to_string(),
        "ROSTER_REFRESH_TOKEN_TTL: 11years is out of range 1s..=10years"
    );
    let ok = Settings::from_pairs(&[("ROSTER_REFRESH_TOKEN_TTL", "10y")]).unwrap();
    assert_eq!(
        ok.refresh_token_ttl,
        humantime::parse_duration("10y").unwrap()
    );
}

#[test]
fn counts_are_bounded_and_named() {
    for (name, value) in [
        ("ROSTER_DATABASE_POOL_SIZE", "0"),
        ("ROSTER_WORKERS", "0"),
        ("ROSTER_HASH_CONCURRENCY", "0"),
        ("ROSTER_MAIL_CONCURRENCY", "0"),
        ("ROSTER_MAIL_MAX_ATTEMPTS", "0"),
        ("ROSTER_LOCKOUT_THRESHOLD", "0"),
        ("ROSTER_DORMANCY_DAYS", "3651"),
        ("ROSTER_HASH_QUEUE", "100001"),
        ("ROSTER_AUTH_RATE_LIMIT", "99999999999999999999"),
    ] {
        let err = refused(&[(name, value)]);
        assert_eq!(err.variable, name, "{value}");
    }
    assert_eq!(
        refused(&[("ROSTER_DATABASE_POOL_SIZE", "0")]).to_string(),
        "ROSTER_DATABASE_POOL_SIZE: 0 is out of range 1..=1000"
    );
    assert_eq!(
        refused(&[("ROSTER_WORKERS", "-1")]).message,
        "`-1` is not a whole number"
    );
}

#[test]
fn derived_defaults_follow_their_source_within_bounds() {
    let settings = Settings::from_pairs(&[("ROSTER_HASH_CONCURRENCY", "256")]).unwrap();
    assert_eq!(settings.hash_queue, 32 * 256);
    let settings = Settings::from_pairs(&[("ROSTER_MAIL_TIMEOUT", "10m")]).unwrap();
    assert_eq!(settings.mail.lease, Duration::from_secs(2 * 600 + 30));
    assert!(settings.workers >= 1 && settings.hash_concurrency >= 1);
}

#[test]
fn the_default_lease_outlasts_two_timeouts() {
    assert_eq!(lease_for(Duration::from_secs(10)), Duration::from_secs(50));
    assert_eq!(lease_for(Duration::MAX), Duration::MAX);
}

#[test]
fn trusted_proxies_are_networks_or_addresses() {
    let settings = Settings::from_pairs(&[(
        "ROSTER_TRUSTED_PROXIES",
        " 10.0.0.0/8, 192.168.1.7 ,2001:db8::/32,",
    )])
    .unwrap();
    let shown: Vec<String> = settings
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(shown, ["10.0.0.0/8", "192.168.1.7/32", "2001:db8::/32"]);
    assert!(Settings::from_pairs(&[])
        .unwrap()
        .trusted_proxies
        .is_empty());
    let err = refused(&[("ROSTER_TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal")]);
    assert_eq!(err.variable, "ROSTER_TRUSTED_PROXIES");
    assert!(err.message.contains("`proxy.internal`"), "{err}");
    let err = refused(&[("ROSTER_TRUSTED_PROXIES", "10.0.0.0/33")]);
    assert_eq!(err.variable, "ROSTER_TRUSTED_PROXIES");
}

#[test]
fn unknown_roster_variables_are_reported() {
    let names = [
        "ROSTER_BIND",
        "ROSTER_ACCES_TOKEN_TTL",
        "PATH",
        "ROSTER_BIN",
    ];
    assert_eq!(
        Settings::unknown_variables(names),
        ["ROSTER_ACCES_TOKEN_TTL", "ROSTER_BIN"]
    );
}

#[test]
fn a_lease_follows_the_longer_timeout_and_must_outlast_both() {
    let settings = Settings::from_pairs(&[
        ("ROSTER_MAIL_TIMEOUT", "5s"),
        ("ROSTER_WEBHOOK_TIMEOUT", "5s"),
    ])
    .unwrap();
    assert_eq!(settings.mail.lease, Duration::from_secs(40));
    let settings = Settings::from_pairs(&[("ROSTER_WEBHOOK_TIMEOUT", "20s")]).unwrap();
    assert_eq!(settings.mail.lease, Duration::from_secs(70));
    let settings = Settings::from_pairs(&[
        ("ROSTER_MAIL_LEASE", "3s"),
        ("ROSTER_MAIL_TIMEOUT", "1s"),
        ("ROSTER_WEBHOOK_TIMEOUT", "1s"),
    ])
    .unwrap();
    assert_eq!(settings.mail.lease, Duration::from_secs(3));
    let err = Settings::from_pairs(&[("ROSTER_MAIL_LEASE", "5s")]).unwrap_err();
    assert_eq!(err.variable, "ROSTER_MAIL_LEASE");
    assert!(
        err.message.contains("ROSTER_WEBHOOK_TIMEOUT (10s)"),
        "{}",
        err.message
    );
    // A webhook may take as long as its timeout: the lease outlasts it too.
    let err = Settings::from_pairs(&[("ROSTER_MAIL_LEASE", "3s"), ("ROSTER_MAIL_TIMEOUT", "1s")])
        .unwrap_err();
    assert_eq!(err.variable, "ROSTER_MAIL_LEASE");
}

#[test]
fn a_real_provider_needs_an_api_key() {
    let err = Settings::from_pairs(&[("ROSTER_MAIL_PROVIDER", "postmark")]).unwrap_err();
    assert_eq!(err.variable, "ROSTER_MAIL_API_KEY");
    let err = Settings::from_pairs(&[("ROSTER_MAIL_PROVIDER", "carrier-pigeon")]).unwrap_err();
    assert_eq!(err.variable, "ROSTER_MAIL_PROVIDER");
}

#[test]
fn app_url_loses_its_trailing_slash_and_must_be_http() {
    let settings = Settings::from_pairs(&[("ROSTER_APP_URL", "https://app.example.com/")]).unwrap();
    assert_eq!(settings.app_url.as_deref(), Some("https://app.example.com"));
    assert_eq!(settings.jwt_issuer, "https://app.example.com");
    let err = Settings::from_pairs(&[("ROSTER_APP_URL", "app.example.com")]).unwrap_err();
    assert_eq!(err.variable, "ROSTER_APP_URL");
}

#[test]
fn links_go_to_roster_itself_at_the_port_of_its_bind_address_unless_an_app_url_is_set() {
    let settings = Settings::from_pairs(&[("ROSTER_BIND", "127.0.0.1:9000")]).unwrap();
    assert_eq!(settings.public_url, "http://127.0.0.1:9000");
    assert_eq!(settings.link_base(), "http://127.0.0.1:9000");
    assert_eq!(settings.jwt_issuer, "http://127.0.0.1:9000");
    assert_eq!(settings.sign_in_url, None);
    let settings = Settings::from_pairs(&[
        ("ROSTER_BIND", "0.0.0.0:9000"),
        ("ROSTER_APP_URL", "https://app.example.com"),
    ])
    .unwrap();
    assert_eq!(settings.public_url, "http://127.0.0.1:9000");
    assert_eq!(settings.link_base(), "https://app.example.com");
    assert_eq!(
        settings.sign_in_url.as_deref(),
        Some("https://app.example.com")
    );
    let settings = Settings::from_pairs(&[("ROSTER_BIND", "[::]:9000")]).unwrap();
    assert_eq!(settings.public_url, "http://[::1]:9000");
}

#[test]
fn a_derived_public_url_follows_the_port_really_bound_and_a_given_one_stays() {
    let mut settings = Settings::from_pairs(&[("ROSTER_BIND", "127.0.0.1:0")]).unwrap();
    settings.settle_port(41234);
    assert_eq!(settings.public_url, "http://127.0.0.1:41234");
    let mut settings = Settings::from_pairs(&[
        ("ROSTER_BIND", "127.0.0.1:0"),
        ("ROSTER_PUBLIC_URL", "https://accounts.example.com/"),
    ])
    .unwrap();
    settings.settle_port(41234);
    assert_eq!(settings.public_url, "https://accounts.example.com");
}

#[test]
fn the_accent_colour_must_be_hex_and_readable_on_white() {
    let settings = Settings::from_pairs(&[("ROSTER_ACCENT_COLOR", "#0B5394")]).unwrap();
    assert_eq!(settings.accent_color, "#0b5394");
    let err = Settings::from_pairs(&[("ROSTER_ACCENT_COLOR", "#ffcc00")]).unwrap_err();
    assert_eq!(err.variable, "ROSTER_ACCENT_COLOR");
    assert!(err.message.contains("4.5:1"), "{}", err.message);
    let err = Settings::from_pairs(&[("ROSTER_ACCENT_COLOR", "blue")]).unwrap_err();
    assert!(err.message.contains("not a colour"), "{}", err.message);
}

#[test]
fn contrast_with_white_follows_wcag() {
    let black = super::contrast_with_white("#000000").unwrap();
    assert!((black - 21.0).abs() < 0.01, "{black}");
    let white = super::contrast_with_white("#ffffff").unwrap();
    assert!((white - 1.0).abs() < 0.01, "{white}");
    // #767676 is the lightest grey that passes AA on white.
    assert!(super::contrast_with_white("#767676").unwrap() >= 4.5);
    assert!(super::contrast_with_white("#777777").unwrap() < 4.5);
    assert_eq!(super::contrast_with_white("#12345"), None);
}

#[test]
fn the_support_address_must_be_an_email_address() {
    let settings = Settings::from_pairs(&[("ROSTER_SUPPORT_EMAIL", "help@example.com")]).unwrap();
    assert_eq!(settings.support_email.as_deref(), Some("help@example.com"));
    let err = Settings::from_pairs(&[("ROSTER_SUPPORT_EMAIL", "help desk")]).unwrap_err();
    assert_eq!(err.variable, "ROSTER_SUPPORT_EMAIL");
}

#[test]
fn check_config_masks_secrets() {
    let settings = Settings::from_pairs(&[
        ("ROSTER_DATABASE_URL", "postgres://roster:s3cret@db/roster"),
        ("ROSTER_MAIL_PROVIDER", "resend"),
        ("ROSTER_MAIL_API_KEY", "re_live_key"),
    ])
    .unwrap();
    let printed = format!("{:?}", settings.describe());
    assert!(
        !printed.contains("s3cret") && !printed.contains("re_live_key"),
        "{printed}"
    );
    assert!(printed.contains("postgres://roster:********@db/roster"));
}

#[test]
fn secrets_are_not_printed_by_debug() {
    let settings = Settings::from_pairs(&[
        ("ROSTER_BOOTSTRAP_ADMIN_EMAIL", "a@example.com"),
        ("ROSTER_BOOTSTRAP_ADMIN_PASSWORD", "hunter2hunter2"),
    ])
    .unwrap();
    assert!(!format!("{settings:?}").contains("hunter2"));
}
