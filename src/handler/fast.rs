//! The hit path: a recursive answer already given is kept in wire form and given again to the
//! next client who asks the same question, with the query read no further than its header,
//! question and OPT, nothing decoded into records, and nothing spawned. On the way out the ID
//! and the question (its case, as sent) come from the query, every TTL is lowered by the time
//! the answer has been kept, and OPT is added when the query had one. Names compressed
//! against the question take the client's case with it (names compare without case, RFC 4343).
//!
//! Anything unusual in the query (another opcode, RD=0, a TSIG, a second additional record,
//! trailing bytes, a compressed question, EDNS version > 0) leaves it to the full path, as do
//! answers that do not fit the client's size limit and answers about to expire. Only answers
//! from the resolver are kept (local zones change by reload, UPDATE and transfers; the store
//! is emptied when the catalog changes), only RD=1 ones, and only for clients that may recurse.

use std::hash::BuildHasher;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use lru::LruCache;
use tokio::time::Instant;

use crate::limits::CLASSIC_UDP_PAYLOAD;
use crate::ratelimit::Token;

/// How many answers are kept, over all shards: the common questions of a busy resolver fit many
/// times over, and an entry is its answer's size plus ~100 bytes.
const ENTRIES: usize = 65_536;
const SHARDS: usize = 16;
/// The header's length, and the flag bits the hit path reads (RFC 1035 §4.1.1, RFC 4035 §3.2).
const HEADER: usize = 12;
const QR: u8 = 0x80;
const OPCODE: u8 = 0x78;
const TC: u8 = 0x02;
const RD: u8 = 0x01;
const CD: u8 = 0x10;
/// RFC 6891 §6.1.2: the OPT pseudo-RR type and its DO flag (in the TTL field's low 16 bits).
const OPT: u16 = 41;
const DO: u16 = 0x8000;
/// QCLASS IN.
const IN: u16 = 1;
/// EDNS options a query may carry on the hit path (RFC 7873 §4, RFC 7830 §3).
const COOKIE: u16 = 10;
const PADDING: u16 = 12;

/// A query the hit path can answer: the question as sent and what the answer depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Question<'q> {
    /// The question's QNAME..QCLASS bytes as sent (original case).
    pub(super) wire: &'q [u8],
    /// The requestor's UDP payload size; `None` without EDNS.
    pub(super) payload: Option<u16>,
    pub(super) dnssec_ok: bool,
    pub(super) checking_disabled: bool,
    pub(super) recursion_desired: bool,
}

impl Question<'_> {
    /// The QTYPE (the question ends with QTYPE and QCLASS).
    pub(super) fn qtype(&self) -> u16 {
        let at = self.wire.len().saturating_sub(4);
        match self.wire.get(at..at + 2) {
            Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
            _ => 0,
        }
    }
}

/// Reads the header, question and OPT of a query, or `None` when anything is unusual.
pub(super) fn parse(bytes: &[u8]) -> Option<Question<'_>> {
    let header = bytes.get(..HEADER)?;
    let flags = header[2];
    if flags & (QR | OPCODE | TC) != 0 {
        return None;
    }
    let count = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    let additional = count(10);
    if count(4) != 1 || count(6) != 0 || count(8) != 0 || additional > 1 {
        return None;
    }
    // QNAME as plain labels (a query has nothing to point back to), then QTYPE and QCLASS.
    let mut at = HEADER;
    loop {
        let len = usize::from(*bytes.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        at += 1 + len;
        if at - HEADER > 255 {
            return None;
        }
    }
    let qclass = u16::from_be_bytes([*bytes.get(at + 2)?, *bytes.get(at + 3)?]);
    if qclass != IN {
        return None;
    }
    let end = at + 4;
    let mut question = Question {
        wire: &bytes[HEADER..end],
        payload: None,
        dnssec_ok: false,
        checking_disabled: header[3] & CD != 0,
        recursion_desired: flags & RD != 0,
    };
    if additional == 0 {
        return (end == bytes.len()).then_some(question);
    }
    // One OPT at the root, version 0, ending the packet exactly; its options only COOKIE and
    // PADDING, each whole (the full path ignores those two; anything else it may parse, and
    // refuse, is left to it).
    let opt = bytes.get(end..end + 11)?;
    let rdlen = usize::from(u16::from_be_bytes([opt[9], opt[10]]));
    if opt[0] != 0
        || u16::from_be_bytes([opt[1], opt[2]]) != OPT
        || opt[6] != 0
        || end + 11 + rdlen != bytes.len()
    {
        return None;
    }
    let mut options = &bytes[end + 11..];
    while !options.is_empty() {
        let code = u16::from_be_bytes([*options.first()?, *options.get(1)?]);
        let len = usize::from(u16::from_be_bytes([*options.get(2)?, *options.get(3)?]));
        if !matches!(code, COOKIE | PADDING) {
            return None;
        }
        options = options.get(4 + len..)?;
    }
    question.payload = Some(u16::from_be_bytes([opt[3], opt[4]]));
    question.dnssec_ok = u16::from_be_bytes([opt[7], opt[8]]) & DO != 0;
    Some(question)
}

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

