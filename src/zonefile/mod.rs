//! Zone-file loading: RFC 1035 §5 master files with `file:line` errors.
//!
//! hickory-proto's parser owns the record syntax, but it reports no line numbers and mishandles
//! `$INCLUDE` with an origin argument (hickory-dns issues 3928, 3950). So this front end splits
//! the text into logical records — tracking parentheses, quotes, comments, owner inheritance and
//! the `$ORIGIN`/`$TTL`/`$INCLUDE` directives — and hands each record, with its owner and TTL
//! made explicit, to hickory's parser. Errors then say where they happened.

mod dnssec;
mod split;

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
    };
    let mut scope = Scope {
        origin: origin.cloned(),
        owner: None,
    };
    reader.read(text, file, &mut scope, 0);
    if reader.errors.is_empty() {
        Ok(reader.records)
    } else {
        Err(ZoneErrors(reader.errors))
    }
}

/// Reads and parses a zone file from disk.
pub fn parse_zone_file(path: &Path, origin: Option<&Name>) -> Result<Vec<Located>, ZoneErrors> {
    let text =
        std::fs::read_to_string(path).map_err(|e| ZoneErrors::one(path, 0, unreadable(&e)))?;
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
                let text = match std::fs::read_to_string(&target) {
                    Ok(t) => t,
                    Err(e) => {
                        self.error(
                            file,
                            rec.line,
                            format!("$INCLUDE {}: {}", target.display(), unreadable(&e)),
                        );
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
                self.read(&text, &target, &mut inner, depth + 1);
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
mod tests {
    use super::*;
    use crate::testing::{Scratch, name};

    #[test]
    fn inherits_owner_and_ttl_and_reports_lines() {
        let text = "$ORIGIN example.test.\n\
                    @ 300 IN SOA ns1 host 1 2 3 4 5\n\
                    \x20 NS ns1\n\
                    ns1 A 192.0.2.1\n\
                    $TTL 60\n\
                    www A 192.0.2.2\n\
                    \x20 AAAA 2001:db8::1\n";
        let recs = parse_zone_text(text, Path::new("t.zone"), None).expect("parses");
        assert_eq!(recs.len(), 5);
        assert_eq!(recs[1].record.name, name("example.test."));
        assert_eq!(recs[1].record.ttl, 300);
        assert_eq!(recs[2].record.ttl, 300, "no $TTL yet: last TTL repeats");
        assert_eq!(recs[4].record.name, name("www.example.test."));
        assert_eq!(recs[4].record.ttl, 60);
        assert_eq!(recs[4].at.line, 7);
    }

    #[test]
    fn errors_name_file_and_line() {
        let text = "$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 host 1 2 3 4 5\nwww A 999.1.1.1\nx BOGUSTYPE 1\n";
        let errs = parse_zone_text(text, Path::new("z/bad.zone"), None).expect_err("must fail");
        let lines: Vec<String> = errs.0.iter().map(|e| e.at.to_string()).collect();
        assert_eq!(lines, vec!["z/bad.zone:4", "z/bad.zone:5"]);
    }

    #[test]
    fn include_with_origin_does_not_leak_origin() {
        let dir = Scratch::new("load");
        std::fs::write(dir.join("inc.zone"), "host A 192.0.2.9\n").expect("write");
        let text = "$ORIGIN example.test.\n$TTL 60\n$INCLUDE inc.zone sub\nafter A 192.0.2.8\n";
        let recs = parse_zone_text(text, &dir.join("main.zone"), None).expect("parses");
        assert_eq!(recs[0].record.name, name("host.sub.example.test."));
        assert_eq!(recs[0].at.file, dir.join("inc.zone"));
        assert_eq!(recs[1].record.name, name("after.example.test."));
    }

    #[test]
    fn a_missing_file_is_not_found_without_a_line() {
        let dir = Scratch::new("missing");
        let missing = dir.join("absent.zone");
        let errs = parse_zone_file(&missing, None).expect_err("no file");
        assert_eq!(
            errs.to_string(),
            format!("{}: not found", missing.display())
        );
        let text = "$ORIGIN example.test.\n$TTL 60\n$INCLUDE absent.zone\n";
        let errs = parse_zone_text(text, &dir.join("main.zone"), None).expect_err("no include");
        assert_eq!(
            errs.to_string(),
            format!(
                "{}:3: $INCLUDE {}: not found",
                dir.join("main.zone").display(),
                missing.display()
            )
        );
    }

    #[test]
    fn dname_records_parse() {
        let text = "$ORIGIN example.test.\n$TTL 60\nold 300 IN DNAME new.example.test.\n";
        let recs = parse_zone_text(text, Path::new("d.zone"), None).expect("parses");
        assert_eq!(
            recs[0].record.record_type(),
            hickory_proto::rr::RecordType::DNAME
        );
        assert_eq!(
            dname::target(&recs[0].record),
            Some(name("new.example.test."))
        );
    }

    #[test]
    fn unbalanced_parenthesis_is_reported() {
        let text = "$ORIGIN example.test.\n$TTL 60\n@ SOA ns1 host ( 1 2 3 4 5\n";
        let errs = parse_zone_text(text, Path::new("p.zone"), None).expect_err("must fail");
        assert_eq!(
            errs.0[0].to_string(),
            "p.zone:3: unbalanced '(' at end of file"
        );
    }
}
