//! Password rules (NIST SP 800-63B): a length window, no composition rules,
//! no truncation or case folding, and a check against common passwords and
//! the user's own email and name. Checked before any hashing.

use zxcvbn::Score;

pub const MAX_PASSWORD_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordRejection {
    #[error("must be at least {0} characters long")]
    TooShort(usize),
    #[error("must be at most 128 characters long")]
    TooLong,
    #[error("must not be built from your email address or name")]
    PersonalInformation,
    #[error("is too common or easy to guess{0}")]
    Common(String),
}

/// What the policy knows about the account the password is for.
#[derive(Debug, Default, Clone)]
pub struct PasswordContext<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
}

pub fn check_password(
    password: &str,
    min_chars: usize,
    context: &PasswordContext,
) -> Result<(), PasswordRejection> {
    let length = password.chars().count();
    if length < min_chars {
        return Err(PasswordRejection::TooShort(min_chars));
    }
    if length > MAX_PASSWORD_CHARS {
        return Err(PasswordRejection::TooLong);
    }
    let inputs = personal_inputs(context);
    if mostly_personal(password, &inputs) {
        return Err(PasswordRejection::PersonalInformation);
    }
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if estimate.score() < Score::Three {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| format!(" ({})", w.to_string().trim_end_matches('.').to_lowercase()))
            .unwrap_or_default();
        return Err(PasswordRejection::Common(hint));
    }
    Ok(())
}

fn personal_inputs(context: &PasswordContext) -> Vec<String> {
    let mut inputs = Vec::new();
    if let Some((local, domain)) = context.email.split_once('@') {
        inputs.push(local.to_lowercase());
        inputs.extend(
            local
                .split(['.', '_', '-', '+'])
                .filter(|p| p.len() >= 3)
                .map(str::to_lowercase),
        );
        if let Some(host) = domain.split('.').next() {
            inputs.push(host.to_lowercase());
        }
    }
    for name in [context.first_name, context.last_name] {
        if name.chars().count() >= 3 {
            inputs.push(name.to_lowercase());
        }
    }
    inputs
}

/// True when pieces of the user's own email or name (3+ characters each)
/// cover at least half of the password, case-insensitively.
fn mostly_personal(password: &str, inputs: &[String]) -> bool {
    let text: Vec<char> = password.to_lowercase().chars().collect();
    let mut covered = vec![false; text.len()];
    for input in inputs {
        let needle: Vec<char> = input.chars().collect();
        if needle.len() < 3 || needle.len() > text.len() {
            continue;
        }
        for start in 0..=text.len() - needle.len() {
            if text[start..start + needle.len()] == needle[..] {
                covered[start..start + needle.len()].fill(true);
            }
        }
    }
    covered.iter().filter(|c| **c).count() * 2 >= text.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jane() -> PasswordContext<'static> {
        PasswordContext {
            email: "jane.doe@acme.com",
            first_name: "Jane",
            last_name: "Doe",
        }
    }

    #[test]
    fn a_long_unusual_passphrase_is_accepted() {
        assert_eq!(
            check_password("violet tugboat arithmetic", 12, &jane()),
            Ok(())
        );
    }

    #[test]
    fn any_unicode_counts_by_characters_not_bytes() {
        assert_eq!(check_password("ξένη γλώσσα τρένο", 12, &jane()), Ok(()));
        assert_eq!(
            check_password("ééééé", 12, &jane()),
            Err(PasswordRejection::TooShort(12))
        );
    }

    #[test]
    fn length_limits_are_enforced_without_truncation() {
        assert_eq!(
            check_password("short", 12, &jane()),
            Err(PasswordRejection::TooShort(12))
        );
        let long = "x".repeat(129);
        assert_eq!(
            check_password(&long, 12, &jane()),
            Err(PasswordRejection::TooLong)
        );
    }

    #[test]
    fn common_passwords_are_rejected() {
        for common in [
            "password1234",
            "qwertyuiop12",
            "aaaaaaaaaaaa",
            "123456789012",
        ] {
            assert!(
                matches!(
                    check_password(common, 12, &jane()),
                    Err(PasswordRejection::Common(_))
                ),
                "{common}"
            );
        }
    }

    #[test]
    fn passwords_built_from_the_users_own_details_are_rejected() {
        for personal in [
            "janedoe.acme",
            "Jane.Doe2026!",
            "acme-jane-doe",
            "doejanedoejane",
            "jane.doe.acme.com",
        ] {
            assert_eq!(
                check_password(personal, 12, &jane()),
                Err(PasswordRejection::PersonalInformation),
                "{personal}"
            );
        }
    }
}