/// An answer in wire form without OPT, and where its TTLs are.
#[derive(Debug)]
struct Entry {
    wire: Box<[u8]>,
    /// Offset of each record's TTL, and the TTL it had when kept.
    ttls: Box<[(u32, u32)]>,
    /// Seconds until the first TTL runs out, from `kept`.
    lifetime: u32,
    kept: Instant,
    /// An authoritative answer: its TTLs are the zone's and stay as they are, and it lives
    /// until the zones change.
    local: bool,
    /// The RRL account of an authoritative answer (when RRL is on).
    rrl: Option<Token>,
}

/// What the hit path found: the answer is in the caller's buffer.
#[derive(Debug, Clone, Copy)]
pub(super) struct Hit {
    /// An authoritative answer (else the resolver's).
    pub(super) local: bool,
    pub(super) rrl: Option<Token>,
}

/// The answers kept, sharded so that concurrent hits rarely wait on one lock.
pub(super) struct FastAnswers {
    shards: Vec<Mutex<LruCache<Key, Arc<Entry>>>>,
    /// Picks the shard: the LRU maps' own hasher (foldhash, seeded per instance), here with a
    /// seed of its own. SipHash cost a tenth of a hit for a choice among 16.
    hasher: lru::DefaultHasher,
    /// Bumped by every `clear`: an answer worked out before a clear (a reload, a flush) must
    /// not be kept after it, or the old zone's answer would outlive the change.
    generation: AtomicU64,
}

impl Default for FastAnswers {
    fn default() -> Self {
        FastAnswers::with_capacity(ENTRIES)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FastAnswers {
    pub(super) fn with_capacity(entries: usize) -> FastAnswers {
        let per_shard = NonZeroUsize::new((entries / SHARDS).max(1)).unwrap_or(NonZeroUsize::MIN);
        FastAnswers {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(LruCache::new(per_shard)))
                .collect(),
            hasher: lru::DefaultHasher::default(),
            generation: AtomicU64::new(0),
        }
    }

    /// Read before an answer is worked out, handed to `keep` with it.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn shard(&self, key: &[u8]) -> &Mutex<LruCache<Key, Arc<Entry>>> {
        // The hash scaled onto the shards: its high bits choose, which are the best mixed.
        let hash = u128::from(self.hasher.hash_one(key));
        let shard = usize::try_from((hash * SHARDS as u128) >> 64).unwrap_or(0);
        &self.shards[shard]
    }

    /// Forgets every answer (the zones changed, or the cache was flushed).
    pub(super) fn clear(&self) {
        // First the generation, then the shards: a `keep` racing with this either sees the
        // new generation and keeps nothing, or puts its answer into a shard not yet cleared.
        self.generation.fetch_add(1, Ordering::AcqRel);
        for shard in &self.shards {
            lock(shard).clear();
        }
    }

