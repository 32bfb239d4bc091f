//! Server identity in class CHAOS (RFC 4892): `id.server.` and `hostname.bind.` answer TXT with
//! the configured identity (the machine's host name by default), so clients behind a load
//! balancer can tell instances apart; `version.server.` and `version.bind.` answer only when a
//! version is configured, since advertising one helps attackers more than users. Everything
//! else in CHAOS is REFUSED.

use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};

use super::Request;
use super::response;

/// What CHAOS TXT tells about this server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// `id.server.` / `hostname.bind.`; `None`: REFUSED.
    pub id: Option<String>,
    /// `version.server.` / `version.bind.`; `None` (the default): REFUSED.
    pub version: Option<String>,
}

impl Identity {
    /// The machine's host name as identity, no version.
    pub(crate) fn from_host() -> Identity {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty());
        Identity {
            id: host,
            version: None,
        }
    }
}

/// The answer to a CHAOS question: TXT at the identity names; `None` (to be refused)
/// otherwise.
pub(super) fn answer(
    req: &Request,
    identity: &Identity,
    our_payload: u16,
) -> Option<super::Response> {
    let name = LowerName::new(req.query.name());
    let is = |text: &str| Name::from_ascii(text).is_ok_and(|n| LowerName::new(&n) == name);
    let text = if is("id.server.") || is("hostname.bind.") {
        identity.id.as_deref()
    } else if is("version.server.") || is("version.bind.") {
        identity.version.as_deref()
    } else {
        None
    };
    let wanted = matches!(req.query.query_type(), RecordType::TXT | RecordType::ANY);
    let text = text.filter(|_| wanted)?;
    let mut m = response::reply_to(req, our_payload);
    m.metadata.authoritative = true;
    let mut record = Record::from_rdata(
        req.query.name().clone(),
        0,
        RData::TXT(TXT::new(vec![text.to_string()])),
    );
    record.dns_class = DNSClass::CH;
    m.add_answer(record);
    Some(m.into())
}
