//! The edge of the handler: raw bytes become a narrow, validated [`Request`] exactly once, or a
//! [`Malformed`] that says how to reply (or that nothing should be sent at all).

use std::net::SocketAddr;

use hickory_proto::op::{Edns, Header, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::DNSClass;
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

use super::cookie::{self, Judged, Received};

/// The transport a request arrived on; it decides the response size limit, and the metrics
/// and the query log name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
    /// DNS over TLS (RFC 7858): a TCP stream inside TLS.
    Tls,
    /// DNS over HTTPS (RFC 8484): one message per HTTP exchange.
    Https,
}

impl Transport {
    /// Its row in the metrics tables (`metrics::counts::TRANSPORTS`).
    pub(crate) fn slot(self) -> usize {
        self as usize
    }

    /// Encrypted (TLS, HTTPS): responses to padded queries are padded (RFC 8467), which on a
    /// plain transport would only cost bytes and hide nothing.
    pub(crate) fn is_encrypted(self) -> bool {
        matches!(self, Transport::Tls | Transport::Https)
    }

    /// A stream that stays open between queries (TCP, TLS), whose idle timeout the
    /// edns-tcp-keepalive option tells (RFC 7828 §3.3.2; never over UDP, §3.3.1, nor over
    /// HTTPS, whose connections HTTP manages, RFC 8484 §5.3).
    pub(crate) fn keeps_alive(self) -> bool {
        matches!(self, Transport::Tcp | Transport::Tls)
    }

    /// Its label in metrics and the query log.
    pub(crate) fn name(self) -> &'static str {
        crate::metrics::counts::TRANSPORTS[self.slot()]
    }
}

/// The EDNS(0) facts of a request (RFC 6891 §6.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EdnsInfo {
    /// The requestor's UDP payload size, raised to 512 (RFC 6891 §6.2.5).
    pub payload: u16,
    pub version: u8,
    pub dnssec_ok: bool,
    /// The query carried edns-tcp-keepalive (RFC 7828): tell the idle timeout, over a stream.
    pub keepalive: bool,
    /// The query carried a Padding option (RFC 7830): pad the response, over TLS or HTTPS.
    pub padding: bool,
}

impl EdnsInfo {
    /// What the handler needs of a request's OPT.
    pub(crate) fn of(edns: &Edns) -> EdnsInfo {
        EdnsInfo {
            payload: edns.max_payload().max(crate::limits::CLASSIC_UDP_PAYLOAD),
            version: edns.version(),
            dnssec_ok: edns.flags().dnssec_ok,
            keepalive: edns.option(EdnsCode::Keepalive).is_some(),
            padding: edns.option(EdnsCode::Padding).is_some(),
        }
    }
}

/// One well-formed query.
#[derive(Debug, Clone)]
pub struct Request {
    pub id: u16,
    pub op_code: OpCode,
    pub(crate) recursion_desired: bool,
    pub checking_disabled: bool,
    /// AD in the query: the client understands AD even without DO (RFC 6840 §5.7).
    pub(crate) authentic_data: bool,
    /// The question exactly as sent (original case, echoed back).
    pub query: Query,
    pub edns: Option<EdnsInfo>,
    pub src: SocketAddr,
    pub transport: Transport,
    /// The request ends with a TSIG record (RFC 8945): the handler checks it before answering
    /// and signs the answer.
    pub signed: bool,
    /// Its COOKIE option, judged at the edge (RFC 7873 §5.2); `None`: it had none (or was
    /// parsed outside the edge, which knows no secret).
    pub(crate) cookie: Option<Judged>,
}

/// Why a packet is not a request we can answer normally.
#[derive(Debug, Clone, PartialEq)]
pub enum Malformed {
    /// Not worth a reply: too short for a header, or itself a response (answering responses
    /// invites reflection loops).
    Drop,
    /// Reply with just this RCODE, echoing the header (and question, when one parsed).
    Reply {
        id: u16,
        op_code: OpCode,
        recursion_desired: bool,
        /// CD, copied into the reply as into any answer to a query (RFC 4035 §3.1.6).
        checking_disabled: bool,
        query: Option<Query>,
        rcode: ResponseCode,
        /// The request's OPT, when the packet parsed far enough to have one: the reply must
        /// then carry an OPT too (RFC 6891 §6.1.1).
        edns: Option<EdnsInfo>,
    },
}