    /// The answer to `query` (whose parse is `question`) if one is kept, still alive at `now`,
    /// and fits the client's limit (its EDNS payload, at least 512, capped by `our_payload`;
    /// 512 without EDNS), as the full path would size it.
    #[cfg(test)]
    pub(super) fn answer(
        &self,
        query: &[u8],
        question: &Question<'_>,
        our_payload: u16,
        now: Instant,
    ) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        self.answer_into(query, question, our_payload, now, &mut out)?;
        Some(out)
    }

    /// As `answer`, written into `out` (a buffer the caller reuses); `None`: no answer here.
    pub(super) fn answer_into(
        &self,
        query: &[u8],
        question: &Question<'_>,
        our_payload: u16,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Option<Hit> {
        let mut buf = [0; KEY_MAX];
        let key = key_bytes(
            question.wire,
            question.dnssec_ok,
            question.checking_disabled,
            &mut buf,
        )?;
        let shard = self.shard(key);
        let entry = Arc::clone(lock(shard).get(key)?);
        let elapsed =
            u32::try_from(now.saturating_duration_since(entry.kept).as_secs()).unwrap_or(u32::MAX);
        if !entry.local && elapsed >= entry.lifetime {
            lock(shard).pop(key);
            return None;
        }
        let limit = match question.payload {
            Some(p) => usize::from(p.max(CLASSIC_UDP_PAYLOAD).min(our_payload)),
            None => usize::from(CLASSIC_UDP_PAYLOAD),
        };
        let opt_len = if question.payload.is_some() { 11 } else { 0 };
        if entry.wire.len() + opt_len > limit {
            return None;
        }
        out.clear();
        out.extend_from_slice(&entry.wire);
        out[..2].copy_from_slice(&query[..2]);
        // RD as the query had it (RFC 1035 §4.1.1); the rest of the flags are the answer's.
        out[2] = (out[2] & !RD) | (query[2] & RD);
        let question_end = HEADER + question.wire.len();
        out.get_mut(HEADER..question_end)?
            .copy_from_slice(question.wire);
        for &(at, ttl) in entry.ttls.iter().filter(|_| !entry.local) {
            let at = at as usize;
            out.get_mut(at..at + 4)?
                .copy_from_slice(&(ttl - elapsed).to_be_bytes());
        }
        push_opt(question, our_payload, out)?;
        Some(Hit {
            local: entry.local,
            rrl: entry.rrl,
        })
    }

    /// Keeps `response` (to a query the hit path could have read) at `now`: a resolver's
    /// answer, or with `local` an authoritative one. Only NOERROR and NXDOMAIN answers, without
    /// EDNS options of their own (an EDE says something about this one answer), and a
    /// resolver's only when every TTL is above zero. `rrl`: its RRL account, if any.
    /// `generation`: what [`FastAnswers::generation`] said before the answer was worked out;
    /// nothing is kept if the store was cleared since.
    pub(super) fn keep(
        &self,
        response: &mut Message,
        now: Instant,
        local: bool,
        rrl: Option<Token>,
        generation: u64,
    ) {
        if !matches!(
            response.metadata.response_code,
            ResponseCode::NoError | ResponseCode::NXDomain
        ) || response.metadata.truncation
            || response
                .edns
                .as_ref()
                .is_some_and(|e| !e.options().as_ref().is_empty())
        {
            return;
        }
        if response.queries.len() != 1 {
            return;
        }
        let (dnssec_ok, checking_disabled) = (
            response.edns.as_ref().is_some_and(|e| e.flags().dnssec_ok),
            response.metadata.checking_disabled,
        );
        // Encoded without OPT: the hit path adds the requestor's.
        let edns = response.edns.take();
        let wire = response.to_vec();
        response.edns = edns;
        let Ok(wire) = wire else {
            return;
        };
        let Some(ttls) = ttl_offsets(&wire) else {
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
        let Some(question) = question_end(&wire).and_then(|end| wire.get(HEADER..end)) else {
            return;
        };
        let mut buf = [0; KEY_MAX];
        let Some(key) = key_bytes(question, dnssec_ok, checking_disabled, &mut buf) else {
            return;
        };
        let key: Key = key.into();
        let entry = Arc::new(Entry {
            ttls: ttls.into_boxed_slice(),
            lifetime,
            kept: now,
            local,
            rrl,
            wire: wire.into_boxed_slice(),
        });
        let mut shard = lock(self.shard(&key));
        if self.generation.load(Ordering::Acquire) == generation {
            shard.put(key, entry);
        }
    }
}

/// NXDOMAIN, or NOERROR without the asked type in the answer (NODATA, RFC 2308 §2.2, also at
/// the end of a CNAME chain), with no SOA in the authority section.
fn negative_without_soa(response: &Message) -> bool {
    let Some(qtype) = response.queries.first().map(|q| q.query_type()) else {
        return true;
    };
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

/// Adds our OPT to a reply when the query had one (RFC 6891 §6.1.2): root, type, our
/// payload, no extended RCODE, version 0, DO copied (RFC 3225 §3), no options.
pub(super) fn push_opt(question: &Question<'_>, our_payload: u16, out: &mut Vec<u8>) -> Option<()> {
    if question.payload.is_none() {
        return Some(());
    }
    let additional = u16::from_be_bytes([*out.get(10)?, *out.get(11)?]).checked_add(1)?;
    out[10..12].copy_from_slice(&additional.to_be_bytes());
    out.push(0);
    out.extend_from_slice(&OPT.to_be_bytes());
    out.extend_from_slice(&our_payload.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    let flags: u16 = if question.dnssec_ok { DO } else { 0 };
    out.extend_from_slice(&flags.to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    Some(())
}

/// REFUSED to `query` (whose parse is `question`), as the full path would word it for a
/// recursive server: the question, RA, RD and CD as asked, our OPT if the query had one.
pub(super) fn refused_into(
    query: &[u8],
    question: &Question<'_>,
    our_payload: u16,
    out: &mut Vec<u8>,
) -> Option<()> {
    const RA: u8 = 0x80;
    const REFUSED: u8 = 5;
    out.clear();
    out.extend_from_slice(query.get(..HEADER + question.wire.len())?);
    out[2] = QR | (query[2] & (OPCODE | RD));
    out[3] = RA | (query[3] & CD) | REFUSED;
    out[4..12].copy_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]);
    push_opt(question, our_payload, out)
}

/// Where the question of an encoded message ends, or `None`.
pub(super) fn question_end(wire: &[u8]) -> Option<usize> {
    Some(skip_name(wire, HEADER)? + 4)
}

/// The big-endian 16-bit field at `at`, if the message is that long.
pub(super) fn be16(wire: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*wire.get(at)?, *wire.get(at + 1)?]))
}

