//! The lexical syntax of named.conf(5), as far as key files use it: words, quoted strings,
//! braces and semicolons, three comment styles; and the base64 of a key's secret. Every token
//! keeps its line, so errors can say where they are.

/// A problem and the line it is on.
pub(super) type Located = (usize, String);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Kind {
    /// A bare word or a quoted string: named.conf treats them alike where a value is expected.
    Word(String),
    Open,
    Close,
    Semicolon,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) kind: Kind,
    pub(super) line: usize,
}

pub(super) fn tokenize(text: &str) -> Result<Vec<Token>, Located> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            c if c.is_whitespace() => {}
            '#' => skip_line(&mut chars, &mut line),
            '/' if chars.peek() == Some(&'/') => skip_line(&mut chars, &mut line),
            '/' if chars.peek() == Some(&'*') => {
                let opened = line;
                chars.next();
                let mut star = false;
                loop {
                    match chars.next() {
                        None => return Err((opened, "unterminated /* comment".to_string())),
                        Some('/') if star => break,
                        Some(c) => {
                            line += usize::from(c == '\n');
                            star = c == '*';
                        }
                    }
                }
            }
            '{' => tokens.push(Token {
                kind: Kind::Open,
                line,
            }),
            '}' => tokens.push(Token {
                kind: Kind::Close,
                line,
            }),
            ';' => tokens.push(Token {
                kind: Kind::Semicolon,
                line,
            }),
            '"' => {
                let opened = line;
                let mut word = String::new();
                loop {
                    match chars.next() {
                        None => return Err((opened, "unterminated quoted string".to_string())),
                        Some('"') => break,
                        // named.conf: a backslash makes the next character literal.
                        Some('\\') => match chars.next() {
                            Some(escaped) => word.push(escaped),
                            None => return Err((opened, "unterminated quoted string".to_string())),
                        },
                        Some(c) => {
                            line += usize::from(c == '\n');
                            word.push(c);
                        }
                    }
                }
                tokens.push(Token {
                    kind: Kind::Word(word),
                    line: opened,
                });
            }
            c => {
                let mut word = c.to_string();
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || matches!(next, '{' | '}' | ';' | '"' | '#') {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                tokens.push(Token {
                    kind: Kind::Word(word),
                    line,
                });
            }
        }
    }
    Ok(tokens)
}

fn skip_line(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, line: &mut usize) {
    for c in chars.by_ref() {
        if c == '\n' {
            *line += 1;
            return;
        }
    }
}

pub(super) fn show(kind: &Kind) -> String {
    match kind {
        Kind::Word(word) => format!("`{word}`"),
        Kind::Open => "`{`".to_string(),
        Kind::Close => "`}`".to_string(),
        Kind::Semicolon => "`;`".to_string(),
    }
}

/// RFC 4648 §4 base64 with padding, as key files carry secrets.
pub(super) fn encode_base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// RFC 4648 §4 base64, padding required, whitespace ignored (named.conf allows a secret to be
/// split). `None` for anything else.
pub(super) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits, mut symbols, mut padding) = (0u32, 0u32, 0usize, 0usize);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        symbols += 1;
        if c == b'=' {
            padding += 1;
            continue;
        }
        if padding > 0 {
            return None;
        }
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (symbols % 4 == 0 && padding <= 2).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips() {
        assert_eq!(encode_base64(b""), "");
        assert_eq!(encode_base64(b"x"), "eA==");
        assert_eq!(encode_base64(b"xy"), "eHk=");
        assert_eq!(encode_base64(b"secret"), "c2VjcmV0");
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..bytes.len() {
            let text = encode_base64(&bytes[..len]);
            assert_eq!(decode_base64(&text).as_deref(), Some(&bytes[..len]));
        }
    }

    #[test]
    fn base64_is_strict_about_padding() {
        assert_eq!(decode_base64("c2VjcmV0").as_deref(), Some(&b"secret"[..]));
        assert_eq!(decode_base64("eA==").as_deref(), Some(&b"x"[..]));
        assert_eq!(decode_base64("eHk=").as_deref(), Some(&b"xy"[..]));
        assert_eq!(decode_base64("eA="), None);
        assert_eq!(decode_base64("e==="), None);
        assert_eq!(decode_base64("eA==eA=="), None);
        assert_eq!(decode_base64("eA-_"), None);
    }

    #[test]
    fn tokens_keep_their_lines() {
        let tokens = tokenize("a # x\n\"b\nc\" /* d\n */ ; // e\n}").expect("lexes");
        let seen: Vec<(Kind, usize)> = tokens.into_iter().map(|t| (t.kind, t.line)).collect();
        assert_eq!(
            seen,
            [
                (Kind::Word("a".into()), 1),
                (Kind::Word("b\nc".into()), 2),
                (Kind::Semicolon, 4),
                (Kind::Close, 5),
            ]
        );
    }
}
