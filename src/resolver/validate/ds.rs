//! The DS step of the chain of trust: the child's DS RRset, or the parent's proof that there
//! is none, verified with the parent's keys. A bogus DS answer may be one parent server's
//! fault (a stale secondary whose signatures expired, an NSEC chain from before the DS was
//! added): like a bogus DNSKEY RRset (`judged_dnskeys`) it is asked again of the parent's
//! other servers, as Unbound's validator restarts with the server blacklisted. A verdict
//! reached through the parent's own keys (bogus or insecure above) is not the DS server's
//! fault and costs no retry.

use hickory_proto::dnssec::rdata::DS;
use hickory_proto::rr::{Name, RecordType};

use super::retry::MAX_BOGUS_RETRIES;
use super::{BOGUS_TTL, Validator, denial_sets, insecure_below, rrset_of, signer};
use crate::dnssec::chain::{KeyState, ZoneKeys};
use crate::dnssec::{Ede, Reason, Security, TrustAnchor, Validation};
use crate::resolver::budget::Budget;
use crate::resolver::{Resolution, Resolver};

/// What one DS answer says of the child zone.
enum DsStep {
    /// A verdict that needs no DNSKEY of the child, and that no other server would change.
    Done(KeyState),
    /// The answer itself is bogus: another server of the parent may have good data.
    Bogus(KeyState),
    /// The DS records, verified, and their TTL.
    Ds(Vec<DS>, u32),
}

impl Resolver {
    /// `zone`'s DS records verified with its parent's keys, or the verdict on `zone`'s keys
    /// that the DS step already reaches (no DS proven, insecure or bogus).
    pub(super) async fn judged_ds(
        &self,
        val: &Validator,
        v: &mut Validation,
        anchor: &TrustAnchor,
        zone: &Name,
        budget: &mut Budget,
    ) -> Result<(Vec<DS>, u32), KeyState> {
        // Set by a reply: `Some` only when the answer came from a server just now.
        budget.answered_by = None;
        let sent = budget.upstream_queries();
        let ds = match self.fetch(zone, RecordType::DS, budget).await {
            Ok(res) => res,
            // No DS answer at all proves nothing about the child's keys (EDE 9 is for a DS
            // whose key the child lacks): the generic failure.
            Err(e) => {
                return Err(KeyState::Bogus {
                    reason: Reason::new(zone, Ede::Bogus, format!("DS of {zone}: {e}")),
                    ttl: BOGUS_TTL,
                });
            }
        };
        let mut from = budget.answered_by.take();
        // A DS usually comes from the cache, learnt with the referral to `zone`, its server
        // unknown: it is asked once again of the parent (past the cache, so the server that
        // answers is known and can then be avoided).
        let mut cached = from.is_none() && budget.upstream_queries() == sent;
        let mut step = self.ds_step(val, v, anchor, zone, &ds, budget).await;
        for _ in 0..MAX_BOGUS_RETRIES {
            if !matches!(step, DsStep::Bogus(_)) {
                break;
            }
            match from.take() {
                Some(server) => {
                    tracing::debug!(%zone, %server, "bogus DS answer: asking the parent's other servers");
                    budget.avoid.push(server);
                }
                None if cached => {
                    tracing::debug!(%zone, "bogus cached DS answer: asking the parent again");
                    cached = false;
                }
                None => break,
            }
            budget.answered_by = None;
            let Ok(res) = self.refetch(zone, RecordType::DS, budget).await else {
                break;
            };
            from = budget.answered_by.take();
            step = self.ds_step(val, v, anchor, zone, &res, budget).await;
        }
        match step {
            DsStep::Ds(records, ttl) => Ok((records, ttl)),
            DsStep::Done(state) | DsStep::Bogus(state) => Err(state),
        }
    }

    /// The keys of `parent` that vouch for `zone`'s DS answer, or the verdict on `zone` that
    /// the parent's own state already is (insecure above, or bogus): not the DS server's fault.
    async fn parent_keys(
        &self,
        val: &Validator,
        v: &mut Validation,
        anchor: &TrustAnchor,
        zone: &Name,
        parent: &Name,
        budget: &mut Budget,
    ) -> Result<ZoneKeys, DsStep> {
        match self.zone_keys(val, v, anchor, parent, budget).await {
            KeyState::Secure(keys) => Ok(keys),
            KeyState::Insecure { ttl, .. } => Err(DsStep::Done(insecure_below(zone, parent, ttl))),
            bogus @ KeyState::Bogus { .. } => Err(DsStep::Done(bogus)),
        }
    }

    /// Judges one DS answer for `zone` with its parent's keys (RFC 4035 §5.2).
    async fn ds_step(
        &self,
        val: &Validator,
        v: &mut Validation,
        anchor: &TrustAnchor,
        zone: &Name,
        ds: &Resolution,
        budget: &mut Budget,
    ) -> DsStep {
        let bogus = |ede, step: String| {
            DsStep::Bogus(KeyState::Bogus {
                reason: Reason::new(zone, ede, step),
                ttl: BOGUS_TTL,
            })
        };
        let ds_set = rrset_of(ds, zone, RecordType::DS);
        let parent_of = |candidate: Option<Name>| match candidate {
            Some(p) if p != *zone && p.zone_of(zone) && anchor.zone.zone_of(&p) => Some(p),
            _ => None,
        };
        if !ds_set.records.is_empty() {
            let parent = parent_of(ds_set.signer().cloned())
                .unwrap_or_else(|| self.cut_above(zone, true, anchor, budget));
            let parent_keys = match self
                .parent_keys(val, v, anchor, zone, &parent, budget)
                .await
            {
                Ok(keys) => keys,
                Err(done) => return done,
            };
            return match v.verified_ds(&parent_keys, &ds_set) {
                Ok((records, ttl)) => DsStep::Ds(records, ttl),
                Err(state) => DsStep::Bogus(state),
            };
        }
        if !ds.answers.is_empty() {
            return bogus(Ede::Bogus, format!("DS query for {zone} led to an alias"));
        }
        // No DS: the parent must prove it (RFC 4035 §5.2), or be insecure itself.
        let soa = ds.authorities.first();
        let parent = parent_of(soa.map(|s| s.name.clone()))
            .or_else(|| parent_of(signer(&ds.proof)))
            .unwrap_or_else(|| self.cut_above(zone, true, anchor, budget));
        let parent_keys = match self
            .parent_keys(val, v, anchor, zone, &parent, budget)
            .await
        {
            Ok(keys) => keys,
            Err(done) => return done,
        };
        let denial = match v.denial(&parent_keys, &denial_sets(soa, &ds.proof)) {
            Ok(denial) => denial,
            Err(reason) => {
                return DsStep::Bogus(KeyState::Bogus {
                    reason,
                    ttl: BOGUS_TTL,
                });
            }
        };
        match v.no_ds(&denial, zone) {
            Security::Insecure => DsStep::Done(KeyState::Insecure {
                zone: zone.clone(),
                ttl: denial.ttl(),
                why: format!("{parent} proves there is no DS for {zone}"),
                ede: None,
            }),
            // No DS and no zone cut: `zone`'s data is the parent's, signed by its keys.
            Security::Secure => DsStep::Done(KeyState::Secure(parent_keys)),
            Security::Bogus(reason) => DsStep::Bogus(KeyState::Bogus {
                reason,
                ttl: BOGUS_TTL,
            }),
            Security::Indeterminate => bogus(Ede::Bogus, format!("no DS proof for {zone}")),
        }
    }
}
