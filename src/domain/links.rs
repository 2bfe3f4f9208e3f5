//! Emailed links: what each is for.

/// What an activation or reset link does when redeemed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Purpose {
    Activation,
    PasswordReset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Activation => "activation",
            Purpose::PasswordReset => "password_reset",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "activation" => Some(Purpose::Activation),
            "password_reset" => Some(Purpose::PasswordReset),
            _ => None,
        }
    }
}
