//! Cached records in wire form. A decoded `Record` is 272 bytes before its names and RDATA
//! reach the heap; an A record on the wire is 14 bytes after its owner. The cache keeps each
//! RRset (and each negative answer's SOA) as one buffer of RFC 1035 §4.1.3 records without
//! their TTLs, the owner written once, and decodes on the way out; the per-entry cost beyond the
//! wire size is then the LRU node and the key (`tests/bench/cache_memory.rs` measures it).
//!
//! Layout: one byte saying whether the owner follows (0: the owner is the key's name; 1: its
//! wire form follows, for an owner in another case than the lowercased key, or a SOA owned
//! by the zone apex), then per record TYPE, CLASS, RDLENGTH and RDATA. Names inside RDATA may
//! be compressed against earlier names of the same buffer, exactly as in a message, so an NS
//! set costs its suffixes once.

use std::net::IpAddr;

use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder};

/// Records of one owner, encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireSet(Box<[u8]>);

const OWNER_IS_KEY: u8 = 0;
const OWNER_FOLLOWS: u8 = 1;

impl WireSet {
    /// Encodes `records`, which must share one owner (compared without case); `key_owner` is
    /// the key's lowercased wire name, which the owner is not written again for when equal.
    /// `None` for an empty set, mixed owners, or RDATA hickory cannot encode.
    pub(super) fn encode(records: &[Record], key_owner: &[u8]) -> Option<WireSet> {
        let owner = &records.first()?.name;
        // Names compare without case.
        if records[1..]
            .iter()
            .any(|r| !crate::wire::same_name(&r.name, owner))
        {
            return None;
        }
        let owner_is_key = crate::wire::spelled(owner, key_owner);
        if owner_is_key && let Some(set) = Self::encode_addresses(records) {
            return Some(set);
        }
        Self::encode_general(records, owner, owner_is_key)
    }

    /// An address set (A and AAAA records) owned by the key's name, written directly: the
    /// bytes hickory's encoder writes for it (no owner, no names in the data) without its
    /// encoder's setup, a third of storing a miss's answer. `None` for any other set.
    fn encode_addresses(records: &[Record]) -> Option<WireSet> {
        let mut len = 1;
        for r in records {
            len += 6 + match &r.data {
                RData::A(_) => 4,
                RData::AAAA(_) => 16,
                _ => return None,
            };
        }
        let mut buf = Vec::with_capacity(len);
        buf.push(OWNER_IS_KEY);
        for r in records {
            let data: &[u8] = match &r.data {
                RData::A(a) => &a.0.octets(),
                RData::AAAA(a) => &a.0.octets(),
                _ => return None,
            };
            buf.extend_from_slice(&u16::from(r.record_type()).to_be_bytes());
            buf.extend_from_slice(&u16::from(r.dns_class).to_be_bytes());
            buf.extend_from_slice(&u16::try_from(data.len()).ok()?.to_be_bytes());
            buf.extend_from_slice(data);
        }
        Some(WireSet(buf.into_boxed_slice()))
    }

    /// [`WireSet::encode`] through hickory's encoder: any RDATA, names in it compressed.
    fn encode_general(records: &[Record], owner: &Name, owner_is_key: bool) -> Option<WireSet> {
        let mut buf = Vec::with_capacity(64);
        let mut encoder = BinEncoder::new(&mut buf);
        if owner_is_key {
            encoder.emit(OWNER_IS_KEY).ok()?;
        } else {
            encoder.emit(OWNER_FOLLOWS).ok()?;
            owner.emit(&mut encoder).ok()?;
        }
        for r in records {
            encoder.emit_u16(r.record_type().into()).ok()?;
            encoder.emit_u16(r.dns_class.into()).ok()?;
            let len = encoder.place::<u16>().ok()?;
            let start = encoder.offset();
            r.data.emit(&mut encoder).ok()?;
            let n = u16::try_from(encoder.offset() - start).ok()?;
            len.replace(&mut encoder, n).ok()?;
        }
        Some(WireSet(buf.into_boxed_slice()))
    }

