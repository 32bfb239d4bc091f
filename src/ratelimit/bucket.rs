//! A fixed-size table of token buckets, one per key (a client prefix, or an RRL account).
//!
//! The table never grows: a key hashes to one slot, and a key that finds another key's bucket
//! there takes the slot over with a full bucket, as NSD's RRL table does. A flood of spoofed
//! sources can therefore only evict buckets (making the limit more lenient for the evicted
//! key, never stricter), not grow memory. The hash is keyed with random keys per table (a
//! folded multiply, as foldhash's: a few nanoseconds where SipHash took some 20 on the hit
//! path), so nobody can aim a collision at a chosen slot without knowing them.
//!
//! Balances are kept in thousandths of a token, in integers: `rate` tokens per second is
//! `rate` thousandths per millisecond, so refilling is one multiplication.

use std::hash::BuildHasher;
use std::sync::Mutex;

use tokio::time::Instant;

/// One token, in the thousandths the balances are kept in.
const TOKEN: i64 = 1000;

/// What taking a token gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Take {
    Allowed,
    /// No token: this key is over its rate. `in_a_row` counts the limited takes since the
    /// last allowed one, this one included (1, 2, 3, ...), for RRL's slip; it runs modulo
    /// `IN_A_ROW_CYCLE` (after 2520 comes 1 again), so `in_a_row % slip` keeps its rhythm
    /// through any number of limited takes for every slip the config allows (1 to 10).
    Limited {
        in_a_row: u32,
    },
}

/// Where `in_a_row` starts over: the least common multiple of 1..=10, so every slip up to
/// `limits::RRL_SLIP`'s maximum divides it and the slip sequence runs on unbroken (a counter
/// that saturated would slip every response, or none, after 2^32 limited ones).
pub(crate) const IN_A_ROW_CYCLE: u32 = 2520;

/// How a table's buckets fill and empty.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Tokens added per second.
    pub(crate) rate: u32,
    /// Tokens a bucket holds at most (and starts with): the burst a quiet key may send.
    pub burst: u32,
    /// Seconds of `rate` a limited take may still be charged below zero (BIND's RRL
    /// `window`): a key that keeps sending stays limited until it has been quiet that long.
    /// 0: a limited take costs nothing, so a key over its rate still gets `rate` per second.
    pub debt_secs: u32,
}

#[derive(Debug, Default, Clone, Copy)]
struct Slot {
    /// The key's hash, never 0 once used (0 marks an empty slot).
    tag: u64,
    /// Thousandths of a token; negative while in debt.
    balance: i64,
    /// Milliseconds since the table's epoch at the last take.
    last_ms: u64,
    limited_in_a_row: u32,
}

/// The buckets.
pub(crate) struct Buckets {
    slots: Box<[Mutex<Slot>]>,
    keys: [u64; 4],
    epoch: Instant,
    rate: i64,
    capacity: i64,
    floor: i64,
}

impl std::fmt::Debug for Buckets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buckets")
            .field("slots", &self.slots.len())
            .field("rate", &self.rate)
            .field("capacity", &self.capacity)
            .field("floor", &self.floor)
            .finish()
    }
}

impl Buckets {
    /// A table of `slots` buckets (at least one) shaped as `shape`; time counts from `epoch`.
    pub(crate) fn new(slots: usize, shape: Shape, epoch: Instant) -> Buckets {
        let rate = i64::from(shape.rate);
        Buckets {
            slots: (0..slots.max(1))
                .map(|_| Mutex::new(Slot::default()))
                .collect(),
            keys: {
                let random = std::collections::hash_map::RandomState::new();
                [0u8, 1, 2, 3].map(|i| random.hash_one(i))
            },
            epoch,
            rate,
            capacity: i64::from(shape.burst.max(1)) * TOKEN,
            floor: -(rate * i64::from(shape.debt_secs) * TOKEN),
        }
    }

    /// The key's hash: 128 bits of address and 64 more (family, kind, name).
    fn hash(&self, addr: u128, extra: u64) -> u64 {
        let [k0, k1, k2, k3] = self.keys;
        let h = fold(addr as u64 ^ k0, (addr >> 64) as u64 ^ k1);
        fold(h ^ extra ^ k2, k3 | 1)
    }

    /// Takes one token from the bucket of the key (`addr`, `extra`) at `now`.
    pub(crate) fn take(&self, addr: u128, extra: u64, now: Instant) -> Take {
        let hash = self.hash(addr, extra);
        let tag = hash.max(1);
        // The high bits pick the slot; the whole hash is the tag, so two keys sharing a slot
        // are told apart.
        let index = ((u128::from(hash) * self.slots.len() as u128) >> 64) as usize;
        let now_ms = u64::try_from(now.saturating_duration_since(self.epoch).as_millis())
            .unwrap_or(u64::MAX);
        let mut slot = self.slots[index].lock().unwrap_or_else(|p| p.into_inner());
        if slot.tag == tag {
            let elapsed = i64::try_from(now_ms.saturating_sub(slot.last_ms)).unwrap_or(i64::MAX);
            slot.balance = slot
                .balance
                .saturating_add(elapsed.saturating_mul(self.rate))
                .min(self.capacity);
        } else {
            *slot = Slot {
                tag,
                balance: self.capacity,
                last_ms: now_ms,
                limited_in_a_row: 0,
            };
        }
        slot.last_ms = slot.last_ms.max(now_ms);
        if slot.balance >= TOKEN {
            slot.balance -= TOKEN;
            slot.limited_in_a_row = 0;
            return Take::Allowed;
        }
        if self.floor < 0 {
            slot.balance = (slot.balance - TOKEN).max(self.floor);
        }
        slot.limited_in_a_row = slot.limited_in_a_row % IN_A_ROW_CYCLE + 1;
        Take::Limited {
            in_a_row: slot.limited_in_a_row,
        }
    }
}

