//! SCIM filters (RFC 7644 §3.4.2.2), parsed and evaluated against a
//! resource's JSON representation. Precedence: grouping, then `not`, `and`,
//! `or`. Attribute names and operators are case-insensitive; string
//! comparisons are too unless the attribute is `caseExact`.
//!
//! No maintained Rust crate parses SCIM filters (crates.io has none that is
//! kept up), hence this small parser.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::ScimFault;

/// `[schema URI ":"] name ["." sub]`, as written (case is kept; matching
/// ignores it).
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    pub name: String,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Present(AttrPath),
    Compare(AttrPath, CompareOp, Value),
    /// `attr[filter]`: some value of the multi-valued `attr` matches.
    ValuePath(AttrPath, Box<Filter>),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

/// Schema URIs a path may be qualified with; qualified names are matched
/// on what follows.
const SCHEMA_PREFIXES: &[&str] = &[
    "urn:ietf:params:scim:schemas:core:2.0:user:",
    "urn:ietf:params:scim:schemas:core:2.0:group:",
];

impl AttrPath {
    /// Parses `name`, `name.sub` or a URI-qualified form.
    pub fn parse(text: &str) -> Result<AttrPath, ScimFault> {
        let lower = text.to_ascii_lowercase();
        let unqualified = SCHEMA_PREFIXES
            .iter()
            .find_map(|prefix| lower.starts_with(prefix).then(|| &text[prefix.len()..]))
            .unwrap_or(text);
        if unqualified.contains(':') {
            // Another schema (e.g. the enterprise extension): kept whole, it
            // simply matches nothing roster serves.
            return Ok(AttrPath {
                name: unqualified.to_string(),
                sub: None,
            });
        }
        let (name, sub) = match unqualified.split_once('.') {
            Some((name, sub)) => (name, Some(sub)),
            None => (unqualified, None),
        };
        let valid = |part: &str| {
            part.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '$')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '$'))
        };
        if !valid(name) || !sub.is_none_or(valid) {
            return Err(ScimFault::invalid_filter(format!(
                "`{text}` is not an attribute path"
            )));
        }
        Ok(AttrPath {
            name: name.to_string(),
            sub: sub.map(str::to_string),
        })
    }

    pub fn is(&self, name: &str, sub: Option<&str>) -> bool {
        self.name.eq_ignore_ascii_case(name)
            && match (&self.sub, sub) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Word(String),
    Text(String),
}

