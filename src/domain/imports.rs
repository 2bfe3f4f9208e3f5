//! Bulk import files (docs/api.md, "Bulk import and export"): reading a CSV
//! (with a header row) or NDJSON file into checked rows. A file that cannot
//! be read as a whole (no header, unknown columns, nothing in it) is refused;
//! a bad row is only that row's error, kept with its number.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::domain::email::EmailAddress;
use crate::domain::profile::{parse_external_id, parse_job_title, parse_name};
use crate::domain::roles::MembershipRole;

/// The columns an import reads, in the order an export writes them.
pub const COLUMNS: [&str; 7] = [
    "email",
    "first_name",
    "last_name",
    "job_title",
    "role",
    "external_id",
    "groups",
];

/// Columns an export adds; an import accepts and ignores them, so an export
/// can be imported as it is.
pub const EXPORT_ONLY_COLUMNS: [&str; 3] = ["id", "status", "added_at"];

/// How group names are separated in one CSV cell.
pub const GROUP_SEPARATOR: char = ';';

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Ndjson,
}

impl Format {
    /// The format a `Content-Type` names (parameters such as charset aside).
    pub fn of_content_type(content_type: &str) -> Option<Format> {
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "text/csv" => Some(Format::Csv),
            "application/x-ndjson" => Some(Format::Ndjson),
            _ => None,
        }
    }
}

/// One row as read: each field is `None` when the file does not give it
/// (the column is missing, or a name cell is blank), so an existing member
/// keeps what they have.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRow {
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// `Some(None)`: the file clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<MembershipRole>,
    /// `Some(None)`: the file clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<Option<String>>,
    /// Every group the member should be in (the file names them all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

/// Why one row fails: the field, a code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl RowError {
    pub fn new(field: &str, code: &str, message: impl Into<String>) -> Self {
        RowError {
            field: field.to_string(),
            code: code.to_string(),
            message: message.into(),
        }
    }

    fn invalid(field: &str, message: impl Into<String>) -> Self {
        RowError::new(field, INVALID, message)
    }
}

/// The code of a row with an invalid field (the REST API's 422 code).
pub const INVALID: &str = "validation_failed";
/// The code of a row repeating an earlier row's email or external id.
pub const DUPLICATE: &str = "duplicate_row";

/// A row of the file: its number (the CSV header is row 1; an NDJSON file's
/// first line is row 1), the email as written, and the row or its error.
#[derive(Debug, Clone)]
pub struct ParsedRow {
    pub number: i32,
    pub email: Option<String>,
    pub row: Result<ImportRow, RowError>,
}

/// Why a whole file is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    Empty,
    UnknownColumns(Vec<String>),
    MissingEmailColumn,
    DuplicateColumns(Vec<String>),
    Unreadable(String),
}

impl FileError {
    /// The field and message of the 422 that refuses the file.
    pub fn describe(&self) -> (String, String) {
        match self {
            FileError::Empty => ("body".into(), "holds no rows to import".into()),
            FileError::UnknownColumns(names) => (
                "columns".into(),
                format!(
                    "has unknown columns {}; the columns are {}",
                    names.join(", "),
                    COLUMNS.join(", ")
                ),
            ),
            FileError::MissingEmailColumn => (
                "columns".into(),
                "must include the email column in the header row".into(),
            ),
            FileError::DuplicateColumns(names) => (
                "columns".into(),
                format!("names {} more than once", names.join(", ")),
            ),
            FileError::Unreadable(why) => ("body".into(), why.clone()),
        }
    }
}

/// Reads `bytes` row by row into `visit`; returns how many rows there were.
/// Rows repeating an earlier row's email or external id are errors too.
pub fn parse<E>(
    format: Format,
    bytes: &[u8],
    mut visit: impl FnMut(ParsedRow) -> Result<(), E>,
) -> Result<Result<i32, FileError>, E> {
    let mut seen = Seen::default();
    let mut count = 0;
    let mut each = |mut parsed: ParsedRow| {
        count += 1;
        if let Ok(row) = &parsed.row {
            if let Some(error) = seen.repeats(row) {
                parsed.row = Err(error);
            }
        }
        visit(parsed)
    };
    let read = match format {
        Format::Csv => parse_csv(bytes, &mut each)?,
        Format::Ndjson => parse_ndjson(bytes, &mut each)?,
    };
    Ok(match read {
        Err(error) => Err(error),
        Ok(()) if count == 0 => Err(FileError::Empty),
        Ok(()) => Ok(count),
    })
}

/// The emails and external ids of the rows read so far.
#[derive(Default)]
struct Seen {
    emails: HashSet<String>,
    external_ids: HashSet<String>,
}

