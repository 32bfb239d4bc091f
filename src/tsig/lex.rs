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

/// A secret in base64 (RFC 4648 §4) with its padding, which `crate::base64` leaves to the
/// caller: white space ignored (named.conf allows a secret to be split). `None` for anything
/// else.
pub(super) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let symbols = text.bytes().filter(|c| !c.is_ascii_whitespace()).count();
    crate::base64::decode(text)
        .ok()
        .filter(|_| symbols.is_multiple_of(4))
}

#[cfg(test)]
mod tests {
    use super::*;

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