fn tokenize(input: &str) -> Result<Vec<Token>, ScimFault> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                let rest = &input[start..];
                let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<String>();
                let text = match stream.next() {
                    Some(Ok(text)) => text,
                    _ => {
                        return Err(ScimFault::invalid_filter(
                            "a string is not closed or has a bad escape",
                        ))
                    }
                };
                let end = start + stream.byte_offset();
                while chars.peek().is_some_and(|&(at, _)| at < end) {
                    chars.next();
                }
                tokens.push(Token::Text(text));
            }
            _ => {
                let mut end = start;
                while let Some(&(at, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"') {
                        break;
                    }
                    end = at + c.len_utf8();
                    chars.next();
                }
                tokens.push(Token::Word(input[start..end].to_string()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// Open groups (parentheses and brackets) around the current token.
    depth: usize,
    /// Attribute expressions so far.
    terms: usize,
}

/// Bounds that keep a hostile filter from costing more than a real one:
/// identity providers send one or two comparisons.
const MAX_DEPTH: usize = 16;
const MAX_TERMS: usize = 64;

/// Parses a filter; a malformed one is 400 `invalidFilter`.
pub fn parse(input: &str) -> Result<Filter, ScimFault> {
    let mut parser = Parser {
        tokens: tokenize(input)?,
        at: 0,
        depth: 0,
        terms: 0,
    };
    if parser.tokens.is_empty() {
        return Err(ScimFault::invalid_filter("the filter is empty"));
    }
    let filter = parser.or()?;
    match parser.peek() {
        None => Ok(filter),
        Some(token) => Err(ScimFault::invalid_filter(format!(
            "unexpected {} after a complete expression",
            describe(token)
        ))),
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Open => "`(`".into(),
        Token::Close => "`)`".into(),
        Token::OpenBracket => "`[`".into(),
        Token::CloseBracket => "`]`".into(),
        Token::Word(w) => format!("`{w}`"),
        Token::Text(t) => format!("\"{t}\""),
    }
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn expect(&mut self, wanted: Token) -> Result<(), ScimFault> {
        match self.next() {
            Some(token) if token == wanted => Ok(()),
            Some(token) => Err(ScimFault::invalid_filter(format!(
                "expected {}, found {}",
                describe(&wanted),
                describe(&token)
            ))),
            None => Err(ScimFault::invalid_filter(format!(
                "expected {} at the end",
                describe(&wanted)
            ))),
        }
    }

    fn or(&mut self) -> Result<Filter, ScimFault> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.at += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimFault> {
        let mut left = self.not()?;
        while self.keyword("and") {
            self.at += 1;
            left = Filter::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Filter, ScimFault> {
        if self.keyword("not") && matches!(self.tokens.get(self.at + 1), Some(Token::Open)) {
            self.at += 1;
            return Ok(Filter::Not(Box::new(self.group()?)));
        }
        self.atom()
    }

    fn group(&mut self) -> Result<Filter, ScimFault> {
        self.expect(Token::Open)?;
        let inner = self.nested()?;
        self.expect(Token::Close)?;
        Ok(inner)
    }

    /// The expression inside parentheses or brackets, at most [`MAX_DEPTH`] deep.
    fn nested(&mut self) -> Result<Filter, ScimFault> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(ScimFault::invalid_filter(format!(
                "the filter nests more than {MAX_DEPTH} levels"
            )));
        }
        let inner = self.or()?;
        self.depth -= 1;
        Ok(inner)
    }

    fn atom(&mut self) -> Result<Filter, ScimFault> {
        match self.peek() {
            Some(Token::Open) => self.group(),
            Some(Token::Word(_)) => self.attribute_expression(),
            Some(token) => Err(ScimFault::invalid_filter(format!(
                "expected an attribute, found {}",
                describe(token)
            ))),
            None => Err(ScimFault::invalid_filter("the filter ends too early")),
        }
    }

    fn attribute_expression(&mut self) -> Result<Filter, ScimFault> {
        let Some(Token::Word(name)) = self.next() else {
            unreachable!("atom peeked a word")
        };
        self.terms += 1;
        if self.terms > MAX_TERMS {
            return Err(ScimFault::invalid_filter(format!(
                "the filter has more than {MAX_TERMS} comparisons"
            )));
        }
        let path = AttrPath::parse(&name)?;
        if matches!(self.peek(), Some(Token::OpenBracket)) {
            self.at += 1;
            let inner = self.nested()?;
            self.expect(Token::CloseBracket)?;
            return Ok(Filter::ValuePath(path, Box::new(inner)));
        }
        let op = match self.next() {
            Some(Token::Word(op)) => op.to_ascii_lowercase(),
            Some(token) => {
                return Err(ScimFault::invalid_filter(format!(
                    "expected an operator after `{name}`, found {}",
                    describe(&token)
                )))
            }
            None => {
                return Err(ScimFault::invalid_filter(format!(
                    "expected an operator after `{name}`"
                )))
            }
        };
        let op_text = op;
        let op = match op_text.as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => CompareOp::Eq,
            "ne" => CompareOp::Ne,
            "co" => CompareOp::Co,
            "sw" => CompareOp::Sw,
            "ew" => CompareOp::Ew,
            "gt" => CompareOp::Gt,
            "ge" => CompareOp::Ge,
            "lt" => CompareOp::Lt,
            "le" => CompareOp::Le,
            other => {
                return Err(ScimFault::invalid_filter(format!(
                    "`{other}` is not a filter operator"
                )))
            }
        };
        let value = match self.next() {
            Some(Token::Text(text)) => Value::String(text),
            Some(Token::Word(word)) => match word.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&word)
                    .map(Value::Number)
                    .map_err(|_| {
                        ScimFault::invalid_filter(format!("`{word}` is not a value: quote strings"))
                    })?,
            },
            Some(token) => {
                return Err(ScimFault::invalid_filter(format!(
                    "expected a value, found {}",
                    describe(&token)
                )))
            }
            None => {
                return Err(ScimFault::invalid_filter(format!(
                    "expected a value after `{name} {op_text}`"
                )))
            }
        };
        if value.is_null() && !matches!(op, CompareOp::Eq | CompareOp::Ne) {
            return Err(ScimFault::invalid_filter(
                "null compares only with eq and ne",
            ));
        }
        Ok(Filter::Compare(path, op, value))
    }
}

/// Whether string comparisons on an attribute keep case: ids, external ids
/// and meta's URIs and versions do; everything else (`userName`, emails,
/// names, `displayName`) does not.
fn case_exact(path: &AttrPath) -> bool {
    path.is("id", None)
        || path.is("externalId", None)
        || path.is("meta", Some("location"))
        || path.is("meta", Some("version"))
        || path.is("members", Some("value"))
        || path.is("groups", Some("value"))
}

