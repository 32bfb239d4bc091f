//! The message tier (Unbound's msg cache beside its rrset cache): whole answers kept in wire
//! form and given again to the next client who asks the same question, a copy of bytes with
//! the ID, the question (its case, as sent) and RD from the query, every TTL lowered by the
//! time the answer has been kept, and OPT added when the query had one. Names compressed
//! against the question take the client's case with it (names compare without case, RFC 4343).
//!
//! One key (QNAME lowercased, QTYPE, QCLASS, DO, CD), one generation (bumped by every clear,
//! so an answer worked out before a flush or a reload is not kept after it), and every
//! entry's lifetime bounded by the data it came from: the shortest TTL in it, and a negative
//! answer without an SOA not kept at all (RFC 2308 §5). An authoritative answer keeps the
//! zone's TTLs and lives until the zones change. Each entry carries a tag of the caller's
//! (the handler's RRL account), so the tier imports nothing of the crate but the leaves.
//!
//! The tier is a part of the resolver's [`Cache`](super::Cache): `Cache::flush` (every `tern
//! ctl flush…`, through the resolver) reaches it after the RRsets, forgetting the answers that
//! hold the flushed name anywhere (question, owners, alias targets), and bumps its generation.
//! A name's flush is judged by parsing each kept answer, off the hit path, which stays one key
//! lookup. Who feeds it: the handler, with the finished response, not the resolver's store
//! stage. The bytes kept are what the client was sent, after the handler's part (the chain
//! joined to a local zone's continuation, RA and AA, the RRL account); the store stage sees one
//! upstream reply's RRsets, not the answer. The lifetime is still the data's: a resolver's
//! answer is kept as of its walk's last reply, so its TTLs are those the store stage wrote.

use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use lru::LruCache;
use tokio::time::Instant;

use crate::limits::{CLASSIC_UDP_PAYLOAD, PREFETCH_WINDOW_PERCENT};
use crate::wire::{self, AD, HEADER, OPT_LEN, Question, RD};

/// How many answers are kept, over all shards: the common questions of a busy resolver fit many
/// times over, and an entry is its answer's size plus ~100 bytes.
const ENTRIES: usize = 65_536;
const SHARDS: usize = 16;

/// The key: QNAME lowercased, QTYPE, QCLASS, then one byte of the DO and CD bits (a
/// DNSSEC-aware cache answers them differently; the key carries them now so validation needs
/// no new key). Built on the stack for a lookup: a hit allocates nothing but its reply.
type Key = Box<[u8]>;

/// The longest question: a 255-octet name, QTYPE and QCLASS; and the flags byte.
const KEY_MAX: usize = 255 + 4 + 1;

fn key_bytes<'b>(
    question: &[u8],
    dnssec_ok: bool,
    checking_disabled: bool,
    buf: &'b mut [u8; KEY_MAX],
) -> Option<&'b [u8]> {
    let len = question.len();
    let out = buf.get_mut(..len + 1)?;
    out[..len].copy_from_slice(question);
    // The name only: QTYPE 65 (HTTPS) is the byte 'A', and must not become 97.
    out[..len.checked_sub(4)?].make_ascii_lowercase();
    out[len] = u8::from(dnssec_ok) | (u8::from(checking_disabled) << 1);
    Some(out)
}

/// The key of the answers to a query's `question`.
fn question_key<'b>(question: &Question<'_>, buf: &'b mut [u8; KEY_MAX]) -> Option<&'b [u8]> {
    key_bytes(
        question.wire,
        question.dnssec_ok,
        question.checking_disabled,
        buf,
    )
}

/// An answer in wire form without OPT, and where its TTLs are.
#[derive(Debug)]
struct Entry<T> {
    wire: Box<[u8]>,
    /// Offset of each record's TTL, and the TTL it had when kept.
    ttls: Box<[(u32, u32)]>,
    /// Seconds until the first TTL runs out, from `kept`.
    lifetime: u32,
    /// Seconds from `kept` after which a hit asks for a refresh (the last part of `lifetime`,
    /// `Messages::prefetch_percent`); `u32::MAX`: never.
    prefetch_at: u32,
    /// A hit has asked for the refresh: one per entry.
    prefetched: AtomicBool,
    kept: Instant,
    /// An authoritative answer: its TTLs are the zone's and stay as they are, and it lives
    /// until the zones change.
    local: bool,
    /// The caller's tag (the handler's: the RRL account of an authoritative answer).
    tag: T,
}

