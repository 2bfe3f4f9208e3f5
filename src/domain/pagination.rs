//! Keyset pagination: `?limit=` (1–200, default 50) and an opaque `?cursor=`
//! that encodes the sort key (time, id) of the last item served.

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
    pub fn encode(&self) -> String {
        let micros = self.at.assume_utc().unix_timestamp_nanos() / 1_000;
        URL_SAFE_NO_PAD.encode(format!("{micros}|{}", self.id))
    }

    pub fn decode(raw: &str) -> Result<Self, &'static str> {
        const BAD: &str = "is not a cursor this service issued";
        let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).map_err(|_| BAD)?;
        let text = String::from_utf8(bytes).map_err(|_| BAD)?;
        let (micros, id) = text.split_once('|').ok_or(BAD)?;
        let micros: i128 = micros.parse().map_err(|_| BAD)?;
        let at =
            time::OffsetDateTime::from_unix_timestamp_nanos(micros * 1_000).map_err(|_| BAD)?;
        if id.is_empty() || id.len() > 64 {
            return Err(BAD);
        }
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
    fn a_forged_cursor_is_rejected() {
        assert!(Cursor::decode("not base64!").is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("abc")).is_err());
        assert!(Cursor::decode(&URL_SAFE_NO_PAD.encode("12|")).is_err());
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
        let rows: Vec<String> = (0..3).map(|i| i.to_string()).collect();
        let (page, next) = paginate(rows.clone(), 2, key);
        assert_eq!(page.len(), 2);
        assert_eq!(Cursor::decode(&next.unwrap()).unwrap().id, "1");
        let (page, next) = paginate(rows, 3, key);
        assert_eq!((page.len(), next), (3, None));
    }
}
