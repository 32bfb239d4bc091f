//! An ENTRY as a message, as a reply to a query (`ADJUST copy_id copy_query`), and as a
//! pattern a message must match (testbound's `find_match`, with Deckard's set semantics for
//! the record sections: order within a section is not compared).

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::Record;

use super::rpl::{Entry, Flags};

impl Entry {
    /// The entry as a message with `id`.
    pub(super) fn message(&self, id: u16) -> Message {
        let kind = if self.flags.qr {
            MessageType::Response
        } else {
            MessageType::Query
        };
        let mut m = Message::new(id, kind, self.opcode.unwrap_or(OpCode::Query));
        let f = self.flags;
        m.metadata.authoritative = f.aa;
        m.metadata.truncation = f.tc;
        m.metadata.recursion_desired = f.rd;
        m.metadata.recursion_available = f.ra;
        m.metadata.authentic_data = f.ad;
        m.metadata.checking_disabled = f.cd;
        m.metadata.response_code = self.rcode.unwrap_or(ResponseCode::NoError);
        for (name, rtype) in &self.question {
            m.add_query(Query::query(name.clone(), *rtype));
        }
        m.answers = self.answer.clone();
        m.authorities = self.authority.clone();
        m.additionals = self.additional.clone();
        if self.dnssec_ok {
            let mut edns = Edns::new();
            edns.set_dnssec_ok(true);
            m.set_edns(edns);
        }
        m
    }

    /// The entry as the reply to `query`: with its ID only under `copy_id` (a reply with
    /// another ID is one the resolver must throw away), its question under `copy_query`.
    pub(super) fn reply_to(&self, query: &Message) -> Message {
        let mut m = self.message(0);
        if self.copy_id {
            m.metadata.id = query.metadata.id;
        }
        if self.copy_query {
            m.queries = query.queries.clone();
        }
        m
    }

    /// Whether `got` (sent over TCP when `tcp`) matches this entry, or the first difference.
    pub(super) fn check(&self, got: &Message, tcp: bool) -> Result<(), String> {
        self.check_as(got, tcp, Sections::Full)
    }

    /// [`Entry::check`], with the authority and additional sections of positive answers
    /// compared as `sections` says.
    pub(super) fn check_as(
        &self,
        got: &Message,
        tcp: bool,
        sections: Sections,
    ) -> Result<(), String> {
        let want = self.message(got.metadata.id);
        let m = &self.matches;
        let mismatch =
            |what: &str, want: String, got: String| Err(format!("{what}: want {want}, got {got}"));
        let qname = |msg: &Message| msg.queries.first().map(|q| q.name().to_lowercase());
        let qtype = |msg: &Message| msg.queries.first().map(|q| q.query_type());
        if (m.opcode || m.all) && got.metadata.op_code != want.metadata.op_code {
            return mismatch(
                "opcode",
                format!("{:?}", want.metadata.op_code),
                format!("{:?}", got.metadata.op_code),
            );
        }
        if m.qtype && qtype(got) != qtype(&want) {
            return mismatch(
                "qtype",
                format!("{:?}", qtype(&want)),
                format!("{:?}", qtype(got)),
            );
        }
        if m.qname && qname(got) != qname(&want) {
            return mismatch(
                "qname",
                format!("{:?}", qname(&want)),
                format!("{:?}", qname(got)),
            );
        }
        if m.subdomain {
            let inside = match (qname(&want), qname(got)) {
                (Some(zone), Some(name)) => zone.zone_of(&name),
                _ => false,
            };
            if !inside {
                return mismatch(
                    "subdomain",
                    format!("{:?}", qname(&want)),
                    format!("{:?}", qname(got)),
                );
            }
        }
        if (m.rcode || m.all) && got.metadata.response_code != want.metadata.response_code {
            return mismatch(
                "rcode",
                want.metadata.response_code.to_string(),
                got.metadata.response_code.to_string(),
            );
        }
        if (m.flags || m.all) && flags(got) != flags(&want) {
            return mismatch(
                "flags",
                format!("{:?}", flags(&want)),
                format!("{:?}", flags(got)),
            );
        }
        if (m.question || m.all) && questions(got) != questions(&want) {
            return mismatch(
                "question",
                format!("{:?}", questions(&want)),
                format!("{:?}", questions(got)),
            );
        }
        let by_section: [(&str, bool, SectionOf); 3] = [
            ("answer", m.answer || m.all, |m| &m.answers),
            ("authority", m.all, |m| &m.authorities),
            ("additional", m.all, |m| &m.additionals),
        ];
        let positive = !want.answers.is_empty();
        for (what, compared, section) in by_section {
            let (w, g) = (lines(section(&want), m.ttl), lines(section(got), m.ttl));
            let minimal = positive && what != "answer" && sections == Sections::Minimal;
            if compared && minimal && g.iter().any(|line| !w.contains(line)) {
                return mismatch(what, format!("a part of {w:?}"), format!("{g:?}"));
            }
            if compared && !minimal && w != g {
                return mismatch(what, format!("{w:?}"), format!("{g:?}"));
            }
        }
        if m.all {
            let edns = |msg: &Message| msg.edns.as_ref().map(|e| e.flags().dnssec_ok);
            if edns(got) != edns(&want) {
                return mismatch(
                    "EDNS (DO)",
                    format!("{:?}", edns(&want)),
                    format!("{:?}", edns(got)),
                );
            }
        }
        if let Some(want_tcp) = m.tcp
            && want_tcp != tcp
        {
            return mismatch("transport TCP", want_tcp.to_string(), tcp.to_string());
        }
        Ok(())
    }
}

/// One record section of a message.
type SectionOf = fn(&Message) -> &[Record];

/// How the authority and additional sections of a positive answer are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sections {
    /// As testbound does: exactly.
    Full,
    /// tern answers minimally (as Unbound's `minimal-responses: yes`): the zone's NS set and
    /// its addresses may be left out, but nothing else may be added.
    Minimal,
}

fn flags(m: &Message) -> Flags {
    let h = &m.metadata;
    Flags {
        qr: h.message_type == MessageType::Response,
        aa: h.authoritative,
        tc: h.truncation,
        rd: h.recursion_desired,
        ra: h.recursion_available,
        ad: h.authentic_data,
        cd: h.checking_disabled,
    }
}

fn questions(m: &Message) -> Vec<String> {
    m.queries
        .iter()
        .map(|q| format!("{} {}", q.name().to_lowercase(), q.query_type()))
        .collect()
}

/// A section as sorted, lower-cased presentation lines; TTLs zeroed unless compared.
fn lines(records: &[Record], ttl: bool) -> Vec<String> {
    let mut out: Vec<String> = records
        .iter()
        .map(|r| {
            let ttl = if ttl { r.ttl } else { 0 };
            let line = format!(
                "{} {ttl} {} {} {}",
                r.name,
                r.dns_class,
                r.record_type(),
                r.data
            );
            line.to_lowercase()
        })
        .collect();
    out.sort();
    out
}
