//! The closed sets stored as text columns (statuses, roles, purposes), read
//! and written as their Rust types. A value outside the set in the database
//! is an error on read, never a guess.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use crate::domain::delivery::DeliveryStatus;
use crate::domain::lifecycle::UserStatus;
use crate::domain::links::Purpose;
use crate::domain::roles::{MembershipRole, PlatformRole};

/// Implements `ToSql<Text>` and `FromSql<Text>` for enums with
/// `as_str(self) -> &'static str` and `parse(&str) -> Option<Self>`.
macro_rules! text_enum {
    ($($ty:ty => $what:literal),+ $(,)?) => {$(
        impl<DB> ToSql<Text, DB> for $ty
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB> FromSql<Text, DB> for $ty
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
                let text = String::from_sql(bytes)?;
                <$ty>::parse(&text)
                    .ok_or_else(|| format!("`{text}` is not a {}", $what).into())
            }
        }
    )+};
}

text_enum! {
    UserStatus => "user status",
    MembershipRole => "membership role",
    PlatformRole => "platform role",
    Purpose => "link purpose",
    DeliveryStatus => "delivery status",
}

#[cfg(test)]
mod tests {
    use diesel::dsl::sql;
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    use super::*;
    use crate::db::DbConnection;

    fn read<T>(literal: &str) -> QueryResult<T>
    where
        T: diesel::deserialize::FromSqlRow<Text, <DbConnection as Connection>::Backend> + 'static,
    {
        let mut conn = DbConnection::Sqlite(SqliteConnection::establish(":memory:").unwrap());
        diesel::select(sql::<Text>(&format!("'{literal}'"))).get_result(&mut conn)
    }

    #[test]
    fn stored_names_read_back_as_their_types() {
        assert_eq!(read::<UserStatus>("retired").unwrap(), UserStatus::Retired);
        assert_eq!(
            read::<MembershipRole>("standard_user").unwrap(),
            MembershipRole::StandardUser
        );
        assert_eq!(
            read::<DeliveryStatus>("failed").unwrap(),
            DeliveryStatus::Failed
        );
    }

    #[test]
    fn an_impossible_stored_value_is_an_error_not_a_guess() {
        let err = read::<UserStatus>("archived").unwrap_err();
        let message = format!("{err:?}");
        assert!(
            message.contains("`archived` is not a user status"),
            "{message}"
        );
        assert!(read::<PlatformRole>("owner").is_err());
        assert!(read::<Purpose>("").is_err());
    }
}
