//! Personal fields of a user: names and job title.

const MAX_NAME_CHARS: usize = 100;
const MAX_TITLE_CHARS: usize = 200;

/// A first or last name: trimmed, 1–100 characters, no control characters
/// (so no CR/LF can reach an email header or split a log line).
pub fn parse_name(raw: &str) -> Result<String, &'static str> {
    let value = raw.trim();
    if value.is_empty() {
        return Err("is required");
    }
    check_text(value, MAX_NAME_CHARS)?;
    Ok(value.to_string())
}

/// A job title: optional; blank means none.
pub fn parse_job_title(raw: Option<&str>) -> Result<Option<String>, &'static str> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) => {
            check_text(value, MAX_TITLE_CHARS)?;
            Ok(Some(value.to_string()))
        }
    }
}

/// The longest external id, in characters.
pub const MAX_EXTERNAL_ID_CHARS: usize = 255;

/// An external id (the customer's own id for a member or group): optional,
/// blank means none; otherwise 1–255 characters without control characters.
/// Kept as given (trimmed): ids are compared exactly.
pub fn parse_external_id(raw: Option<&str>) -> Result<Option<String>, &'static str> {
    // Counted as sent, blanks included, as the contract's `maxLength` does.
    if raw.is_some_and(|value| value.chars().count() > MAX_EXTERNAL_ID_CHARS) {
        return Err("is longer than 255 characters");
    }
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(value) if value.chars().any(char::is_control) => {
            Err("must not contain control characters or line breaks")
        }
        Some(value) => Ok(Some(value.to_string())),
    }
}

/// A free-text label such as `requester_name` or a customer name.
pub fn parse_label(raw: &str, max_chars: usize) -> Result<String, &'static str> {
    let value = raw.trim();
    if value.is_empty() {
        return Err("must not be blank");
    }
    check_text(value, max_chars)?;
    Ok(value.to_string())
}

fn check_text(value: &str, max_chars: usize) -> Result<(), &'static str> {
    if value.chars().any(char::is_control) {
        return Err("must not contain control characters or line breaks");
    }
    if value.chars().count() > max_chars {
        return Err(if max_chars == MAX_NAME_CHARS {
            "is longer than 100 characters"
        } else {
            "is too long"
        });
    }
    Ok(())
}

/// The folded form used for case-insensitive prefix search.
pub fn search_key(value: &str) -> String {
    value.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_external_id_is_trimmed_blank_means_none_and_long_or_broken_ones_are_refused() {
        assert_eq!(parse_external_id(Some("  E-1 ")), Ok(Some("E-1".into())));
        assert_eq!(parse_external_id(Some("   ")), Ok(None));
        assert_eq!(parse_external_id(None), Ok(None));
        assert!(parse_external_id(Some("a\nb")).is_err());
        assert!(parse_external_id(Some(&"x".repeat(256))).is_err());
        assert!(parse_external_id(Some(&"x".repeat(255))).is_ok());
    }

    #[test]
    fn names_are_trimmed_and_unicode_is_welcome() {
        assert_eq!(parse_name("  Zoë ").unwrap(), "Zoë");
        assert_eq!(parse_name("李").unwrap(), "李");
    }

    #[test]
    fn names_with_line_breaks_or_nul_are_rejected() {
        assert!(parse_name("Eve\r\nBcc: x").is_err());
        assert!(parse_name("Eve\0").is_err());
        assert!(parse_name("   ").is_err());
    }

    #[test]
    fn overlong_names_are_rejected() {
        assert!(parse_name(&"a".repeat(101)).is_err());
        assert!(parse_name(&"a".repeat(100)).is_ok());
    }

    #[test]
    fn a_blank_job_title_is_none() {
        assert_eq!(parse_job_title(Some("  ")).unwrap(), None);
        assert_eq!(
            parse_job_title(Some("CFO")).unwrap().as_deref(),
            Some("CFO")
        );
    }
}
