//! When a seat is used: adding a user to a customer and reinstating a retired
//! user each take one in every customer concerned, and both check it here;
//! removing a membership, retiring and deleting a user free theirs. Each
//! keeps the customer's `named_users` counter in the same transaction, with
//! the user's row locked first and then the customers' rows in id order, so
//! two changes cannot both count (or both miss) one membership.

use crate::db::customers::{self, CustomerRow, SeatCount};
use crate::db::DbConnection;
use crate::domain::lifecycle::UserStatus;
use crate::domain::seats::{has_free_seats, seat_delta, takes_seat};
use crate::error::ApiError;
use crate::state::AppState;

/// Takes a seat in the customer for one more named user, or refuses with
/// `seat_limit_reached`. The customer's row stays locked until the
/// transaction ends, so two requests cannot both take the last seat.
pub fn take_seat(conn: &mut DbConnection, customer_id: &str) -> Result<CustomerRow, ApiError> {
    take_seats(conn, customer_id, 1)
}

/// Takes `wanted` seats at once (an import's new members), or none and
/// refuses with `seat_limit_reached`; the customer's row stays locked.
pub fn take_seats(
    conn: &mut DbConnection,
    customer_id: &str,
    wanted: i64,
) -> Result<CustomerRow, ApiError> {
    customers::lock(conn, customer_id)?;
    let customer = customers::find(conn, customer_id)?.ok_or(ApiError::NotFound("customer"))?;
    if !has_free_seats(customer.licensed_seats, customer.named_users, wanted) {
        return Err(seat_limit(&customer));
    }
    customers::add_named_users(conn, customer_id, wanted)?;
    Ok(customer)
}

/// Frees the seat a membership of a user in `status` took (none for a
/// retired user). Call it with the user's row locked.
pub fn free_seat(
    conn: &mut DbConnection,
    customer_id: &str,
    status: UserStatus,
) -> Result<(), ApiError> {
    if takes_seat(status) {
        customers::add_named_users(conn, customer_id, -1)?;
    }
    Ok(())
}

/// Takes or frees the seats a status change moves in each of the user's
/// customers (ids in ascending order, the user's row locked).
pub fn move_seats(
    conn: &mut DbConnection,
    customer_ids: &[String],
    from: UserStatus,
    to: UserStatus,
) -> Result<(), ApiError> {
    match seat_delta(from, to) {
        1 => customer_ids
            .iter()
            .try_for_each(|id| take_seat(conn, id).map(drop)),
        -1 => customer_ids
            .iter()
            .try_for_each(|id| free_seat(conn, id, from)),
        _ => Ok(()),
    }
}

/// The customers whose stored seats in use differ from a fresh count
/// (`roster check`); empty when every counter is right.
pub async fn miscounted(state: &AppState) -> Result<Vec<SeatCount>, ApiError> {
    let counts = state
        .read(|conn, _| Ok(customers::recount_named_users(conn)?))
        .await?;
    Ok(counts
        .into_iter()
        .filter(|count| count.stored != count.counted)
        .collect())
}

/// The refusal of a seat in `customer`, its count as it stands.
pub fn seat_limit(customer: &CustomerRow) -> ApiError {
    ApiError::conflict(
        crate::error::ErrorCode::SeatLimitReached,
        format!(
            "{} has {} of {} licensed seats in use.",
            customer.name,
            customer.named_users,
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
    /// active member, plus one retired member (who takes no seat), its
    /// counter as the migration's backfill leaves it.
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
               VALUES ('c', 'u1', 'full_access', {now}, {now}), ('c', 'u2', 'full_access', {now}, {now});
             UPDATE customers SET named_users = 1;"
        ))
        .unwrap();
        conn
    }

    fn stored(conn: &mut DbConnection) -> i64 {
        customers::find(conn, "c").unwrap().unwrap().named_users
    }

    #[test]
    fn a_free_seat_is_taken_and_counted() {
        let mut conn = customer_with_one_named_user("2");
        assert_eq!(take_seat(&mut conn, "c").unwrap().id, "c");
        assert_eq!(stored(&mut conn), 2);
    }

    #[test]
    fn retiring_frees_a_seat_and_reinstating_takes_it_back() {
        let mut conn = customer_with_one_named_user("1");
        let ids = ["c".to_string()];
        move_seats(&mut conn, &ids, UserStatus::Active, UserStatus::Retired).unwrap();
        assert_eq!(stored(&mut conn), 0);
        move_seats(&mut conn, &ids, UserStatus::Active, UserStatus::Inactive).unwrap();
        assert_eq!(stored(&mut conn), 0);
        move_seats(&mut conn, &ids, UserStatus::Retired, UserStatus::Active).unwrap();
        assert_eq!(stored(&mut conn), 1);
    }

    #[test]
    fn a_retired_member_leaving_frees_nothing() {
        let mut conn = customer_with_one_named_user("1");
        free_seat(&mut conn, "c", UserStatus::Retired).unwrap();
        assert_eq!(stored(&mut conn), 1);
        free_seat(&mut conn, "c", UserStatus::Invited).unwrap();
        assert_eq!(stored(&mut conn), 0);
    }

    #[test]
    fn the_recount_finds_a_counter_that_drifted() {
        let mut conn = customer_with_one_named_user("1");
        let counts = customers::recount_named_users(&mut conn).unwrap();
        assert_eq!((counts[0].stored, counts[0].counted), (1, 1));
        conn.batch_execute("UPDATE customers SET named_users = 5")
            .unwrap();
        let counts = customers::recount_named_users(&mut conn).unwrap();
        assert_eq!((counts[0].stored, counts[0].counted), (5, 1));
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
