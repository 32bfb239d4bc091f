//! Extended DNS Errors (RFC 8914) in responses: adding one, and reading it back for the
//! query log.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;

use crate::ede;

/// RFC 8914 Extended DNS Error option code.
pub(super) const EDE_OPTION: u16 = 15;

/// RFC 8914 §4.4/§4.20: a stale answer is "Stale Answer", a stale NXDOMAIN "Stale NXDOMAIN
/// Answer".
pub(super) fn add_stale_ede(m: &mut Message, rcode: ResponseCode) {
    if rcode == ResponseCode::NXDomain {
        add_ede(m, ede::STALE_NXDOMAIN, "NXDOMAIN from expired cache data");
    } else {
        add_ede(m, ede::STALE_ANSWER, "answered from expired cache data");
    }
}

/// Adds an Extended DNS Error to a response that carries OPT (RFC 8914 §2: only with EDNS).
pub(super) fn add_ede(m: &mut Message, code: u16, text: &str) {
    if let Some(edns) = m.edns.as_mut() {
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(text.as_bytes());
        edns.options_mut()
            .insert(EdnsOption::Unknown(EDE_OPTION, payload));
    }
}

/// The first Extended DNS Error of a response: code and text.
pub(super) fn ede_of(m: &Message) -> Option<(u16, String)> {
    m.edns
        .as_ref()?
        .options()
        .as_ref()
        .iter()
        .find_map(|(_, opt)| match opt {
            EdnsOption::Unknown(EDE_OPTION, payload) if payload.len() >= 2 => Some((
                u16::from_be_bytes([payload[0], payload[1]]),
                String::from_utf8_lossy(&payload[2..]).into_owned(),
            )),
            _ => None,
        })
}
