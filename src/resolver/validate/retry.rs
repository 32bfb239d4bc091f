//! A bogus answer may be one server's fault: a secondary still serving signatures that expired
//! before it got the re-signed zone, a server with a broken key roll, or an on-path forger that
//! can reach only one address. Like Unbound (its validator's restarts with the bad server
//! blacklisted), the walk asks the zone's other servers before it gives up, each at most once,
//! and never the one that gave bogus data again (`Budget::avoid`). A zone's DNSKEY RRset found
//! bogus is asked again the same way, before the zone's keys are judged bogus.

use std::net::IpAddr;

use hickory_proto::rr::{Name, RecordType};

use super::{BOGUS_TTL, Validator, rrset_of};
use crate::cache::Trust;
use crate::dnssec::chain::KeyState;
use crate::dnssec::{Ede, Reason, SignedRrset};
use crate::resolver::budget::Budget;
use crate::resolver::{Link, Resolver};

/// Other servers tried after a bogus answer, at most (Unbound restarts up to 5 times; each
/// restart here costs at least one upstream query, so fewer).
pub(crate) const MAX_BOGUS_RETRIES: usize = 3;

impl Resolver {
    /// `link` was just walked for (`name`, `qtype`), answered by `from`, and judged: when
    /// bogus, walks again for it without that server, and judges what comes back; the first
    /// link not bogus, or the last bogus one when the zone has no other server to ask.
    pub(in crate::resolver) async fn retry_bogus(
        &self,
        val: &Validator,
        name: &Name,
        qtype: RecordType,
        (mut link, mut from): (Link, Option<IpAddr>),
        budget: &mut Budget,
    ) -> Link {
        for _ in 0..MAX_BOGUS_RETRIES {
            if !matches!(link.signed.trust, Trust::Bogus { .. }) {
                break;
            }
            let Some(server) = from.take() else {
                break;
            };
            tracing::debug!(%name, ?qtype, %server, "bogus answer: asking the zone's other servers");
            budget.avoid.push(server);
            // No other server (or none that answers): the bogus verdict stands.
            // A forwarded name is asked of the zone's other forwarders (with CD=1: see
            // `checking_disabled`), not walked in the clear behind their back.
            let Ok(mut again) = self.forward_or_iterate(name, qtype, budget).await else {
                break;
            };
            // Judging it fetches keys, through exchanges of their own.
            from = budget.answered_by;
            again.signed.trust = self.validate_link(val, name, qtype, &again, budget).await;
            link = again;
        }
        link
    }

    /// A zone's DNSKEY RRset, judged by `judge`: when that finds it bogus through a fault of
    /// the RRset itself (signatures expired at a stale secondary, a key roll half done at one
    /// server), it is asked again of the zone's other servers, as a bogus answer is
    /// (`retry_bogus`; Unbound blacklists the server and primes the keys again).
    pub(super) async fn judged_dnskeys(
        &self,
        zone: &Name,
        budget: &mut Budget,
        mut judge: impl FnMut(&SignedRrset) -> KeyState,
    ) -> KeyState {
        // Set by a reply: `Some` only when the RRset came from a server just now.
        budget.answered_by = None;
        let mut state = match self.fetch(zone, RecordType::DNSKEY, budget).await {
            Ok(res) => judge(&rrset_of(&res, zone, RecordType::DNSKEY)),
            Err(e) => {
                return KeyState::Bogus {
                    reason: Reason::new(zone, Ede::DnskeyMissing, format!("DNSKEY of {zone}: {e}")),
                    ttl: BOGUS_TTL,
                };
            }
        };
        let mut from = budget.answered_by.take();
        for _ in 0..MAX_BOGUS_RETRIES {
            // A DS that failed is the parent's fault, not this RRset's.
            let KeyState::Bogus { reason, .. } = &state else {
                break;
            };
            if reason.zone != *zone {
                break;
            }
            let Some(server) = from.take() else {
                break;
            };
            tracing::debug!(%zone, %server, "bogus DNSKEY RRset: asking the zone's other servers");
            budget.avoid.push(server);
            let Ok(res) = self.refetch(zone, RecordType::DNSKEY, budget).await else {
                break;
            };
            from = budget.answered_by.take();
            state = judge(&rrset_of(&res, zone, RecordType::DNSKEY));
        }
        state
    }
}
