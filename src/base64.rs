//! RFC 4648 §4 base64, for TSIG secrets (key files, named.conf) and for the keys and signatures
//! of DNSSEC records in zone files (RFC 4034 §§2.2, 3.2); and §5 base64url, for the `dns`
//! parameter of DNS over HTTPS GET requests (RFC 8484 §4.1). Small enough to own rather than
//! add a crate for.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `bytes` with padding, as key files carry secrets.
pub(crate) fn encode(bytes: &[u8]) -> String {
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

/// The bytes `text` spells; white space is skipped, and up to two `=` may end it. The length
/// is not checked: zone files are read as leniently as BIND reads them, and a caller that
/// wants padding (RFC 4648 §3.2) counts the symbols itself.
pub(crate) fn decode(text: &str) -> Result<Vec<u8>, String> {
    let symbols: Vec<u8> = text.bytes().filter(|c| !c.is_ascii_whitespace()).collect();
    let padding = symbols.iter().rev().take_while(|&&c| c == b'=').count();
    if padding > 2 {
        return Err("bad base64 padding".to_string());
    }
    let body = &symbols[..symbols.len() - padding];
    let mut out = Vec::with_capacity(body.len() / 4 * 3 + 2);
    // Four symbols carry three bytes; a shorter last group carries one byte fewer than it has
    // symbols.
    for group in body.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in group.iter().enumerate() {
            n |= u32::from(value(c)?) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..group.len()]);
    }
    Ok(out)
}

/// The bytes `text` spells in base64url without padding (RFC 8484 §4.1), strictly: no white
/// space, no `=`, and no length that leaves a lone symbol (it would carry no whole byte). A
/// URL is not a zone file: what a client did not mean exactly is refused.
pub(crate) fn decode_url(text: &str) -> Result<Vec<u8>, String> {
    let symbols = text.as_bytes();
    if symbols.len() % 4 == 1 {
        return Err("bad base64url length".to_string());
    }
    let mut out = Vec::with_capacity(symbols.len() / 4 * 3 + 2);
    for group in symbols.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in group.iter().enumerate() {
            let v = match c {
                b'-' => 62,
                b'_' => 63,
                b'+' | b'/' => return Err(format!("bad base64url character {:?}", char::from(c))),
                _ => {
                    value(c).map_err(|_| format!("bad base64url character {:?}", char::from(c)))?
                }
            };
            n |= u32::from(v) << (18 - 6 * i);
        }
        out.extend_from_slice(&n.to_be_bytes()[1..group.len()]);
    }
    Ok(out)
}

fn value(c: u8) -> Result<u8, String> {
    match c {
        b'A'..=b'Z' => Ok(c - b'A'),
        b'a'..=b'z' => Ok(c - b'a' + 26),
        b'0'..=b'9' => Ok(c - b'0' + 52),
        b'+' => Ok(62),
        b'/' => Ok(63),
        _ => Err(format!("bad base64 character {:?}", char::from(c))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"x"), "eA==");
        assert_eq!(encode(b"xy"), "eHk=");
        assert_eq!(encode(b"secret"), "c2VjcmV0");
        let bytes: Vec<u8> = (0..=255).collect();
        for len in 0..bytes.len() {
            let text = encode(&bytes[..len]);
            assert_eq!(decode(&text).as_deref(), Ok(&bytes[..len]));
        }
    }

    #[test]
    fn padding_may_only_end_it_and_may_be_left_out() {
        assert_eq!(decode("AQID"), Ok(vec![1, 2, 3]));
        assert_eq!(decode("AQ=="), Ok(vec![1]));
        assert_eq!(decode("AQ"), Ok(vec![1]));
        assert_eq!(decode("AQ I\nD"), Ok(vec![1, 2, 3]));
        assert_eq!(decode("AQ==="), Err("bad base64 padding".to_string()));
        assert_eq!(
            decode("AQ==AQ=="),
            Err("bad base64 character '='".to_string())
        );
        assert_eq!(decode("eA-_"), Err("bad base64 character '-'".to_string()));
    }

    /// base64url is base64 with `-_` for `+/` and no padding; each length that carries whole
    /// bytes decodes, a lone last symbol does not.
    #[test]
    fn url_decoding_is_strict() {
        let bytes: Vec<u8> = (0..=255).rev().collect();
        for len in 0..bytes.len() {
            let text = encode(&bytes[..len])
                .trim_end_matches('=')
                .replace('+', "-")
                .replace('/', "_");
            assert_eq!(decode_url(&text).as_deref(), Ok(&bytes[..len]), "{text}");
        }
        assert_eq!(decode_url("-_8"), Ok(vec![0xfb, 0xff]));
        assert!(decode_url("AQ==").is_err(), "padding");
        assert!(
            decode_url("+/8").is_err(),
            "the standard alphabet's symbols"
        );
        assert!(decode_url("AQ I").is_err(), "white space");
        assert!(decode_url("AQIDB").is_err(), "a lone last symbol");
        assert!(decode_url("%41Q").is_err(), "percent-encoding");
    }
}