impl Seen {
    fn repeats(&mut self, row: &ImportRow) -> Option<RowError> {
        let email = crate::domain::email::normalize(&row.email);
        if !self.emails.insert(email) {
            return Some(RowError::new(
                "email",
                DUPLICATE,
                "repeats the email of an earlier row",
            ));
        }
        if let Some(Some(id)) = &row.external_id {
            if !self.external_ids.insert(id.clone()) {
                return Some(RowError::new(
                    "external_id",
                    DUPLICATE,
                    "repeats the external_id of an earlier row",
                ));
            }
        }
        None
    }
}

fn parse_csv<E>(
    bytes: &[u8],
    visit: &mut impl FnMut(ParsedRow) -> Result<(), E>,
) -> Result<Result<(), FileError>, E> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header = match reader.headers() {
        Ok(header) => header.clone(),
        Err(err) => return Ok(Err(FileError::Unreadable(csv_problem(&err)))),
    };
    if header.iter().all(str::is_empty) {
        return Ok(Err(FileError::Empty));
    }
    let columns = match columns_of(header.iter()) {
        Ok(columns) => columns,
        Err(err) => return Ok(Err(err)),
    };
    let mut record = csv::StringRecord::new();
    loop {
        let number = row_number(reader.position().line());
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(Ok(())),
            Ok(true) => {
                let number = record.position().map_or(number, |at| row_number(at.line()));
                if record.iter().all(str::is_empty) {
                    continue;
                }
                visit(csv_row(number, &columns, &record))?;
            }
            Err(err) if err.is_io_error() => {
                return Ok(Err(FileError::Unreadable(err.to_string())))
            }
            Err(err) => {
                let number = err.position().map_or(number, |at| row_number(at.line()));
                visit(ParsedRow {
                    number,
                    email: None,
                    row: Err(RowError::invalid("row", csv_problem(&err))),
                })?;
                if !matches!(err.kind(), csv::ErrorKind::Utf8 { .. }) {
                    return Ok(Ok(()));
                }
            }
        }
    }
}

fn row_number(line: u64) -> i32 {
    i32::try_from(line).unwrap_or(i32::MAX)
}

fn csv_problem(err: &csv::Error) -> String {
    match err.kind() {
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8 text".into(),
        _ => format!("cannot be read as CSV: {err}"),
    }
}

/// The index of each known column in the header; ignored columns are `None`.
fn columns_of<'a>(names: impl Iterator<Item = &'a str>) -> Result<Vec<Option<usize>>, FileError> {
    let mut unknown = Vec::new();
    let mut repeated = Vec::new();
    let mut columns = Vec::new();
    let mut seen = HashSet::new();
    for name in names {
        let key = name.trim().to_ascii_lowercase();
        if !seen.insert(key.clone()) {
            repeated.push(name.to_string());
        }
        match COLUMNS.iter().position(|c| *c == key) {
            Some(at) => columns.push(Some(at)),
            None if EXPORT_ONLY_COLUMNS.contains(&key.as_str()) => columns.push(None),
            None => {
                unknown.push(name.to_string());
                columns.push(None);
            }
        }
    }
    if !unknown.is_empty() {
        return Err(FileError::UnknownColumns(unknown));
    }
    if !repeated.is_empty() {
        return Err(FileError::DuplicateColumns(repeated));
    }
    if !columns.contains(&Some(0)) {
        return Err(FileError::MissingEmailColumn);
    }
    Ok(columns)
}

fn csv_row(number: i32, columns: &[Option<usize>], record: &csv::StringRecord) -> ParsedRow {
    let mut cells: [Option<&str>; 7] = [None; 7];
    for (at, value) in columns.iter().zip(record.iter()) {
        if let Some(at) = at {
            cells[*at] = Some(value);
        }
    }
    let email = cells[0].map(str::to_string);
    let fields = Fields {
        email: cells[0].unwrap_or_default(),
        first_name: cells[1],
        last_name: cells[2],
        job_title: cells[3].map(|t| (!t.is_empty()).then_some(t)),
        role: cells[4],
        external_id: cells[5].map(|t| (!t.is_empty()).then_some(t)),
        groups: cells[6].map(|cell| {
            cell.split(GROUP_SEPARATOR)
                .map(str::to_string)
                .collect::<Vec<_>>()
        }),
    };
    ParsedRow {
        number,
        email,
        row: fields.check(),
    }
}

fn parse_ndjson<E>(
    bytes: &[u8],
    visit: &mut impl FnMut(ParsedRow) -> Result<(), E>,
) -> Result<Result<(), FileError>, E> {
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let number = i32::try_from(index + 1).unwrap_or(i32::MAX);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(object)) => ndjson_row(number, &object),
            Ok(_) => failed(number, "row", "must be a JSON object"),
            Err(err) => failed(number, "row", format!("is not JSON: {err}")),
        };
        visit(parsed)?;
    }
    Ok(Ok(()))
}

