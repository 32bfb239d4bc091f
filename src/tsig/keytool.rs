//! `tern key`: making a key file and writing a key in Knot's form. BIND's `tsig-keygen` is in
//! neither `bind9-dnsutils` nor `bind9-utils` on Debian 12, and Knot's `knsupdate -k` reads
//! only `algorithm:name:secret` lines, not BIND's `key "…" { … };` blocks; so tern writes both.

use std::path::Path;

use hickory_proto::rr::Name;

use super::keyfile::{KeyFileError, parse_algorithm, read_key_file};
use super::{Key, TsigAlgorithm};

/// A new key file in BIND's format (what `tsig-keygen -a ALGORITHM NAME` writes, which tern,
/// `nsupdate -k` and BIND read): a random secret as long as the algorithm's MAC (RFC 8945 §6).
pub fn generate(name: &str, algorithm: &str) -> Result<String, String> {
    let algorithm = parse_algorithm(algorithm)?;
    let name = Name::from_ascii(name)
        .map_err(|e| format!("{name:?} is not a key name (a domain name): {e}"))?;
    let len = super::mac_len(&algorithm)
        .ok_or_else(|| format!("algorithm {} is not supported", algorithm_name(&algorithm)))?;
    let mut secret = vec![0u8; len];
    rand::fill(&mut secret[..]);
    // Built as a Key first: what is written is exactly what tern will read back.
    let key = Key::new(name, algorithm, secret).map_err(|e| e.to_string())?;
    Ok(bind_block(&key))
}

/// Every key of a BIND key file as a Knot key line (`knsupdate -k FILE`, or `-y LINE`).
pub fn knot_lines(path: &Path) -> Result<String, KeyFileError> {
    Ok(read_key_file(path)?
        .iter()
        .map(|key| {
            format!(
                "{}:{}:{}\n",
                algorithm_name(key.algorithm()),
                bare(key.name()),
                crate::base64::encode(key.signer().key())
            )
        })
        .collect())
}

fn bind_block(key: &Key) -> String {
    format!(
        "key \"{}\" {{\n\talgorithm {};\n\tsecret \"{}\";\n}};\n",
        bare(key.name()),
        algorithm_name(key.algorithm()),
        crate::base64::encode(key.signer().key())
    )
}

/// The name as people write it in key files: without the root's trailing dot.
fn bare(name: &Name) -> String {
    let text = name.to_ascii();
    text.strip_suffix('.').map(str::to_owned).unwrap_or(text)
}

/// The algorithm as key files spell it (RFC 8945 §6, without the trailing dot).
fn algorithm_name(algorithm: &TsigAlgorithm) -> String {
    bare(&algorithm.to_name())
}

#[cfg(test)]
mod tests {
    use super::super::keyfile::parse_keys;
    use super::*;

    #[test]
    fn a_generated_file_reads_back_with_a_fresh_secret_of_the_macs_length() {
        for (alg, len) in [
            ("hmac-sha256", 32),
            ("hmac-sha384", 48),
            ("hmac-sha512", 64),
        ] {
            let text = generate("cluster-key", alg).expect("generates");
            assert!(text.starts_with("key \"cluster-key\" {\n"), "{text}");
            assert!(text.contains(&format!("\talgorithm {alg};\n")), "{text}");
            let keys = parse_keys(&text, Path::new("gen.key")).expect("reads back");
            assert_eq!(keys.len(), 1);
            assert_eq!(keys[0].name().to_ascii(), "cluster-key.");
            assert_eq!(keys[0].signer().key().len(), len, "{alg}");
            assert_ne!(
                text,
                generate("cluster-key", alg).expect("again"),
                "fresh secret"
            );
        }
    }

    #[test]
    fn a_bad_name_or_algorithm_is_refused_with_the_reason() {
        let err = generate("cluster-key", "hmac-md5").expect_err("md5");
        assert!(err.contains("not supported"), "{err}");
        let err = generate("a..b", "hmac-sha256").expect_err("empty label");
        assert!(err.contains("a..b"), "{err}");
    }

    #[test]
    fn knot_lines_carry_the_same_secret_as_the_bind_file() {
        let dir = std::env::temp_dir().join(format!("tern-keytool-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("two.key");
        let bind = "key \"a-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"rA0vYkUtMYbHyasRqZjFKV7wWJrYcXs2xJ0C9Rk0u0o=\";\n};\n\
                    key \"b.example\" {\n\talgorithm hmac-sha512;\n\tsecret \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\";\n};\n";
        std::fs::write(&file, bind).expect("write");
        assert_eq!(
            knot_lines(&file).expect("reads"),
            "hmac-sha256:a-key:rA0vYkUtMYbHyasRqZjFKV7wWJrYcXs2xJ0C9Rk0u0o=\n\
             hmac-sha512:b.example:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n"
        );
        let err = knot_lines(&dir.join("missing.key")).expect_err("no file");
        assert!(err.to_string().contains("missing.key"), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
