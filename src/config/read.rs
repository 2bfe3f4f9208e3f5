//! Reading one variable through its declaration: the given value or the
//! declared default, parsed by the declared kind and checked against the
//! declared bounds. Every error names the variable.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use secrecy::SecretString;

use super::vars::{Fallback, Kind, Var};
use super::ConfigError;

pub(super) struct Reader<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    /// The names read so far (a test checks that every declared one is).
    pub(super) read: Vec<&'static str>,
}

fn error(var: &Var, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: var.name,
        message: message.into(),
    }
}

/// A declaration that does not fit how the code reads it: a programming
/// error that the unit tests catch, reported like any other.
fn misdeclared(var: &Var, expected: &str) -> ConfigError {
    error(
        var,
        format!("is declared as {:?}, read as {expected}", var.kind),
    )
}

impl<'a> Reader<'a> {
    pub(super) fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Reader {
            lookup,
            read: Vec::new(),
        }
    }

    /// The given value, trimmed; empty counts as unset.
    pub(super) fn given(&self, var: &Var) -> Option<String> {
        (self.lookup)(var.name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// The given value, else the declared default value (not a derived one).
    fn raw(&mut self, var: &'static Var) -> Option<String> {
        self.read.push(var.name);
        self.given(var).or(match var.default {
            Fallback::Value(value) => Some(value.to_string()),
            Fallback::Derived(_) | Fallback::Unset => None,
        })
    }

    /// Text, or `derived` when unset without a declared value.
    pub(super) fn text(
        &mut self,
        var: &'static Var,
        derived: Option<String>,
    ) -> Result<Option<String>, ConfigError> {
        if !matches!(var.kind, Kind::Text | Kind::Path) {
            return Err(misdeclared(var, "text"));
        }
        Ok(self.raw(var).or(derived))
    }

    pub(super) fn secret(
        &mut self,
        var: &'static Var,
    ) -> Result<Option<SecretString>, ConfigError> {
        if !matches!(var.kind, Kind::Secret | Kind::DatabaseUrl) {
            return Err(misdeclared(var, "a secret"));
        }
        Ok(self.raw(var).map(SecretString::from))
    }

    /// A whole number within the declared bounds; `derived` (the default
    /// computed at start) is brought within them.
    pub(super) fn count<T: TryFrom<u64>>(
        &mut self,
        var: &'static Var,
        derived: Option<u64>,
    ) -> Result<T, ConfigError> {
        let Kind::Count { min, max } = var.kind else {
            return Err(misdeclared(var, "a count"));
        };
        let value = match self.raw(var) {
            Some(raw) => raw
                .parse::<u64>()
                .map_err(|_| error(var, format!("`{raw}` is not a whole number")))?,
            None => derived
                .ok_or_else(|| misdeclared(var, "a count with a default"))?
                .max(min)
                .min(max),
        };
        if !(min..=max).contains(&value) {
            return Err(error(var, format!("{value} is out of range {min}..={max}")));
        }
        T::try_from(value).map_err(|_| error(var, format!("{value} is too large here")))
    }

    /// A duration within the declared bounds; `derived` is brought within them.
    pub(super) fn duration(
        &mut self,
        var: &'static Var,
        derived: Option<Duration>,
    ) -> Result<Duration, ConfigError> {
        let Kind::Duration { min, max } = var.kind else {
            return Err(misdeclared(var, "a duration"));
        };
        let bound = |text: &str| {
            humantime::parse_duration(text).map_err(|_| misdeclared(var, "a bounded duration"))
        };
        let (min, max) = (bound(min)?, bound(max)?);
        let value = match self.raw(var) {
            Some(raw) => humantime::parse_duration(&raw).map_err(|e| {
                error(
                    var,
                    format!("`{raw}` is not a duration like 200ms, 15m or 48h ({e})"),
                )
            })?,
            None => derived
                .ok_or_else(|| misdeclared(var, "a duration with a default"))?
                .max(min)
                .min(max),
        };
        if !(min..=max).contains(&value) {
            let show = |d: Duration| humantime::format_duration(d).to_string();
            return Err(error(
                var,
                format!(
                    "{} is out of range {}..={}",
                    show(value),
                    show(min),
                    show(max)
                ),
            ));
        }
        Ok(value)
    }

    /// One of the declared words.
    pub(super) fn choice(&mut self, var: &'static Var) -> Result<&'static str, ConfigError> {
        let Kind::OneOf(words) = var.kind else {
            return Err(misdeclared(var, "a choice"));
        };
        let raw = self
            .raw(var)
            .ok_or_else(|| misdeclared(var, "a choice with a default"))?;
        words.iter().find(|w| **w == raw).copied().ok_or_else(|| {
            error(
                var,
                format!("`{raw}`: expected one of {}", words.join(", ")),
            )
        })
    }

    pub(super) fn switch(&mut self, var: &'static Var) -> Result<bool, ConfigError> {
        if !matches!(var.kind, Kind::Switch) {
            return Err(misdeclared(var, "a switch"));
        }
        match self.raw(var).as_deref() {
            Some("on" | "true" | "1") => Ok(true),
            Some("off" | "false" | "0") => Ok(false),
            Some(raw) => Err(error(var, format!("`{raw}`: expected on or off"))),
            None => Err(misdeclared(var, "a switch with a default")),
        }
    }

    /// An `http(s)://` URL without its trailing `/`, or `derived`.
    pub(super) fn url(
        &mut self,
        var: &'static Var,
        derived: Option<String>,
    ) -> Result<String, ConfigError> {
        if !matches!(var.kind, Kind::HttpUrl) {
            return Err(misdeclared(var, "a URL"));
        }
        let Some(raw) = self.raw(var) else {
            return derived.ok_or_else(|| misdeclared(var, "a URL with a default"));
        };
        let trimmed = raw.trim_end_matches('/');
        let rest = trimmed
            .strip_prefix("https://")
            .or_else(|| trimmed.strip_prefix("http://"));
        match rest {
            Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => {
                Ok(trimmed.to_string())
            }
            _ => Err(error(var, format!("`{raw}` is not an http(s) URL"))),
        }
    }

    /// An optional `http(s)://` URL without its trailing `/`.
    pub(super) fn optional_url(
        &mut self,
        var: &'static Var,
    ) -> Result<Option<String>, ConfigError> {
        if self.given(var).is_none() && !matches!(var.default, Fallback::Value(_)) {
            self.read.push(var.name);
            return Ok(None);
        }
        self.url(var, None).map(Some)
    }

    pub(super) fn socket_addr(&mut self, var: &'static Var) -> Result<SocketAddr, ConfigError> {
        if !matches!(var.kind, Kind::SocketAddr) {
            return Err(misdeclared(var, "an address"));
        }
        let raw = self
            .raw(var)
            .ok_or_else(|| misdeclared(var, "an address with a default"))?;
        raw.parse()
            .map_err(|e| error(var, format!("`{raw}` is not valid: {e}")))
    }

    /// Comma-separated networks (`10.0.0.0/8`) or single addresses.
    pub(super) fn networks(&mut self, var: &'static Var) -> Result<Vec<IpNet>, ConfigError> {
        if !matches!(var.kind, Kind::Networks) {
            return Err(misdeclared(var, "networks"));
        }
        let Some(raw) = self.raw(var) else {
            return Ok(Vec::new());
        };
        raw.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| {
                        error(
                            var,
                            format!("`{item}` is not a network like 10.0.0.0/8 or an address"),
                        )
                    })
            })
            .collect()
    }
}
