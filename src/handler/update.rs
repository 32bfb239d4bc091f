//! RFC 2136 UPDATE at the edge: which key may change which zone, and the response. What an
//! update does to a zone is the [`Updater`]'s business (the one writer of the zones); this
//! module only decides whether it gets to ask.
//!
//! The order is RFC 8945 §5.2's and BIND's: the TSIG is checked before anything else is looked
//! at (at the edge, for every opcode: a failure is NOTAUTH with a TSIG error), then the zone section (FORMERR, or NOTAUTH for a
//! zone not served here), then the zone's update policy (REFUSED: unsigned, or a key the zone
//! does not accept), and only then the update itself. Every response to a validly signed
//! request is signed with the same key, whatever its RCODE.

use std::collections::HashMap;
use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{DNSClass, LowerName, Name, RecordType};
use tracing::{debug, info, warn};

use super::edge::{Decoded, Outcome};
use super::response;
use crate::authority::Catalog;
use crate::authority::store::{Ignored, StoreError, Updater};
use crate::metrics::Metrics;
use crate::tsig::Keyring;

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

/// Why an update was not applied. Each has one RCODE (RFC 2136 §3; `rcode`).
#[derive(Debug)]
enum Refusal {
    /// RFC 2136 §3.1.1: the zone section must hold exactly one zone.
    ZoneCount,
    /// RFC 2136 §3.1.1: the zone section's type must be SOA.
    ZoneType,
    /// RFC 2136 §3.1.2: not a zone we are authoritative for.
    NotServed,
    /// Signed with a key the zone's update policy does not name.
    KeyNotAllowed,
    /// Every zone here needs a TSIG key to update.
    Unsigned,
    /// The zones' writer refused it (a prerequisite failed, a record is not allowed, …).
    Rejected(StoreError),
    /// The writer's task did not finish.
    TaskFailed,
}

impl Refusal {
    /// The one RCODE of each refusal.
    fn rcode(&self) -> ResponseCode {
        match self {
            Refusal::ZoneCount | Refusal::ZoneType => ResponseCode::FormErr,
            Refusal::NotServed => ResponseCode::NotAuth,
            Refusal::KeyNotAllowed | Refusal::Unsigned => ResponseCode::Refused,
            Refusal::Rejected(e) => e.rcode(),
            Refusal::TaskFailed => ResponseCode::ServFail,
        }
    }
}

impl Updates {
    /// Answers one UPDATE whose TSIG the edge found valid or absent (a failure is answered
    /// there, before anything else is looked at): the zone section, the policy, then the
    /// updater. The response echoes the zone section (as BIND and Knot do) and is signed with
    /// the request's key, whatever its RCODE.
    pub(super) async fn serve(
        &self,
        d: &Decoded<'_>,
        catalog: &Catalog,
        metrics: &Metrics,
        our_payload: u16,
    ) -> Outcome {
        let outcome = match self.check(catalog, d) {
            Err(refusal) => Err(refusal),
            Ok(zone) => {
                let updater = Arc::clone(&self.updater);
                let msg = d.message.clone();
                let zone = zone.clone();
                // The updater syncs its journal to disk: keep that off the runtime's threads.
                match tokio::task::spawn_blocking(move || updater.update(&zone, &msg)).await {
                    Ok(Ok(serial)) => Ok(serial),
                    Ok(Err(e)) => Err(Refusal::Rejected(e)),
                    Err(e) => {
                        warn!(error = %e, "UPDATE task failed");
                        Err(Refusal::TaskFailed)
                    }
                }
            }
        };
        let rcode = match &outcome {
            Ok(done) => {
                let zone = d
                    .question()
                    .map_or_else(String::new, |q| q.name().to_ascii());
                let key = d.tsig.key().map_or_else(String::new, Name::to_ascii);
                let serial = done.serial;
                // RFC 2136 answers NOERROR for RRs it ignores; the operator is told which.
                let ignored = ignored_list(&done.ignored);
                if done.changed {
                    Metrics::inc(&metrics.updates_applied);
                    info!(%zone, %key, client = %d.src, serial, %ignored, "UPDATE applied");
                } else {
                    Metrics::inc(&metrics.updates_unchanged);
                    info!(%zone, %key, client = %d.src, serial, %ignored,
                        "UPDATE changed nothing (NOERROR, zone as it was)");
                }
                ResponseCode::NoError
            }
            Err(refusal) => {
                Metrics::inc(&metrics.updates_refused);
                let rcode = refusal.rcode();
                debug!(client = %d.src, %rcode, ?refusal, "UPDATE not applied");
                rcode
            }
        };
        response::shell(&d.echo(), rcode, our_payload).into()
    }

    /// The checks before the updater: zone section, then policy. Returns the zone to update.
    fn check<'d>(&self, catalog: &Catalog, d: &'d Decoded<'_>) -> Result<&'d Name, Refusal> {
        let zsec = d.question().ok_or(Refusal::ZoneCount)?;
        if zsec.query_type() != RecordType::SOA {
            return Err(Refusal::ZoneType);
        }
        let zone = zsec.name();
        let served =
            zsec.query_class() == DNSClass::IN && catalog.zones().any(|z| z.origin() == zone);
        if !served {
            return Err(Refusal::NotServed);
        }
        match d.tsig.key() {
            Some(key) if self.accepts(zone, key) => Ok(zone),
            Some(_) => Err(Refusal::KeyNotAllowed),
            None => Err(Refusal::Unsigned),
        }
    }
}

/// The ignored RRs for a log field: `none`, or `NAME TYPE: why` joined by `; `.
fn ignored_list(ignored: &[Ignored]) -> String {
    if ignored.is_empty() {
        return "none".to_string();
    }
    let each: Vec<String> = ignored.iter().map(Ignored::to_string).collect();
    each.join("; ")
}

#[cfg(test)]
mod tests;