/// The folded multiply: the 128-bit product's halves xored (foldhash's mixing step).
fn fold(x: u64, y: u64) -> u64 {
    let product = u128::from(x) * u128::from(y);
    (product as u64) ^ ((product >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn table(rate: u32, burst: u32, debt_secs: u32) -> Buckets {
        Buckets::new(
            1024,
            Shape {
                rate,
                burst,
                debt_secs,
            },
            Instant::now(),
        )
    }

    fn allowed(b: &Buckets, key: u32, n: usize) -> usize {
        (0..n)
            .filter(|_| b.take(u128::from(key), 0, Instant::now()) == Take::Allowed)
            .count()
    }

    #[tokio::test(start_paused = true)]
    async fn a_quiet_key_gets_its_burst_then_the_rate() {
        let b = table(2, 5, 0);
        assert_eq!(allowed(&b, 1, 20), 5, "the burst, then nothing");
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(allowed(&b, 1, 20), 1, "half a second at 2/s refills one");
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(allowed(&b, 1, 20), 5, "refills up to the burst, no further");
        assert_eq!(allowed(&b, 2, 20), 5, "another key has its own bucket");
    }

    #[tokio::test(start_paused = true)]
    async fn partial_refills_add_up_while_limited_without_debt() {
        let b = table(1, 1, 0);
        assert_eq!(allowed(&b, 7, 1), 1);
        // Refused takes every 300 ms cost nothing: the token is there after one second.
        for _ in 0..3 {
            tokio::time::advance(Duration::from_millis(300)).await;
            assert_eq!(allowed(&b, 7, 1), 0);
        }
        tokio::time::advance(Duration::from_millis(100)).await;
        assert_eq!(allowed(&b, 7, 1), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn debt_keeps_a_flooding_key_limited_for_its_window() {
        let b = table(10, 10, 3);
        assert_eq!(allowed(&b, 1, 10), 10);
        // 100 more, all limited: the balance sinks to its floor, 30 tokens below zero.
        assert_eq!(allowed(&b, 1, 100), 0);
        tokio::time::advance(Duration::from_secs(3)).await;
        assert_eq!(allowed(&b, 1, 1), 0, "three seconds only pay the debt back");
        tokio::time::advance(Duration::from_millis(200)).await;
        assert_eq!(allowed(&b, 1, 1), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn limited_takes_are_counted_in_a_row() {
        let b = table(1, 1, 0);
        assert_eq!(b.take(9, 0, Instant::now()), Take::Allowed);
        for n in 1..=3 {
            assert_eq!(b.take(9, 0, Instant::now()), Take::Limited { in_a_row: n });
        }
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(b.take(9, 0, Instant::now()), Take::Allowed);
        assert_eq!(b.take(9, 0, Instant::now()), Take::Limited { in_a_row: 1 });
    }

    #[tokio::test(start_paused = true)]
    async fn in_a_row_starts_over_after_a_full_cycle_not_saturating() {
        let b = table(1, 1, 0);
        assert_eq!(b.take(9, 0, Instant::now()), Take::Allowed);
        assert_eq!(b.take(9, 0, Instant::now()), Take::Limited { in_a_row: 1 });
        // As if the key had been limited 2^32 - 1 times in a row (the old saturation point)
        // rounded to the cycle: the count wraps where every slip still divides it.
        let index = b
            .slots
            .iter()
            .position(|s| s.lock().is_ok_and(|s| s.limited_in_a_row == 1))
            .expect("the key's slot");
        if let Ok(mut slot) = b.slots[index].lock() {
            slot.limited_in_a_row = IN_A_ROW_CYCLE - 1;
        }
        let next: Vec<Take> = (0..3).map(|_| b.take(9, 0, Instant::now())).collect();
        let expect = [IN_A_ROW_CYCLE, 1, 2].map(|in_a_row| Take::Limited { in_a_row });
        assert_eq!(next, expect);
        for slip in 1..=crate::limits::RRL_SLIP.max {
            assert_eq!(IN_A_ROW_CYCLE % slip, 0, "slip {slip} divides the cycle");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_table_stays_its_size_under_a_flood_of_keys() {
        let b = Buckets::new(
            64,
            Shape {
                rate: 1,
                burst: 1,
                debt_secs: 0,
            },
            Instant::now(),
        );
        for key in 0..100_000u32 {
            b.take(u128::from(key), 0, Instant::now());
        }
        assert_eq!(b.slots.len(), 64);
        // Evicted keys start again with a full bucket: never stricter than the limit.
        let fresh = (0..1000u32)
            .filter(|k| b.take(u128::from(*k), 0, Instant::now()) == Take::Allowed)
            .count();
        assert!(fresh > 900, "{fresh} of 1000 long-evicted keys allowed");
    }
}