fn failed(number: i32, field: &str, message: impl Into<String>) -> ParsedRow {
    ParsedRow {
        number,
        email: None,
        row: Err(RowError::invalid(field, message)),
    }
}

fn ndjson_row(number: i32, object: &Map<String, Value>) -> ParsedRow {
    let email = object
        .get("email")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(unknown) = object.keys().find(|key| {
        !COLUMNS.contains(&key.as_str()) && !EXPORT_ONLY_COLUMNS.contains(&key.as_str())
    }) {
        return ParsedRow {
            email,
            ..failed(number, unknown, "is not a column of an import")
        };
    }
    let text = |key: &str| -> Result<Option<Option<&str>>, RowError> {
        match object.get(key) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s.trim()).filter(|s| !s.is_empty()))),
            Some(_) => Err(RowError::invalid(key, "must be a string or null")),
        }
    };
    let groups = match object.get("groups") {
        None => Ok(None),
        Some(Value::Null) => Ok(Some(Vec::new())),
        Some(Value::String(s)) => Ok(Some(s.split(GROUP_SEPARATOR).map(str::to_string).collect())),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| RowError::invalid("groups", "must be an array of group names"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(RowError::invalid(
            "groups",
            "must be an array of group names",
        )),
    };
    let read = (|| {
        let groups = groups?;
        let email = match object.get("email") {
            Some(Value::String(s)) => s.as_str(),
            None | Some(Value::Null) => "",
            Some(_) => return Err(RowError::invalid("email", "must be a string")),
        };
        let (first_name, last_name) = (text("first_name")?, text("last_name")?);
        let (job_title, role, external_id) =
            (text("job_title")?, text("role")?, text("external_id")?);
        Fields {
            email,
            first_name: first_name.flatten(),
            last_name: last_name.flatten(),
            job_title,
            role: role.flatten(),
            external_id,
            groups,
        }
        .check()
    })();
    ParsedRow {
        number,
        email,
        row: read,
    }
}

/// A row's cells before they are checked.
struct Fields<'a> {
    email: &'a str,
    first_name: Option<&'a str>,
    last_name: Option<&'a str>,
    job_title: Option<Option<&'a str>>,
    role: Option<&'a str>,
    external_id: Option<Option<&'a str>>,
    groups: Option<Vec<String>>,
}

impl Fields<'_> {
    fn check(self) -> Result<ImportRow, RowError> {
        let email = match self.email.trim() {
            "" => return Err(RowError::invalid("email", "is required")),
            raw => EmailAddress::parse(raw).map_err(|why| RowError::invalid("email", why))?,
        };
        let name = |field: &str, raw: Option<&str>| -> Result<Option<String>, RowError> {
            match raw.map(str::trim).filter(|n| !n.is_empty()) {
                None => Ok(None),
                Some(n) => parse_name(n)
                    .map(Some)
                    .map_err(|why| RowError::invalid(field, why)),
            }
        };
        let first_name = name("first_name", self.first_name)?;
        let last_name = name("last_name", self.last_name)?;
        let job_title = match self.job_title {
            None => None,
            Some(raw) => {
                Some(parse_job_title(raw).map_err(|why| RowError::invalid("job_title", why))?)
            }
        };
        let role = match self.role.map(str::trim).filter(|r| !r.is_empty()) {
            None => None,
            Some(raw) => Some(MembershipRole::parse(raw).ok_or_else(|| {
                RowError::invalid("role", "must be one of standard_user, full_access, admin")
            })?),
        };
        let external_id = match self.external_id {
            None => None,
            Some(raw) => Some(check_external_id(raw)?),
        };
        let groups = match self.groups {
            None => None,
            Some(names) => Some(check_groups(names)?),
        };
        Ok(ImportRow {
            email: email.to_string(),
            first_name,
            last_name,
            job_title,
            role,
            external_id,
            groups,
        })
    }
}

fn check_external_id(raw: Option<&str>) -> Result<Option<String>, RowError> {
    parse_external_id(raw).map_err(|why| RowError::invalid("external_id", why))
}