    /// The records back, owned by `key_owner` unless the set names its own, each with `ttl`.
    /// `None` if the buffer does not decode (it always does: it was encoded here).
    pub(super) fn decode(&self, key_owner: impl FnOnce() -> Name, ttl: u32) -> Option<Vec<Record>> {
        let mut decoder = BinDecoder::new(&self.0);
        let owner = match decoder.read_u8().ok()?.unverified() {
            OWNER_IS_KEY => key_owner(),
            _ => Name::read(&mut decoder).ok()?,
        };
        let mut out = Vec::with_capacity(count_records(self.0.get(decoder.index()..)?));
        while !decoder.is_empty() {
            let rtype = RecordType::from(decoder.read_u16().ok()?.unverified());
            let class = DNSClass::from(decoder.read_u16().ok()?.unverified());
            let len = decoder.read_u16().ok()?.unverified();
            let data = crate::rr::read::read_rdata(&mut decoder, rtype, len).ok()?;
            let mut record = Record::from_rdata(owner.clone(), ttl, data);
            record.dns_class = class;
            out.push(record);
        }
        Some(out)
    }

    /// The targets of the NS records in the set, each with its lowercase wire form (for the
    /// keys of its addresses), read without decoding anything else (no owner, no records).
    /// `None` if the buffer does not decode.
    pub(super) fn ns_targets(&self) -> Option<Vec<(Name, Box<[u8]>)>> {
        let mut decoder = BinDecoder::new(&self.0);
        if decoder.read_u8().ok()?.unverified() != OWNER_IS_KEY {
            Name::read(&mut decoder).ok()?;
        }
        let mut out = Vec::with_capacity(count_records(self.0.get(decoder.index()..)?));
        while !decoder.is_empty() {
            let rtype = RecordType::from(decoder.read_u16().ok()?.unverified());
            decoder.read_u16().ok()?;
            let len = usize::from(decoder.read_u16().ok()?.unverified());
            let end = decoder.index() + len;
            if rtype == RecordType::NS {
                // Read from the whole buffer: the name may point back into it.
                let wire = flat_lowercase(&self.0, decoder.index())?;
                out.push((Name::read(&mut decoder).ok()?, wire));
            }
            let skip = end.checked_sub(decoder.index())?;
            decoder.read_slice(skip).ok()?;
        }
        Some(out)
    }

    /// The A and AAAA addresses in the set, read without decoding anything else.
    pub(super) fn addresses(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let mut at = match self.0.first() {
            Some(&OWNER_IS_KEY) => Some(1),
            // An owner of its own: skip it through the decoder.
            _ => {
                let mut decoder = BinDecoder::new(&self.0);
                let _ = decoder.read_u8();
                Name::read(&mut decoder).ok().map(|_| decoder.index())
            }
        };
        std::iter::from_fn(move || {
            loop {
                let i = at?;
                let head = self.0.get(i..i + 6)?;
                let rtype = u16::from_be_bytes([head[0], head[1]]);
                let len = usize::from(u16::from_be_bytes([head[4], head[5]]));
                let rdata = self.0.get(i + 6..i + 6 + len)?;
                at = Some(i + 6 + len);
                match (RecordType::from(rtype), rdata.len()) {
                    (RecordType::A, 4) => {
                        let b: [u8; 4] = rdata.try_into().ok()?;
                        return Some(IpAddr::from(b));
                    }
                    (RecordType::AAAA, 16) => {
                        let b: [u8; 16] = rdata.try_into().ok()?;
                        return Some(IpAddr::from(b));
                    }
                    _ => {}
                }
            }
        })
    }

    /// Bytes of the buffer.
    pub(super) fn len(&self) -> usize {
        self.0.len()
    }
}

