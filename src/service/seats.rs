//! When a seat is used: adding a user to a customer and reinstating a retired
//! user each take one in every customer concerned, and both check it here.

use crate::db::customers::{self, CustomerRow};
use crate::db::DbConnection;
use crate::domain::seats::has_free_seat;
use crate::error::ApiError;

/// Takes a seat in the customer for one more named user, or refuses with
/// `seat_limit_reached`. The customer's row stays locked until the
/// transaction ends, so two requests cannot both take the last seat.
pub fn take_seat(conn: &mut DbConnection, customer_id: &str) -> Result<CustomerRow, ApiError> {
    customers::lock(conn, customer_id)?;
    let customer = customers::find(conn, customer_id)?.ok_or(ApiError::NotFound("customer"))?;
    let named = customers::named_users(conn, customer_id)?;
    if has_free_seat(customer.licensed_seats, named) {
        Ok(customer)
    } else {
        Err(seat_limit(&customer, named))
    }
}

fn seat_limit(customer: &CustomerRow, named: i64) -> ApiError {
    ApiError::conflict(
        crate::error::ErrorCode::SeatLimitReached,
        format!(
            "{} has {} of {} licensed seats in use.",
            customer.name,
            named,
            customer.licensed_seats.unwrap_or_default()
        ),
    )
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    use super::*;

    /// A fresh in-memory database holding customer `c` with `seats` and one
    /// active member, plus one retired member (who takes no seat).
    fn customer_with_one_named_user(seats: &str) -> DbConnection {
        let mut conn = DbConnection::Sqlite(SqliteConnection::establish(":memory:").unwrap());
        crate::db::run_migrations(&mut conn).unwrap();
        let now = "'2026-11-30 12:00:00'";
        conn.batch_execute(&format!(
            "INSERT INTO customers (id, name, name_lower, licensed_seats, created_at, updated_at)
               VALUES ('c', 'Acme', 'acme', {seats}, {now}, {now});
             INSERT INTO users (id, email, email_lower, first_name, first_name_lower, last_name,
                                last_name_lower, status, status_changed_at, created_at, updated_at)
               VALUES ('u1', 'a@x.test', 'a@x.test', 'A', 'a', 'B', 'b', 'active', {now}, {now}, {now}),
                      ('u2', 'r@x.test', 'r@x.test', 'R', 'r', 'S', 's', 'retired', {now}, {now}, {now});
             INSERT INTO memberships (customer_id, user_id, role, added_at, updated_at)
               VALUES ('c', 'u1', 'full_access', {now}, {now}), ('c', 'u2', 'full_access', {now}, {now});"
        ))
        .unwrap();
        conn
    }

    #[test]
    fn a_free_seat_is_taken() {
        let mut conn = customer_with_one_named_user("2");
        assert_eq!(take_seat(&mut conn, "c").unwrap().id, "c");
    }

    #[test]
    fn a_full_customer_refuses_counting_only_users_who_are_not_retired() {
        let mut conn = customer_with_one_named_user("1");
        let Err(ApiError::Conflict { code, detail, .. }) = take_seat(&mut conn, "c") else {
            panic!("the only seat is used");
        };
        assert_eq!(code, crate::error::ErrorCode::SeatLimitReached);
        assert_eq!(detail, "Acme has 1 of 1 licensed seats in use.");
    }

    #[test]
    fn an_unlimited_customer_always_has_a_seat() {
        let mut conn = customer_with_one_named_user("NULL");
        assert!(take_seat(&mut conn, "c").is_ok());
    }

    #[test]
    fn an_unknown_customer_is_not_found() {
        let mut conn = customer_with_one_named_user("1");
        assert!(matches!(
            take_seat(&mut conn, "nobody"),
            Err(ApiError::NotFound("customer"))
        ));
    }
}
