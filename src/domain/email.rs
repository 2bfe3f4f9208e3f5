//! An email address as the service accepts it.

use std::fmt;

/// A syntactically plausible address, trimmed, at most 254 characters.
/// Uniqueness is case-insensitive: see [`EmailAddress::key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let value = raw.trim();
        if value.is_empty() {
            return Err("is required");
        }
        if value.chars().count() > 254 {
            return Err("is longer than 254 characters");
        }
        if value.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err("must not contain spaces or control characters");
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            return Err("is not an email address (no @)");
        };
        if local.is_empty() || local.len() > 64 || local.contains('@') {
            return Err("is not an email address (bad local part)");
        }
        let labels_ok = domain.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        });
        if domain.is_empty()
            || !labels_ok
            || value.contains(['<', '>', '(', ')', ',', ';', '"', '\\'])
        {
            return Err("is not an email address (bad domain)");
        }
        Ok(EmailAddress(value.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-insensitive key that makes addresses unique.
    pub fn key(&self) -> String {
        normalize(&self.0)
    }
}

/// Folds an address (or a prefix of one) the way [`EmailAddress::key`] does.
pub fn normalize(value: &str) -> String {
    value.trim().to_lowercase()
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An address for logs: `j***@example.com`.
pub fn mask(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "***".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_addresses_parse_and_keep_their_case() {
        let email = EmailAddress::parse("  Jane.Doe+ubm@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "Jane.Doe+ubm@Example.COM");
        assert_eq!(email.key(), "jane.doe+ubm@example.com");
    }

    #[test]
    fn addresses_that_could_inject_headers_are_rejected() {
        for bad in [
            "a@b.com\r\nBcc: x@y.com",
            "a b@c.com",
            "a@b.com\nX: y",
            "a\0@b.com",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn malformed_addresses_are_rejected() {
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@-x.com",
            "a@b..com",
            "a@b@c.com",
            "<a@b.com>",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn masking_keeps_only_the_first_letter_and_the_domain() {
        assert_eq!(mask("jane@example.com"), "j***@example.com");
        assert_eq!(mask("nonsense"), "***");
    }
}
