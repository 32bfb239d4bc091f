//! Splitting master-file text into logical records (RFC 1035 §5.1), keeping the line each
//! starts on; hickory-proto parses the record text itself.

use std::str::FromStr;

use hickory_proto::rr::DNSClass;
use hickory_proto::serialize::txt::parse_ttl;

/// Finds the TYPE field of a record: the first field after the owner that is neither a TTL
/// nor a class (RFC 1035 §5.1 allows them in either order). Returns its byte offset and text.
pub(super) fn type_token(text: &str, blank_owner: bool) -> Option<(usize, &str)> {
    let base = text.as_ptr() as usize;
    text.split_whitespace()
        .skip(usize::from(!blank_owner))
        .find(|tok| {
            parse_ttl(tok).is_err() && DNSClass::from_str(&tok.to_ascii_uppercase()).is_err()
        })
        .map(|tok| (tok.as_ptr() as usize - base, tok))
}

/// One record or directive, joined onto a single line with comments and parentheses removed.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct LogicalRecord {
    pub(super) line: usize,
    pub(super) blank_owner: bool,
    pub(super) text: String,
}

/// Splits master-file text into logical records (RFC 1035 §5.1: parentheses continue a record
/// over line breaks; `;` starts a comment outside quotes; `\` escapes the next character).
pub(super) fn split_records(text: &str) -> Vec<Result<LogicalRecord, (usize, String)>> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut start_line = 1;
    let mut cur = String::new();
    let mut blank_owner = false;
    let mut at_line_start = true;
    let mut depth = 0usize;
    let mut in_quote = false;
    let mut in_comment = false;
    let mut chars = text.chars().peekable();
    let flush = |cur: &mut String, start_line: usize, blank: bool, out: &mut Vec<_>| {
        let t = cur.trim();
        if !t.is_empty() {
            out.push(Ok(LogicalRecord {
                line: start_line,
                blank_owner: blank,
                text: t.to_string(),
            }));
        }
        cur.clear();
    };
    while let Some(c) = chars.next() {
        if at_line_start && depth == 0 && cur.trim().is_empty() {
            start_line = line;
            blank_owner = c == ' ' || c == '\t';
        }
        at_line_start = false;
        if c == '\n' {
            line += 1;
            at_line_start = true;
            in_comment = false;
            if in_quote {
                out.push(Err((line - 1, "unterminated quoted string".to_string())));
                in_quote = false;
                depth = 0;
                cur.clear();
                continue;
            }
            if depth == 0 {
                flush(&mut cur, start_line, blank_owner, &mut out);
            } else {
                cur.push(' ');
            }
            continue;
        }
        if in_comment || c == '\r' {
            continue;
        }
        match c {
            '\\' => {
                cur.push(c);
                if let Some(&n) = chars.peek()
                    && n != '\n'
                {
                    cur.push(n);
                    chars.next();
                }
            }
            '"' => {
                in_quote = !in_quote;
                cur.push(c);
            }
            _ if in_quote => cur.push(c),
            ';' => in_comment = true,
            '(' => {
                depth += 1;
                cur.push(' ');
            }
            ')' => {
                if depth == 0 {
                    out.push(Err((line, "unbalanced ')'".to_string())));
                } else {
                    depth -= 1;
                }
                cur.push(' ');
            }
            _ => cur.push(c),
        }
    }
    if in_quote {
        out.push(Err((start_line, "unterminated quoted string".to_string())));
    } else if depth > 0 {
        out.push(Err((
            start_line,
            "unbalanced '(' at end of file".to_string(),
        )));
    } else {
        flush(&mut cur, start_line, blank_owner, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_multiline_records_and_tracks_lines() {
        let text = "$TTL 60\n\
                    @ IN SOA ns1 host (\n  1 ; serial\n  2 3 4 5 )\n\
                    \twww A 192.0.2.1 ; comment\n\
                    \t  TXT \"a ; not a comment\" \"(\"\n";
        let recs: Vec<_> = split_records(text)
            .into_iter()
            .map(|r| r.expect("ok"))
            .collect();
        assert_eq!(recs.len(), 4);
        assert_eq!(recs[1].line, 2);
        assert!(!recs[1].blank_owner);
        assert_eq!(recs[2].line, 5);
        assert!(recs[2].blank_owner);
        assert_eq!(recs[3].text, "TXT \"a ; not a comment\" \"(\"");
    }
}