/// A member of a JSON object by case-insensitive name.
pub fn member<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .as_object()?
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

/// The values `path` names in `resource`: a multi-valued attribute gives
/// each value (a complex value's `value` unless a sub-attribute is named).
fn values_at<'a>(resource: &'a Value, path: &AttrPath) -> Vec<&'a Value> {
    let Some(top) = member(resource, &path.name) else {
        return Vec::new();
    };
    let pick = |value: &'a Value| -> Option<&'a Value> {
        match (&path.sub, value) {
            (Some(sub), value) => member(value, sub),
            (None, Value::Object(_)) => member(value, "value"),
            (None, value) => Some(value),
        }
    };
    match top {
        Value::Array(items) => items.iter().filter_map(pick).collect(),
        Value::Null => Vec::new(),
        value => pick(value).into_iter().collect(),
    }
}

impl Filter {
    /// Whether `resource` matches. Comparisons a value cannot take (`gt` on
    /// a boolean) are `invalidFilter`.
    pub fn matches(&self, resource: &Value) -> Result<bool, ScimFault> {
        Ok(match self {
            Filter::And(a, b) => a.matches(resource)? && b.matches(resource)?,
            Filter::Or(a, b) => a.matches(resource)? || b.matches(resource)?,
            Filter::Not(inner) => !inner.matches(resource)?,
            Filter::Present(path) => values_at(resource, path).into_iter().any(present),
            Filter::ValuePath(path, inner) => {
                let items = match member(resource, &path.name) {
                    Some(Value::Array(items)) => items.iter().collect(),
                    Some(Value::Null) | None => Vec::new(),
                    Some(one) => vec![one],
                };
                let mut any = false;
                for item in items {
                    any |= inner.matches(item)?;
                }
                any
            }
            Filter::Compare(path, CompareOp::Ne, value) => {
                !Filter::Compare(path.clone(), CompareOp::Eq, value.clone()).matches(resource)?
            }
            Filter::Compare(path, op, value) => {
                let exact = case_exact(path);
                let mut any = false;
                for found in values_at(resource, path) {
                    any |= compare(found, *op, value, exact)?;
                }
                any
            }
        })
    }
}

fn present(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => true,
    }
}

fn compare(found: &Value, op: CompareOp, wanted: &Value, exact: bool) -> Result<bool, ScimFault> {
    use CompareOp::*;
    match (found, wanted) {
        (_, Value::Null) => Ok(op == Eq && found.is_null()),
        (Value::Bool(a), Value::Bool(b)) => match op {
            Eq => Ok(a == b),
            _ => Err(ScimFault::invalid_filter(
                "booleans compare only with eq and ne",
            )),
        },
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap_or(0.0), b.as_f64().unwrap_or(0.0));
            Ok(match op {
                Eq => a == b,
                Gt => a > b,
                Ge => a >= b,
                Lt => a < b,
                Le => a <= b,
                Co | Sw | Ew | Ne => {
                    return Err(ScimFault::invalid_filter(
                        "numbers do not compare with co, sw or ew",
                    ))
                }
            })
        }
        (Value::String(a), Value::String(b)) => Ok(compare_text(a, op, b, exact)),
        _ => Ok(false),
    }
}

