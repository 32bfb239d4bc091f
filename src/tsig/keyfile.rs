//! BIND key files, as `tsig-keygen` (and `ddns-confgen`) write them and `nsupdate -k` reads them:
//!
//! ```text
//! key "cluster-key" {
//!     algorithm hmac-sha256;
//!     secret "base64…";
//! };
//! ```
//!
//! Several `key` statements per file; names and values quoted or not; `#`, `//` and `/* */`
//! comments and whitespace anywhere (named.conf(5) syntax). Errors say `file:line: reason`.

use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;

use super::lex::{Kind, Located, Token, decode_base64, show, tokenize};
use super::{Key, TsigAlgorithm};

/// A key file that cannot be read or used. Displays as `file:line: reason`.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}: {reason}", file.display())]
    Syntax {
        file: PathBuf,
        line: usize,
        reason: String,
    },
}

/// Reads every key in a BIND key file.
pub(crate) fn read_key_file(path: &Path) -> Result<Vec<Key>, KeyFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_keys(&text, path)
}

/// Parses key-file text as if read from `file` (named in errors). A file without any key is an
/// error: it is certainly not what the operator meant to point at.
pub fn parse_keys(text: &str, file: &Path) -> Result<Vec<Key>, KeyFileError> {
    let fail = |line: usize, reason: String| KeyFileError::Syntax {
        file: file.to_path_buf(),
        line,
        reason,
    };
    let tokens = tokenize(text).map_err(|(line, reason)| fail(line, reason))?;
    let mut parser = Parser { tokens, next: 0 };
    let mut keys: Vec<(Key, usize)> = Vec::new();
    while let Some(token) = parser.peek() {
        let line = token.line;
        let key = parser
            .key_statement()
            .map_err(|(line, reason)| fail(line, reason))?;
        if let Some((_, first)) = keys.iter().find(|(k, _)| k.name() == key.name()) {
            let reason = format!("key {} already defined on line {first}", key.name());
            return Err(fail(line, reason));
        }
        keys.push((key, line));
    }
    if keys.is_empty() {
        return Err(fail(1, "no key statement in file".to_string()));
    }
    Ok(keys.into_iter().map(|(key, _)| key).collect())
}

struct Parser {
    tokens: Vec<Token>,
    next: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.next)
    }

    /// The next token, or an error on the last line seen.
    fn take(&mut self, wanted: &str) -> Result<Token, Located> {
        match self.tokens.get(self.next) {
            Some(token) => {
                self.next += 1;
                Ok(token.clone())
            }
            None => {
                let line = self.tokens.last().map_or(1, |t| t.line);
                Err((line, format!("unexpected end of file, expected {wanted}")))
            }
        }
    }

    fn expect(&mut self, kind: &Kind, wanted: &str) -> Result<(), Located> {
        let token = self.take(wanted)?;
        if token.kind == *kind {
            Ok(())
        } else {
            Err((
                token.line,
                format!("expected {wanted}, found {}", show(&token.kind)),
            ))
        }
    }

    fn word(&mut self, wanted: &str) -> Result<(String, usize), Located> {
        let token = self.take(wanted)?;
        match token.kind {
            Kind::Word(word) => Ok((word, token.line)),
            other => Err((
                token.line,
                format!("expected {wanted}, found {}", show(&other)),
            )),
        }
    }

    /// `key NAME { algorithm ALG; secret "BASE64"; };`
    fn key_statement(&mut self) -> Result<Key, Located> {
        let (keyword, line) = self.word("`key`")?;
        if !keyword.eq_ignore_ascii_case("key") {
            return Err((line, format!("expected `key`, found `{keyword}`")));
        }
        let (name_text, name_line) = self.word("a key name")?;
        let name = Name::from_ascii(&name_text)
            .ok()
            .filter(|name| !name.is_root())
            .ok_or_else(|| (name_line, format!("bad key name {name_text:?}")))?;
        self.expect(&Kind::Open, "`{`")?;

        let mut algorithm = None;
        let mut secret = None;
        loop {
            let token = self.take("`}`")?;
            let clause = match token.kind {
                Kind::Close => break,
                Kind::Word(word) => word,
                other => {
                    return Err((
                        token.line,
                        format!("expected a clause, found {}", show(&other)),
                    ));
                }
            };
            let (value, value_line) = self.word(&format!("a value for `{clause}`"))?;
            self.expect(&Kind::Semicolon, "`;`")?;
            let slot = match clause.to_ascii_lowercase().as_str() {
                "algorithm" => {
                    let parsed = parse_algorithm(&value).map_err(|e| (value_line, e))?;
                    algorithm.replace(parsed).map(|_| ())
                }
                "secret" => {
                    let bytes = decode_base64(&value)
                        .filter(|bytes| !bytes.is_empty())
                        .ok_or_else(|| (value_line, "secret is not valid base64".to_string()))?;
                    secret.replace(bytes).map(|_| ())
                }
                _ => return Err((token.line, format!("unknown clause `{clause}` in key"))),
            };
            if slot.is_some() {
                return Err((token.line, format!("`{clause}` given twice")));
            }
        }
        self.expect(&Kind::Semicolon, "`;` after `}`")?;

        let algorithm =
            algorithm.ok_or_else(|| (line, format!("key {name_text:?} has no algorithm")))?;
        let secret = secret.ok_or_else(|| (line, format!("key {name_text:?} has no secret")))?;
        Key::new(name, algorithm, secret).map_err(|e| (line, e.to_string()))
    }
}