/// Group names, trimmed, blanks dropped, each once (case-insensitively).
fn check_groups(names: Vec<String>) -> Result<Vec<String>, RowError> {
    let mut seen = HashSet::new();
    let mut groups = Vec::new();
    for name in names {
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        if name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(RowError::invalid(
                "groups",
                "names a group longer than 100 characters or with control characters (no group has such a name)",
            ));
        }
        if seen.insert(name.to_lowercase()) {
            groups.push(name.to_string());
        }
    }
    Ok(groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(format: Format, text: &str) -> Result<Vec<ParsedRow>, FileError> {
        let mut out = Vec::new();
        let read = parse::<()>(format, text.as_bytes(), |row| {
            out.push(row);
            Ok(())
        })
        .unwrap();
        read.map(|_| out)
    }

    #[test]
    fn a_csv_row_gives_every_column_and_counts_rows_from_the_header() {
        let read = rows(
            Format::Csv,
            "email,first_name,last_name,job_title,role,external_id,groups\n\
             Ada@X.test,Ada,Lovelace,Engineer,admin,E-1,Ops; Finance;ops\n",
        )
        .unwrap();
        assert_eq!(read[0].number, 2);
        let row = read[0].row.clone().unwrap();
        assert_eq!(row.email, "Ada@X.test");
        assert_eq!(row.role, Some(MembershipRole::Admin));
        assert_eq!(row.external_id, Some(Some("E-1".into())));
        assert_eq!(row.groups, Some(vec!["Ops".into(), "Finance".into()]));
    }

    #[test]
    fn blank_cells_clear_optional_fields_and_leave_names_alone() {
        let read = rows(
            Format::Csv,
            "email,first_name,job_title,external_id,groups\na@x.test,,,,\n",
        )
        .unwrap();
        let row = read[0].row.clone().unwrap();
        assert_eq!(row.first_name, None);
        assert_eq!(row.job_title, Some(None));
        assert_eq!(row.external_id, Some(None));
        assert_eq!(row.groups, Some(vec![]));
        assert_eq!(row.last_name, None);
    }

    #[test]
    fn unknown_columns_and_a_missing_email_column_refuse_the_file() {
        assert_eq!(
            rows(Format::Csv, "email,shoe_size\n").unwrap_err(),
            FileError::UnknownColumns(vec!["shoe_size".into()])
        );
        assert_eq!(
            rows(Format::Csv, "first_name\nAda\n").unwrap_err(),
            FileError::MissingEmailColumn
        );
        assert_eq!(rows(Format::Csv, "").unwrap_err(), FileError::Empty);
        assert_eq!(rows(Format::Csv, "email\n").unwrap_err(), FileError::Empty);
        assert_eq!(rows(Format::Ndjson, "\n\n").unwrap_err(), FileError::Empty);
    }

    #[test]
    fn an_export_header_is_accepted() {
        let read = rows(
            Format::Csv,
            "id,email,first_name,last_name,job_title,role,external_id,groups,status,added_at\n\
             u1,a@x.test,A,B,,full_access,,,active,2026-12-01T00:00:00Z\n",
        )
        .unwrap();
        assert!(read[0].row.is_ok());
    }

    #[test]
    fn bad_rows_are_errors_of_their_own_row() {
        let read = rows(
            Format::Csv,
            "email,role\nnot-an-email,admin\nb@x.test,boss\nc@x.test,admin\nC@x.test,admin\n",
        )
        .unwrap();
        assert!(read[2].row.is_ok());
        let errors: Vec<_> = read
            .iter()
            .filter_map(|r| r.row.clone().err())
            .map(|e| (e.field, e.code))
            .collect();
        assert_eq!(
            errors,
            [
                ("email".to_string(), INVALID.to_string()),
                ("role".into(), INVALID.into()),
                ("email".into(), DUPLICATE.into())
            ]
        );
        assert_eq!(read[3].number, 5);
    }

    #[test]
    fn ndjson_rows_are_numbered_by_line_and_checked_alike() {
        let read = rows(
            Format::Ndjson,
            "{\"email\":\"a@x.test\",\"groups\":[\"Ops\"],\"external_id\":null}\n\
             [1]\n\
             {\"email\":\"c@x.test\",\"shoe\":1}\n",
        )
        .unwrap();
        let first = read[0].row.clone().unwrap();
        assert_eq!(first.groups, Some(vec!["Ops".into()]));
        assert_eq!(first.external_id, Some(None));
        assert_eq!(read[1].row.clone().unwrap_err().field, "row");
        assert_eq!(read[2].row.clone().unwrap_err().field, "shoe");
        assert_eq!(read[2].number, 3);
    }

    #[test]
    fn content_types_name_the_format() {
        assert_eq!(
            Format::of_content_type("text/csv; charset=utf-8"),
            Some(Format::Csv)
        );
        assert_eq!(
            Format::of_content_type("application/x-ndjson"),
            Some(Format::Ndjson)
        );
        assert_eq!(Format::of_content_type("application/json"), None);
    }
}
