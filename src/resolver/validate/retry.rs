//! A bogus answer may be one server's fault: a secondary still serving signatures that expired
//! before it got the re-signed zone, a server with a broken key roll, or an on-path forger that
//! can reach only one address. Like Unbound (its validator's restarts with the bad server
//! blacklisted), the walk asks the zone's other servers before it gives up, each at most once,
//! and never the one that gave bogus data again (`Budget::avoid`).

use std::net::IpAddr;

use hickory_proto::rr::{Name, RecordType};

use super::Validator;
use crate::cache::Trust;
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
}
