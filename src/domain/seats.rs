//! Licensed seats: `named_users` counts memberships of users who are not retired.

use crate::domain::lifecycle::UserStatus;

/// Whether a user in this status takes a seat in each of their customers.
pub fn takes_seat(status: UserStatus) -> bool {
    status != UserStatus::Retired
}

/// Seats a status change takes (1), frees (-1) or leaves (0) in each of the
/// user's customers.
pub fn seat_delta(from: UserStatus, to: UserStatus) -> i64 {
    i64::from(takes_seat(to)) - i64::from(takes_seat(from))
}

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
    fn only_retirement_frees_seats_and_only_reinstatement_takes_them() {
        use UserStatus as S;
        assert_eq!(seat_delta(S::Active, S::Retired), -1);
        assert_eq!(seat_delta(S::Inactive, S::Retired), -1);
        assert_eq!(seat_delta(S::Retired, S::Active), 1);
        assert_eq!(seat_delta(S::Retired, S::Invited), 1);
        assert_eq!(seat_delta(S::Active, S::Inactive), 0);
        assert_eq!(seat_delta(S::Invited, S::Active), 0);
        assert_eq!(seat_delta(S::Active, S::Expired), 0);
        assert!(takes_seat(S::Invited) && !takes_seat(S::Retired));
    }

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