/// What a lookup found: the answer is in the caller's buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Hit<T> {
    /// An authoritative answer (else the resolver's).
    pub(crate) local: bool,
    /// The tag it was kept with.
    pub(crate) tag: T,
    /// The first hit in the entry's prefetch window: the caller should refresh the answer
    /// and then [`Messages::forget_key`] it.
    pub(crate) prefetch: bool,
}

/// The answers kept, sharded so that concurrent hits rarely wait on one lock.
pub(crate) struct Messages<T> {
    shards: Vec<Mutex<LruCache<Key, Arc<Entry<T>>>>>,
    /// Picks the shard: the LRU maps' own hasher (foldhash, seeded per instance), here with a
    /// seed of its own. SipHash cost a tenth of a hit for a choice among 16.
    hasher: lru::DefaultHasher,
    /// Bumped by every `clear`: an answer worked out before a clear (a reload, a flush) must
    /// not be kept after it, or the old zone's answer would outlive the change.
    generation: AtomicU64,
    /// The last part of an answer's lifetime, in percent, in which a hit asks for a refresh
    /// (0: never; the cache's policy sets it).
    prefetch_percent: u32,
}

impl<T: Copy> Default for Messages<T> {
    fn default() -> Self {
        Messages::with_capacity(ENTRIES)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<T: Copy> Messages<T> {
    pub(crate) fn with_capacity(entries: usize) -> Messages<T> {
        let per_shard = NonZeroUsize::new((entries / SHARDS).max(1)).unwrap_or(NonZeroUsize::MIN);
        Messages {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
            hasher: lru::DefaultHasher::default(),
            generation: AtomicU64::new(0),
            prefetch_percent: PREFETCH_WINDOW_PERCENT.default,
        }
    }

    /// Hits in the last `percent` of an answer's lifetime ask for a refresh (0: never).
    pub(crate) fn with_prefetch(mut self, percent: u32) -> Messages<T> {
        self.prefetch_percent = percent;
        self
    }

    /// The key of the answers to `question`, owned: what [`Messages::forget_key`] takes once
    /// a refresh has finished.
    pub(crate) fn key_of(question: &Question<'_>) -> Option<Box<[u8]>> {
        Some(question_key(question, &mut [0; KEY_MAX])?.into())
    }

    /// Forgets the answer kept under `key`: a refresh has put newer data in the RRset tier,
    /// which the next client's answer is made from and kept again.
    pub(crate) fn forget_key(&self, key: &[u8]) {
        lock(self.shard(key)).pop(key);
    }

    /// Gives back the refresh a hit on the answer kept under `key` claimed: the refresh was
    /// not started (the resolver was busy), and the next hit in the window asks again.
    pub(crate) fn unclaim_prefetch(&self, key: &[u8]) {
        if let Some(entry) = lock(self.shard(key)).peek(key) {
            entry.prefetched.store(false, Ordering::Relaxed);
        }
    }

    /// Read before an answer is worked out, handed to `keep` with it.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn shard(&self, key: &[u8]) -> &Mutex<LruCache<Key, Arc<Entry<T>>>> {
        // The hash scaled onto the shards: its high bits choose, which are the best mixed.
        let hash = u128::from(self.hasher.hash_one(key));
        let shard = usize::try_from((hash * SHARDS as u128) >> 64).unwrap_or(0);
        &self.shards[shard]
    }

    /// Forgets every answer (the zones changed, or the cache was flushed).
    pub(crate) fn clear(&self) {
        // First the generation, then the shards: a `keep` racing with this either sees the
        // new generation and keeps nothing, or puts its answer into a shard not yet cleared.
        self.generation.fetch_add(1, Ordering::AcqRel);
        for shard in &self.shards {
            lock(shard).clear();
        }
    }

    /// Forgets the answers whose wire form (without OPT) `doomed` picks; returns how many.
    /// Bumps the generation as `clear` does: an answer worked out from the flushed data and
    /// not yet kept must not be kept after this.
    pub(crate) fn forget(&self, doomed: impl Fn(&[u8]) -> bool) -> usize {
        self.generation.fetch_add(1, Ordering::AcqRel);
        let mut removed = 0;
        for shard in &self.shards {
            // Judged outside the lock (the caller may parse every answer): hits on this shard
            // wait only for the copy of its pointers and for the removals.
            let held: Vec<(Key, Arc<Entry<T>>)> = lock(shard)
                .iter()
                .map(|(k, e)| (k.clone(), Arc::clone(e)))
                .collect();
            let picked: Vec<_> = held.into_iter().filter(|(_, e)| doomed(&e.wire)).collect();
            let mut guard = lock(shard);
            for (key, entry) in picked {
                // Only the answer judged: one kept since was worked out after the flush.
                if guard.peek(&key).is_some_and(|now| Arc::ptr_eq(now, &entry)) {
                    guard.pop(&key);
                    removed += 1;
                }
            }
        }
        removed
    }

    /// The answer to `query` (whose parse is `question`) over UDP if one is kept, still alive
    /// at `now`, and fits the client's limit ([`udp_limit`]), as the full path would size it.
    #[cfg(test)]
    pub(crate) fn answer(
        &self,
        query: &[u8],
        question: &Question<'_>,
        our_payload: u16,
        now: Instant,
    ) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let limit = udp_limit(question, our_payload);
        self.answer_into(query, question, limit, our_payload, &[], now, &mut out)?;
        Some(out)
    }

