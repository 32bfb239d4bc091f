//! Our own reader for the subset of the `.rpl` replay format (Unbound's testbound, Deckard)
//! that the forwarding scenarios use: the CONFIG block as `key: value` pairs, RANGE blocks of
//! ENTRYs answering the resolver's upstream queries, and numbered STEPs.
//!
//! Anything outside the subset is an error naming the line, so a scenario that needs more is
//! reported, never half-read.

use std::net::IpAddr;
use std::path::Path;

use hickory_proto::op::{OpCode, ResponseCode};
use hickory_proto::rr::{Name, Record, RecordType};

use crate::zonefile::parse_zone_text;

/// One parsed scenario.
#[derive(Debug)]
pub(super) struct Scenario {
    pub(super) config: Vec<Setting>,
    pub(super) ranges: Vec<Range>,
    pub(super) steps: Vec<Step>,
}

/// A CONFIG line's `key: value`, with the clause (`server`, `forward-zone`, ...) it is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Setting {
    pub(super) clause: String,
    /// Which occurrence of the clause (a second `forward-zone:` starts number 1).
    pub(super) clause_no: usize,
    pub(super) key: String,
    pub(super) value: String,
}

/// Entries answering upstream queries sent while the step number is in `start..=end`, to any
/// address or to `addresses` only.
#[derive(Debug)]
pub(super) struct Range {
    pub(super) start: u32,
    pub(super) end: u32,
    pub(super) addresses: Vec<IpAddr>,
    pub(super) entries: Vec<Entry>,
}

/// What an entry compares (testbound's `MATCH` keywords).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Matches {
    pub(super) opcode: bool,
    pub(super) qtype: bool,
    pub(super) qname: bool,
    pub(super) subdomain: bool,
    pub(super) rcode: bool,
    pub(super) question: bool,
    pub(super) answer: bool,
    pub(super) all: bool,
    pub(super) ttl: bool,
    pub(super) flags: bool,
    pub(super) tcp: Option<bool>,
}

/// One ENTRY block.
#[derive(Debug, Default, Clone)]
pub(super) struct Entry {
    pub(super) line: usize,
    pub(super) matches: Matches,
    pub(super) copy_id: bool,
    pub(super) copy_query: bool,
    pub(super) opcode: Option<OpCode>,
    pub(super) rcode: Option<ResponseCode>,
    pub(super) flags: Flags,
    /// EDNS with DO=1.
    pub(super) dnssec_ok: bool,
    pub(super) question: Vec<(Name, RecordType)>,
    pub(super) answer: Vec<Record>,
    pub(super) authority: Vec<Record>,
    pub(super) additional: Vec<Record>,
}

/// Header flags of a REPLY line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Flags {
    pub(super) qr: bool,
    pub(super) aa: bool,
    pub(super) tc: bool,
    pub(super) rd: bool,
    pub(super) ra: bool,
    pub(super) ad: bool,
    pub(super) cd: bool,
}

#[derive(Debug)]
pub(super) struct Step {
    pub(super) n: u32,
    pub(super) line: usize,
    pub(super) kind: StepKind,
}

#[derive(Debug)]
pub(super) enum StepKind {
    Query(Entry),
    CheckAnswer(Entry),
    CheckOutQuery(Entry),
    Reply(Entry),
    Error,
    Timeout,
    /// Seconds (testbound allows fractions).
    TimePasses(f64),
    Nothing,
}

/// A parse error: the line and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub(super) struct RplError {
    pub(super) line: usize,
    pub(super) reason: String,
}

fn err<T>(line: usize, reason: impl Into<String>) -> Result<T, RplError> {
    Err(RplError {
        line,
        reason: reason.into(),
    })
}

/// Lines without comments and blank lines, numbered from 1.
struct Lines<'a> {
    lines: Vec<(usize, &'a str)>,
    at: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Lines<'a> {
        let lines = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, l.trim()))
            .filter(|(_, l)| !l.is_empty() && !l.starts_with(';') && !l.starts_with('#'))
            .collect();
        Lines { lines, at: 0 }
    }

    fn next(&mut self) -> Option<(usize, &'a str)> {
        let l = self.lines.get(self.at).copied();
        self.at += 1;
        l
    }

    fn last_line(&self) -> usize {
        self.lines.last().map_or(0, |(n, _)| *n)
    }
}

/// A keyword line's words, up to a trailing comment (record lines go to the zone parser,
/// which knows quoted strings, instead).
fn keywords(line: &str) -> Vec<&str> {
    line.split_whitespace()
        .take_while(|w| !w.starts_with(';') && !w.starts_with('#'))
        .collect()
}

