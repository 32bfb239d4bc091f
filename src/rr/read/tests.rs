//! NSEC3 and NSEC3PARAM records hickory refuses, read as opaque RDATA of their own type, and
//! everything else read as hickory reads it.

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, NULL, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::*;

fn n(s: &str) -> Name {
    Name::from_ascii(s).expect("name")
}

fn unknown(code: RecordType, rdata: Vec<u8>) -> RData {
    RData::Unknown {
        code,
        rdata: NULL::with(rdata),
    }
}

/// NSEC3 RDATA: no iterations, no salt, a 20-octet next hash, a bitmap of A.
fn nsec3(alg: u8, flags: u8) -> Vec<u8> {
    let mut rdata = vec![alg, flags, 0, 0, 0, 20];
    rdata.extend([0xab; 20]);
    rdata.extend([0, 1, 0x40]);
    rdata
}

/// NSEC3PARAM RDATA: 0 iterations, a 2-octet salt.
fn nsec3param(alg: u8, flags: u8) -> Vec<u8> {
    vec![alg, flags, 0, 0, 2, 0xab, 0xcd]
}

/// A reply with `rdata` of `rtype` in the answer and the authority sections, an SOA and an
/// A record around them, and an OPT record.
fn reply(rtype: RecordType, rdata: Vec<u8>) -> Vec<u8> {
    let mut m = Message::new(7, MessageType::Response, OpCode::Query);
    m.metadata.response_code = ResponseCode::NXDomain;
    m.add_query(Query::query(n("x.test."), rtype));
    let owner = n("0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.test.");
    m.answers.push(Record::from_rdata(
        owner.clone(),
        60,
        unknown(rtype, rdata.clone()),
    ));
    let soa = SOA::new(n("ns1.test."), n("h.test."), 1, 3600, 600, 86400, 3600);
    m.authorities
        .push(Record::from_rdata(n("test."), 60, RData::SOA(soa)));
    m.authorities
        .push(Record::from_rdata(owner, 60, unknown(rtype, rdata)));
    m.additionals.push(Record::from_rdata(
        n("ns1.test."),
        60,
        RData::A(A::new(127, 0, 0, 1)),
    ));
    m.edns = Some(Edns::new());
    m.to_vec().expect("encodes")
}

#[test]
fn which_nsec3_and_nsec3param_records_are_ignored() {
    for rtype in [RecordType::NSEC3, RecordType::NSEC3PARAM] {
        assert!(!ignored_nsec3(rtype, &[1, 0]));
        assert!(!ignored_nsec3(rtype, &[1, 1]));
        assert!(ignored_nsec3(rtype, &[1, 2]));
        assert!(ignored_nsec3(rtype, &[1, 0x80]));
        assert!(ignored_nsec3(rtype, &[0, 0]));
        assert!(ignored_nsec3(rtype, &[2, 1]));
        // too short to tell: left to hickory, which refuses it
        assert!(!ignored_nsec3(rtype, &[2]));
    }
    assert!(!ignored_nsec3(RecordType::A, &[2, 2, 2, 2]));
}

/// RFC 5155 §8.1-8.2: the record is ignored, not the reply. It is read as opaque RDATA of its
/// own type, and written out again as the same bytes.
#[test]
fn an_nsec3_or_nsec3param_to_ignore_is_read_opaque_and_written_back_unchanged() {
    let cases = [
        (RecordType::NSEC3, nsec3(1, 0x02)),
        (RecordType::NSEC3, nsec3(2, 0)),
        (RecordType::NSEC3, nsec3(0, 0xff)),
        (RecordType::NSEC3PARAM, nsec3param(1, 0x80)),
        (RecordType::NSEC3PARAM, nsec3param(7, 0)),
    ];
    for (rtype, rdata) in cases {
        let wire = reply(rtype, rdata.clone());
        assert!(Message::from_vec(&wire).is_err(), "hickory refuses it");
        let m = read_message(&wire).expect("the reply is read");
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert_eq!(m.answers.len(), 1);
        assert_eq!(m.authorities.len(), 2);
        assert_eq!(m.additionals.len(), 1);
        assert!(m.edns.is_some());
        for r in [&m.answers[0], &m.authorities[1]] {
            assert_eq!(r.record_type(), rtype);
            assert_eq!(r.data, unknown(rtype, rdata.clone()));
        }
        assert_eq!(m.to_vec().expect("encodes"), wire, "relayed unchanged");
    }
}

/// NSEC3 and NSEC3PARAM records hickory reads still read as such; other replies read exactly
/// as hickory reads them.
#[test]
fn everything_else_reads_as_hickory_reads_it() {
    for (rtype, rdata) in [
        (RecordType::NSEC3, nsec3(1, 0)),
        (RecordType::NSEC3, nsec3(1, 1)),
        (RecordType::NSEC3PARAM, nsec3param(1, 0)),
    ] {
        let wire = reply(rtype, rdata);
        let m = read_message(&wire).expect("reads");
        assert!(matches!(m.answers[0].data, RData::DNSSEC(_)), "{m:?}");
        assert_eq!(m, Message::from_vec(&wire).expect("hickory reads it"));
    }
    // A malformed NSEC3 of a known algorithm and flags stays refused.
    let mut short = nsec3(1, 0);
    short[5] = 200;
    assert!(read_message(&reply(RecordType::NSEC3, short)).is_err());
    // An OPT record in the authority section, and two of them, stay refused.
    let wire = reply(RecordType::NSEC3, nsec3(1, 0x02));
    let mut m = read_message(&wire).expect("reads");
    m.edns = None;
    let mut twice = m.clone();
    twice.authorities.push(Record::from_rdata(
        Name::root(),
        0,
        RData::OPT(Default::default()),
    ));
    let bytes = twice.to_vec().expect("encodes");
    assert!(read_message(&bytes).is_err());
    assert!(Message::from_vec(&bytes).is_err());
}

#[test]
fn rdata_alone_reads_the_same_way() {
    for (rtype, rdata, opaque) in [
        (RecordType::NSEC3, nsec3(1, 0x40), true),
        (RecordType::NSEC3PARAM, nsec3param(3, 0), true),
        (RecordType::NSEC3, nsec3(1, 1), false),
    ] {
        // trailing bytes after the RDATA stay unread
        let mut buf = rdata.clone();
        buf.push(0x99);
        let len = u16::try_from(rdata.len()).expect("short");
        let mut d = BinDecoder::new(&buf);
        let read = read_rdata(&mut d, rtype, len).expect("reads");
        assert_eq!(d.len(), 1);
        assert_eq!(matches!(read, RData::Unknown { .. }), opaque, "{read:?}");
        assert_eq!(read.record_type(), rtype);
    }
}