/// The offset just past the name at `at` (labels, ending in a root label or a pointer).
pub(super) fn skip_name(wire: &[u8], mut at: usize) -> Option<usize> {
    for _ in 0..128 {
        let len = *wire.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xC0 == 0xC0 => return Some(at + 2),
            l if l < 64 => at += 1 + usize::from(l),
            _ => return None,
        }
    }
    None
}

/// The offset and value of every record's TTL in an encoded message without OPT, or `None`
/// when it does not walk cleanly (then it is not kept).
fn ttl_offsets(wire: &[u8]) -> Option<Vec<(u32, u32)>> {
    let count = |at: usize| be16(wire, at).map(usize::from);
    if count(4)? != 1 {
        return None;
    }
    let records = count(6)? + count(8)? + count(10)?;
    let mut at = question_end(wire)?;
    let mut out = Vec::with_capacity(records);
    for _ in 0..records {
        at = skip_name(wire, at)?;
        let fixed = wire.get(at..at + 10)?;
        if u16::from_be_bytes([fixed[0], fixed[1]]) == OPT {
            return None;
        }
        let ttl = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        out.push((u32::try_from(at + 4).ok()?, ttl));
        at += 10 + usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
    }
    (at == wire.len()).then_some(out)
}

#[cfg(test)]
mod tests;