fn compare_text(found: &str, op: CompareOp, wanted: &str, exact: bool) -> bool {
    use std::cmp::Ordering;
    use CompareOp::*;
    let (a, b) = if exact {
        (found.to_string(), wanted.to_string())
    } else {
        (found.to_lowercase(), wanted.to_lowercase())
    };
    let ordering = || match (
        OffsetDateTime::parse(found, &Rfc3339),
        OffsetDateTime::parse(wanted, &Rfc3339),
    ) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(&b),
    };
    match op {
        Eq => ordering() == Ordering::Equal,
        Ne => ordering() != Ordering::Equal,
        Co => a.contains(&b),
        Sw => a.starts_with(&b),
        Ew => a.ends_with(&b),
        Gt => ordering() == Ordering::Greater,
        Ge => ordering() != Ordering::Less,
        Lt => ordering() == Ordering::Less,
        Le => ordering() != Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "u1",
            "userName": "Ada@Example.com",
            "externalId": "E-1",
            "active": true,
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "ada@example.com", "type": "work", "primary": true}],
            "meta": {"lastModified": "2026-11-30T10:00:00.5Z"}
        })
    }

    fn matches(filter: &str) -> bool {
        parse(filter).unwrap().matches(&user()).unwrap()
    }

    fn rejected(filter: &str) -> String {
        let fault = parse(filter).unwrap_err();
        assert_eq!(fault.scim_type, Some("invalidFilter"), "{filter}");
        fault.detail
    }

    #[test]
    fn user_name_equality_ignores_case_of_attribute_operator_and_value() {
        assert!(matches(r#"userName eq "ada@example.com""#));
        assert!(matches(r#"USERNAME EQ "ADA@EXAMPLE.COM""#));
        assert!(!matches(r#"userName eq "bob@example.com""#));
    }

    #[test]
    fn external_id_is_case_exact() {
        assert!(matches(r#"externalId eq "E-1""#));
        assert!(!matches(r#"externalId eq "e-1""#));
    }

    #[test]
    fn every_comparison_operator_works_on_text() {
        assert!(matches(r#"userName co "example""#));
        assert!(matches(r#"userName sw "ada""#));
        assert!(matches(r#"userName ew ".COM""#));
        assert!(matches(r#"userName ne "bob@example.com""#));
        assert!(matches(r#"userName gt "a""#));
        assert!(matches(r#"userName ge "ada@example.com""#));
        assert!(matches(r#"userName lt "b""#));
        assert!(matches(r#"userName le "ada@example.com""#));
    }

    #[test]
    fn dates_compare_as_instants_not_as_text() {
        assert!(matches(r#"meta.lastModified gt "2026-11-30T10:00:00Z""#));
        assert!(!matches(
            r#"meta.lastModified lt "2026-11-30T11:00:00+01:00""#
        ));
        assert!(matches(r#"meta.lastModified le "2026-11-30T10:00:01Z""#));
    }

    #[test]
    fn presence_booleans_and_multi_valued_attributes() {
        assert!(matches("externalId pr"));
        assert!(!matches("title pr"));
        assert!(matches("active eq true"));
        assert!(!matches("active eq false"));
        assert!(matches(r#"emails.value eq "ADA@example.com""#));
        assert!(matches(r#"emails co "ada@""#));
        assert!(matches(r#"emails[type eq "work" and value co "@example"]"#));
        assert!(!matches(r#"emails[type eq "home"]"#));
        assert!(matches(r#"name.givenName eq "ada""#));
    }

    #[test]
    fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
        assert!(matches(
            r#"userName eq "x" or userName sw "ada" and active eq true"#
        ));
        assert!(!matches(
            r#"(userName eq "x" or userName sw "ada") and active eq false"#
        ));
        assert!(matches(r#"not (userName eq "x") and active eq true"#));
        assert!(!matches(r#"not (active eq true)"#));
        assert_eq!(
            parse(r#"a eq 1 or b eq 2 and c eq 3"#).unwrap(),
            Filter::Or(
                Box::new(parse("a eq 1").unwrap()),
                Box::new(parse("b eq 2 and c eq 3").unwrap())
            )
        );
    }

    #[test]
    fn schema_qualified_names_are_understood() {
        assert!(matches(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada@example.com""#
        ));
    }

    #[test]
    fn strings_keep_their_escapes_and_spaces() {
        assert_eq!(
            parse(r#"displayName eq "a \"b\" c""#).unwrap(),
            Filter::Compare(
                AttrPath::parse("displayName").unwrap(),
                CompareOp::Eq,
                json!("a \"b\" c")
            )
        );
    }

    #[test]
    fn hostile_nesting_and_length_are_refused_before_they_cost() {
        let deep = format!("{}active pr{}", "(".repeat(10_000), ")".repeat(10_000));
        assert!(rejected(&deep).contains("nests"));
        let long = vec!["active pr"; 1_000].join(" and ");
        assert!(rejected(&long).contains("comparisons"));
        let fine = format!("{}active pr{}", "(".repeat(16), ")".repeat(16));
        assert!(matches(&fine));
    }

    #[test]
    fn malformed_filters_are_invalid_filter() {
        rejected("");
        rejected("userName");
        rejected(r#"userName eq"#);
        rejected(r#"userName xx "a""#);
        rejected(r#"userName eq "a"#);
        rejected(r#"(userName eq "a""#);
        rejected(r#"userName eq "a")"#);
        rejected(r#"userName eq bare"#);
        rejected(r#"user@name eq "a""#);
        rejected(r#"emails[type eq "work""#);
        rejected(r#"userName gt null"#);
        let detail = parse(r#"active gt true"#)
            .unwrap()
            .matches(&user())
            .unwrap_err()
            .detail;
        assert!(detail.contains("booleans"));
    }
}
