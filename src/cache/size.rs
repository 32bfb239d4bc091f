//! What a cache entry costs in memory, so `cache.max_bytes` bounds what the process really
//! holds. Every figure is what the allocator hands out, not what the data needs: the struct
//! sizes of the types as laid out, the heap buffers they own (at their capacity), and the
//! allocator's rounding of each buffer. Estimated from the structures, without encoding the
//! common types, because it runs on every insert. `tests/bench/cache_memory.rs` compares the
//! estimate with the RSS a million entries really take.

use std::mem::size_of;

use hickory_proto::rr::rdata::svcb::{SVCB, SvcParamValue};
use hickory_proto::rr::{Name, RData, Record};
use hickory_proto::serialize::binary::BinEncodable;

use super::entry::{Data, Entry, Key};

/// mimalloc's size classes (the `tern` binary's allocator, chosen because glibc's heap
/// fragmented under floods): up to 64 bytes, whole 8-byte words; above, four classes per
/// doubling, so a request is rounded up by at most a quarter (a 272-byte `Record` takes 320).
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

/// Everything one entry costs: its node, the name in its key and the records it holds. The
/// share of the hash table is not in here: the table is allocated whole when the cache is
/// made and counted then.
pub(super) fn entry_bytes(key: &Key, entry: &Entry) -> usize {
    alloc(NODE) + alloc(key.heap_len()) + data_heap(&entry.data)
}

fn data_heap(data: &Data) -> usize {
    match data {
        Data::Positive(records) => {
            vec_heap(records) + records.iter().map(record_heap).sum::<usize>()
        }
        // The SOA is boxed: its `Record` and its names' heap.
        Data::NxDomain { soa } | Data::NoData { soa } => soa
            .as_deref()
            .map_or(0, |r| alloc(size_of::<Record>()) + record_heap(r)),
        Data::Failure { reason } => alloc(reason.capacity()),
    }
}

/// Heap owned by a record; the `Record` struct itself is counted where it sits (the RRset's
/// buffer, or inline in the entry).
fn record_heap(record: &Record) -> usize {
    name_heap(&record.name) + rdata_heap(&record.data)
}

/// hickory-proto 0.26 keeps a name's label bytes in a `TinyVec<[u8; 32]>` and the label end
/// offsets in a `TinyVec<[u8; 24]>`: inline up to 32 bytes of labels and 24 labels, on the heap
/// past that. A name the resolver caches is a clone (`Data::Positive(set.clone())`) or, in a
/// key, a lowercased copy; both size the heap buffer exactly, so its length is its capacity. A
/// name built label by label and never cloned may hold up to twice that.
fn name_heap(name: &Name) -> usize {
    const INLINE_LABEL_BYTES: usize = 32;
    const INLINE_LABELS: usize = 24;
    let (labels, label_bytes) = name
        .iter()
        .fold((0, 0), |(n, bytes), label| (n + 1, bytes + label.len()));
    let data = if label_bytes > INLINE_LABEL_BYTES {
        alloc(label_bytes)
    } else {
        0
    };
    let ends = if labels > INLINE_LABELS {
        alloc(labels)
    } else {
        0
    };
    data + ends
}

