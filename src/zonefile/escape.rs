//! RFC 1035 §5.1 escapes that hickory-proto 0.26 gets wrong, put right before its parser sees
//! the record: `\DDD` is a *decimal* octet, which hickory's name parser reads as octal (`\065`
//! became `5`, not `A`) and its quoted-string lexer as `d1<<16 | d2<<8 | d3`; and it keeps the
//! backslashes of an unquoted TXT string and has no 255-octet check on one (a longer string
//! then fails to encode at answer time). So names and quoted strings get their `\DDD` turned
//! into a form hickory reads correctly, and TXT RDATA is read here whole, as octets.

use hickory_proto::rr::RData;
use hickory_proto::rr::rdata::TXT;

/// RFC 1035 §3.3: a <character-string> is a length octet and at most 255 octets.
const MAX_CHARACTER_STRING: usize = 255;

/// Reads the three digits of a `\DDD` escape (the backslash already taken), if they are there.
fn decimal(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<Result<u8, String>> {
    let mut probe = chars.clone();
    let digits: String = (0..3).map_while(|_| probe.next()).collect();
    if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    *chars = probe;
    Some(
        digits
            .parse::<u16>()
            .ok()
            .and_then(|v| u8::try_from(v).ok())
            .ok_or_else(|| format!("escape \\{digits} is above 255")),
    )
}

/// Rewrites every `\DDD` escape of `text` (one record, comments and parentheses gone) into
/// what hickory-proto reads as the same octet: outside quotes (names) `\X` for a printable
/// character; inside quotes the character itself (`\"`, `\\` for those two). An octet hickory
/// cannot carry that way (a space or control octet in a name, a non-ASCII octet) is refused
/// rather than silently read as another one.
pub(super) fn decimal_escapes(text: &str) -> Result<String, String> {
    if !text.contains('\\') {
        return Ok(text.to_string());
    }
    let mut out = String::with_capacity(text.len());
    let mut in_quote = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match decimal(&mut chars) {
                Some(octet) => {
                    let octet = octet?;
                    let ch = char::from(octet);
                    match (in_quote, octet) {
                        (_, b'"' | b'\\') => {
                            out.push('\\');
                            out.push(ch);
                        }
                        (false, 0x21..=0x7e) => {
                            out.push('\\');
                            out.push(ch);
                        }
                        (true, 0x00..=0x7f) => out.push(ch),
                        _ => {
                            return Err(format!(
                                "escape \\{octet:03} is not supported here (only printable \
                                 ASCII in names and ASCII in quoted strings)"
                            ));
                        }
                    }
                }
                None => {
                    out.push('\\');
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
            },
            '"' => {
                in_quote = !in_quote;
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// TXT RDATA (RFC 1035 §3.3.14) from its presentation form: one or more <character-string>s,
/// each quoted or a run of non-blank characters, with `\X` and decimal `\DDD` escapes.
pub(super) fn txt_rdata(text: &str) -> Result<RData, String> {
    let mut strings: Vec<Vec<u8>> = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(first) = chars.next() else { break };
        let quoted = first == '"';
        let mut octets = Vec::new();
        let mut pending = (!quoted).then_some(first);
        let mut closed = false;
        loop {
            let c = match pending.take() {
                Some(c) => c,
                None => match chars.next() {
                    Some(c) => c,
                    None => break,
                },
            };
            match c {
                '"' if quoted => {
                    closed = true;
                    break;
                }
                c if !quoted && c.is_whitespace() => break,
                '\\' => match decimal(&mut chars) {
                    Some(octet) => octets.push(octet?),
                    None => {
                        let Some(n) = chars.next() else {
                            return Err("TXT string ends in a lone backslash".to_string());
                        };
                        let mut buf = [0; 4];
                        octets.extend_from_slice(n.encode_utf8(&mut buf).as_bytes());
                    }
                },
                c => {
                    let mut buf = [0; 4];
                    octets.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        if quoted && !closed {
            return Err("unterminated quoted string".to_string());
        }
        if octets.len() > MAX_CHARACTER_STRING {
            return Err(format!(
                "TXT string of {} octets is longer than 255 (RFC 1035 §3.3); split it into \
                 several quoted strings",
                octets.len()
            ));
        }
        strings.push(octets);
    }
    if strings.is_empty() {
        return Err("TXT record without any string".to_string());
    }
    Ok(RData::TXT(TXT::from_bytes(
        strings.iter().map(Vec::as_slice).collect(),
    )))
}
