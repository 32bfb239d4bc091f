//! EDNS(0) padding (RFC 7830) by the Block-Length policy of RFC 8467 §4.1: a response to a
//! padded query over an encrypted transport is padded to a multiple of 468 bytes, and a query
//! tern sends over TLS to a multiple of 128, so sizes say little about the question; never
//! past the size limit.
//!
//! The message is encoded once: an empty Padding option goes last into the OPT, which is the
//! last record of an unsigned message, so the option's (empty) data ends the bytes and can be
//! grown in place, with the OPT's RDLENGTH fixed up.

use hickory_proto::op::Message;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

/// RFC 8467 §4.1: the recommended block length for responses.
pub(crate) const RESPONSE_BLOCK: usize = 468;
/// RFC 8467 §4.1: the recommended block length for queries.
pub(crate) const QUERY_BLOCK: usize = 128;

/// The Padding option's code (RFC 7830 §3).
const PADDING: u16 = 12;

/// The OPT's owner (root), TYPE 41 and CLASS and TTL come before its RDLENGTH.
const OPT_HEAD: usize = 1 + 2 + 2 + 4;

/// A message with an empty Padding option last in its OPT, and that OPT's RDATA length.
/// `None` (nothing added) without an OPT.
pub(crate) fn reserve(message: &mut Message) -> Option<usize> {
    let edns = message.edns.as_mut()?;
    let options = edns.options_mut();
    options.remove(EdnsCode::Padding);
    options.insert(EdnsOption::Unknown(PADDING, Vec::new()));
    Some(
        options
            .as_ref()
            .iter()
            .map(|(_, option)| 4 + usize::from(option.len()))
            .sum(),
    )
}

/// Grows the empty Padding option that ends `bytes` (an encoding of a message [`reserve`]d
/// with `rdata_len`) so that the whole is a multiple of `block`, or `limit` if that is less.
/// Bytes that do not end as expected (no OPT after all) are left as they are.
pub(crate) fn grow(bytes: &mut Vec<u8>, rdata_len: usize, limit: usize, block: usize) {
    let len = bytes.len();
    if len < 4 {
        return;
    }
    let Some(rdlength_at) = len.checked_sub(rdata_len + 2) else {
        return;
    };
    let Some(head) = rdlength_at.checked_sub(OPT_HEAD) else {
        return;
    };
    let ends_with_empty_padding = bytes[len - 4..] == [0, 12, 0, 0];
    let is_opt = bytes[head] == 0 && bytes[head + 1..head + 3] == [0, 41];
    let rdlength = u16::from_be_bytes([bytes[rdlength_at], bytes[rdlength_at + 1]]);
    if !ends_with_empty_padding || !is_opt || usize::from(rdlength) != rdata_len {
        return;
    }
    let target = len.div_ceil(block).saturating_mul(block).min(limit);
    let Some(pad) = target.checked_sub(len).filter(|p| *p > 0) else {
        return;
    };
    let (Ok(pad16), Ok(rdlength)) = (u16::try_from(pad), u16::try_from(rdata_len + pad)) else {
        return;
    };
    bytes[rdlength_at..rdlength_at + 2].copy_from_slice(&rdlength.to_be_bytes());
    bytes[len - 2..].copy_from_slice(&pad16.to_be_bytes());
    bytes.resize(target, 0);
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::{Edns, MessageType, OpCode};
    use hickory_proto::rr::{Name, RData, Record};

    use super::*;

    fn response(answers: usize, edns: bool) -> Message {
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        let name = Name::from_ascii("www.example.").expect("name");
        for i in 0..answers {
            let ip = std::net::Ipv4Addr::new(192, 0, 2, u8::try_from(i % 250).expect("small"));
            m.add_answer(Record::from_rdata(name.clone(), 300, RData::A(ip.into())));
        }
        if edns {
            let mut e = Edns::new();
            e.set_max_payload(1232);
            e.options_mut()
                .insert(EdnsOption::Unknown(10, vec![1, 2, 3, 4, 5, 6, 7, 8]));
            m.set_edns(e);
        }
        m
    }

    fn padded(mut m: Message, limit: usize) -> (Vec<u8>, Message) {
        let rdata_len = reserve(&mut m).expect("has OPT");
        let mut bytes = m.to_vec().expect("encodes");
        grow(&mut bytes, rdata_len, limit, RESPONSE_BLOCK);
        let back = Message::from_vec(&bytes).expect("padded response parses");
        (bytes, back)
    }

    #[test]
    fn responses_are_padded_to_whole_blocks_with_every_option_kept() {
        for answers in [0, 1, 20, 40] {
            let (bytes, back) = padded(response(answers, true), 65_535);
            assert_eq!(
                bytes.len() % RESPONSE_BLOCK,
                0,
                "{answers} answers: {} bytes",
                bytes.len()
            );
            assert_eq!(back.answers.len(), answers);
            let edns = back.edns.as_ref().expect("OPT");
            assert!(edns.option(EdnsCode::Cookie).is_some(), "cookie kept");
            let Some(EdnsOption::Unknown(12, pad)) = edns.option(EdnsCode::Padding) else {
                panic!("padding option");
            };
            assert!(pad.iter().all(|b| *b == 0), "RFC 7830 §3: zeros");
        }
    }

    #[test]
    fn padding_never_passes_the_limit() {
        let plain = response(1, true).to_vec().expect("encodes").len();
        let limit = plain + 4 + 10;
        let (bytes, _) = padded(response(1, true), limit);
        assert_eq!(bytes.len(), limit, "padded up to the limit, not past it");
    }

    #[test]
    fn without_an_opt_nothing_is_reserved_or_grown() {
        let mut m = response(1, false);
        assert!(reserve(&mut m).is_none());
        let mut bytes = m.to_vec().expect("encodes");
        let before = bytes.clone();
        grow(&mut bytes, 4, 65_535, RESPONSE_BLOCK);
        assert_eq!(
            bytes, before,
            "bytes that do not end in an OPT are left alone"
        );
    }

    #[test]
    fn a_query_over_tls_is_padded_to_a_multiple_of_128_octets() {
        use hickory_proto::op::Query;
        use hickory_proto::rr::RecordType;
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
            let rdata_len = reserve(&mut m).expect("has OPT");
            let mut padded = m.to_vec().expect("encodes");
            grow(&mut padded, rdata_len, 65_535, QUERY_BLOCK);
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
