//! Operator actions on the cache (`tern ctl flush…`, `dump-cache`): remove entries by owner
//! name or subtree from both tiers, empty them, and copy out what the RRset tier holds (also
//! for `save-cache`, in [`persist`](super::persist)). Rare and not on any query's path, so each
//! walks every shard; the bytes accounting stays exact, as `insert` keeps it.

use hickory_proto::rr::{Name, RData};
use tokio::time::Instant;

use super::{Cache, Data, Entry, Key};

/// What to remove.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Flush<'a> {
    /// Every entry owned by this name, of every type (negative ones too).
    Name(&'a Name),
    /// Every entry at or below this name.
    Zone(&'a Name),
    All,
}

/// [`Flush`] as lowercase wire names (what keys hold), so that matching under a shard lock
/// compares bytes rather than building a `Name` per entry.
enum Matcher {
    Name(Key),
    Zone(Key),
    All,
}

impl Matcher {
    fn new(what: Flush<'_>) -> Matcher {
        match what {
            Flush::Name(name) => Matcher::Name(Key::name_only(name)),
            Flush::Zone(zone) => Matcher::Zone(Key::name_only(zone)),
            Flush::All => Matcher::All,
        }
    }

    fn matches(&self, key: &Key) -> bool {
        match self {
            // Both lowercase (RFC 4343: names compare without case).
            Matcher::Name(name) => key.wire() == name.wire(),
            Matcher::Zone(zone) => at_or_below(key.wire(), zone.wire()),
            Matcher::All => true,
        }
    }

    /// Whether a kept answer holds data of a matching name: its question, an owner in any
    /// section, or an alias target (whose negative answer is there only as the zone's SOA).
    /// An answer that does not parse is taken to hold it: forgetting costs one full-path answer.
    fn in_answer(&self, wire: &[u8]) -> bool {
        let Ok(m) = crate::rr::read::read_message(wire) else {
            return true;
        };
        let targets = m.answers.iter().filter_map(|r| match &r.data {
            RData::CNAME(t) => Some(&t.0),
            _ => None,
        });
        m.queries
            .iter()
            .map(|q| q.name())
            .chain(
                m.answers
                    .iter()
                    .chain(&m.authorities)
                    .chain(&m.additionals)
                    .map(|r| &r.name),
            )
            .chain(targets)
            .any(|name| self.matches(&Key::name_only(name)))
    }
}

/// Whether wire name `name` is `zone` or below it: `zone` is the tail of `name` starting at a
/// label boundary (a plain suffix test would take `xalpha.test.` for `alpha.test.`).
fn at_or_below(name: &[u8], zone: &[u8]) -> bool {
    let mut at = 0;
    while let Some(rest) = name.get(at..) {
        if rest.len() < zone.len() {
            return false;
        }
        if rest == zone {
            return true;
        }
        match rest.first() {
            Some(&len) if len > 0 => at += 1 + usize::from(len),
            _ => return false,
        }
    }
    false
}

/// One entry as `dump` copies it out.
#[derive(Debug, Clone)]
pub(crate) struct Dumped {
    pub key: Key,
    pub data: Data,
    /// Seconds left before it expires.
    pub ttl: u32,
}

impl Cache {
    /// Removes what `what` names from both tiers; returns how many RRset tier entries went
    /// (what `dump-cache` shows). The message tier goes second: an answer worked out from the
    /// RRsets before they went is either refused by its generation or removed here.
    pub(crate) fn flush(&self, what: Flush<'_>) -> usize {
        let matcher = Matcher::new(what);
        let removed = self.flush_rrsets(&matcher);
        match matcher {
            Matcher::All => self.messages.clear(),
            _ => {
                self.messages.forget(|wire| matcher.in_answer(wire));
            }
        }
        removed
    }

    fn flush_rrsets(&self, matcher: &Matcher) -> usize {
        let mut removed = 0;
        for shard in &self.shards {
            let mut guard = shard.lock().unwrap_or_else(|p| p.into_inner());
            let shard = &mut *guard;
            if matches!(matcher, Matcher::All) {
                removed += shard.lru.len();
                shard.lru.clear();
                shard.bytes = 0;
                continue;
            }
            let doomed: Vec<Key> = shard
                .lru
                .iter()
                .filter(|(k, _)| matcher.matches(k))
                .map(|(k, _)| k.clone())
                .collect();
            for key in doomed {
                if shard.take(&key).is_some() {
                    removed += 1;
                }
            }
        }
        removed
    }

    /// A copy of every entry `keep` picks (for `dump` and the persistent cache): one list a
    /// shard, each most recently used first. Copied out shard by shard, each lock held only
    /// for the copy: decoding the records of a full cache would stall the queries waiting on
    /// that shard. Reads without touching the LRU order.
    pub(super) fn copy_out(&self, keep: impl Fn(&Entry) -> bool) -> Vec<Vec<(Key, Entry)>> {
        self.shards
            .iter()
            .map(|shard| {
                let shard = shard.lock().unwrap_or_else(|p| p.into_inner());
                shard
                    .lru
                    .iter()
                    .filter(|(_, e)| keep(e))
                    .map(|(k, e)| (k.clone(), e.clone()))
                    .collect()
            })
            .collect()
    }

    /// Every entry still fresh at `now`, its records' TTLs the time left, sorted by owner
    /// name. Reads without touching the LRU order.
    pub(crate) fn dump(&self, now: Instant) -> Vec<Dumped> {
        let mut out = Vec::new();
        for (key, entry) in self.copy_out(|e| e.expires > now).into_iter().flatten() {
            let ttl = super::ttl_left(entry.expires, now);
            // Decoding never fails for what `insert` encoded; skip rather than invent.
            let Some(data) = entry.stored.data(&key, ttl) else {
                continue;
            };
            out.push(Dumped { key, data, ttl });
        }
        out.sort_by(|a, b| {
            a.key
                .name()
                .cmp(&b.key.name())
                .then_with(|| a.key.rtype.map(u16::from).cmp(&b.key.rtype.map(u16::from)))
        });
        out
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use hickory_proto::rr::rdata::A;
    use hickory_proto::rr::{RData, Record, RecordType};

    use super::*;
    use crate::cache::{CachePolicy, Rank};

    fn a(owner: &str) -> (Key, Data) {
        let name = Name::from_str(owner).expect("name");
        let rec = Record::from_rdata(name.clone(), 300, RData::A(A::new(192, 0, 2, 1)));
        (Key::new(&name, RecordType::A), Data::Positive(vec![rec]))
    }

    #[tokio::test(start_paused = true)]
    async fn flush_by_name_subtree_and_all_keeps_the_byte_count_exact() {
        let cache = Cache::new(CachePolicy::default());
        let empty = cache.bytes();
        let now = Instant::now();
        for owner in [
            "www.alpha.test.",
            "mail.alpha.test.",
            "alpha.test.",
            "www.beta.test.",
        ] {
            let (k, d) = a(owner);
            assert!(cache.insert(k, d, 300, Rank::Authoritative, now));
        }
        let www = Name::from_str("WWW.alpha.test.").expect("name");
        cache.insert(
            Key::name_only(&www),
            Data::NxDomain { soa: None },
            60,
            Rank::Authoritative,
            now,
        );
        assert_eq!(
            cache.flush(Flush::Name(&www)),
            2,
            "the A and the name-wide entry"
        );
        assert_eq!(cache.len(), 3);
        let alpha = Name::from_str("alpha.test.").expect("name");
        assert_eq!(cache.flush(Flush::Zone(&alpha)), 2);
        let left: Vec<String> = cache
            .dump(now)
            .iter()
            .map(|d| d.key.name().to_ascii())
            .collect();
        assert_eq!(left, ["www.beta.test."]);
        assert_eq!(cache.flush(Flush::All), 1);
        assert_eq!(cache.bytes(), empty);
    }

    #[test]
    fn zone_matching_is_by_whole_labels() {
        let wire = |s: &str| Key::name_only(&Name::from_str(s).expect("name"));
        let zone = wire("Alpha.test.");
        for (name, below) in [
            ("alpha.test.", true),
            ("www.ALPHA.test.", true),
            ("a.b.alpha.test.", true),
            ("xalpha.test.", false),
            ("test.", false),
            ("beta.test.", false),
        ] {
            assert_eq!(at_or_below(wire(name).wire(), zone.wire()), below, "{name}");
        }
        assert!(at_or_below(wire("any.test.").wire(), wire(".").wire()));
    }

    #[tokio::test(start_paused = true)]
    async fn dump_counts_ttls_down_and_skips_expired_entries() {
        let cache = Cache::new(CachePolicy::default());
        let now = Instant::now();
        let (k, d) = a("www.alpha.test.");
        cache.insert(k, d, 300, Rank::Authoritative, now);
        let (k, d) = a("short.alpha.test.");
        cache.insert(k, d, 10, Rank::Authoritative, now);
        tokio::time::advance(std::time::Duration::from_secs(100)).await;
        let dumped = cache.dump(Instant::now());
        assert_eq!(dumped.len(), 1);
        assert_eq!(dumped[0].ttl, 200);
        match &dumped[0].data {
            Data::Positive(records) => assert_eq!(records[0].ttl, 200),
            other => panic!("unexpected {other:?}"),
        }
    }
}