impl Malformed {
    /// A request whose header parsed but whose body did not: NOTIMP for an opcode we do not
    /// implement even when its body is odd (RFC 1035 §4.1.1), else FORMERR. UPDATE and NOTIFY,
    /// which we do implement, get FORMERR with the header alone (`header_only`).
    pub(super) fn unparsed(header: &Header) -> Malformed {
        let meta = header.metadata;
        let rcode = if meta.op_code == OpCode::Query {
            ResponseCode::FormErr
        } else {
            ResponseCode::NotImp
        };
        Malformed::Reply {
            id: meta.id,
            op_code: meta.op_code,
            recursion_desired: meta.recursion_desired,
            checking_disabled: cd_of(&meta),
            query: None,
            rcode,
            edns: None,
        }
    }

    /// FORMERR for a COOKIE option of a length no cookie has (RFC 7873 §5.2.2), echoing the
    /// question and OPT.
    pub(super) fn bad_cookie(header: &Header, message: &Message) -> Malformed {
        let meta = header.metadata;
        Malformed::Reply {
            id: meta.id,
            op_code: meta.op_code,
            recursion_desired: meta.recursion_desired,
            checking_disabled: cd_of(&meta),
            query: (message.queries.len() == 1).then(|| message.queries[0].clone()),
            rcode: ResponseCode::FormErr,
            edns: message.edns.as_ref().map(EdnsInfo::of),
        }
    }

    /// FORMERR with the header alone, the opcode as the request's, for a message an implemented
    /// service (UPDATE, NOTIFY) cannot parse.
    pub(super) fn header_only(header: &Header) -> Malformed {
        Malformed::Reply {
            id: header.metadata.id,
            op_code: header.metadata.op_code,
            recursion_desired: false,
            checking_disabled: false,
            query: None,
            rcode: ResponseCode::FormErr,
            edns: None,
        }
    }
}

/// The CD bit a reply to a request with header `meta` copies: a query's (RFC 4035 §3.1.6); other
/// opcodes' headers give that bit no meaning (RFC 2136 §2.2), and their replies leave it clear.
fn cd_of(meta: &hickory_proto::op::Metadata) -> bool {
    meta.op_code == OpCode::Query && meta.checking_disabled
}

impl Request {
    /// Parses and validates a query. Anything malformed stops here.
    pub fn parse(
        bytes: &[u8],
        src: SocketAddr,
        transport: Transport,
    ) -> Result<Request, Malformed> {
        let header = Request::header(bytes)?;
        let message = Request::message(bytes).ok_or_else(|| Malformed::unparsed(&header))?;
        Request::from_message(&header, &message, src, transport)
    }

    /// The whole message of a request; `None` when it does not parse.
    /// hickory sets aside room for every question the header counts before it reads the first
    /// (65535 of them: some 5 MB per datagram of garbage), so a count the bytes cannot hold
    /// fails here, as its parse would.
    pub(super) fn message(bytes: &[u8]) -> Option<Message> {
        crate::wire::questions_fit(bytes)
            .then(|| Message::from_vec(bytes).ok())
            .flatten()
    }

    /// The header of a request worth answering: `Drop` for a packet too short for one, or
    /// itself a response (answering responses invites reflection loops).
    pub(super) fn header(bytes: &[u8]) -> Result<Header, Malformed> {
        match Header::read(&mut BinDecoder::new(bytes)) {
            Ok(header) if header.metadata.message_type == MessageType::Query => Ok(header),
            _ => Err(Malformed::Drop),
        }
    }

