//! The requests tern sends, in wire form and, with a key, TSIG-signed (RFC 8945 §5.1).

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use super::ClientError;
use crate::limits::EDNS_UDP_PAYLOAD;
use crate::tsig::{Key, RequestSigner, now_unix};

/// A request with one question, class IN, and a fresh random ID (RFC 5452 §9.2). RD=0: it
/// goes to an authoritative server (we iterate; replication asks the zone's own servers).
/// With `edns`, an OPT record with our payload size (RFC 6891 §6.2.5).
pub(crate) fn request(op_code: OpCode, qname: &Name, qtype: RecordType, edns: bool) -> Message {
    let mut m = Message::new(rand::random(), MessageType::Query, op_code);
    m.add_query(Query::query(qname.clone(), qtype));
    if edns {
        let mut opt = Edns::new();
        opt.set_max_payload(EDNS_UDP_PAYLOAD.default);
        m.set_edns(opt);
    }
    m
}

/// A request in wire form, and what checks the replies when it is signed.
#[derive(Debug)]
pub(crate) struct Signed {
    bytes: Vec<u8>,
    signer: Option<RequestSigner>,
}

impl Signed {
    /// `request`'s bytes, signed with `key` when there is one (RFC 8945 §5.1). TSIG is bound to
    /// the wall clock, read here, at signing.
    pub(crate) fn new(request: &Message, key: Option<&Key>) -> Result<Signed, ClientError> {
        match key {
            Some(key) => RequestSigner::sign(request, key, now_unix())
                .map(|(bytes, signer)| Signed {
                    bytes,
                    signer: Some(signer),
                })
                .map_err(ClientError::Sign),
            None => Ok(Signed {
                bytes: encode(request).map_err(|e| ClientError::Encode(e.to_string()))?,
                signer: None,
            }),
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// One reply read off the wire: TSIG-checked when the request was signed (RFC 8945 §5.4),
    /// else parsed.
    pub(crate) fn read(&mut self, raw: &[u8]) -> Result<Message, ClientError> {
        match self.signer.as_mut() {
            Some(signer) => Ok(signer.verify(raw, now_unix())?),
            None if !crate::wire::questions_fit(raw) => Err(ClientError::Malformed(
                "more questions counted than the message can hold".into(),
            )),
            None => Message::from_vec(raw).map_err(|e| ClientError::Malformed(e.to_string())),
        }
    }

    /// The one reply to a single-message exchange, already parsed as `parsed`: TSIG-checked,
    /// and then the last, when the request was signed.
    pub(crate) fn check_single(
        &mut self,
        raw: &[u8],
        parsed: Message,
    ) -> Result<Message, ClientError> {
        if self.signer.is_none() {
            return Ok(parsed);
        }
        let checked = self.read(raw)?;
        self.finish()?;
        Ok(checked)
    }

    /// After the last reply: with TSIG, it must have been signed (RFC 8945 §5.3.1).
    pub(crate) fn finish(&self) -> Result<(), ClientError> {
        match &self.signer {
            Some(signer) => Ok(signer.finish()?),
            None => Ok(()),
        }
    }
}

/// The wire form. A request whose only name is the question's (the OPT record's owner is
/// the root) encodes the same with and without compression, and the encoder's compression
/// table would cost an allocation per label: the resolver sends one per upstream query.
fn encode(request: &Message) -> Result<Vec<u8>, hickory_proto::ProtoError> {
    if !(request.answers.is_empty()
        && request.authorities.is_empty()
        && request.additionals.is_empty())
    {
        return request.to_vec();
    }
    let qlen = request.queries.first().map_or(0, |q| q.name().len());
    let mut bytes = Vec::with_capacity(64 + qlen);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    request.emit(&mut encoder)?;
    Ok(bytes)
}
