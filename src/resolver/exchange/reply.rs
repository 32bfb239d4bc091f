//! What one reply (or transport failure) does to an exchange: the infrastructure cache and
//! the server's window learn from it, and it ends the exchange when usable.

use std::sync::Arc;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, RecordType};
use tokio::time::Instant;

use super::{Attempt, Exchange};
use crate::cache::Key;
use crate::resolver::budget::{Budget, ResolveError};
use crate::resolver::classify::{Classified, Outcome, classify_from, settled_alone};
use crate::resolver::infra::Mark;
use crate::resolver::upstream::{UpstreamError, UpstreamReply};
use crate::resolver::{Resolver, answer_ns};

impl Resolver {
    /// Handles one reply (or transport failure). `Some` is the usable reply that ends the
    /// exchange; `None` means go on.
    pub(super) fn on_reply<'u>(
        &'u self,
        ex: &mut Exchange<'u>,
        attempt: Attempt<'u>,
        result: Result<UpstreamReply, UpstreamError>,
        budget: &mut Budget,
    ) -> Result<Option<Classified>, ResolveError> {
        let result = result.and_then(|reply| classified(reply, ex));
        budget.advance(match &result {
            Ok((reply, _)) => reply.at,
            // Edge: a transport failure carries no time of its own.
            Err(_) => Instant::now(),
        });
        let now = budget.now;
        let i = attempt.cand;
        let addr = ex.cands[i].addr;
        let waited = now.saturating_duration_since(attempt.sent);
        let (reply, mut classified) = match result {
            Ok(read) => {
                ex.cands[i].replied = true;
                read
            }
            Err(e @ UpstreamError::Network(_)) => {
                // The try failed outright (a firewall's EPERM, full buffers, no route, a
                // connection closed unanswered): no reply can come to it, so waiting out its
                // timer only delays the next. That goes now, to the next server or to this one
                // again, as Unbound's iterator moves on at once after a send error; it counts
                // as one of the server's tries, which bound the sends. A failure on our side
                // says nothing of the server: no loss is counted against it.
                self.trace_try(ex, i, attempt.tcp, waited, || e.to_string());
                let c = &mut ex.cands[i];
                c.failed += 1;
                if c.failed >= self.limits.outbound_msg_retry {
                    c.done = true;
                }
                ex.go_on_if_newest(i, attempt.sent, now);
                return Ok(None);
            }
            Err(e @ (UpstreamError::Refused | UpstreamError::Unusable(_))) => {
                // ICMP port unreachable or a reset: nobody is listening there. Or a TLS
                // forwarder whose handshake or certificate failed (logged where the connection
                // failed, and remembered there, in its backoff): the next server, never this
                // one in the clear, goes on. A certificate says nothing of the address's
                // health, which other zones may share: no loss is counted against it.
                if matches!(e, UpstreamError::Refused) {
                    self.infra.record_loss(addr, attempt.sent, now);
                }
                self.trace_try(ex, i, attempt.tcp, waited, || e.to_string());
                ex.cands[i].done = true;
                ex.go_on_if_newest(i, attempt.sent, now);
                return Ok(None);
            }
        };
        ex.go_on_if_newest(i, attempt.sent, now);
        let window = Arc::clone(&ex.cands[i].window);
        window.on_reply();
        // TCP round trips include the handshake; UDP, and a kept TLS connection (timed from the
        // query's write), time the server.
        let timed = !attempt.tcp || ex.tls.is_some();
        self.infra
            .record_reply(addr, timed.then_some(reply.rtt), now);
        if timed {
            attempt.server.rtt.observe(reply.rtt);
        }
        if !attempt.tcp {
            self.infra.record_lag(reply.lag);
        }
        let servfail = reply.message.metadata.response_code == ResponseCode::ServFail;
        let rtt = reply.rtt;
        if matches!(classified.outcome, Outcome::Answer(_)) {
            self.learn_answer_ns(&mut classified, reply, ex, now);
        }
        self.trace_try(ex, i, attempt.tcp, rtt, || describe(&classified));
        // A validating forwarder's SERVFAIL may be its validation failing: asked once more with
        // CD=1 (see `checking_disabled`), it hands over the data for us to judge.

        if servfail && ex.cands[i].tries == 1 && self.checking_disabled(ex, true, budget) {
            self.send(ex, i, window.force(), budget)?;
            return Ok(None);
        }
        match &classified.outcome {
            Outcome::Truncated if !attempt.tcp => {
                ex.cands[i].tcp = true;
                ex.cands[i].done = false;
                self.send(ex, i, window.force(), budget)?;
            }
            // RFC 6891 §7: FORMERR (or, from some, NOTIMP) without OPT may mean the server
            // predates EDNS; ask once more without it (remembered once that is answered).
            Outcome::FormErr { has_opt: false } | Outcome::NotImp { has_opt: false }
                if attempt.edns =>
            {
                ex.cands[i].edns = false;
                ex.cands[i].done = false;
                self.send(ex, i, window.force(), budget)?;
            }
            Outcome::Lame(_) | Outcome::NotImp { .. } => {
                self.infra
                    .mark(addr, LowerName::new(&ex.zone_name), Mark::Lame, now);
                ex.cands[i].done = true;
            }
            Outcome::Failed(_) => {
                self.infra.mark(
                    addr,
                    LowerName::new(&ex.zone_name),
                    Mark::NonAuthoritative,
                    now,
                );
                ex.cands[i].done = true;
            }
            Outcome::Truncated | Outcome::FormErr { .. } => ex.cands[i].done = true,
            _ => {
                // Answered without EDNS after a FORMERR to it: a server that predates EDNS,
                // remembered (Unbound keeps it only then: a server that rejects everything,
                // or one FORMERR by chance, would otherwise lose every query its DO bit).
                if !attempt.edns {
                    self.infra.set_no_edns(addr, now);
                }
                if !classified.authoritative && !ex.recursive {
                    // Usable, but an authoritative server is preferred next time.
                    self.infra.mark(
                        addr,
                        LowerName::new(&ex.zone_name),
                        Mark::NonAuthoritative,
                        now,
                    );
                }
                budget.answered_by = Some(addr);
                return Ok(Some(classified));
            }
        }
        Ok(None)
    }

    /// The zone's NS set beside a positive answer, and its servers' addresses
    /// ([`answer_ns`](crate::resolver::answer_ns)), added to what `classified` teaches only
    /// when the cache does not hold that NS set fresh already: most replies repeat it (from
    /// the referral, or the answer before), and learning it again was a third of a miss.
    /// Sections still in wire form are decoded only when the NS set is learned (its owner
    /// found in them as a cache key, without decoding a name); if they turn out not to decode,
    /// nothing beside the answer is.
    fn learn_answer_ns(
        &self,
        classified: &mut Classified,
        reply: UpstreamReply,
        ex: &Exchange<'_>,
        now: Instant,
    ) {
        let UpstreamReply {
            mut message,
            mut rest,
            ..
        } = reply;
        // An answer's owner is inside the zone, so the zone and the cut, both its ancestors,
        // are inside one another as their label counts say.
        let in_wire = rest
            .as_ref()
            .and_then(|rest| rest.ns_cut(ex.zone_name.iter().len()));
        let key = match in_wire {
            Some(owner) => owner.map(|wire| Key::from_lowercase_wire(wire, RecordType::NS)),
            None => {
                if let Some(rest) = rest.take()
                    && rest.complete(&mut message).is_err()
                {
                    return;
                }
                answer_ns::cut(&message, &ex.zone_name, &ex.qname)
                    .map(|cut| Key::new(&cut, RecordType::NS))
            }
        };
        let Some(key) = key else {
            return;
        };
        if self.cache.fresh_ttl(&key, now).is_some() {
            return;
        }
        if let Some(rest) = rest
            && rest.complete(&mut message).is_err()
        {
            return;
        }
        let learned = answer_ns::learn_at(&message, &ex.zone_name, &key.name());
        classified.learned.extend(learned);
    }
}

