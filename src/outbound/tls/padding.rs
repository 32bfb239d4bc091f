//! EDNS(0) padding of queries sent over TLS (RFC 7830; RFC 8467 §4.1: a client pads each
//! query to the closest multiple of 128 octets), so that the length of the encrypted record
//! does not tell an observer which name was asked.

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

/// RFC 8467 §4.1's block length for queries.
const QUERY_BLOCK: usize = 128;
/// An option's code and length fields.
const OPTION_HEADER: usize = 4;

/// Pads `message` (which must carry an OPT record; without one it is left alone) so that
/// its wire form is a multiple of [`QUERY_BLOCK`] octets. `unpadded_len`: its wire length now.
pub(crate) fn pad_query(message: &mut Message, unpadded_len: usize) {
    let Some(edns) = message.edns.as_mut() else {
        return;
    };
    let with_header = unpadded_len + OPTION_HEADER;
    let fill = (QUERY_BLOCK - with_header % QUERY_BLOCK) % QUERY_BLOCK;
    edns.options_mut().insert(EdnsOption::Unknown(
        u16::from(EdnsCode::Padding),
        vec![0; fill],
    ));
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{Edns, MessageType, OpCode, Query};
    use hickory_proto::rr::{Name, RecordType};

    use super::*;

    #[test]
    fn a_query_over_tls_is_padded_to_a_multiple_of_128_octets() {
        for qname in [
            "a.",
            "www.example.com.",
            &format!("{}.example.", "x".repeat(60)),
        ] {
            let mut m = Message::new(1, MessageType::Query, OpCode::Query);
            m.add_query(Query::query(
                Name::from_ascii(qname).expect("name"),
                RecordType::A,
            ));
            m.set_edns(Edns::new());
            let len = m.to_vec().expect("encodes").len();
            pad_query(&mut m, len);
            let padded = m.to_vec().expect("encodes");
            assert_eq!(padded.len() % QUERY_BLOCK, 0, "{qname}: {}", padded.len());
            assert!(padded.len() > len, "{qname}");
            let read = Message::from_vec(&padded).expect("parses");
            assert!(
                read.edns
                    .is_some_and(|e| e.option(EdnsCode::Padding).is_some())
            );
        }
    }
}