/// Heap owned by RDATA beyond the `RData` value itself, type by type for everything a resolver
/// caches.
fn rdata_heap(rdata: &RData) -> usize {
    let bytes = |b: &[u8]| alloc(b.len());
    match rdata {
        RData::A(_) | RData::AAAA(_) => 0,
        RData::NS(n) => name_heap(&n.0),
        RData::CNAME(n) => name_heap(&n.0),
        RData::PTR(n) => name_heap(&n.0),
        RData::ANAME(n) => name_heap(&n.0),
        RData::MX(mx) => name_heap(&mx.exchange),
        RData::SRV(srv) => name_heap(&srv.target),
        RData::SOA(soa) => name_heap(&soa.mname) + name_heap(&soa.rname),
        RData::TXT(txt) => {
            alloc(size_of_val(&*txt.txt_data))
                + txt.txt_data.iter().map(|s| bytes(s)).sum::<usize>()
        }
        RData::SVCB(svcb) => svcb_heap(svcb),
        RData::HTTPS(https) => svcb_heap(&https.0),
        RData::CAA(caa) => alloc(caa.tag.capacity()) + alloc(caa.value.capacity()),
        RData::HINFO(h) => bytes(&h.cpu) + bytes(&h.os),
        RData::NAPTR(n) => {
            bytes(&n.flags) + bytes(&n.services) + bytes(&n.regexp) + name_heap(&n.replacement)
        }
        // DNAME travels here too (RFC 3597 opaque RDATA holding the target name).
        RData::NULL(null) | RData::Unknown { rdata: null, .. } => alloc(null.anything.capacity()),
        RData::SSHFP(s) => alloc(s.fingerprint.capacity()),
        RData::TLSA(t) => alloc(t.cert_data.capacity()),
        RData::SMIMEA(s) => alloc(s.0.cert_data.capacity()),
        RData::CERT(c) => alloc(c.cert_data.capacity()),
        RData::OPENPGPKEY(k) => alloc(k.public_key.capacity()),
        // OPT and TSIG are never cached, CSYNC hardly (a parent-child sync record), and any
        // type a later hickory adds is unknown here: twice the wire form bounds their nested
        // buffers loosely. Encoding costs more than the match above, but these are rare.
        _ => rdata
            .to_bytes()
            .map_or(alloc(u16::MAX as usize), |wire| 2 * alloc(wire.len())),
    }
}

/// A vector's buffer, at its capacity.
fn vec_heap<T>(v: &Vec<T>) -> usize {
    alloc(v.capacity() * size_of::<T>())
}

/// SVCB/HTTPS (RFC 9460): the target name, the parameter list and each parameter's buffers.
fn svcb_heap(svcb: &SVCB) -> usize {
    let params = vec_heap(&svcb.svc_params);
    let values: usize = svcb
        .svc_params
        .iter()
        .map(|(_, value)| match value {
            SvcParamValue::Mandatory(m) => vec_heap(&m.0),
            SvcParamValue::Alpn(a) => {
                vec_heap(&a.0) + a.0.iter().map(|s| alloc(s.capacity())).sum::<usize>()
            }
            SvcParamValue::Ipv4Hint(h) => vec_heap(&h.0),
            SvcParamValue::Ipv6Hint(h) => vec_heap(&h.0),
            SvcParamValue::EchConfigList(e) => alloc(e.0.capacity()),
            SvcParamValue::Unknown(u) => alloc(u.0.capacity()),
            SvcParamValue::NoDefaultAlpn | SvcParamValue::Port(_) => 0,
        })
        .sum();
    name_heap(&svcb.target_name) + params + values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_round_like_mimalloc() {
        assert_eq!(alloc(0), 0);
        assert_eq!(alloc(1), 8);
        assert_eq!(alloc(64), 64);
        assert_eq!(alloc(65), 80);
        assert_eq!(alloc(128), 128);
        assert_eq!(alloc(129), 160);
        assert_eq!(alloc(272), 320);
        assert_eq!(alloc(4096), 4096);
        assert_eq!(alloc(4097), 5120);
    }

    #[test]
    fn long_names_cost_their_heap_and_short_ones_nothing() {
        let short = Name::from_ascii("u123456.wild.alpha.test.").expect("name");
        assert_eq!(name_heap(&short), 0);
        // 33 bytes of labels: one past the inline buffer.
        let long = Name::from_ascii(format!("{}.test.", "a".repeat(29))).expect("name");
        assert_eq!(name_heap(&long), alloc(33));
        let many = Name::from_ascii("a.".repeat(25)).expect("name");
        assert_eq!(name_heap(&many), alloc(25));
    }

    #[test]
    fn hash_table_matches_hashbrown_sizing() {
        // 6250 entries need 7143 buckets at 7/8 load: 8192.
        assert_eq!(table_bytes(6250), alloc(8192 * BUCKET + GROUP_WIDTH));
        assert_eq!(table_bytes(1), alloc(4 * BUCKET + GROUP_WIDTH));
    }
}