    /// The narrow query of a whole message (`message` is the parse of the request whose header
    /// is `header`): one question of a type that may be asked, opcode QUERY.
    pub(super) fn from_message(
        header: &Header,
        message: &Message,
        src: SocketAddr,
        transport: Transport,
    ) -> Result<Request, Malformed> {
        let meta = header.metadata;
        let edns = message.edns.as_ref().map(EdnsInfo::of);
        let reply = |rcode, query| Malformed::Reply {
            id: meta.id,
            op_code: meta.op_code,
            recursion_desired: meta.recursion_desired,
            checking_disabled: cd_of(&meta),
            query,
            rcode,
            edns,
        };
        let query = (message.queries.len() == 1).then(|| message.queries[0].clone());
        if meta.op_code != OpCode::Query {
            return Err(reply(ResponseCode::NotImp, query));
        }
        // RFC 1035 §4.1.2 and NSD: a standard query has one question and no answer or
        // authority records.
        let Some(query) = query else {
            // RFC 7873 §5.4: no question but a COOKIE asks for a server cookie, which the
            // edge adds to this reply (BADCOOKIE when the one sent is not ours).
            let asks_cookie = message.queries.is_empty()
                && message.edns.as_ref().and_then(Request::cookie_of).is_some();
            let rcode = if asks_cookie {
                ResponseCode::NoError
            } else {
                ResponseCode::FormErr
            };
            return Err(reply(rcode, None));
        };
        match u16::from(query.query_type()) {
            // Pseudo-records that only make sense in the additional section (OPT, RFC 6891
            // §6.1.1; TSIG, RFC 8945) or as a key exchange (TKEY, RFC 2930), not as a question.
            41 | 249 | 250 => return Err(reply(ResponseCode::FormErr, Some(query))),
            // Zone transfers (AXFR 252, IXFR 251) are served by their own service
            // (`handler::transfer`: AXFR over TCP, IXFR over either); what reaches here gets
            // NOTIMP, as do MAILB/MAILA (253/254, RFC 1035 §3.2.3, obsolete). None of them is
            // ever walked upstream. Checked before the section counts: an IXFR carries an SOA
            // in its authority section (RFC 1995 §3) and is no malformed query.
            251..=254 => return Err(reply(ResponseCode::NotImp, Some(query))),
            _ => {}
        }
        if header.counts.answers != 0 || header.counts.authorities != 0 {
            return Err(reply(ResponseCode::FormErr, Some(query)));
        }
        // RFC 7828 §3.2.1: a client sends edns-tcp-keepalive empty; one holding a TIMEOUT over
        // a stream is malformed (Unbound: FORMERR). Over UDP the option is ignored (§3.3.1).
        let keepalive = message
            .edns
            .as_ref()
            .and_then(|e| e.option(EdnsCode::Keepalive));
        if transport.keeps_alive() && keepalive.is_some_and(|o| !o.is_empty()) {
            return Err(reply(ResponseCode::FormErr, Some(query)));
        }
        Ok(Request {
            id: meta.id,
            op_code: meta.op_code,
            recursion_desired: meta.recursion_desired,
            checking_disabled: meta.checking_disabled,
            authentic_data: meta.authentic_data,
            query,
            edns,
            src,
            transport,
            signed: message.signature().is_some(),
            cookie: None,
        })
    }

    /// The first COOKIE option of a request's OPT (RFC 7873 §4; later ones are ignored, as
    /// BIND does), or why it is malformed.
    pub(super) fn cookie_of(edns: &Edns) -> Option<Result<Received, cookie::Malformed>> {
        edns.options()
            .as_ref()
            .iter()
            .find_map(|(code, option)| match (code, option) {
                (EdnsCode::Cookie, EdnsOption::Unknown(_, data)) => Some(Received::parse(data)),
                _ => None,
            })
    }