    /// As `answer`, within `limit` bytes ([`udp_limit`], or 65,535 over a stream, which never
    /// truncates), written into `out` (a buffer the caller reuses), its OPT carrying our
    /// payload and `options` (whole EDNS options: the handler's COOKIE, or nothing; they count
    /// against the limit); `None`: no answer here.
    #[allow(clippy::too_many_arguments)] // the hit path's facts, passed without a struct
    pub(crate) fn answer_into(
        &self,
        query: &[u8],
        question: &Question<'_>,
        limit: usize,
        our_payload: u16,
        options: &[u8],
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Option<Hit<T>> {
        let mut buf = [0; KEY_MAX];
        let key = question_key(question, &mut buf)?;
        let shard = self.shard(key);
        let entry = Arc::clone(lock(shard).get(key)?);
        let elapsed =
            u32::try_from(now.saturating_duration_since(entry.kept).as_secs()).unwrap_or(u32::MAX);
        if !entry.local && elapsed >= entry.lifetime {
            lock(shard).pop(key);
            return None;
        }
        let opt_len = if question.payload.is_some() {
            OPT_LEN + options.len()
        } else {
            0
        };
        if entry.wire.len() + opt_len > limit {
            return None;
        }
        out.clear();
        out.extend_from_slice(&entry.wire);
        out[..2].copy_from_slice(&query[..2]);
        // RD as the query had it (RFC 1035 §4.1.1); the rest of the flags are the answer's,
        // but AD only for a client that set DO or AD (RFC 6840 §5.7): the key has DO, not AD.
        out[2] = (out[2] & !RD) | (query[2] & RD);
        if !question.dnssec_ok && query[3] & AD == 0 {
            out[3] &= !AD;
        }
        out.get_mut(HEADER..question.end())?
            .copy_from_slice(question.wire);
        for &(at, ttl) in entry.ttls.iter().filter(|_| !entry.local) {
            let at = at as usize;
            out.get_mut(at..at + 4)?
                .copy_from_slice(&(ttl - elapsed).to_be_bytes());
        }
        wire::push_opt(question, our_payload, options, out)?;
        // One comparison on every hit; the flag is touched only in the window.
        let prefetch =
            elapsed >= entry.prefetch_at && !entry.prefetched.swap(true, Ordering::Relaxed);
        Some(Hit {
            local: entry.local,
            tag: entry.tag,
            prefetch,
        })
    }

    /// Keeps `response` (to a query the hit path could have read) at `now`: a resolver's
    /// answer, or with `local` an authoritative one. Only NOERROR, NXDOMAIN and YXDOMAIN (RFC
    /// 6672 §2.2, a DNAME's substitution too long: Unbound's message cache keeps it like them)
    /// answers, without EDNS options of their own (an EDE says something about this one answer), and a
    /// resolver's only when every TTL is above zero. `tag`: handed back with every hit.
    /// `generation`: what [`Messages::generation`] said before the answer was worked out;
    /// nothing is kept if the store was cleared since. Returns the response's wire form
    /// without OPT whenever it was made, kept or not: the caller's reply to this query is
    /// those bytes with its OPT (`handler::response`), not a second encoding.
    pub(crate) fn insert(
        &self,
        response: &mut Message,
        now: Instant,
        local: bool,
        tag: T,
        generation: u64,
    ) -> Option<Vec<u8>> {
        if !matches!(
            response.metadata.response_code,
            ResponseCode::NoError | ResponseCode::NXDomain | ResponseCode::YXDomain
        ) || response.metadata.truncation
            || response
                .edns
                .as_ref()
                .is_some_and(|e| !e.options().as_ref().is_empty())
        {
            return None;
        }
        if response.queries.len() != 1 {
            return None;
        }
        // Encoded without OPT: the hit path adds the requestor's.
        let edns = response.edns.take();
        let bytes = wire::encode_simple(response).map_or_else(|| response.to_vec(), Ok);
        response.edns = edns;
        let bytes = bytes.ok()?;
        self.keep(response, &bytes, now, local, tag, generation);
        Some(bytes)
    }

    /// [`Messages::insert`]'s keeping of `response`, whose wire form without OPT is `bytes`.
    fn keep(
        &self,
        response: &Message,
        bytes: &[u8],
        now: Instant,
        local: bool,
        tag: T,
        generation: u64,
    ) {
        let (dnssec_ok, checking_disabled) = (
            response.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
            response.metadata.checking_disabled,
        );
        let Some(ttls) = wire::ttl_offsets(bytes) else {
            return;
        };
        // RFC 2308 §5: a negative answer without an SOA has no TTL to be kept by, so it is
        // not kept (the resolver does not cache it either); every other answer lives as long
        // as its shortest TTL. An answer with no records at all is such a negative answer.
        let lifetime = if negative_without_soa(response) {
            0
        } else {
            ttls.iter().map(|&(_, ttl)| ttl).min().unwrap_or(0)
        };
        if lifetime == 0 && !local {
            return;
        }
        let Some(question) = wire::question_end(bytes).and_then(|end| bytes.get(HEADER..end))
        else {
            return;
        };
        let mut buf = [0; KEY_MAX];
        let Some(key) = key_bytes(question, dnssec_ok, checking_disabled, &mut buf) else {
            return;
        };
        let key: Key = key.into();
        // Relative to the lifetime it is kept with: an answer made from RRsets already old has
        // a short one, and their own reads asked for their refresh (`Cache::get`).
        let window = super::prefetch_window(lifetime, self.prefetch_percent);
        let entry = Arc::new(Entry {
            ttls: ttls.into_boxed_slice(),
            lifetime,
            prefetch_at: if local || window == 0 {
                u32::MAX
            } else {
                lifetime - window
            },
            prefetched: AtomicBool::new(false),
            kept: now,
            local,
            tag,
            wire: bytes.into(),
        });
        let mut shard = lock(self.shard(&key));
        if self.generation.load(Ordering::Acquire) == generation {
            shard.put(key, entry);
        }
    }
}

/// How many bytes a UDP reply to `question` may take, as the full path sizes it: the client's
/// EDNS payload, at least 512, capped by `our_payload`; 512 without EDNS.
pub(crate) fn udp_limit(question: &Question<'_>, our_payload: u16) -> usize {
    match question.payload {
        Some(p) => usize::from(p.max(CLASSIC_UDP_PAYLOAD).min(our_payload)),
        None => usize::from(CLASSIC_UDP_PAYLOAD),
    }
}

/// NXDOMAIN, or NOERROR without the asked type in the answer (NODATA, RFC 2308 §2.2, also at
/// the end of a CNAME chain), with no SOA in the authority section. A YXDOMAIN lives by the
/// DNAME in its answer; without one it has nothing to live by either.
fn negative_without_soa(response: &Message) -> bool {
    let Some(qtype) = response.queries.first().map(|q| q.query_type()) else {
        return true;
    };
    if response.metadata.response_code == ResponseCode::YXDomain {
        return response.answers.is_empty();
    }
    let negative = response.metadata.response_code == ResponseCode::NXDomain
        || !response
            .answers
            .iter()
            .any(|r| r.record_type() == qtype || qtype == RecordType::ANY);
    negative
        && !response
            .authorities
            .iter()
            .any(|r| r.record_type() == RecordType::SOA)
}

#[cfg(test)]
mod prefetch_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod yxdomain_review;
