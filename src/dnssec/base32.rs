//! Base32 with the extended hex alphabet, no padding (RFC 4648 §7): how NSEC3 owner names
//! spell a hash (RFC 5155 §3.3). Small enough to own rather than add a crate for.

const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// Lower-case base32hex of `bytes`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The bytes a base32hex label spells, either case; `None` for anything else, including
/// leftover bits that are not zero (so one hash has one spelling).
pub(crate) fn decode(text: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in text {
        let v = match c.to_ascii_lowercase() {
            d @ b'0'..=b'9' => d - b'0',
            l @ b'a'..=b'v' => l - b'a' + 10,
            _ => return None,
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (acc == 0 && bits < 5).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_test_vectors_round_trip() {
        // RFC 4648 §10, BASE32-HEX, without padding and in lower case.
        for (plain, coded) in [
            ("", ""),
            ("f", "co"),
            ("fo", "cpng"),
            ("foo", "cpnmu"),
            ("foob", "cpnmuog"),
            ("fooba", "cpnmuoj1"),
            ("foobar", "cpnmuoj1e8"),
        ] {
            assert_eq!(encode(plain.as_bytes()), coded);
            assert_eq!(decode(coded.as_bytes()).unwrap(), plain.as_bytes());
            assert_eq!(
                decode(coded.to_uppercase().as_bytes()).unwrap(),
                plain.as_bytes()
            );
        }
        // RFC 5155 Appendix A: H(example) = 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom
        let h = decode(b"0p9mhaveqvm6t7vbl5lop2u3t2rp3tom").unwrap();
        assert_eq!(h.len(), 20);
        assert_eq!(encode(&h), "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom");
    }

    #[test]
    fn rejects_what_is_not_base32hex() {
        assert!(decode(b"w").is_none());
        assert!(decode(b"c-").is_none());
        // "cp" leaves two non-zero bits: not the spelling of any byte string
        assert!(decode(b"cp").is_none());
    }
}