/// Parses a scenario's text.
pub(super) fn parse(text: &str) -> Result<Scenario, RplError> {
    let mut lines = Lines::new(text);
    let config = parse_config(&mut lines)?;
    let mut scenario = Scenario {
        config,
        ranges: Vec::new(),
        steps: Vec::new(),
    };
    while let Some((n, line)) = lines.next() {
        let words = keywords(line);
        match words[0] {
            "SCENARIO_BEGIN" => {}
            "SCENARIO_END" => return Ok(scenario),
            "RANGE_BEGIN" => scenario.ranges.push(parse_range(n, &words, &mut lines)?),
            "STEP" => scenario.steps.push(parse_step(n, &words, &mut lines)?),
            other => return err(n, format!("unexpected {other}")),
        }
    }
    err(lines.last_line(), "no SCENARIO_END")
}

/// Splits a config line into words, keeping quoted strings whole (without the quotes).
fn config_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut rest = line;
    loop {
        rest = rest.trim_start();
        if rest.is_empty() || rest.starts_with('#') {
            return words;
        }
        if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            words.push(quoted[..end].to_string());
            rest = quoted.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            words.push(rest[..end].to_string());
            rest = &rest[end..];
        }
    }
}

/// The CONFIG block (everything before CONFIG_END): Unbound's `key: value` syntax, several
/// pairs to a line allowed; a key without a value opens a clause.
fn parse_config(lines: &mut Lines<'_>) -> Result<Vec<Setting>, RplError> {
    let mut settings = Vec::new();
    let mut clause = String::from("server");
    let mut counts: Vec<(String, usize)> = Vec::new();
    let mut clause_no = 0;
    while let Some((n, line)) = lines.next() {
        if line == "CONFIG_END" {
            return Ok(settings);
        }
        let words = config_words(line);
        let mut i = 0;
        while i < words.len() {
            let Some(key) = words[i].strip_suffix(':') else {
                return err(n, format!("expected `key:`, found {}", words[i]));
            };
            let value: Vec<&str> = words[i + 1..]
                .iter()
                .take_while(|w| !w.ends_with(':') || w.contains(' '))
                .map(String::as_str)
                .collect();
            i += 1 + value.len();
            if value.is_empty() {
                clause = key.to_string();
                clause_no = match counts.iter_mut().find(|(c, _)| *c == clause) {
                    Some((_, seen)) => {
                        *seen += 1;
                        *seen
                    }
                    None => {
                        counts.push((clause.clone(), 0));
                        0
                    }
                };
                continue;
            }
            settings.push(Setting {
                clause: clause.clone(),
                clause_no,
                key: key.to_string(),
                value: value.join(" "),
            });
        }
    }
    err(lines.last_line(), "no CONFIG_END")
}

fn number<T: std::str::FromStr>(n: usize, word: Option<&&str>) -> Result<T, RplError> {
    match word.and_then(|w| w.parse().ok()) {
        Some(v) => Ok(v),
        None => err(n, format!("expected a number, found {word:?}")),
    }
}

fn parse_range(n: usize, words: &[&str], lines: &mut Lines<'_>) -> Result<Range, RplError> {
    let mut range = Range {
        start: number(n, words.get(1))?,
        end: number(n, words.get(2))?,
        addresses: Vec::new(),
        entries: Vec::new(),
    };
    while let Some((n, line)) = lines.next() {
        let words = keywords(line);
        match words[0] {
            "RANGE_END" => return Ok(range),
            "ADDRESS" => match words.get(1).and_then(|a| a.parse().ok()) {
                Some(a) => range.addresses.push(a),
                None => return err(n, "bad ADDRESS"),
            },
            "ENTRY_BEGIN" => range.entries.push(parse_entry(n, lines)?),
            other => return err(n, format!("unexpected {other} in a range")),
        }
    }
    err(n, "no RANGE_END")
}

fn parse_step(n: usize, words: &[&str], lines: &mut Lines<'_>) -> Result<Step, RplError> {
    let number = number(n, words.get(1))?;
    let kind = words.get(2).copied().unwrap_or("");
    let mut entry = || -> Result<Entry, RplError> {
        match lines.next() {
            Some((at, "ENTRY_BEGIN")) => parse_entry(at, lines),
            _ => err(n, format!("STEP {kind} without an entry")),
        }
    };
    let kind = match (kind, words.len()) {
        ("QUERY", 3) => StepKind::Query(entry()?),
        ("CHECK_ANSWER", 3) => StepKind::CheckAnswer(entry()?),
        ("CHECK_OUT_QUERY", 3) => StepKind::CheckOutQuery(entry()?),
        ("REPLY", 3) => StepKind::Reply(entry()?),
        ("ERROR", 3) => StepKind::Error,
        ("TIMEOUT", 3) => StepKind::Timeout,
        ("NOTHING", 3) => StepKind::Nothing,
        ("TIME_PASSES", 5) if words[3] == "ELAPSE" => {
            StepKind::TimePasses(self::number(n, words.get(4))?)
        }
        _ => return err(n, format!("unsupported step: {}", words.join(" "))),
    };
    Ok(Step {
        n: number,
        line: n,
        kind,
    })
}

