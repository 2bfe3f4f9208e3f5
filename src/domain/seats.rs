//! Licensed seats: `named_users` counts memberships of users who are not retired.

/// Whether one more named user fits. `None` seats means unlimited. Lowering
/// the licence below the current count is allowed; it only blocks additions.
pub fn has_free_seat(licensed_seats: Option<i32>, named_users: i64) -> bool {
    match licensed_seats {
        None => true,
        Some(seats) => named_users < i64::from(seats),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_customers_always_have_a_seat() {
        assert!(has_free_seat(None, 1_000_000));
    }

    #[test]
    fn the_last_seat_can_be_taken_once() {
        assert!(has_free_seat(Some(3), 2));
        assert!(!has_free_seat(Some(3), 3));
    }

    #[test]
    fn an_over_licensed_customer_blocks_additions() {
        assert!(!has_free_seat(Some(1), 5));
        assert!(!has_free_seat(Some(0), 0));
    }
}