/// The algorithm names of RFC 8945 §6 Table 3, without case. Only those hickory implements are
/// accepted: a key we cannot use should stop the server at start, not fail every request.
pub(super) fn parse_algorithm(text: &str) -> Result<TsigAlgorithm, String> {
    let lower = text.to_ascii_lowercase();
    let lower = lower.strip_suffix('.').unwrap_or(&lower);
    match lower {
        "hmac-sha256" => Ok(TsigAlgorithm::HmacSha256),
        "hmac-sha384" => Ok(TsigAlgorithm::HmacSha384),
        "hmac-sha512" => Ok(TsigAlgorithm::HmacSha512),
        "hmac-md5"
        | "hmac-md5.sig-alg.reg.int"
        | "hmac-sha1"
        | "hmac-sha224"
        | "hmac-sha256-128"
        | "hmac-sha384-192"
        | "hmac-sha512-256" => Err(format!(
            "algorithm {text} is not supported (use hmac-sha256, hmac-sha384 or hmac-sha512)"
        )),
        _ => Err(format!("unknown algorithm {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `tsig-keygen cluster-key` output, byte for byte (BIND 9.18).
    const KEYGEN: &str = "key \"cluster-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"rA0vYkUtMYbHyasRqZjFKV7wWJrYcXs2xJ0C9Rk0u0o=\";\n};\n";

    fn generate(name: &str) -> String {
        super::super::keytool::generate(name, "hmac-sha256").expect("generates")
    }

    fn parse(text: &str) -> Result<Vec<Key>, KeyFileError> {
        parse_keys(text, Path::new("keys.conf"))
    }

    fn error(text: &str) -> String {
        match parse(text) {
            Ok(keys) => panic!("parsed {keys:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn tsig_keygen_output_parses() {
        let text = match keygen_output() {
            Some(text) => text,
            None => KEYGEN.to_string(),
        };
        let keys = parse(&text).expect("tsig-keygen output");
        assert_eq!(keys.len(), 1);
        assert_eq!(
            keys[0].name(),
            &Name::from_ascii("cluster-key.").expect("name")
        );
        assert_eq!(keys[0].algorithm(), &TsigAlgorithm::HmacSha256);
        assert_eq!(keys[0].signer().key().len(), 32);
    }

    #[test]
    fn generated_key_files_look_like_tsig_keygen_and_differ() {
        let text = generate("cluster-key");
        let secret = |text: &str| text.split('"').nth(3).map(str::to_string);
        let fixed = secret(KEYGEN).expect("KEYGEN has a secret");
        let generated = secret(&text).expect("a secret");
        assert_eq!(text.replace(&generated, &fixed), KEYGEN);
        let keys = parse(&text).expect("parses");
        assert_eq!(keys[0].signer().key().len(), 32);
        assert_ne!(Some(generated), secret(&generate("cluster-key")));
    }

    /// The real tool's output when it is installed (Debian bind9 / bind9-utils).
    fn keygen_output() -> Option<String> {
        let out = std::process::Command::new("tsig-keygen")
            .arg("cluster-key")
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    #[test]
    fn several_keys_comments_and_odd_spacing() {
        let text = "# made by hand\n\
            key \"a.example\" { algorithm hmac-sha256; secret \"c2VjcmV0\"; };\n\
            // second key, unquoted name and algorithm in quotes\n\
            key b.example{algorithm \"HMAC-SHA512\";/* inline */secret\n\"c2Vj cmV0\n  MQ==\";}\n;\n\
            /* a\n block\n comment */ key c { algorithm hmac-sha384; secret \"eA==\"; };";
        let keys = parse(text).expect("parses");
        let names: Vec<String> = keys.iter().map(|k| k.name().to_string()).collect();
        assert_eq!(names, ["a.example.", "b.example.", "c."]);
        assert_eq!(keys[1].algorithm(), &TsigAlgorithm::HmacSha512);
        assert_eq!(keys[1].signer().key(), b"secret1");
        assert_eq!(keys[2].signer().key(), b"x");
    }

    #[test]
    fn errors_name_file_and_line() {
        let cases = [
            (
                "key \"k\" {\n\talgorithm hmac-sha256;\n};\n",
                "keys.conf:1: key \"k\" has no secret",
            ),
            (
                "key \"k\" {\n\tsecret \"c2VjcmV0\";\n};\n",
                "keys.conf:1: key \"k\" has no algorithm",
            ),
            (
                "\nkey \"k\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2V*cmV0\";\n};\n",
                "keys.conf:4: secret is not valid base64",
            ),
            (
                "key \"k\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV\";\n};\n",
                "keys.conf:3: secret is not valid base64",
            ),
            (
                "key \"k\" {\n\talgorithm hmac-whirlpool;\n\tsecret \"c2VjcmV0\";\n};\n",
                "keys.conf:2: unknown algorithm \"hmac-whirlpool\"",
            ),
            (
                "key \"k\" {\n\talgorithm hmac-md5;\n\tsecret \"c2VjcmV0\";\n};\n",
                "keys.conf:2: algorithm hmac-md5 is not supported",
            ),
            (
                "key \"k\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0\";\n}\n",
                "keys.conf:4: unexpected end of file, expected `;` after `}`",
            ),
            (
                "key \"k\" {\n\talgorithm hmac-sha256\n\tsecret \"c2VjcmV0\";\n};\n",
                "keys.conf:3: expected `;`, found `secret`",
            ),
            (
                "options { };\n",
                "keys.conf:1: expected `key`, found `options`",
            ),
            (
                "key \"k\" {\n\tsecret \"c2VjcmV0\n",
                "keys.conf:2: unterminated quoted string",
            ),
            ("/* nothing\n", "keys.conf:1: unterminated /* comment"),
            (
                "# only a comment\n",
                "keys.conf:1: no key statement in file",
            ),
            (
                "key k { algorithm hmac-sha256; secret \"eA==\"; };\n\
                 key K. { algorithm hmac-sha256; secret \"eA==\"; };\n",
                "keys.conf:2: key K. already defined on line 1",
            ),
            (
                "key k {\n algorithm hmac-sha256;\n algorithm hmac-sha256;\n secret \"eA==\"; };",
                "keys.conf:3: `algorithm` given twice",
            ),
            (
                "key k {\n algorithm hmac-sha256;\n secret \"eA==\";\n owner me; };",
                "keys.conf:4: unknown clause `owner` in key",
            ),
        ];
        for (text, want) in cases {
            let got = error(text);
            assert!(got.starts_with(want), "{text:?}\n got: {got}\nwant: {want}");
        }
    }

    #[test]
    fn read_key_file_names_a_missing_file() {
        let e = read_key_file(Path::new("/nonexistent/tern.key")).expect_err("missing");
        assert!(
            e.to_string()
                .starts_with("/nonexistent/tern.key: cannot read"),
            "{e}"
        );
    }

    #[test]
    fn the_secret_stays_out_of_debug_output() {
        let keys = parse(KEYGEN).expect("parses");
        let shown = format!("{keys:?}");
        assert!(
            shown.contains("cluster-key") && shown.contains("redacted"),
            "{shown}"
        );
        assert!(
            !shown.contains("rA0v") && !shown.contains("172, 13"),
            "{shown}"
        );
    }
}
