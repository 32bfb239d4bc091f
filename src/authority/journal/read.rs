//! Reading a journal back: splitting it into lines, checking each entry's framing, telling a
//! torn last entry from corruption, and reading the records of the good ones.

use std::path::Path;

use hickory_proto::rr::Name;

use super::format::{
    EntryHeader, crc32, parse_end_line, parse_entry_header, parse_file_header, parse_record,
};
use super::{Entry, EntryKind, JournalError};
use crate::authority::update::Diff;
use crate::zonefile::Location;

/// One line of the file: its number, where it starts, its bytes without the `\n`, and whether
/// the `\n` is there (a cut write's last line has none).
struct Line<'a> {
    no: usize,
    start: usize,
    bytes: &'a [u8],
    terminated: bool,
}

impl Line<'_> {
    fn text(&self) -> Option<&str> {
        std::str::from_utf8(self.bytes).ok()
    }
}

fn split_lines(data: &[u8]) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let (bytes, terminated) = match data[start..].iter().position(|&b| b == b'\n') {
            Some(n) => (&data[start..start + n], true),
            None => (&data[start..], false),
        };
        lines.push(Line {
            no: lines.len() + 1,
            start,
            bytes,
            terminated,
        });
        start += bytes.len() + usize::from(terminated);
    }
    lines
}

/// An entry whose framing is intact, its record lines not yet read.
struct Framed<'a> {
    /// Index of the header line in the file's lines.
    header: usize,
    head: EntryHeader,
    records: Vec<&'a Line<'a>>,
}

/// What is wrong with an entry's framing, and on which line it showed.
struct Defect {
    line: usize,
    reason: String,
}

/// Reads the entries after the file header. Returns them and the length of the file that
/// holds them (shorter than `data` when a torn last entry is to be cut off).
pub(super) fn read_entries(
    data: &[u8],
    path: &Path,
    origin: &Name,
) -> Result<(Vec<Entry>, usize), JournalError> {
    let corrupt = |line: usize, reason: String| JournalError::Corrupt {
        at: Location {
            file: path.to_path_buf(),
            line,
        },
        reason,
    };
    let lines = split_lines(data);
    let first = lines.first().filter(|l| l.terminated).and_then(Line::text);
    match first.and_then(parse_file_header) {
        Some(zone) if zone == *origin => {}
        Some(zone) => {
            return Err(JournalError::WrongZone {
                path: path.to_path_buf(),
                found: Box::new(zone),
                expected: Box::new(origin.clone()),
            });
        }
        None => return Err(corrupt(1, "not a tern journal".to_string())),
    }
    let mut entries: Vec<Entry> = Vec::new();
    let mut i = 1;
    while i < lines.len() {
        let framed = match frame(data, &lines, i) {
            Ok(f) => f,
            Err(defect) => {
                let entry_follows = lines[i + 1..]
                    .iter()
                    .any(|l| l.terminated && l.text().and_then(parse_entry_header).is_some());
                if entry_follows {
                    return Err(corrupt(defect.line, defect.reason));
                }
                return Ok((entries, lines[i].start));
            }
        };
        let head = framed.head;
        if let Some(last) = entries.last()
            && !super::follows(head.from, last.to_serial)
        {
            let reason = format!(
                "entry from serial {} is before the previous entry's {}",
                head.from, last.to_serial
            );
            return Err(corrupt(lines[framed.header].no, reason));
        }
        let mut diff = Diff::default();
        let mut delta: Option<Diff> = (head.kind == EntryKind::Snapshot).then(Diff::default);
        for line in &framed.records {
            let text = line.text().unwrap_or_default();
            let (sign, rest) = text.split_at(1);
            // An UPDATE's own lines belong to UPDATEs; a snapshot only adds.
            let allowed = match head.kind {
                EntryKind::Update => true,
                EntryKind::Step => sign == "<" || sign == ">",
                EntryKind::Snapshot => sign == ">",
            };
            if !allowed {
                let reason = format!("a {:?} entry carries no `{sign}` lines", head.kind);
                return Err(corrupt(line.no, reason));
            }
            let record = parse_record(rest.trim_start(), origin)
                .map_err(|reason| corrupt(line.no, reason))?;
            match sign {
                "-" => diff.removed.push(record),
                "+" => diff.added.push(record),
                "<" => delta.get_or_insert_with(Diff::default).removed.push(record),
                _ => delta.get_or_insert_with(Diff::default).added.push(record),
            }
        }
        entries.push(Entry {
            kind: head.kind,
            from_serial: head.from,
            to_serial: head.to,
            diff,
            content: head.content,
            delta,
        });
        // The header, the record lines, the end line.
        i = framed.header + framed.records.len() + 2;
    }
    Ok((entries, data.len()))
}

/// Checks the framing of the entry whose header should be `lines[i]`: header, record lines,
/// end line with the right count and checksum, every line complete.
fn frame<'a>(data: &[u8], lines: &'a [Line<'a>], i: usize) -> Result<Framed<'a>, Defect> {
    let defect = |line: &Line<'_>, reason: &str| Defect {
        line: line.no,
        reason: reason.to_string(),
    };
    let head = &lines[i];
    let header = head
        .text()
        .filter(|_| head.terminated)
        .and_then(parse_entry_header)
        .ok_or_else(|| {
            defect(
                head,
                "expected `; tern journal entry|step|snapshot FROM -> TO [content DIGEST]`",
            )
        })?;
    let mut records = Vec::new();
    for line in &lines[i + 1..] {
        let Some(text) = line.text().filter(|_| line.terminated) else {
            return Err(defect(line, "cut or undecodable line"));
        };
        if ["- ", "+ ", "< ", "> "]
            .iter()
            .any(|sign| text.starts_with(sign))
        {
            records.push(line);
            continue;
        }
        let Some((count, crc)) = parse_end_line(text) else {
            return Err(defect(
                line,
                "expected a record line or `; end N records crc32 X`",
            ));
        };
        if count != records.len() {
            let reason = format!("the entry has {} record lines, not {count}", records.len());
            return Err(Defect {
                line: line.no,
                reason,
            });
        }
        if crc32(&data[head.start..line.start]) != crc {
            let reason = format!("checksum mismatch in the entry from line {}", head.no);
            return Err(Defect {
                line: line.no,
                reason,
            });
        }
        return Ok(Framed {
            header: i,
            head: header,
            records,
        });
    }
    let last = lines.last().unwrap_or(head);
    Err(defect(last, "the entry has no end line"))
}
