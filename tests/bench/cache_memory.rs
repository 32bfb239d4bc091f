//! Does `cache.max_bytes` bound what the process really holds? Fills a `Cache` with what a
//! unique-name flood leaves behind (one A record per distinct name, and one NXDOMAIN with its
//! SOA in ten) and prints, per run, the entries held, the bytes the cache accounts for them and
//! the growth of the process's resident set (VmRSS in /proc/self/status), in total and per
//! entry. Runs without a byte bound compare the estimate with reality; a run under 8 MiB shows
//! the resident set stays near the bound however many names go through.
//!
//! `cargo bench --bench cache_memory` (a million inserts per run). Under `cargo test` the same
//! runs do ten thousand inserts, to keep the code working without slowing the suite down.
//!
//! Every run is a child process of its own: memory freed by one run stays resident in the
//! allocator and would hide the next run's growth.

use std::process::{Command, ExitCode};

/// The allocator the `tern` binary runs on, whose size classes the estimate models.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use hickory_proto::rr::rdata::{A, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;
use tern::CACHE_MAX_BYTES;
use tern::{Cache, CacheData as Data, CacheKey as Key, CachePolicy, Rank};
use tokio::time::Instant;

const BENCH_INSERTS: usize = 1_000_000;
const SMOKE_INSERTS: usize = 10_000;

struct Run {
    label: &'static str,
    /// `None`: as large as allowed, so the entry bound alone decides and nothing is evicted.
    max_bytes: Option<usize>,
    /// Names past 32 bytes of labels, which hickory-proto keeps on the heap.
    long_names: bool,
}

const RUNS: &[Run] = &[
    Run {
        label: "no byte bound, short names",
        max_bytes: None,
        long_names: false,
    },
    Run {
        label: "no byte bound, long names",
        max_bytes: None,
        long_names: true,
    },
    Run {
        label: "max_bytes = 8 MiB",
        max_bytes: Some(8 << 20),
        long_names: false,
    },
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let arg = |prefix: &str| args.iter().find_map(|a| a.strip_prefix(prefix));
    if let (Some(run), Some(inserts)) = (arg("--run="), arg("--inserts=")) {
        let (Some(run), Ok(inserts)) = (
            run.parse().ok().and_then(|i: usize| RUNS.get(i)),
            inserts.parse(),
        ) else {
            eprintln!("cache_memory: bad --run or --inserts");
            return ExitCode::FAILURE;
        };
        return child(run, inserts);
    }
    // `cargo bench` passes --bench; `cargo test --all-targets` does not.
    let inserts = if args.iter().any(|a| a == "--bench") {
        BENCH_INSERTS
    } else {
        SMOKE_INSERTS
    };
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("cache_memory: cannot find my own binary: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "cache_memory: {inserts} inserts per run: `u<n>.wild.alpha.test. A`, \
         every tenth an NXDOMAIN with its SOA"
    );
    println!(
        "{:<28} {:>8} {:>11} {:>7} {:>11} {:>7} {:>7}",
        "run", "entries", "accounted", "/entry", "RSS growth", "/entry", "RSS/acc"
    );
    for i in 0..RUNS.len() {
        let status = Command::new(&exe)
            .arg(format!("--run={i}"))
            .arg(format!("--inserts={inserts}"))
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!("cache_memory: run {i} failed: {status:?}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

fn child(run: &Run, inserts: usize) -> ExitCode {
    let policy = CachePolicy {
        max_bytes: run.max_bytes.unwrap_or(CACHE_MAX_BYTES.max),
        // Room for every insert, with slack for shards that draw more than a sixteenth.
        max_entries: inserts + inserts / 8,
        ..CachePolicy::default()
    };
    let Some(before) = rss_bytes() else {
        eprintln!("cache_memory: no VmRSS in /proc/self/status");
        return ExitCode::FAILURE;
    };
    let cache = Cache::new(policy);
    let empty = cache.bytes();
    let now = Instant::now();
    let apex = name("alpha.test.");
    let soa = SOA::new(
        name("ns1.alpha.test."),
        name("hostmaster.alpha.test."),
        2024010101,
        3600,
        600,
        86400,
        300,
    );
    let mut max_accounted = 0;
    // What the stored data takes on the wire (each record uncompressed, as in an answer that
    // carries nothing else): the yardstick for "bytes per entry beyond the wire size".
    let mut wire = 0usize;
    for i in 0..inserts {
        let owner = if run.long_names {
            // 40 bytes of labels, like CDN and cloud host names.
            name(&format!("u{i:06}.q7k2m9x4.edge.cdnprovider.alpha.test."))
        } else {
            name(&format!("u{i}.wild.alpha.test."))
        };
        let (key, data) = if i % 10 == 0 {
            let soa = Record::from_rdata(apex.clone(), 300, RData::SOA(soa.clone()));
            (
                Key::name_only(&owner),
                Data::NxDomain {
                    soa: Some(Box::new(soa)),
                },
            )
        } else {
            // A clone, like the records the resolver stores (`Data::Positive(set.clone())`):
            // a cloned name's heap buffer is sized exactly.
            let a = Record::from_rdata(owner.clone(), 300, RData::A(A::new(192, 0, 2, 1)));
            (Key::new(&owner, RecordType::A), Data::Positive(vec![a]))
        };
        wire += wire_len(&data);
        cache.insert(key, data, 300, Rank::Authoritative, now);
        if run.max_bytes.is_some() && i % 1024 == 0 {
            max_accounted = max_accounted.max(cache.bytes());
        }
    }
    let Some(after) = rss_bytes() else {
        eprintln!("cache_memory: no VmRSS in /proc/self/status");
        return ExitCode::FAILURE;
    };
    let (entries, accounted) = (cache.len(), cache.bytes());
    let grown = after.saturating_sub(before);
    println!(
        "{:<28} {:>8} {:>11} {:>7} {:>11} {:>7} {:>7.3}",
        run.label,
        entries,
        mib(accounted),
        accounted / entries.max(1),
        mib(grown),
        grown / entries.max(1),
        grown as f64 / accounted as f64,
    );
    println!(
        "{:<28} of which fixed (hash tables, sentinels): {}; entries alone: {} B each",
        "",
        mib(empty),
        accounted.saturating_sub(empty) / entries.max(1),
    );
    if run.max_bytes.is_none() {
        let wire = wire / inserts.max(1);
        println!(
            "{:<28} wire size of the data: {wire} B each; RSS beyond it: {} B each",
            "",
            (grown / entries.max(1)).saturating_sub(wire),
        );
    }
    if let Some(bound) = run.max_bytes {
        println!(
            "{:<28} bound {}; most accounted at any time {}; RSS growth is {:.2}x the bound",
            "",
            mib(bound),
            mib(max_accounted.max(accounted)),
            grown as f64 / bound as f64,
        );
    }
    drop(cache);
    ExitCode::SUCCESS
}

fn wire_len(data: &Data) -> usize {
    let records: Vec<&Record> = match data {
        Data::Positive(records) => records.iter().collect(),
        Data::NxDomain { soa } | Data::NoData { soa } => soa.iter().map(|r| &**r).collect(),
        Data::Failure { .. } => Vec::new(),
    };
    records
        .iter()
        .map(|r| r.to_bytes().map_or(0, |b| b.len()))
        .sum()
}

fn name(text: &str) -> Name {
    // The names are fixed by this file: a parse failure is a bug in it.
    Name::from_ascii(text).expect("benchmark names are valid")
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1 << 20))
}

/// The resident set size, from `VmRSS:   1234 kB` in /proc/self/status.
fn rss_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
