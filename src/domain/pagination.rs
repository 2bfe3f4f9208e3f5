//! Keyset pagination: `?limit=` (1–200, default 50) and an opaque `?cursor=`
//! that encodes the sort key (time, id) of the last item served. Queries read
//! the next page as `at <= c.at AND (at < c.at OR id < c.id)`: the first
//! conjunct bounds the index range on both backends (a bare OR made SQLite
//! walk the index from the top, so deep pages got slower).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use time::PrimitiveDateTime;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// Where the previous page ended: items strictly older than this come next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub at: PrimitiveDateTime,
    pub id: String,
}

impl Cursor {
    /// The wire form: 32 base64url characters holding 8 bytes of microseconds
    /// since the epoch (big-endian) and the 16 bytes of the id. Every string
    /// of that shape is a position in the list (times are clamped to years
    /// 1–9999), so the OpenAPI pattern says exactly what is accepted.
    pub fn encode(&self) -> String {
        let micros =
            i64::try_from(self.at.assume_utc().unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX);
        // Ids are UUIDs (`db::new_id`); anything else sorts as the nil id.
        let id = uuid::Uuid::parse_str(&self.id).unwrap_or_default();
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&micros.to_be_bytes());
        bytes[8..].copy_from_slice(id.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    pub fn decode(raw: &str) -> Result<Self, &'static str> {
        const BAD: &str = "is not a cursor (32 characters of A-Z, a-z, 0-9, - and _)";
        let valid = raw.len() == 32
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid {
            return Err(BAD);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| BAD)?;
        let (micros, id) = bytes.split_at(8);
        let micros = i64::from_be_bytes(micros.try_into().map_err(|_| BAD)?);
        let id = uuid::Uuid::from_slice(id).map_err(|_| BAD)?;
        let earliest = time::macros::datetime!(0001-01-01 0:00 UTC);
        let latest = time::macros::datetime!(9999-12-31 23:59:59.999_999 UTC);
        let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
            .unwrap_or(if micros < 0 { earliest } else { latest })
            .clamp(earliest, latest);
        Ok(Cursor {
            at: PrimitiveDateTime::new(at.date(), at.time()),
            id: id.to_string(),
        })
    }
}

/// Parses `?limit=`; absent means the default.
pub fn parse_limit(raw: Option<&str>) -> Result<i64, &'static str> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => match text.trim().parse::<i64>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            _ => Err("must be a whole number from 1 to 200"),
        },
    }
}

/// Splits a page fetched with `limit + 1` rows into the page and the next cursor.
pub fn paginate<T>(
    mut rows: Vec<T>,
    limit: i64,
    key: impl Fn(&T) -> Cursor,
) -> (Vec<T>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    if rows.len() > limit {
        rows.truncate(limit);
        let next = rows.last().map(|last| key(last).encode());
        (rows, next)
    } else {
        (rows, None)
    }
}

/// A page asked for: at most `limit` items, after `cursor` (the first page
/// when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: i64,
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    /// Parses `?limit=` and `?cursor=` (blank means the first page), naming
    /// the parameter that is wrong.
    pub fn parse(
        limit: Option<&str>,
        cursor: Option<&str>,
    ) -> Result<Self, (&'static str, &'static str)> {
        let limit = parse_limit(limit).map_err(|why| ("limit", why))?;
        let cursor = cursor
            .filter(|c| !c.is_empty())
            .map(Cursor::decode)
            .transpose()
            .map_err(|why| ("cursor", why))?;
        Ok(PageRequest { limit, cursor })
    }

    /// Splits rows fetched with `limit + 1` into the page and the next cursor.
    pub fn cut<T>(&self, rows: Vec<T>, key: impl Fn(&T) -> Cursor) -> Page<T> {
        let (items, next_cursor) = paginate(rows, self.limit, key);
        Page { items, next_cursor }
    }
}

/// One page of items, and the cursor of the next one when there is more.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn a_cursor_survives_a_round_trip() {
        let cursor = Cursor {
            at: datetime!(2026-11-22 10:15:30.123456),
            id: "0190c0de-0000-7000-8000-000000000000".into(),
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
    }

    #[test]
    fn only_strings_of_the_documented_shape_are_cursors() {
        assert!(Cursor::decode("not base64!").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("abc")).is_err());
        assert!(Cursor::decode(&"A".repeat(31)).is_err());
        assert!(Cursor::decode(&"A".repeat(33)).is_err());
        assert!(Cursor::decode(&format!("{}+", "A".repeat(31))).is_err());
        let mut far = [0u8; 24];
        far[..8].copy_from_slice(&i64::MAX.to_be_bytes());
        let far = Cursor::decode(&URL_SAFE_NO_PAD.encode(far)).unwrap();
        assert_eq!(far.at.year(), 9999, "clamped");
        assert_eq!(
            Cursor::decode(&"A".repeat(32)).unwrap().id,
            uuid::Uuid::nil().to_string()
        );
    }

    #[test]
    fn limits_outside_one_to_two_hundred_are_rejected() {
        assert_eq!(parse_limit(None), Ok(50));
        assert_eq!(parse_limit(Some("200")), Ok(200));
        for bad in ["0", "-1", "201", "1000000", "abc", ""] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_full_page_yields_a_cursor_and_a_short_one_does_not() {
        let at = datetime!(2026-01-01 0:00);
        let key = |id: &String| Cursor { at, id: id.clone() };
        let rows: Vec<String> = (0..3)
            .map(|i| format!("0190c0de-0000-7000-8000-00000000000{i}"))
            .collect();
        let (page, next) = paginate(rows.clone(), 2, key);
        assert_eq!(page.len(), 2);
        assert_eq!(Cursor::decode(&next.unwrap()).unwrap().id, rows[1]);
        let (page, next) = paginate(rows, 3, key);
        assert_eq!((page.len(), next), (3, None));
    }
}