#[derive(Clone, Copy)]
enum Section {
    None,
    Question,
    Answer,
    Authority,
    Additional,
}

fn parse_entry(start: usize, lines: &mut Lines<'_>) -> Result<Entry, RplError> {
    let mut e = Entry {
        line: start,
        ..Entry::default()
    };
    let mut section = Section::None;
    while let Some((n, line)) = lines.next() {
        let words = keywords(line);
        match words[0] {
            "ENTRY_END" => return Ok(e),
            "MATCH" => words[1..]
                .iter()
                .try_for_each(|w| match_word(n, w, &mut e))?,
            "ADJUST" => {
                for w in &words[1..] {
                    match *w {
                        "copy_id" => e.copy_id = true,
                        "copy_query" => e.copy_query = true,
                        _ => return err(n, format!("unsupported ADJUST {w}")),
                    }
                }
            }
            "REPLY" => words[1..]
                .iter()
                .try_for_each(|w| reply_word(n, w, &mut e))?,
            "SECTION" => {
                section = match words.get(1).copied() {
                    Some("QUESTION") => Section::Question,
                    Some("ANSWER") => Section::Answer,
                    Some("AUTHORITY") => Section::Authority,
                    Some("ADDITIONAL") => Section::Additional,
                    _ => return err(n, "unknown SECTION"),
                }
            }
            _ => match section {
                Section::None => return err(n, format!("unexpected {}", words[0])),
                Section::Question => e.question.push(question(n, &words)?),
                Section::Answer => e.answer.push(record(n, line)?),
                Section::Authority => e.authority.push(record(n, line)?),
                Section::Additional => e.additional.push(record(n, line)?),
            },
        }
    }
    err(start, "no ENTRY_END")
}

fn match_word(n: usize, word: &str, e: &mut Entry) -> Result<(), RplError> {
    let m = &mut e.matches;
    match word {
        "opcode" => m.opcode = true,
        "qtype" => m.qtype = true,
        "qname" => m.qname = true,
        "subdomain" => m.subdomain = true,
        "rcode" => m.rcode = true,
        "question" => m.question = true,
        "answer" => m.answer = true,
        "all" => m.all = true,
        "ttl" => m.ttl = true,
        "flags" => m.flags = true,
        "TCP" => m.tcp = Some(true),
        "UDP" => m.tcp = Some(false),
        _ => return err(n, format!("unsupported MATCH {word}")),
    }
    Ok(())
}

fn reply_word(n: usize, word: &str, e: &mut Entry) -> Result<(), RplError> {
    let f = &mut e.flags;
    match word {
        "QR" => f.qr = true,
        "AA" => f.aa = true,
        "TC" => f.tc = true,
        "RD" => f.rd = true,
        "RA" => f.ra = true,
        "AD" => f.ad = true,
        "CD" => f.cd = true,
        "DO" => e.dnssec_ok = true,
        "QUERY" => e.opcode = Some(OpCode::Query),
        "NOERROR" => e.rcode = Some(ResponseCode::NoError),
        "FORMERR" => e.rcode = Some(ResponseCode::FormErr),
        "SERVFAIL" => e.rcode = Some(ResponseCode::ServFail),
        "NXDOMAIN" => e.rcode = Some(ResponseCode::NXDomain),
        "NOTIMPL" => e.rcode = Some(ResponseCode::NotImp),
        "REFUSED" => e.rcode = Some(ResponseCode::Refused),
        _ => return err(n, format!("unsupported REPLY {word}")),
    }
    Ok(())
}

/// A question line: `name [class] type`.
fn question(n: usize, words: &[&str]) -> Result<(Name, RecordType), RplError> {
    let (name, rest) = words.split_first().unwrap_or((&"", &[]));
    let rtype = match rest {
        [t] | ["IN", t] => t,
        _ => return err(n, "question is `name [IN] type`"),
    };
    let name = Name::from_ascii(name).or_else(|e| err(n, format!("bad name {name}: {e}")))?;
    let rtype = rtype
        .parse()
        .or_else(|_| err(n, format!("bad type {rtype}")))?;
    Ok((name, rtype))
}

/// A record line in zone-file syntax; testbound's default TTL is 3600.
fn record(n: usize, line: &str) -> Result<Record, RplError> {
    let text = format!("$TTL 3600\n{line}\n");
    let records = parse_zone_text(&text, Path::new("scenario"), Some(&Name::root()))
        .or_else(|e| err(n, e.to_string()))?;
    match records.into_iter().next() {
        Some(located) => Ok(located.record),
        None => err(n, "no record"),
    }
}
