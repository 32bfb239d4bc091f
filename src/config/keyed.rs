//! Value errors at their key: the checks that run after deserialisation name the whole key
//! (`server.edns_udp_payload`, `forward[1].servers`, `recursion.allow[2]`), and loading a
//! file finds that key's line with a second, span-aware parse, so a bad value is reported as
//! `FILE:LINE: key: reason` like a TOML error is.

use std::fmt::Display;
use std::path::Path;

use toml::de::{DeTable, DeValue};

use super::ConfigError;
use crate::limits::Limit;

/// A value not allowed at `key`.
pub(super) fn invalid(key: impl Into<String>, reason: impl Display) -> ConfigError {
    ConfigError::Value {
        key: key.into(),
        reason: reason.to_string(),
    }
}

/// `value` (or the default) within `limit`'s bounds, else an error at `key`. The limit's own
/// name is not always the key (`resolver.timeout_ms` is `[limits] timeout_ms`), so the key is
/// given here.
pub(super) fn bounded<T: PartialOrd + Copy + Display>(
    key: &str,
    limit: &Limit<T>,
    value: Option<T>,
) -> Result<T, ConfigError> {
    let v = value.unwrap_or(limit.default);
    limit.check(Some(v)).map_err(|_| {
        invalid(
            key,
            format_args!("{v} is out of range [{}, {}]", limit.min, limit.max),
        )
    })
}

/// `e` as read from the file at `path` whose text is `text`: a keyed error gets its line.
pub(super) fn locate(e: ConfigError, path: &Path, text: &str) -> ConfigError {
    let (key, reason) = match e {
        ConfigError::Value { key, reason } => (key, reason),
        ConfigError::Invalid(reason) => (String::new(), reason),
        other => return other,
    };
    ConfigError::At {
        path: path.to_path_buf(),
        line: line_of(text, &key),
        key,
        reason,
    }
}

/// The 1-based line where `key` (`a.b[2].c`) is written in `text`: the key's own line for a
/// table entry, the element's for a list item. `None` when the text does not name it (a
/// default out of range, a parse failure).
pub(super) fn line_of(text: &str, key: &str) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    let root = DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut offset = None;
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let (name, indices) = split_indices(part)?;
        let (k, mut value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == name)?;
        offset = Some(k.span().start);
        for i in indices {
            value = match value.get_ref() {
                DeValue::Array(items) => items.get(i)?,
                _ => return None,
            };
            // An element of an array of tables (`[[forward]]`) spans from its header; the key
            // inside, if any, is more precise and found next.
            offset = Some(value.span().start);
        }
        if parts.peek().is_some() {
            table = match value.get_ref() {
                DeValue::Table(t) => t,
                _ => return None,
            };
        }
    }
    offset.map(|o| text[..o.min(text.len())].matches('\n').count() + 1)
}

/// `allow[2]` as `("allow", [2])`; `zone` as `("zone", [])`.
fn split_indices(part: &str) -> Option<(&str, Vec<usize>)> {
    let mut pieces = part.split('[');
    let name = pieces.next()?;
    let indices = pieces
        .map(|p| p.strip_suffix(']')?.parse().ok())
        .collect::<Option<Vec<usize>>>()?;
    Some((name, indices))
}

/// `FILE:LINE`, or `FILE` when the line is not known.
pub(super) fn place(path: &Path, line: Option<usize>) -> String {
    match line {
        Some(n) => format!("{}:{n}", path.display()),
        None => path.display().to_string(),
    }
}
