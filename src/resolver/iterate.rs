//! The iterative walk for one link of a chain (RFC 1034 §5.3.3): start at the deepest zone cut
//! we know, ask its servers, follow referrals down, and stop at an answer, an alias or a
//! negative answer. Every reply's records go to the cache through the store stage.
//!
//! QNAME minimisation (RFC 9156) shows each server one label more than the zone it serves,
//! within §2.3's limits as Unbound applies them: the first four labels one at a time, then the
//! rest spread over at most ten minimised queries per name; and a probe whose answer the cache
//! already holds (the name exists: an answer or NODATA) is not sent again, so names under one
//! long name cost one query each once the first has been walked.

use hickory_proto::rr::{Name, RecordType};
use tokio::time::Instant;

use super::budget::{Budget, ResolveError};
use super::classify::Outcome;
use super::{Link, Resolver, Step};
use crate::cache::Signed;
use crate::cache::{Key, Rank};
use crate::limits::{MAX_MINIMISE_COUNT, MINIMISE_ONE_LAB};
use crate::rr;

/// RFC 9156 §2.1: intermediate names are asked with type A; some servers mishandle NS.
const PROBE_TYPE: RecordType = RecordType::A;

/// How many labels the next minimised query shows, given `shown` so far, the name's `total`,
/// and the `probes` already spent on it (RFC 9156 §2.3).
fn next_probe_labels(shown: usize, total: usize, probes: usize) -> usize {
    if probes < MINIMISE_ONE_LAB {
        return (shown + 1).min(total);
    }
    let left = MAX_MINIMISE_COUNT.saturating_sub(probes);
    if left <= 1 {
        return total;
    }
    (shown + (total - shown).div_ceil(left)).min(total)
}

impl Resolver {
    /// Whether the cache already knows that the name of `key` (the probe type's) exists (an
    /// answer or NODATA), so a minimised query for it would teach nothing.
    fn probe_known(&self, key: &Key, now: Instant) -> bool {
        self.cache
            .inspect(key, now, |stored, rank| {
                rank >= Rank::NonAuthoritative && (stored.is_positive() || stored.is_nodata())
            })
            .unwrap_or(false)
    }

    /// Caches what the reply to `ask` taught, unless `ask` is a name of a `no_cache` forward
    /// zone: a walk standing in for its failed forwarders (`forward_first`) keeps nothing of
    /// the zone either, as Unbound's `no_cache_store` is the question's whoever answers it.
    /// (Referrals on the way are kept: the walk reads the servers' addresses from the cache.)
    fn store_unless_no_cache(
        &self,
        ask: &Name,
        learned: Vec<super::classify::Learn>,
        now: Instant,
    ) {
        if self.caches(ask) {
            self.store(learned, now);
        }
    }

    /// Walks the hierarchy for (`name`, `qtype`).
    pub(super) async fn iterate(
        &self,
        name: &Name,
        qtype: RecordType,
        budget: &mut Budget,
    ) -> Result<Link, ResolveError> {
        // RFC 4035 §3.1.4.1: DS lives on the parent side of a cut, so start above it; the
        // child's own servers would answer NODATA.
        let start = if qtype == RecordType::DS && !name.is_root() {
            name.base_name()
        } else {
            name.clone()
        };
        let mut set = self.closest_servers(&start, budget).await?;
        let total = rr::label_count(name);
        let mut shown = rr::label_count(&set.zone);
        let mut minimise = self.qname_minimisation;
        let mut probes = 0;
        let mut referrals = 0;
        loop {
            let labels = if minimise {
                next_probe_labels(shown, total, probes)
            } else {
                total
            };
            let full = labels >= total;
            let (ask, ask_type) = if full {
                (name.clone(), qtype)
            } else {
                probes += 1;
                shown = labels;
                if self.probe_known(&Key::trimmed(name, labels, PROBE_TYPE), budget.now) {
                    continue;
                }
                (name.trim_to(labels), PROBE_TYPE)
            };
            let reply = if full {
                self.ask_zone(&set, &ask, ask_type, budget).await?
            } else {
                match self.ask_zone_minimised(&set, &ask, ask_type, budget).await {
                    Ok(reply) => reply,
                    // RFC 9156 §2.3 relaxed mode: the minimised query is what goes unanswered
                    // (a middlebox dropping its type, say); ask the full name instead.
                    Err(ResolveError::MinimisedUnanswered(_)) => {
                        minimise = false;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            };
            // When the reply was read: what it teaches is cached as of then.
            let now = budget.now;
            if let Outcome::Referral { cut, ns, glue } = reply.outcome {
                referrals += 1;
                if referrals > budget.limits.max_delegation_depth {
                    return Err(ResolveError::DelegationTooDeep(
                        budget.limits.max_delegation_depth,
                    ));
                }
                self.store(reply.learned, now);
                set = self.server_set(&cut, &ns, now);
                // The referral's own glue, as Unbound builds its delegation point from the
                // message: the cache may not have kept it (TTL 0, RFC 2181 §8: use it once),
                // and without it an in-bailiwick server would look glueless, its lookup
                // leading back to this very referral.
                set.add_glue(&glue);
                shown = rr::label_count(&cut);
                continue;
            }
            if !full {
                if matches!(reply.outcome, Outcome::NxDomain { .. }) {
                    // RFC 9156 §2.3 relaxed mode: some servers answer NXDOMAIN for empty
                    // non-terminals, so ask the full name instead of trusting (or caching) it.
                    minimise = false;
                } else {
                    self.store_unless_no_cache(&ask, reply.learned, now);
                    if probes >= MAX_MINIMISE_COUNT {
                        minimise = false;
                    }
                }
                continue;
            }
            self.store_unless_no_cache(&ask, reply.learned, now);
            let step = match reply.outcome {
                Outcome::Answer(records) => Step::Answer(records),
                Outcome::Cname { records, target } => Step::Cname(records, target),
                Outcome::NoData { soa } => Step::NoData(soa),
                Outcome::NxDomain { soa } => Step::NxDomain(soa),
                Outcome::YxDomain { records } => Step::YxDomain(records),
                // ask_zone returns only usable replies, and referrals were followed above.
                _ => return Err(ResolveError::NoReachableAuthority(set.zone.clone())),
            };
            return Ok(Link {
                step,
                signed: Signed::unchecked(reply.signed),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The label counts a cold walk shows for a name of `total` labels below the root.
    fn schedule(total: usize) -> Vec<usize> {
        let (mut shown, mut probes, mut out) = (0, 0, Vec::new());
        loop {
            let next = next_probe_labels(shown, total, probes);
            out.push(next);
            if next >= total {
                return out;
            }
            probes += 1;
            shown = next;
        }
    }

    #[test]
    fn short_names_are_shown_one_label_at_a_time() {
        assert_eq!(schedule(3), [1, 2, 3]);
        assert_eq!(schedule(5), [1, 2, 3, 4, 5]);
    }

    #[test]
    fn long_names_cost_at_most_ten_queries() {
        let twelve = schedule(12);
        assert_eq!(&twelve[..4], [1, 2, 3, 4], "the first four one at a time");
        assert!(twelve.len() <= MAX_MINIMISE_COUNT, "{twelve:?}");
        let long = schedule(40);
        assert!(long.len() <= MAX_MINIMISE_COUNT, "{long:?}");
        assert_eq!(long.last(), Some(&40));
        assert!(long.windows(2).all(|w| w[0] < w[1]));
    }
}
