//! Zone-file loading: RFC 1035 §5 master files with `file:line` errors.
//!
//! hickory-proto's parser owns the record syntax, but it reports no line numbers and mishandles
//! `$INCLUDE` with an origin argument (hickory-dns issues 3928, 3950). So this front end splits
//! the text into logical records — tracking parentheses, quotes, comments, owner inheritance and
//! the `$ORIGIN`/`$TTL`/`$INCLUDE` directives — and hands each record, with its owner and TTL
//! made explicit, to hickory's parser. Errors then say where they happened.

mod dnssec;
mod escape;
mod rrset_ttl;
mod split;
#[cfg(test)]
mod zonefile_review;

use std::fmt;
use std::path::{Path, PathBuf};

use hickory_proto::rr::{DNSClass, Name, RData, Record};
use hickory_proto::serialize::txt::{Parser, parse_ttl};

use self::split::{LogicalRecord, split_records, type_token};
use crate::rr::dname;

/// RFC 1035 does not bound `$INCLUDE` nesting; BIND stops at 16 levels.
const MAX_INCLUDE_DEPTH: usize = 16;
/// A broken file can produce one error per line; past this many the rest is noise.
const MAX_ERRORS: usize = 50;
/// RFC 2181 §8: a TTL is 0 to 2^31 - 1; one with the top bit set is read as 0 by resolvers,
/// so a file that says it is refused (as a typo) rather than served as something else.
const MAX_TTL: u32 = i32::MAX as u32;

/// Where a record came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub file: PathBuf,
    pub line: usize,
}

impl fmt::Display for Location {
    /// `file:line`, or only `file` for line 0: a problem of the whole file (it cannot be read,
    /// or a check of the zone as a whole), which no line of it holds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            0 => write!(f, "{}", self.file.display()),
            line => write!(f, "{}:{line}", self.file.display()),
        }
    }
}

/// Why a zone file could not be read, for `file: reason`: "not found" for the common case
/// (a path mistyped, or relative to another folder than the config's), else the OS error.
fn unreadable(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "not found".to_string(),
        _ => format!("cannot read: {e}"),
    }
}

fn ttl_too_large(ttl: u32) -> String {
    format!("TTL {ttl} is above 2147483647 (RFC 2181 §8)")
}

/// Reads a zone file as text. Not UTF-8 is refused at the line of the first bad byte (the
/// parser works on text; a non-ASCII octet of a TXT string can be written `\DDD`).
fn read_text(path: &Path) -> Result<String, (usize, String)> {
    let bytes = std::fs::read(path).map_err(|e| (0, unreadable(&e)))?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        (line, "not UTF-8 text".to_string())
    })
}

/// One problem in a zone file, printed as `file:line: reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ZoneError {
    pub at: Location,
    pub(crate) reason: String,
}

impl fmt::Display for ZoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.at, self.reason)
    }
}

/// Every problem found in one zone; a zone with any of them is never served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ZoneErrors(pub(crate) Vec<ZoneError>);

impl fmt::Display for ZoneErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl ZoneErrors {
    pub(crate) fn one(file: &Path, line: usize, reason: impl Into<String>) -> Self {
        ZoneErrors(vec![ZoneError {
            at: Location {
                file: file.to_path_buf(),
                line,
            },
            reason: reason.into(),
        }])
    }
}

/// A parsed record and the place it was written.
#[derive(Debug, Clone)]
pub struct Located {
    pub record: Record,
    pub at: Location,
}

/// Parse state that `$INCLUDE` saves and restores (RFC 1035 §5.1: an included file does not
/// change the origin of the file that includes it).
struct Scope {
    origin: Option<Name>,
    owner: Option<Name>,
}

struct Reader {
    default_ttl: Option<u32>,
    last_ttl: Option<u32>,
    records: Vec<Located>,
    errors: Vec<ZoneError>,
    /// The files being read, outermost first (canonical paths), to refuse an include loop.
    including: Vec<PathBuf>,
}

/// `path` made absolute with links resolved when it exists, else as given.
fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Parses zone text as if read from `file`; relative `$INCLUDE` paths resolve beside it.
/// Returns the records in file order, or every error found (up to a cap).
pub(crate) fn parse_zone_text(
    text: &str,
    file: &Path,
    origin: Option<&Name>,
) -> Result<Vec<Located>, ZoneErrors> {
    let mut reader = Reader {
        default_ttl: None,
        last_ttl: None,
        records: Vec::new(),
        errors: Vec::new(),
        including: vec![canonical(file)],
    };
    let mut scope = Scope {
        origin: origin.cloned(),
        owner: None,
    };
    reader.read(text, file, &mut scope, 0);
    if reader.errors.is_empty() {
        rrset_ttl::one_ttl_per_rrset(&mut reader.records);
        Ok(reader.records)
    } else {
        Err(ZoneErrors(reader.errors))
    }
}

