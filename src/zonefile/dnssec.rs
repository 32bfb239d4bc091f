//! The presentation format of the DNSSEC record types (RFC 4034 §§2.2, 3.2, 4.2, 5.3;
//! RFC 5155 §§3.3, 4.3; RFC 7344 §3 for CDS and CDNSKEY), which hickory-proto's zone parser
//! refuses ("should be dynamically generated"). A zone signed offline by `dnssec-signzone` or
//! `ldns-signzone` carries them, so the loader reads them here: the text becomes the RDATA's
//! wire form, which hickory decodes, so what is served is byte for byte what was signed.

use std::str::FromStr;

use hickory_proto::dnssec::Algorithm;
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_proto::serialize::binary::{BinDecoder, BinEncodable, Restrict};

use crate::base64;

/// The types read here rather than by hickory-proto (DS it reads itself).
pub(super) fn is_dnssec_type(token: &str) -> Option<RecordType> {
    let t = RecordType::from_str(&token.to_ascii_uppercase()).ok()?;
    matches!(
        t,
        RecordType::DNSKEY
            | RecordType::CDNSKEY
            | RecordType::CDS
            | RecordType::NSEC
            | RecordType::NSEC3
            | RecordType::NSEC3PARAM
            | RecordType::RRSIG
    )
    .then_some(t)
}

/// The RDATA of a `rtype` record from its presentation-format fields; relative names (the
/// RRSIG signer, the NSEC next name) are completed with `origin`.
pub(super) fn rdata(
    rtype: RecordType,
    fields: &[&str],
    origin: Option<&Name>,
) -> Result<RData, String> {
    let mut wire = Vec::new();
    let mut f = Fields(fields.iter());
    match rtype {
        RecordType::DNSKEY | RecordType::CDNSKEY => {
            wire.extend(f.number::<u16>("flags")?.to_be_bytes());
            wire.push(f.number::<u8>("protocol")?);
            wire.push(algorithm(f.next("algorithm")?)?);
            wire.extend(base64::decode(&f.rest("public key")?)?);
        }
        RecordType::CDS => {
            wire.extend(f.number::<u16>("key tag")?.to_be_bytes());
            wire.push(algorithm(f.next("algorithm")?)?);
            wire.push(f.number::<u8>("digest type")?);
            wire.extend(hex(&f.rest("digest")?)?);
        }
        RecordType::RRSIG => {
            wire.extend(u16::from(type_code(f.next("type covered")?)?).to_be_bytes());
            wire.push(algorithm(f.next("algorithm")?)?);
            wire.push(f.number::<u8>("labels")?);
            wire.extend(f.number::<u32>("original TTL")?.to_be_bytes());
            wire.extend(time(f.next("signature expiration")?)?.to_be_bytes());
            wire.extend(time(f.next("signature inception")?)?.to_be_bytes());
            wire.extend(f.number::<u16>("key tag")?.to_be_bytes());
            wire.extend(name(f.next("signer's name")?, origin)?);
            wire.extend(base64::decode(&f.rest("signature")?)?);
        }
        RecordType::NSEC => {
            wire.extend(name(f.next("next domain name")?, origin)?);
            wire.extend(type_bitmap(f.0.by_ref())?);
        }
        RecordType::NSEC3 | RecordType::NSEC3PARAM => {
            wire.push(f.number::<u8>("hash algorithm")?);
            wire.push(f.number::<u8>("flags")?);
            wire.extend(f.number::<u16>("iterations")?.to_be_bytes());
            let salt = match f.next("salt")? {
                "-" => Vec::new(),
                text => hex(text)?,
            };
            wire.push(u8::try_from(salt.len()).map_err(|_| "salt longer than 255 octets")?);
            wire.extend(salt);
            if rtype == RecordType::NSEC3 {
                let next =
                    crate::dnssec::base32::decode(f.next("next hashed owner name")?.as_bytes())
                        .ok_or("next hashed owner name is not base32hex")?;
                wire.push(u8::try_from(next.len()).map_err(|_| "next hashed owner too long")?);
                wire.extend(next);
                wire.extend(type_bitmap(f.0.by_ref())?);
            }
        }
        other => return Err(format!("{other} is not a DNSSEC type read here")),
    }
    if rtype == RecordType::NSEC3PARAM && f.0.len() > 0 {
        return Err("NSEC3PARAM has trailing fields".to_string());
    }
    let length = u16::try_from(wire.len()).map_err(|_| "RDATA longer than 65535 octets")?;
    let mut decoder = BinDecoder::new(&wire);
    RData::read(&mut decoder, rtype, Restrict::new(length)).map_err(|e| format!("{rtype}: {e}"))
}

