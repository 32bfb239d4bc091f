//! How a query is answered, decided in one place (`Handler::route`), and every REFUSED the
//! query path gives, built in one place (`Handler::refuse`) with its count and its reason.

use hickory_proto::op::ResponseCode;

use super::ede_option::add_ede;
use super::request::Request;
use super::response;
use super::{Handler, Recursion, Response};
use crate::authority::{Catalog, LocalAnswer};
use crate::ede;
use crate::metrics::Metrics;

/// Who answers a query.
// Lives on the stack for one call: boxing the local answer would cost an allocation per
// authoritative answer.
#[allow(clippy::large_enum_variant)]
pub(super) enum Route<'a> {
    /// A CHAOS-class question: the server's identity (RFC 4892), or a refusal.
    Chaos,
    /// Refused, for this reason.
    Refuse(Refusal),
    /// A served (or built-in) zone's answer, from this catalog.
    Local(&'a Catalog, LocalAnswer),
    /// The resolver, for an RD=1 client the ACL allows.
    Recurse(&'a Recursion),
    /// The cache alone, for an RD=0 client allowed to snoop (RFC 1034 §4.3.1).
    Snoop(&'a Recursion),
}

/// Why a query is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// A class other than IN (and CH for the identity names).
    Class,
    /// A CHAOS name we do not answer (`version.bind` unless configured, any other).
    Chaos,
    /// Recursion is configured but not for this client (RFC 8914 18, Prohibited).
    RecursionNotAllowed,
    /// A name we do not serve, and no recursion for this request (none configured, or RD=0),
    /// as NSD and Unbound answer.
    NotServed,
}

impl Handler {
    /// The REFUSED answer for `why`; RA says whether this client may recurse.
    pub(super) fn refuse(&self, req: &Request, why: Refusal, ra: bool) -> Response {
        Metrics::inc(&self.metrics.refused);
        let mut m = response::with_rcode(req, self.config.edns_payload, ResponseCode::Refused);
        m.metadata.recursion_available = ra;
        if why == Refusal::RecursionNotAllowed {
            add_ede(
                &mut m,
                ede::PROHIBITED,
                "recursion is not allowed for this client",
            );
        }
        m.into()
    }
}