/// Reads and parses a zone file from disk.
pub fn parse_zone_file(path: &Path, origin: Option<&Name>) -> Result<Vec<Located>, ZoneErrors> {
    let text = read_text(path).map_err(|(line, reason)| ZoneErrors::one(path, line, reason))?;
    parse_zone_text(&text, path, origin)
}

impl Reader {
    fn error(&mut self, file: &Path, line: usize, reason: impl Into<String>) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(ZoneError {
                at: Location {
                    file: file.to_path_buf(),
                    line,
                },
                reason: reason.into(),
            });
        }
    }

    fn read(&mut self, text: &str, file: &Path, scope: &mut Scope, depth: usize) {
        for item in split_records(text) {
            let rec = match item {
                Ok(rec) => rec,
                Err((line, reason)) => {
                    self.error(file, line, reason);
                    continue;
                }
            };
            if rec.text.starts_with('$') {
                self.directive(&rec, file, scope, depth);
            } else {
                self.record(&rec, file, scope);
            }
        }
    }

    fn directive(&mut self, rec: &LogicalRecord, file: &Path, scope: &mut Scope, depth: usize) {
        let mut words = rec.text.split_whitespace();
        let keyword = words.next().unwrap_or_default().to_ascii_uppercase();
        let args: Vec<&str> = words.collect();
        match (keyword.as_str(), args.as_slice()) {
            ("$ORIGIN", [name]) => match Name::parse(name, scope.origin.as_ref()) {
                Ok(mut n) if n.is_fqdn() || scope.origin.is_some() => {
                    n.set_fqdn(true);
                    scope.origin = Some(n);
                }
                Ok(_) => self.error(
                    file,
                    rec.line,
                    format!("$ORIGIN {name} is relative and no origin is known"),
                ),
                Err(e) => self.error(file, rec.line, format!("bad $ORIGIN {name}: {e}")),
            },
            ("$TTL", [ttl]) => match parse_ttl(ttl) {
                Ok(t) if t > MAX_TTL => self.error(file, rec.line, ttl_too_large(t)),
                Ok(ttl) => self.default_ttl = Some(ttl),
                Err(e) => self.error(file, rec.line, format!("bad $TTL {ttl}: {e}")),
            },
            ("$INCLUDE", [path] | [path, _]) => {
                if depth >= MAX_INCLUDE_DEPTH {
                    self.error(file, rec.line, "$INCLUDE nested too deeply");
                    return;
                }
                let target = match file.parent() {
                    Some(dir) if Path::new(path).is_relative() => dir.join(path),
                    _ => PathBuf::from(path),
                };
                // A file that includes itself, directly or not, would be read 16 deep, and
                // one that does so twice 2^16 times: refuse the loop where it closes.
                let canonical = canonical(&target);
                if self.including.contains(&canonical) {
                    self.error(
                        file,
                        rec.line,
                        format!("$INCLUDE {}: include loop", target.display()),
                    );
                    return;
                }
                let text = match read_text(&target) {
                    Ok(t) => t,
                    Err((0, reason)) => {
                        self.error(
                            file,
                            rec.line,
                            format!("$INCLUDE {}: {reason}", target.display()),
                        );
                        return;
                    }
                    Err((line, reason)) => {
                        self.error(&target, line, reason);
                        return;
                    }
                };
                let origin = match args.get(1) {
                    Some(o) => match Name::parse(o, scope.origin.as_ref()) {
                        Ok(mut n) => {
                            n.set_fqdn(true);
                            Some(n)
                        }
                        Err(e) => {
                            self.error(file, rec.line, format!("bad $INCLUDE origin {o}: {e}"));
                            return;
                        }
                    },
                    None => scope.origin.clone(),
                };
                let mut inner = Scope {
                    origin,
                    owner: scope.owner.clone(),
                };
                self.including.push(canonical);
                self.read(&text, &target, &mut inner, depth + 1);
                self.including.pop();
            }
            _ => self.error(
                file,
                rec.line,
                format!("unknown or malformed directive: {}", rec.text),
            ),
        }
    }

    fn record(&mut self, rec: &LogicalRecord, file: &Path, scope: &mut Scope) {
        // Make the inherited owner and TTL explicit so hickory sees one self-contained record.
        let mut text = String::with_capacity(rec.text.len() + 64);
        let ttl = self.default_ttl.or(self.last_ttl);
        if let Some(ttl) = ttl {
            text.push_str(&format!("$TTL {ttl}\n"));
        }
        if rec.blank_owner {
            match &scope.owner {
                Some(owner) => {
                    text.push_str(&owner.to_ascii());
                    text.push(' ');
                }
                None => {
                    self.error(
                        file,
                        rec.line,
                        "record has no owner name and none came before it",
                    );
                    return;
                }
            }
        }
        // hickory-proto has no DNAME text parser; its RDATA syntax is CNAME's (RFC 6672 §2.1),
        // so parse it as a CNAME and convert the result. It refuses the DNSSEC types of a zone
        // signed offline: it parses their owner, TTL and class with a stand-in RDATA, and
        // `dnssec::rdata` reads the real one.
        let mut is_dname = false;
        let mut dnssec = None;
        match type_token(&rec.text, rec.blank_owner) {
            // hickory-proto misreads TXT escapes and lengths (`escape.rs`): read the RDATA here.
            Some((at, tok)) if tok.eq_ignore_ascii_case("TXT") => {
                text.push_str(&rec.text[..at]);
                text.push_str("A 192.0.2.0");
                match escape::txt_rdata(&rec.text[at + tok.len()..]) {
                    Ok(data) => dnssec = Some(data),
                    Err(reason) => {
                        self.error(file, rec.line, reason);
                        return;
                    }
                }
            }
            Some((at, tok)) if tok.eq_ignore_ascii_case("DNAME") => {
                text.push_str(&rec.text[..at]);
                text.push_str("CNAME");
                text.push_str(&rec.text[at + tok.len()..]);
                is_dname = true;
            }
            Some((at, tok)) if let Some(rtype) = dnssec::is_dnssec_type(tok) => {
                text.push_str(&rec.text[..at]);
                text.push_str("A 192.0.2.0");
                let fields: Vec<&str> = rec.text[at + tok.len()..].split_whitespace().collect();
                match dnssec::rdata(rtype, &fields, scope.origin.as_ref()) {
                    Ok(data) => dnssec = Some(data),
                    Err(reason) => {
                        self.error(file, rec.line, reason);
                        return;
                    }
                }
            }
            _ => text.push_str(&rec.text),
        }
        text.push('\n');
        let text = match escape::decimal_escapes(&text) {
            Ok(t) => t,
            Err(reason) => {
                self.error(file, rec.line, reason);
                return;
            }
        };
        let parsed = Parser::new(text, Some(file.to_path_buf()), scope.origin.clone()).parse();
        let (_, sets) = match parsed {
            Ok(p) => p,
            Err(e) => {
                // hickory nests its messages ("proto error: decoding error: ..."); keep the gist.
                let msg = e.to_string();
                let gist = msg.rsplit(": ").next().unwrap_or(&msg);
                let kind = msg
                    .split(": ")
                    .nth(msg.split(": ").count().saturating_sub(2))
                    .unwrap_or("");
                let reason = if kind.is_empty() || kind == gist {
                    gist.to_string()
                } else {
                    format!("{kind}: {gist}")
                };
                self.error(file, rec.line, reason);
                return;
            }
        };
        let Some(mut record) = sets
            .into_values()
            .flat_map(|set| set.records_without_rrsigs().cloned().collect::<Vec<_>>())
            .next()
        else {
            self.error(file, rec.line, "no record parsed");
            return;
        };
        if let Some(data) = dnssec {
            record.data = data;
        }
        if is_dname {
            match &record.data {
                RData::CNAME(target) => record.data = dname::rdata(&target.0),
                _ => {
                    self.error(file, rec.line, "bad DNAME record");
                    return;
                }
            }
        }
        if record.dns_class != DNSClass::IN {
            self.error(
                file,
                rec.line,
                format!("class {} is not supported, only IN", record.dns_class),
            );
            return;
        }
        if record.ttl > MAX_TTL {
            self.error(file, rec.line, ttl_too_large(record.ttl));
            return;
        }
        if self.default_ttl.is_none() {
            // RFC 1035 §5.1: without $TTL an omitted TTL repeats the last one given.
            self.last_ttl = Some(record.ttl);
        }
        scope.owner = Some(record.name.clone());
        self.records.push(Located {
            record,
            at: Location {
                file: file.to_path_buf(),
                line: rec.line,
            },
        });
    }
}

#[cfg(test)]
mod tests;