/// The fields of one record's RDATA, taken in order.
struct Fields<'a, 'b>(std::slice::Iter<'a, &'b str>);

impl<'b> Fields<'_, 'b> {
    fn next(&mut self, what: &str) -> Result<&'b str, String> {
        self.0
            .next()
            .copied()
            .ok_or_else(|| format!("{what} missing"))
    }

    fn number<T: FromStr>(&mut self, what: &str) -> Result<T, String> {
        let text = self.next(what)?;
        text.parse().map_err(|_| format!("bad {what}: {text}"))
    }

    /// The remaining fields joined: base64 and hex may be split by white space.
    fn rest(&mut self, what: &str) -> Result<String, String> {
        let joined: String = self.0.by_ref().copied().collect();
        if joined.is_empty() {
            return Err(format!("{what} missing"));
        }
        Ok(joined)
    }
}

/// RFC 4034 §§2.2, 3.2, 5.3: the algorithm number, or its mnemonic (Appendix A.1).
fn algorithm(text: &str) -> Result<u8, String> {
    if let Ok(n) = text.parse() {
        return Ok(n);
    }
    (0..=u8::MAX)
        .find(|&n| Algorithm::from_u8(n).as_str().eq_ignore_ascii_case(text))
        .filter(|&n| !matches!(Algorithm::from_u8(n), Algorithm::Unknown(_)))
        .ok_or_else(|| format!("bad algorithm: {text}"))
}

fn name(text: &str, origin: Option<&Name>) -> Result<Vec<u8>, String> {
    let mut n = Name::parse(text, origin).map_err(|e| format!("bad name {text}: {e}"))?;
    if !n.is_fqdn() {
        if origin.is_none() {
            return Err(format!("{text} is relative and no origin is known"));
        }
        n.set_fqdn(true);
    }
    // One name alone: nothing to compress against (RFC 4034 §§3.1.7, 4.1.1 forbid it).
    n.to_bytes().map_err(|e| format!("bad name {text}: {e}"))
}

/// A type mnemonic, or the generic `TYPEnnn` (RFC 3597 §5).
fn type_code(text: &str) -> Result<RecordType, String> {
    let upper = text.to_ascii_uppercase();
    if let Some(code) = upper.strip_prefix("TYPE")
        && let Ok(code) = code.parse::<u16>()
    {
        return Ok(RecordType::from(code));
    }
    RecordType::from_str(&upper).map_err(|_| format!("unknown type {text}"))
}

/// RFC 4034 §4.1.2: the type bit maps, one window per 256 types, trailing zero octets left
/// out.
fn type_bitmap<'a, 'b: 'a>(fields: impl Iterator<Item = &'a &'b str>) -> Result<Vec<u8>, String> {
    let mut codes: Vec<u16> = fields
        .map(|t| type_code(t).map(u16::from))
        .collect::<Result<_, _>>()?;
    codes.sort_unstable();
    codes.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < codes.len() {
        let window = codes[i] >> 8;
        let mut bits = [0u8; 32];
        let mut used = 0;
        while i < codes.len() && codes[i] >> 8 == window {
            let low = usize::from(codes[i] & 0xff);
            bits[low / 8] |= 0x80 >> (low % 8);
            used = low / 8 + 1;
            i += 1;
        }
        out.push(window as u8);
        out.push(used as u8);
        out.extend_from_slice(&bits[..used]);
    }
    Ok(out)
}

