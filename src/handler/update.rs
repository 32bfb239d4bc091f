//! RFC 2136 UPDATE at the edge: which key may change which zone, and the response. What an
//! update does to a zone is the [`Updater`]'s business (the one writer of the zones); this
//! module only decides whether it gets to ask.
//!
//! The order is RFC 8945 §5.2's and BIND's: the TSIG is checked before anything else is looked
//! at (a failure is NOTAUTH with a TSIG error), then the zone section (FORMERR, or NOTAUTH for a
//! zone not served here), then the zone's update policy (REFUSED: unsigned, or a key the zone
//! does not accept), and only then the update itself. Every response to a validly signed
//! request is signed with the same key, whatever its RCODE.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, LowerName, Name, RecordType};
use tracing::{debug, info, warn};

use super::response;
use crate::authority::Catalog;
use crate::authority::store::Updater;
use crate::handler::request::EdnsInfo;
use crate::metrics::Metrics;
use crate::tsig::{self, Keyring, Verified, now_unix};

/// Who may update what: the writer that applies updates, the TSIG keys the server knows, and
/// for each zone that takes updates the keys it accepts.
pub struct Updates {
    updater: Arc<dyn Updater>,
    keyring: Keyring,
    allowed: HashMap<LowerName, Vec<Name>>,
}

impl Updates {
    /// No zone takes updates until [`Updates::allow`] names it.
    pub fn new(updater: Arc<dyn Updater>, keyring: Keyring) -> Updates {
        Updates {
            updater,
            keyring,
            allowed: HashMap::new(),
        }
    }

    /// Lets requests signed with any of `keys` update `zone`.
    pub fn allow(mut self, zone: &Name, keys: impl IntoIterator<Item = Name>) -> Updates {
        self.allowed
            .entry(LowerName::new(zone))
            .or_default()
            .extend(keys);
        self
    }

    /// The keys the server knows (for signed queries too, not only updates).
    pub(super) fn keyring(&self) -> &Keyring {
        &self.keyring
    }

    fn accepts(&self, zone: &Name, key: &Name) -> bool {
        self.allowed
            .get(&LowerName::new(zone))
            .is_some_and(|keys| keys.iter().any(|k| k == key))
    }
}

/// Why an update was not applied, before the updater saw it.
enum Refusal {
    /// The request's TSIG failed or could not be read; `Verified` says how to answer.
    Tsig,
    Rcode(ResponseCode, &'static str),
}

/// Answers one UPDATE request (`bytes` is a query-type message with opcode UPDATE). `None`
/// means send nothing.
pub(super) async fn handle(
    updates: &Updates,
    catalog: &Catalog,
    metrics: &Metrics,
    bytes: &[u8],
    src: SocketAddr,
    our_payload: u16,
) -> Option<Vec<u8>> {
    let request = match Message::from_vec(bytes) {
        Ok(m) => m,
        Err(e) => {
            debug!(client = %src, error = %e, "malformed UPDATE");
            Metrics::inc(&metrics.formerr);
            return response::unparsable(bytes, OpCode::Update);
        }
    };
    let now = now_unix();
    let verified = tsig::verify(bytes, &request, &updates.keyring, now);
    let zone = request.queries.first().map(Query::name).cloned();
    let outcome = match check(updates, catalog, &request, &verified) {
        Err(refusal) => Err(refusal),
        Ok(zone) => {
            let updater = Arc::clone(&updates.updater);
            let msg = request.clone();
            let zone = zone.clone();
            // The updater syncs its journal to disk: keep that off the runtime's threads.
            match tokio::task::spawn_blocking(move || updater.update(&zone, &msg)).await {
                Ok(Ok(serial)) => Ok(serial),
                Ok(Err(e)) => {
                    debug!(client = %src, error = %e, "UPDATE refused");
                    Err(Refusal::Rcode(e.rcode(), "refused by the zone"))
                }
                Err(e) => {
                    warn!(error = %e, "UPDATE task failed");
                    Err(Refusal::Rcode(ResponseCode::ServFail, "update task failed"))
                }
            }
        }
    };
    let rcode = match &outcome {
        Ok(serial) => {
            Metrics::inc(&metrics.updates_applied);
            let zone = zone.as_ref().map_or_else(String::new, Name::to_ascii);
            let key = verified.key().map_or_else(String::new, Name::to_ascii);
            info!(%zone, %key, client = %src, serial, "UPDATE applied");
            ResponseCode::NoError
        }
        Err(Refusal::Tsig) => {
            Metrics::inc(&metrics.updates_refused);
            let rcode = verified.rcode().unwrap_or(ResponseCode::NotAuth);
            debug!(client = %src, ?verified, "UPDATE with a bad TSIG");
            rcode
        }
        Err(Refusal::Rcode(rcode, why)) => {
            Metrics::inc(&metrics.updates_refused);
            debug!(client = %src, %rcode, why, "UPDATE not applied");
            *rcode
        }
    };
    respond(&request, rcode, &verified, now, our_payload)
}

/// The checks before the updater: TSIG, zone section, policy. Returns the zone to update.
fn check<'a>(
    updates: &Updates,
    catalog: &Catalog,
    request: &'a Message,
    verified: &Verified,
) -> Result<&'a Name, Refusal> {
    if verified.rcode().is_some() {
        return Err(Refusal::Tsig);
    }
    // RFC 2136 §3.1.1: exactly one zone, of type SOA.
    let [zsec] = request.queries.as_slice() else {
        return Err(Refusal::Rcode(
            ResponseCode::FormErr,
            "the zone section must hold one zone",
        ));
    };
    if zsec.query_type() != RecordType::SOA {
        return Err(Refusal::Rcode(
            ResponseCode::FormErr,
            "the zone section's type must be SOA",
        ));
    }
    let zone = zsec.name();
    let served = zsec.query_class() == DNSClass::IN && catalog.zones().any(|z| z.origin() == zone);
    if !served {
        return Err(Refusal::Rcode(
            ResponseCode::NotAuth,
            "zone not served here",
        ));
    }
    match verified.key() {
        Some(key) if updates.accepts(zone, key) => Ok(zone),
        Some(_) => Err(Refusal::Rcode(
            ResponseCode::Refused,
            "key not allowed to update this zone",
        )),
        None => Err(Refusal::Rcode(
            ResponseCode::Refused,
            "unsigned UPDATE (every zone needs a TSIG key)",
        )),
    }
}

/// The response: header, the zone section echoed (as BIND and Knot do), OPT when the request
/// had one, and the TSIG that `verified` calls for.
fn respond(
    request: &Message,
    rcode: ResponseCode,
    verified: &Verified,
    now: u64,
    our_payload: u16,
) -> Option<Vec<u8>> {
    let mut m = Message::new(request.metadata.id, MessageType::Response, OpCode::Update);
    m.metadata.response_code = rcode;
    // A malformed TSIG may come with any zone section; echo it only when it is the one zone.
    if let [zsec] = request.queries.as_slice() {
        m.add_query(zsec.clone());
    }
    if let Some(edns) = &request.edns {
        m.set_edns(response::our_opt(EdnsInfo::of(edns), our_payload));
    }
    let bytes = match m.to_vec() {
        Ok(b) => b,
        Err(e) => {
            warn!(error = %e, "cannot encode an UPDATE response");
            return None;
        }
    };
    match tsig::sign_response(bytes, verified, now) {
        Ok(signed) => Some(signed),
        Err(e) => {
            // An unsigned answer to a signed request would be rejected by the client anyway.
            warn!(error = %e, "cannot sign an UPDATE response");
            None
        }
    }
}

#[cfg(test)]
mod tests;