    /// True when the question is for class IN (the only class tern serves).
    pub(crate) fn is_class_in(&self) -> bool {
        self.query.query_class() == DNSClass::IN
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::Edns;
    use hickory_proto::rr::{Name, RecordType};

    use super::*;

    fn src() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 5353))
    }

    fn query_bytes(edit: impl FnOnce(&mut Message)) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.id = 7;
        m.add_query(Query::query(
            Name::from_ascii("Www.Example.test.").expect("name"),
            RecordType::A,
        ));
        edit(&mut m);
        m.to_vec().expect("encode")
    }

    #[test]
    fn a_question_count_the_bytes_cannot_hold_is_formerr_before_any_parse() {
        // ID 9, QDCOUNT as given, then `questions` root questions (A IN, five octets each).
        let packet = |qdcount: u16, questions: usize| {
            let mut b = vec![0, 9, 0, 0];
            b.extend_from_slice(&qdcount.to_be_bytes());
            b.extend_from_slice(&[0; 6]);
            for _ in 0..questions {
                b.extend_from_slice(&[0, 0, 1, 0, 1]);
            }
            b
        };
        let fits = |qdcount, questions| crate::wire::questions_fit(&packet(qdcount, questions));
        assert!(fits(1, 1) && fits(3, 3) && fits(0, 0));
        assert!(!fits(2, 1) && !fits(u16::MAX, 1) && !fits(1, 0));
        // What the parse would have said: FORMERR, with the ID.
        match Request::parse(&packet(u16::MAX, 1), src(), Transport::Udp) {
            Err(Malformed::Reply { id, rcode, .. }) => {
                assert_eq!((id, rcode), (9, ResponseCode::FormErr));
            }
            other => panic!("expected FORMERR, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_plain_query() {
        let r = Request::parse(&query_bytes(|_| {}), src(), Transport::Udp).expect("valid");
        assert_eq!(r.id, 7);
        assert_eq!(r.query.name().to_ascii(), "Www.Example.test.");
        assert!(r.edns.is_none());
    }

    #[test]
    fn short_packets_and_responses_are_dropped() {
        assert_eq!(
            Request::parse(&[1, 2, 3], src(), Transport::Udp).err(),
            Some(Malformed::Drop)
        );
        let resp = query_bytes(|m| m.metadata.message_type = MessageType::Response);
        assert_eq!(
            Request::parse(&resp, src(), Transport::Udp).err(),
            Some(Malformed::Drop)
        );
    }

    #[test]
    fn truncated_and_multi_question_packets_are_formerr() {
        let bytes = query_bytes(|_| {});
        let short = &bytes[..bytes.len() - 3];
        assert!(matches!(
            Request::parse(short, src(), Transport::Udp),
            Err(Malformed::Reply {
                rcode: ResponseCode::FormErr,
                ..
            })
        ));
        let two = query_bytes(|m| {
            m.add_query(Query::query(Name::root(), RecordType::NS));
        });
        assert!(matches!(
            Request::parse(&two, src(), Transport::Udp),
            Err(Malformed::Reply {
                rcode: ResponseCode::FormErr,
                query: None,
                ..
            })
        ));
    }

    #[test]
    fn rejections_remember_the_requests_opt() {
        let with_opt = query_bytes(|m| {
            m.metadata.op_code = OpCode::Status;
            let mut e = Edns::new();
            e.set_max_payload(4096);
            e.set_dnssec_ok(true);
            m.set_edns(e);
        });
        match Request::parse(&with_opt, src(), Transport::Udp) {
            Err(Malformed::Reply {
                rcode: ResponseCode::NotImp,
                edns: Some(info),
                ..
            }) => {
                assert_eq!(info.payload, 4096);
                assert!(info.dnssec_ok);
            }
            other => panic!("expected NOTIMP with EDNS, got {other:?}"),
        }
        let without = query_bytes(|m| m.metadata.op_code = OpCode::Status);
        assert!(matches!(
            Request::parse(&without, src(), Transport::Udp),
            Err(Malformed::Reply { edns: None, .. })
        ));
    }

    #[test]
    fn meta_types_are_refused_at_the_edge() {
        let q = |t: RecordType| {
            query_bytes(|m| {
                m.queries[0] = Query::query(Name::from_ascii("a.test.").expect("name"), t);
            })
        };
        for (t, rcode) in [
            (RecordType::OPT, ResponseCode::FormErr),
            (RecordType::TSIG, ResponseCode::FormErr),
            (RecordType::Unknown(249), ResponseCode::FormErr),
            (RecordType::AXFR, ResponseCode::NotImp),
            (RecordType::IXFR, ResponseCode::NotImp),
            (RecordType::Unknown(253), ResponseCode::NotImp),
        ] {
            match Request::parse(&q(t), src(), Transport::Tcp) {
                Err(Malformed::Reply { rcode: got, .. }) => assert_eq!(got, rcode, "{t}"),
                other => panic!("{t}: {other:?}"),
            }
        }
    }

    #[test]
    fn unknown_opcode_is_notimp() {
        let bytes = query_bytes(|m| m.metadata.op_code = OpCode::Status);
        assert!(matches!(
            Request::parse(&bytes, src(), Transport::Udp),
            Err(Malformed::Reply {
                rcode: ResponseCode::NotImp,
                ..
            })
        ));
    }
}