/// `reply` classified. Its authority and additional sections, when still in wire form, are
/// decoded only when the verdict on its answer section alone may not stand (see
/// [`settled_alone`]); otherwise they stay so for `learn_answer_ns`. Sections that do not
/// decode make the reply junk, and the try one that failed outright: the next goes at once.
fn classified(
    mut reply: UpstreamReply,
    ex: &Exchange<'_>,
) -> Result<(UpstreamReply, Classified), UpstreamError> {
    let classify = |m: &_| classify_from(m, &ex.zone_name, &ex.qname, ex.qtype, ex.recursive);
    if let Some(rest) = &reply.rest {
        // Without an answer there is nothing for the answer section alone to settle.
        if !reply.message.answers.is_empty() {
            let alone = classify(&reply.message);
            if settled_alone(&alone, ex.qtype) {
                return Ok((reply, alone));
            }
        }
        rest.complete(&mut reply.message)
            .map_err(|e| UpstreamError::Network(format!("malformed reply: {e}")))?;
        reply.rest = None;
    }
    let classified = classify(&reply.message);
    Ok((reply, classified))
}

fn describe(c: &Classified) -> String {
    let aa = if c.authoritative { "" } else { " without AA" };
    match &c.outcome {
        Outcome::Answer(r) => format!("answer{aa} ({} records)", r.len()),
        Outcome::Cname { target, .. } => format!("CNAME{aa} to {}", target.to_ascii()),
        Outcome::Referral { cut, ns, glue } => format!(
            "referral to {} ({} NS, {} glue)",
            cut.to_ascii(),
            ns.len(),
            glue.len()
        ),
        Outcome::NoData { .. } => format!("NODATA{aa}"),
        Outcome::NxDomain { .. } => format!("NXDOMAIN{aa}"),
        Outcome::YxDomain { .. } => format!("YXDOMAIN{aa} (DNAME substitution too long)"),
        Outcome::Truncated => "truncated (TC=1), retrying over TCP".to_string(),
        Outcome::FormErr { has_opt } => {
            format!("FORMERR{}", if *has_opt { "" } else { " without OPT" })
        }
        Outcome::NotImp { has_opt } => {
            format!("NOTIMP{}", if *has_opt { "" } else { " without OPT" })
        }
        Outcome::Failed(why) => format!("failed: {why}"),
        Outcome::Lame(why) => format!("lame: {why}"),
    }
}
