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

/// Whether `wanted` more named users fit. `None` seats means unlimited.
/// Lowering the licence below the current count is allowed; it only blocks
/// additions.
pub fn has_free_seats(licensed_seats: Option<i32>, named_users: i64, wanted: i64) -> bool {
    match licensed_seats {
        None => true,
        Some(seats) => named_users + wanted <= i64::from(seats),
    }
}

/// How many more named users fit: `None` for unlimited, never negative.
pub fn seats_left(licensed_seats: Option<i32>, named_users: i64) -> Option<i64> {
    licensed_seats.map(|seats| (i64::from(seats) - named_users).max(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_seats_fit_only_if_all_of_them_do() {
        assert!(has_free_seats(Some(10), 5, 5));
        assert!(!has_free_seats(Some(10), 5, 6));
        assert!(has_free_seats(None, 1_000_000, 500));
    }

    #[test]
    fn seats_left_is_what_remains_of_the_licence_and_never_negative() {
        assert_eq!(seats_left(Some(10), 7), Some(3));
        assert_eq!(seats_left(Some(10), 12), Some(0));
        assert_eq!(seats_left(None, 12), None);
    }

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
        assert!(has_free_seats(None, 1_000_000, 1));
    }

    #[test]
    fn the_last_seat_can_be_taken_once() {
        assert!(has_free_seats(Some(3), 2, 1));
        assert!(!has_free_seats(Some(3), 3, 1));
    }

    #[test]
    fn an_over_licensed_customer_blocks_additions() {
        assert!(!has_free_seats(Some(1), 5, 1));
        assert!(!has_free_seats(Some(0), 0, 1));
    }
}