/// The name at `at` in `buf` in lowercase wire form, its compression pointers followed, each
/// only backwards (so they cannot loop). `None` for a name that does not walk cleanly.
fn flat_lowercase(buf: &[u8], at: usize) -> Option<Box<[u8]>> {
    crate::wire::lowercase_into(buf, at, &mut [0; 256]).map(Box::from)
}

/// How many records `records` (TYPE, CLASS, RDLENGTH, RDATA each) holds: the room to decode
/// them into, taken at once (an NS set grew its vector record by record).
fn count_records(records: &[u8]) -> usize {
    let (mut at, mut count) = (0, 0);
    while let Some(len) = records.get(at + 4..at + 6) {
        at += 6 + usize::from(u16::from_be_bytes([len[0], len[1]]));
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SOA, TXT};

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn lower_wire(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        let mut e = BinEncoder::new(&mut v);
        name(&s.to_ascii_lowercase()).emit(&mut e).expect("emit");
        v
    }

    fn round_trip(records: Vec<Record>, key: &str) -> (WireSet, Vec<Record>) {
        let set = WireSet::encode(&records, &lower_wire(key)).expect("encodes");
        let back = set.decode(|| name(key), 300).expect("decodes");
        (set, back)
    }

    #[test]
    fn rrsets_come_back_as_they_went_in_with_the_ttl_given() {
        let owner = name("www.alpha.test.");
        let records = vec![
            Record::from_rdata(owner.clone(), 60, RData::A(A::new(192, 0, 2, 1))),
            Record::from_rdata(owner.clone(), 60, RData::A(A::new(192, 0, 2, 2))),
        ];
        let (set, back) = round_trip(records.clone(), "www.alpha.test.");
        assert_eq!(
            set.len(),
            1 + 2 * (6 + 4),
            "owner not written, TTLs not kept"
        );
        // Addresses are written directly, as hickory's encoder writes them.
        let mut mixed = records.clone();
        mixed.push(Record::from_rdata(
            owner.clone(),
            60,
            RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ));
        let direct = WireSet::encode_addresses(&mixed).expect("addresses");
        assert_eq!(
            Some(direct),
            WireSet::encode_general(&mixed, &owner, true),
            "as hickory writes them"
        );
        let want: Vec<Record> = records
            .into_iter()
            .map(|mut r| {
                r.ttl = 300;
                r
            })
            .collect();
        assert_eq!(back, want);
    }

    #[test]
    fn names_in_rdata_are_compressed_and_decode_whole() {
        let owner = name("alpha.test.");
        let ns: Vec<Record> = ["ns1.alpha.test.", "ns2.alpha.test.", "ns3.alpha.test."]
            .iter()
            .map(|n| Record::from_rdata(owner.clone(), 60, RData::NS(NS(name(n)))))
            .collect();
        let (set, back) = round_trip(ns.clone(), "alpha.test.");
        assert!(
            set.len() < 1 + 3 * (6 + 16),
            "{} bytes: not compressed",
            set.len()
        );
        assert_eq!(
            back.iter().map(|r| &r.data).collect::<Vec<_>>(),
            ns.iter().map(|r| &r.data).collect::<Vec<_>>()
        );
        // Read in place, the compressed targets come back whole, case and all, with their
        // lowercase wire forms.
        let targets: Vec<Name> = crate::rr::ns_targets(&ns);
        let read = set.ns_targets().expect("decodes");
        assert_eq!(read.len(), 3);
        for ((got, wire), want) in read.iter().zip(&targets) {
            assert!(got.eq_case(want), "{got} {want}");
            assert_eq!(&wire[..], &lower_wire(&want.to_ascii())[..], "{want}");
        }
        let other = Record::from_rdata(owner.clone(), 1, RData::A(A::new(192, 0, 2, 1)));
        let (set, _) = round_trip(vec![other], "alpha.test.");
        assert_eq!(set.ns_targets(), Some(Vec::new()));
        for data in [
            RData::MX(MX::new(10, name("Mail.Alpha.test."))),
            RData::CNAME(CNAME(name("target.beta.test."))),
            RData::TXT(TXT::new(vec!["v=spf1 -all".into(), String::new()])),
            RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        ] {
            let r = Record::from_rdata(owner.clone(), 1, data);
            let (_, back) = round_trip(vec![r.clone()], "alpha.test.");
            assert_eq!(back[0].data, r.data);
            assert_eq!(back[0].name, owner);
        }
    }

    #[test]
    fn flattened_names_follow_pointers_only_backwards() {
        // "A" "b" at 0, then "C" + a pointer to 0 at 5, then a pointer to itself at 9.
        let buf = [1, b'A', 1, b'b', 0, 1, b'C', 0xC0, 0, 0xC0, 9, 0xC0, 12];
        assert_eq!(
            flat_lowercase(&buf, 0).as_deref(),
            Some(&[1, b'a', 1, b'b', 0][..])
        );
        assert_eq!(
            flat_lowercase(&buf, 5).as_deref(),
            Some(&[1, b'c', 1, b'a', 1, b'b', 0][..])
        );
        assert_eq!(flat_lowercase(&buf, 9), None, "a pointer to itself");
        assert_eq!(flat_lowercase(&buf, 11), None, "a pointer forwards");
        assert_eq!(flat_lowercase(&buf[..3], 0), None, "cut short");
    }

    #[test]
    fn an_owner_other_than_the_key_keeps_its_case() {
        let soa = Record::from_rdata(
            name("Alpha.TEST."),
            3600,
            RData::SOA(SOA::new(
                name("ns1.alpha.test."),
                name("hostmaster.alpha.test."),
                7,
                3600,
                600,
                86400,
                300,
            )),
        );
        let set = WireSet::encode(std::slice::from_ref(&soa), &lower_wire("nope.alpha.test."))
            .expect("encodes");
        let back = set
            .decode(|| name("nope.alpha.test."), 30)
            .expect("decodes");
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].name.to_string(), "Alpha.TEST.");
        assert_eq!(back[0].data, soa.data);
        // The key's name in another case is written out too, so the case survives.
        let (set, back) = round_trip(
            vec![Record::from_rdata(
                name("WWW.alpha.test."),
                5,
                RData::A(A::new(1, 2, 3, 4)),
            )],
            "www.alpha.test.",
        );
        assert!(set.len() > 11);
        assert_eq!(back[0].name.to_string(), "WWW.alpha.test.");
    }

    #[test]
    fn addresses_are_read_in_place() {
        let owner = name("Ns1.alpha.test.");
        let records = vec![
            Record::from_rdata(owner.clone(), 60, RData::A(A::new(127, 0, 0, 1))),
            Record::from_rdata(
                owner.clone(),
                60,
                RData::AAAA(AAAA::new(0, 0, 0, 0, 0, 0, 0, 1)),
            ),
        ];
        for key in ["ns1.alpha.test.", "other.test."] {
            let set = WireSet::encode(&records, &lower_wire(key)).expect("encodes");
            let got: Vec<IpAddr> = set.addresses().collect();
            assert_eq!(
                got,
                vec![
                    "127.0.0.1".parse::<IpAddr>().expect("ip"),
                    "::1".parse().expect("ip")
                ]
            );
        }
    }

    #[test]
    fn mixed_owners_and_empty_sets_are_not_encoded() {
        let a = Record::from_rdata(name("a.test."), 1, RData::A(A::new(1, 1, 1, 1)));
        let b = Record::from_rdata(name("b.test."), 1, RData::A(A::new(1, 1, 1, 1)));
        assert!(WireSet::encode(&[a, b], &lower_wire("a.test.")).is_none());
        assert!(WireSet::encode(&[], &lower_wire("a.test.")).is_none());
    }
}
