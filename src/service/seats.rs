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
        "seat_limit_reached",
        format!(
            "{} has {} of {} licensed seats in use.",
            customer.name,
            named,
            customer.licensed_seats.unwrap_or_default()
        ),
    )
}
