//! The requests tern sends, in wire form and, with a key, TSIG-signed (RFC 8945 §5.1).

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::opt::EdnsCode;
use hickory_proto::rr::{DNSClass, Name, RecordType};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use super::ClientError;
use crate::limits::EDNS_UDP_PAYLOAD;
use crate::tsig::{Key, RequestSigner, now_unix};
use crate::wire::{CD, HEADER, RD};

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

/// A resolver's query as it varies (RFC 1035 §4.1.1, RFC 6891 §6.1.2): one question of class
/// IN, OPCODE QUERY, a fresh random ID; RD and CD as given; with `edns`, an OPT record with
/// our payload size and DO=1 (RFC 4035 §4.1: the RRSIGs and denial proofs come with the data).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ask<'q> {
    pub(crate) qname: &'q Name,
    pub(crate) qtype: RecordType,
    pub(crate) rd: bool,
    pub(crate) cd: bool,
    pub(crate) edns: bool,
}

impl Ask<'_> {
    /// The query as a message, with a fresh ID.
    pub(crate) fn message(&self) -> Message {
        let mut message = request(OpCode::Query, self.qname, self.qtype, self.edns);
        message.metadata.recursion_desired = self.rd;
        message.metadata.checking_disabled = self.cd;
        if let Some(opt) = message.edns.as_mut() {
            opt.set_dnssec_ok(true);
        }
        message
    }

    /// The query's wire form with ID `id` and, with EDNS and `cookie` (its pieces, client
    /// cookie first), a COOKIE option (RFC 7873 §4): byte for byte what hickory's encoder
    /// writes of [`Ask::message`] with that ID and option, without making the message (a
    /// message, its OPT's option table and the general encoder cost four times as much).
    pub(crate) fn write(&self, id: u16, cookie: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER + self.qname.len() + 2 + 4 + 11 + 4 + 40);
        out.extend_from_slice(&id.to_be_bytes());
        out.push(if self.rd { RD } else { 0 });
        out.push(if self.cd { CD } else { 0 });
        out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, u8::from(self.edns)]);
        for label in self.qname.iter() {
            // hickory's labels are at most 63 octets.
            out.push(u8::try_from(label.len()).unwrap_or(u8::MAX));
            out.extend_from_slice(label);
        }
        out.push(0);
        out.extend_from_slice(&u16::from(self.qtype).to_be_bytes());
        out.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
        if self.edns {
            out.extend_from_slice(&[0, 0, 41]);
            out.extend_from_slice(&EDNS_UDP_PAYLOAD.default.max(512).to_be_bytes());
            // EXTENDED-RCODE, VERSION, then the flags: DO.
            out.extend_from_slice(&[0, 0, 0x80, 0]);
            let data: usize = cookie.iter().map(|piece| piece.len()).sum();
            let option = if cookie.is_empty() { 0 } else { 4 + data };
            out.extend_from_slice(&u16::try_from(option).unwrap_or(0).to_be_bytes());
            if !cookie.is_empty() {
                out.extend_from_slice(&u16::from(EdnsCode::Cookie).to_be_bytes());
                out.extend_from_slice(&u16::try_from(data).unwrap_or(0).to_be_bytes());
                for piece in cookie {
                    out.extend_from_slice(piece);
                }
            }
        }
        out
    }
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
            // An NSEC3 to ignore (RFC 5155 §8.1-8.2) does not spoil the reply.
            None => crate::rr::read::read_message(raw)
                .map_err(|e| ClientError::Malformed(e.to_string())),
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
    // Every upstream query of a miss: one question and an OPT with a COOKIE, written
    // directly (the general encoder spent some 4,500 instructions on it).
    if let Some(bytes) = crate::wire::encode_simple(request) {
        return Ok(bytes);
    }
    let qlen = request.queries.first().map_or(0, |q| q.name().len());
    let mut bytes = Vec::with_capacity(64 + qlen);
    let mut encoder = BinEncoder::new(&mut bytes);
    encoder.set_name_encoding(NameEncoding::Uncompressed);
    request.emit(&mut encoder)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

    use super::*;

    /// Every shape of request the resolver sends, and a few it does not, against hickory's
    /// encoder.
    #[test]
    fn one_question_is_written_as_hickory_writes_it() {
        let names = ["WWW.Alpha.test.", "a-b.c", "x.y.z.example.com."];
        let mut seen = 0;
        for qname in names {
            let qname = Name::from_ascii(qname).expect("name");
            for edns in [false, true] {
                for bits in 0u8..16 {
                    let mut m = request(OpCode::Query, &qname, RecordType::AAAA, edns);
                    m.metadata.recursion_desired = bits & 1 != 0;
                    m.metadata.checking_disabled = bits & 2 != 0;
                    if let Some(opt) = m.edns.as_mut() {
                        opt.set_dnssec_ok(bits & 4 != 0);
                        if bits & 8 != 0 {
                            opt.options_mut().insert(EdnsOption::Unknown(
                                u16::from(EdnsCode::Cookie),
                                (1..=24).collect(),
                            ));
                        }
                    }
                    let fast = crate::wire::encode_simple(&m).expect("one question");
                    assert_eq!(fast, m.to_vec().expect("encodes"), "{qname} {edns} {bits}");
                    seen += 1;
                }
            }
        }
        assert_eq!(seen, names.len() * 2 * 16);
    }

    /// Every query the resolver sends over UDP, against hickory's encoder.
    #[test]
    fn a_query_is_written_as_hickory_writes_it() {
        let mut seen = 0;
        for qname in ["WWW.Alpha.test.", "a-b.c.", ".", "x.y.z.example.com."] {
            let qname = Name::from_ascii(qname).expect("name");
            for bits in 0u8..16 {
                let ask = Ask {
                    qname: &qname,
                    qtype: RecordType::AAAA,
                    rd: bits & 1 != 0,
                    cd: bits & 2 != 0,
                    edns: bits & 4 != 0,
                };
                let server = [7u8; 16];
                let cookie: &[&[u8]] = match bits >> 3 {
                    0 => &[],
                    _ => &[&[1, 2, 3, 4, 5, 6, 7, 8], &server],
                };
                let mut m = ask.message();
                m.metadata.id = 0x1234;
                if let Some(opt) = m.edns.as_mut()
                    && !cookie.is_empty()
                {
                    let data = cookie.concat();
                    let code = u16::from(EdnsCode::Cookie);
                    opt.options_mut().insert(EdnsOption::Unknown(code, data));
                }
                let hickory = m.to_vec().expect("encodes");
                assert_eq!(ask.write(0x1234, cookie), hickory, "{qname} {bits}");
                seen += 1;
            }
        }
        assert_eq!(seen, 4 * 16);
    }

    #[test]
    fn odd_requests_match_hickory_or_go_to_it() {
        let qname = Name::from_ascii("a.test.").expect("name");
        let mut notify = request(OpCode::Notify, &qname, RecordType::SOA, true);
        notify.metadata.authoritative = true;
        notify.metadata.response_code = ResponseCode::BADVERS;
        notify.edns.as_mut().expect("opt").set_max_payload(100);
        let fast = crate::wire::encode_simple(&notify).expect("one question");
        assert_eq!(fast, notify.to_vec().expect("encodes"));
        let mut two = request(OpCode::Query, &qname, RecordType::A, false);
        two.add_query(Query::query(qname.clone(), RecordType::AAAA));
        assert_eq!(crate::wire::encode_simple(&two), None);
        let mut subnet = request(OpCode::Query, &qname, RecordType::A, true);
        let ecs = hickory_proto::rr::rdata::opt::ClientSubnet::new([192, 0, 2, 0].into(), 24, 0);
        subnet
            .edns
            .as_mut()
            .expect("opt")
            .options_mut()
            .insert(EdnsOption::Subnet(ecs));
        assert_eq!(crate::wire::encode_simple(&subnet), None);
        let bytes = encode(&subnet).expect("encodes");
        assert_eq!(bytes, subnet.to_vec().expect("encodes"));
    }
}
