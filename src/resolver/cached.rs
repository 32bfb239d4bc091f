//! Answers from the cache alone: serve-stale (RFC 8767) when resolution fails, and what a
//! non-recursive question gets (the cached chain, or the closest cached delegation).

use std::sync::Arc;

use hickory_proto::rr::{Name, Record, RecordType};
use tokio::time::Instant;

use super::{Resolution, ResolveError, Resolver};
use crate::cache::{Data, Key};
use crate::rr::{self, ADDRESS_TYPES};

impl Resolver {
    /// RFC 8767: the whole chain from expired cache data inside the serve-stale window.
    pub(super) async fn stale_chain(
        &self,
        qname: &Name,
        qtype: RecordType,
        now: Instant,
    ) -> Option<Resolution> {
        if self.cache.policy().serve_stale_secs == 0 {
            return None;
        }
        self.chain(qname, qtype, true, &mut None, now, true)
            .await
            .ok()
            .flatten()
    }

    /// RFC 8767: when resolution failed, answer from expired cache data if the whole chain is
    /// there; otherwise return the failure.
    pub(super) async fn stale_or(
        &self,
        qname: &Name,
        qtype: RecordType,
        err: ResolveError,
        now: Instant,
    ) -> Result<Resolution, ResolveError> {
        self.stale_chain(qname, qtype, now).await.ok_or(err)
    }

    /// What a finished walk gives the client: its answer, else expired data if the cache has
    /// some (RFC 8767), else its error.
    pub(super) async fn finished(
        &self,
        qname: &Name,
        qtype: RecordType,
        result: Result<Resolution, ResolveError>,
        now: Instant,
    ) -> Result<Resolution, ResolveError> {
        match result {
            Ok(r) => Ok(r),
            // Expired data is looked up as of the request: its window is days long, and the
            // failure (shared by every client of the walk) carries no time of its own.
            Err(e) => self.stale_or(qname, qtype, e, now).await,
        }
    }

    /// A zero stale-answer timeout is Unbound's `serve-expired: yes` with
    /// `serve-expired-client-timeout: 0`: expired data inside the serve-stale window is
    /// answered at once (TTL 30, RFC 8767 §4) and one walk behind refreshes the cache. An
    /// expired failure (RFC 9520) is not answered: Unbound's worker ignores expired failure
    /// answers too. `None`: no expired data is there.
    pub(super) async fn serve_expired(
        self: &Arc<Self>,
        qname: &Name,
        qtype: RecordType,
        now: Instant,
    ) -> Option<Result<Resolution, ResolveError>> {
        if self.cache.policy().serve_stale_secs == 0 {
            return None;
        }
        let stale = self.stale_chain(qname, qtype, now).await?;
        self.refresh_behind(qname, qtype, now);
        Some(Ok(stale))
    }

    /// A non-recursive (RD=0) question answered from the cache alone, never asking upstream:
    /// the whole chain, if every link is cached and fresh at `now`.
    pub(crate) async fn answer_from_cache(
        &self,
        qname: &Name,
        qtype: RecordType,
        now: Instant,
    ) -> Option<Resolution> {
        self.chase(qname, qtype, None, now).await.ok().flatten()
    }

    /// The closest delegation to `qname` the cache holds, as a referral would carry it: the
    /// NS records and the cached addresses of their targets (the root's, at worst, once
    /// primed), fresh at `now`. `None` before anything is cached.
    pub(crate) fn cached_referral(
        &self,
        qname: &Name,
        now: Instant,
    ) -> Option<(Vec<Record>, Vec<Record>)> {
        for labels in (0..=rr::label_count(qname)).rev() {
            let cut = qname.trim_to(labels);
            let Some(c) = self.cache.get(&Key::new(&cut, RecordType::NS), now) else {
                continue;
            };
            let Data::Positive(ns) = c.data else {
                continue;
            };
            let mut glue = Vec::new();
            for target in rr::ns_targets(&ns) {
                for t in ADDRESS_TYPES {
                    if let Some(c) = self.cache.get(&Key::new(&target, t), now)
                        && let Data::Positive(records) = c.data
                    {
                        glue.extend(records);
                    }
                }
            }
            return Some((ns, glue));
        }
        None
    }
}
