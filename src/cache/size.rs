//! What a cache entry costs in memory, so `cache.max_bytes` bounds what the process really
//! holds. Every figure is what the allocator hands out, not what the data needs: the struct
//! sizes of the types as laid out, the heap buffers they own (at their capacity), and the
//! allocator's rounding of each buffer. Records are held in wire form (`wire.rs`), one buffer
//! per entry, so the estimate is exact but for the allocator's page-level overheads. `tests/bench/cache_memory.rs` compares the
//! estimate with the RSS a million entries really take.

use std::mem::size_of;

use super::entry::{Entry, Key, Stored};

/// mimalloc's size classes (the `tern` binary's allocator, chosen because glibc's heap
/// fragmented under floods): up to 64 bytes, whole 8-byte words; above, four classes per
/// doubling, so a request is rounded up by at most a quarter (a 272-byte request takes 320).
/// Under another allocator the estimate is off by that allocator's rounding instead.
pub(super) const fn alloc(n: usize) -> usize {
    const WORD: usize = 8;
    if n == 0 {
        return 0;
    }
    let words = n.div_ceil(WORD);
    if words <= 8 {
        return words * WORD;
    }
    // floor(log2(words - 1)) is at least 3 here, so the step is at least 2 words.
    let log = (usize::BITS - 1 - (words - 1).leading_zeros()) as usize;
    let step = 1 << (log - 2);
    words.div_ceil(step) * step * WORD
}

/// `lru` 0.16 boxes every entry in a node of its own: the key, the value and the two pointers
/// of its recency list (`LruEntry`).
pub(super) const NODE: usize = size_of::<Key>() + size_of::<Entry>() + 2 * size_of::<usize>();

/// `lru` 0.16 indexes nodes with a hashbrown table of (pointer to key, pointer to node), plus
/// one control byte per bucket.
const BUCKET: usize = 2 * size_of::<usize>() + 1;

/// hashbrown's SSE2 group: the control bytes are padded by one group so probes never wrap.
const GROUP_WIDTH: usize = 16;

/// The table `LruCache::new(cap)` allocates up front: hashbrown keeps at least one bucket in
/// eight empty, in a power-of-two number of buckets (4, 8 or 16 below 15 entries).
pub(super) fn table_bytes(cap: usize) -> usize {
    let buckets = match cap {
        0..4 => 4,
        4..8 => 8,
        8..15 => 16,
        _ => (cap.saturating_mul(8) / 7).next_power_of_two(),
    };
    alloc(buckets.saturating_mul(BUCKET).saturating_add(GROUP_WIDTH))
}

/// The least heap a useful entry owns: a one-byte key name and one A record (11 bytes in
/// wire form), each one allocation.
pub(super) const SMALLEST_HEAP: usize = alloc(1) + alloc(11);

/// The most entries up to `n` whose table (see [`table_bytes`]) is as full as hashbrown lets
/// it be: seven in eight buckets of a power of two.
pub(super) fn full_table_entries(n: usize) -> usize {
    if n < 15 {
        return n;
    }
    let buckets = (n.saturating_mul(8) / 7 + 1).next_power_of_two();
    let full = buckets / 8 * 7;
    if full <= n { full } else { buckets / 16 * 7 }
}

/// Everything one entry costs: its node, the name in its key and its record buffer. The
/// share of the hash table is not in here: the table is allocated whole when the cache is
/// made and counted then.
pub(super) fn entry_bytes(key: &Key, entry: &Entry) -> usize {
    alloc(NODE)
        + alloc(key.heap_len())
        + stored_heap(&entry.stored)
        + entry.signed.as_ref().map_or(0, |s| {
            alloc(std::mem::size_of::<super::signed::StoredSigned>()) + alloc(s.heap_len())
        })
}

fn stored_heap(stored: &Stored) -> usize {
    match stored {
        Stored::Positive(set) => alloc(set.len()),
        Stored::NxDomain { soa } | Stored::NoData { soa } => {
            soa.as_ref().map_or(0, |s| alloc(s.len()))
        }
        Stored::Failure { reason } => alloc(reason.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_round_like_mimalloc() {
        for (asked, given) in [
            (0, 0),
            (1, 8),
            (64, 64),
            (65, 80),
            (128, 128),
            (129, 160),
            (272, 320),
            (4096, 4096),
            (4097, 5120),
        ] {
            assert_eq!(alloc(asked), given, "{asked} bytes");
        }
    }

    #[test]
    fn full_tables_round_down_to_seven_eighths_of_a_power_of_two() {
        for (entries, fill) in [(10, 10), (500, 448), (448, 448), (447, 224)] {
            assert_eq!(full_table_entries(entries), fill, "{entries} entries");
        }
        assert_eq!(table_bytes(448), table_bytes(400));
        assert!(table_bytes(449) > table_bytes(448));
    }

    #[test]
    fn hash_table_matches_hashbrown_sizing() {
        // 6250 entries need 7143 buckets at 7/8 load: 8192.
        assert_eq!(table_bytes(6250), alloc(8192 * BUCKET + GROUP_WIDTH));
        assert_eq!(table_bytes(1), alloc(4 * BUCKET + GROUP_WIDTH));
    }
}
