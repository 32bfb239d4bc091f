//! Whether a message answers our request (RFC 5452 §3, §9.1): the same ID and QR=1, and the
//! question we asked, class IN; how strictly depends on the caller. The address and port are
//! the socket's to check: ours are connected to the server asked, so the kernel drops
//! datagrams from anywhere else.

use hickory_proto::op::{Message, MessageType, Metadata, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RecordType};

use super::ClientError;

/// What a reply must echo.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected<'q> {
    id: u16,
    qname: &'q Name,
    qtype: RecordType,
    op_code: OpCode,
    rule: Rule,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// A reply repeats the one question exactly, or has none at all (some servers leave it
    /// out: Unbound takes such a reply when ID, address and port match, and so do we; the
    /// walk reads it as the answer to the question it asked). The opcode is the classifier's
    /// concern.
    Answer,
    /// The opcode too; the question may be missing from an error response (RFC 1035 §4.1.1
    /// does not require it there) and from the later messages of a transfer (RFC 5936
    /// §2.2.2).
    Response,
}

impl<'q> Expected<'q> {
    /// The reply to a resolver's query (RFC 5452 §9.1).
    pub(crate) fn answer(id: u16, qname: &'q Name, qtype: RecordType) -> Expected<'q> {
        Expected {
            id,
            qname,
            qtype,
            op_code: OpCode::Query,
            rule: Rule::Answer,
        }
    }

    /// The response(s) to `request` (SOA query, AXFR, IXFR, NOTIFY): ID, QR, opcode and
    /// question as RFC 5452 §3 lists them.
    pub(crate) fn response(request: &'q Message) -> Result<Expected<'q>, ClientError> {
        let [question] = request.queries.as_slice() else {
            return Err(ClientError::Encode("a request has one question".into()));
        };
        Ok(Expected {
            id: request.metadata.id,
            qname: question.name(),
            qtype: question.query_type(),
            op_code: request.metadata.op_code,
            rule: Rule::Response,
        })
    }

    /// Whether a reply with `header` answers us, given that it repeats the question (see
    /// [`Expected::question`]): a response with our ID.
    pub(crate) fn answered_by(&self, header: &Metadata) -> bool {
        header.message_type == MessageType::Response && header.id == self.id
    }

    /// The question a reply to a resolver's query repeats (when it has one); `None` for the
    /// other rules.
    pub(crate) fn question(&self) -> Option<(&'q Name, RecordType)> {
        (self.rule == Rule::Answer).then_some((self.qname, self.qtype))
    }

    /// Whether `reply` answers us; `first`: the first message of the reply (a transfer's
    /// later messages may leave out the question).
    pub(crate) fn matches(&self, reply: &Message, first: bool) -> bool {
        let header = &reply.metadata;
        if !self.answered_by(header) {
            return false;
        }
        match (self.rule, reply.queries.as_slice()) {
            (Rule::Answer, [q]) => self.is_ours(q),
            (Rule::Answer, []) => true,
            (Rule::Answer, _) => false,
            (Rule::Response, _) if header.op_code != self.op_code => false,
            (Rule::Response, []) => !first || header.response_code != ResponseCode::NoError,
            (Rule::Response, [q]) => self.is_ours(q),
            (Rule::Response, _) => false,
        }
    }

    /// `Ok` when `reply` answers us; a [`ClientError::Malformed`] naming what it answers
    /// instead.
    pub(crate) fn check(&self, reply: &Message, first: bool) -> Result<(), ClientError> {
        if self.matches(reply, first) {
            return Ok(());
        }
        Err(ClientError::Malformed(format!(
            "ID {} {:?} {:?} {:?} does not answer request ID {}",
            reply.metadata.id,
            reply.metadata.message_type,
            reply.metadata.op_code,
            reply.queries.first().map(|q| q.to_string()),
            self.id
        )))
    }

    fn is_ours(&self, q: &Query) -> bool {
        crate::wire::same_name(q.name(), self.qname)
            && q.query_type() == self.qtype
            && q.query_class() == DNSClass::IN
    }
}
