//! The resolver's partial reader of upstream UDP replies (`outbound::lazy`), for
//! `fuzz/fuzz_targets/lazy_reply.rs`. It reads the header, question, answer section and OPT
//! of a reply through hickory and keeps the other sections in wire form until they are asked
//! for; read in part and then completed, a reply must be what the full parse
//! (`rr::read::read_message`, hickory's but for NSEC3s to ignore) reads, and a reply it
//! refuses must not get through whole.

use hickory_proto::rr::{Name, RecordType};

use crate::outbound::{Expected, lazy};

/// Reads `data` as a reply to its own ID and question (hickory's reading of the question, or
/// `www.alpha.test. A` when it has none), in part and in full, and panics where the two
/// disagree: a matching reply refused, different records once completed, or a reply hickory
/// refuses completed without error. Returns whether the reply was read whole.
pub fn lazy_reply(data: &[u8]) -> bool {
    let full = crate::rr::read::read_message(data).ok();
    let id = data
        .get(..2)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
    let (qname, qtype) = full.as_ref().and_then(|m| m.queries.first()).map_or_else(
        || {
            let name = Name::from_ascii("www.alpha.test.").unwrap_or_else(|_| Name::root());
            (name, RecordType::A)
        },
        |q| (q.name().clone(), q.query_type()),
    );
    let expected = Expected::answer(id, &qname, qtype);
    let hickory = full.filter(|m| expected.matches(m, true));
    let Some((mut message, rest)) = lazy::read(data, &expected) else {
        assert!(
            hickory.is_none(),
            "a matching reply hickory reads was refused"
        );
        return false;
    };
    let completed = match rest {
        Some(rest) => rest.complete(&mut message).is_ok(),
        None => true,
    };
    match hickory {
        Some(hickory) => {
            assert!(
                completed,
                "the kept-back sections of a reply hickory reads failed"
            );
            assert_eq!(message, hickory, "read in part and completed");
            true
        }
        None => {
            assert!(!completed, "a reply hickory refuses was read whole");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::rdata::{A, NS};
    use hickory_proto::rr::{RData, Record};

    use super::*;

    fn n(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    /// A referral-shaped reply: records in every section, so the partial read keeps some back.
    fn reply() -> Vec<u8> {
        let mut m = Message::new(9, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(n("www.alpha.test."), RecordType::A));
        m.answers.push(Record::from_rdata(
            n("www.alpha.test."),
            60,
            RData::A(A::new(127, 0, 0, 100)),
        ));
        m.authorities.push(Record::from_rdata(
            n("alpha.test."),
            60,
            RData::NS(NS(n("ns1.alpha.test."))),
        ));
        m.additionals.push(Record::from_rdata(
            n("ns1.alpha.test."),
            60,
            RData::A(A::new(127, 0, 0, 41)),
        ));
        m.to_vec().expect("encodes")
    }

    #[test]
    fn a_whole_reply_is_read_and_its_damaged_copies_never_disagree_with_hickory() {
        let wire = reply();
        assert!(lazy_reply(&wire));
        // Every truncation and every byte flipped: no panic means the two readers agree.
        for end in 0..wire.len() {
            let _ = lazy_reply(&wire[..end]);
        }
        for at in 0..wire.len() {
            let mut bad = wire.clone();
            bad[at] ^= 0xff;
            let _ = lazy_reply(&bad);
        }
        assert!(!lazy_reply(&[]));
    }
}