/// RFC 4034 §3.2: `YYYYMMDDHHmmSS` in UTC, or seconds since the epoch; kept modulo 2^32
/// (RFC 1982 serial arithmetic is how validators compare them).
fn time(text: &str) -> Result<u32, String> {
    let bad = || format!("bad signature time {text}");
    if text.len() == 14 && text.bytes().all(|b| b.is_ascii_digit()) {
        let part = |r: std::ops::Range<usize>| text[r].parse::<i64>().map_err(|_| bad());
        let (y, mo, d) = (part(0..4)?, part(4..6)?, part(6..8)?);
        let (h, mi, s) = (part(8..10)?, part(10..12)?, part(12..14)?);
        if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
            return Err(bad());
        }
        let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s;
        return Ok(secs as u32);
    }
    text.parse::<u32>().map_err(|_| bad())
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits: {text}"));
    }
    digits
        .chunks(2)
        .map(|pair| {
            let s = std::str::from_utf8(pair).map_err(|_| "bad hex")?;
            u8::from_str_radix(s, 16).map_err(|_| format!("bad hex: {text}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use hickory_proto::dnssec::rdata::DNSSECRData;

    use super::*;

    fn parse(rtype: RecordType, text: &str) -> RData {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let origin = Name::from_ascii("example.test.").expect("origin");
        rdata(rtype, &fields, Some(&origin)).expect("parses")
    }

    #[test]
    fn rrsig_round_trips_through_its_presentation_form() {
        let text = "NSEC3 13 3 60 20270105193424 20261206193424 14447 signed.test. \
                    HWXEuLb56elfk1I7otCrdc3ETM4KE+elXjIm UhqK7bAaKO7PdkgC1eckcCpR1Z7oNsZp/zHi \
                    yo97tNfuB7xUog==";
        let RData::DNSSEC(DNSSECRData::RRSIG(sig)) = parse(RecordType::RRSIG, text) else {
            panic!("an RRSIG");
        };
        assert_eq!(sig.input().type_covered, RecordType::NSEC3);
        assert_eq!(sig.input().num_labels, 3);
        assert_eq!(sig.input().key_tag, 14447);
        // 2027-01-05 19:34:24 UTC (`date -u -d "2027-01-05 19:34:24" +%s`).
        assert_eq!(sig.input().sig_expiration.get(), 1_799_177_664);
        assert_eq!(sig.sig().len(), 64);
        // hickory prints it back in a form this parser reads to the same RDATA.
        let parsed = RData::DNSSEC(DNSSECRData::RRSIG(sig));
        assert_eq!(parse(RecordType::RRSIG, &parsed.to_string()), parsed);
    }

    #[test]
    fn nsec_and_nsec3_keep_their_type_maps_and_hashes() {
        let RData::DNSSEC(DNSSECRData::NSEC(nsec)) =
            parse(RecordType::NSEC, "www A AAAA RRSIG NSEC TYPE65534")
        else {
            panic!("an NSEC");
        };
        assert_eq!(nsec.next_domain_name().to_ascii(), "www.example.test.");
        let types: Vec<RecordType> = nsec.type_bit_maps().collect();
        assert_eq!(types.len(), 5);
        assert!(types.contains(&RecordType::Unknown(65534)));

        let text = "1 1 0 AABBCCDD 7GFFQHDSQKBP1JP8LBK8HA4V1M2H086T NS DS RRSIG";
        let RData::DNSSEC(DNSSECRData::NSEC3(nsec3)) = parse(RecordType::NSEC3, text) else {
            panic!("an NSEC3");
        };
        assert!(nsec3.opt_out());
        assert_eq!(nsec3.salt(), &[0xaa, 0xbb, 0xcc, 0xdd]);
        assert_eq!(nsec3.next_hashed_owner_name().len(), 20);
        assert_eq!(
            nsec3.next_hashed_owner_name(),
            crate::dnssec::base32::decode(b"7gffqhdsqkbp1jp8lbk8ha4v1m2h086t").expect("base32hex")
        );
        let param = parse(RecordType::NSEC3PARAM, "1 0 10 -");
        assert!(
            matches!(param, RData::DNSSEC(DNSSECRData::NSEC3PARAM(p)) if p.iterations() == 10 && p.salt().is_empty())
        );
    }

    #[test]
    fn dnskey_and_bad_input() {
        let key = "257 3 13 X8GhGn25SqaDwKTBGpWLVtl7ovLMma6JboHa 1SCUDxd6NfMqDzgHeJiR4p/bam701yw0f3Vz GrdiFjMDO8iAgA==";
        let RData::DNSSEC(DNSSECRData::DNSKEY(k)) = parse(RecordType::DNSKEY, key) else {
            panic!("a DNSKEY");
        };
        assert_eq!(k.calculate_key_tag().expect("tag"), 17190);
        let origin = Name::from_ascii("example.test.").expect("origin");
        for (t, text) in [
            (RecordType::DNSKEY, "257 3"),
            (
                RecordType::RRSIG,
                "A 13 2 300 20271399000000 2026 1 example.test. AAAA",
            ),
            (RecordType::NSEC3, "1 0 0 - NOT-BASE32 A"),
            (RecordType::NSEC, "www. BOGUS"),
        ] {
            let fields: Vec<&str> = text.split_whitespace().collect();
            assert!(rdata(t, &fields, Some(&origin)).is_err(), "{text}");
        }
    }

    #[test]
    fn codecs() {
        assert_eq!(hex("0aFF").expect("ok"), vec![10, 255]);
        assert_eq!(time("19700101000010").expect("ok"), 10);
        assert_eq!(time("4294967295").expect("ok"), u32::MAX);
    }
}
