//! Each policy's order over thousands of seeded answers, with χ² bounds at p = 0.001.
use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use hickory_proto::rr::rdata::A;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::Policy::{ClientHash, LowestLatency, RoundRobin, Weighted};
use super::*;
use crate::testing::name;

// χ² critical values at p = 0.001 by degrees of freedom: a fair implementation exceeds one
// for one seed in a thousand. The seeds are fixed, so every run measures the same.
const CHI2_DF1: f64 = 10.83;
const CHI2_DF2: f64 = 13.82;
const CHI2_DF3: f64 = 16.27;
const CHI2_DF5: f64 = 20.52;
const CHI2_DF23: f64 = 49.73;

/// `svc.test. A 192.0.2.<last>`.
fn a(last: u8) -> Record {
    let rdata = RData::A(A(Ipv4Addr::new(192, 0, 2, last)));
    Record::from_rdata(name("svc.test."), 300, rdata)
}

/// The A records 192.0.2.1 to 192.0.2.`n`.
fn addrs(n: u8) -> Vec<Record> {
    (1..=n).map(a).collect()
}

fn srv(priority: u16, weight: u16, target: &str) -> Record {
    let rdata = RData::SRV(SRV::new(priority, weight, 80, name(target)));
    Record::from_rdata(name("_http._tcp.svc.test."), 300, rdata)
}

fn octet(r: &Record) -> u8 {
    match &r.data {
        RData::A(a) => a.0.octets()[3],
        other => panic!("not an A record: {other:?}"),
    }
}

fn unknown(_: &Record) -> Member {
    Member::default()
}

/// Member weights by last octet: `ws[0]` for 192.0.2.1, and so on.
fn weights(ws: &[u32]) -> impl Fn(&Record) -> Member + '_ {
    |r| Member {
        weight: ws[usize::from(octet(r) - 1)],
        rtt: None,
    }
}

fn client(i: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x7f00_0000 | i))
}

/// One RRset's answers under one policy, as the server gives them: each on its own copy.
struct Asker<'m> {
    policy: Policy,
    member: &'m dyn Fn(&Record) -> Member,
    rng: StdRng,
    turn: u64,
    from: IpAddr,
}

fn asker(policy: Policy, member: &dyn Fn(&Record) -> Member) -> Asker<'_> {
    let rng = StdRng::seed_from_u64(0x7e27);
    let (turn, from) = (0, client(1));
    Asker {
        policy,
        member,
        rng,
        turn,
        from,
    }
}

impl Asker<'_> {
    /// The answer, checked to hold the records of the RRset.
    fn ask(&mut self, rrset: &[Record]) -> Vec<Record> {
        let mut copy = rrset.to_vec();
        let (turn, from) = (self.turn, self.from);
        order(
            self.policy,
            &mut copy,
            turn,
            from,
            self.member,
            &mut self.rng,
        );
        let key = |r: &Record| r.data.to_string();
        let (mut got, mut want) = (copy.clone(), rrset.to_vec());
        got.sort_by_key(key);
        want.sort_by_key(key);
        assert_eq!(got, want, "an answer is a permutation of the RRset");
        copy
    }

    /// The answer's last octets, for an A RRset.
    fn ask_a(&mut self, rrset: &[Record]) -> Vec<u8> {
        self.ask(rrset).iter().map(octet).collect()
    }
}

/// Pearson's χ² of `observed` counts against the probabilities `expected`.
fn chi_square(observed: &[u64], expected: &[f64]) -> f64 {
    let n = observed.iter().sum::<u64>() as f64;
    let term = |(&o, &p): (&u64, &f64)| (o as f64 - p * n).powi(2) / (p * n);
    observed.iter().zip(expected).map(term).sum()
}

#[test]
fn policy_names_parse_and_print() {
    for p in Policy::ALL {
        assert_eq!(p.name().parse::<Policy>(), Ok(p));
        assert_eq!(p.to_string(), p.name());
    }
    let err = "fastest".parse::<Policy>().expect_err("not a policy");
    assert!(err.to_string().contains("\"fastest\""), "{err}");
    assert!(err.to_string().contains("lowest-latency"), "{err}");

    #[derive(serde::Deserialize)]
    struct Config {
        balance: Policy,
    }
    let c: Config = toml::from_str("balance = \"client-hash\"").expect("kebab-case");
    assert_eq!(c.balance, ClientHash);
    assert!(toml::from_str::<Config>("balance = \"ClientHash\"").is_err());
}

#[test]
fn round_robin_rotates_each_record_to_the_front_in_turn() {
    let rrset = addrs(3);
    let mut q = asker(RoundRobin, &unknown);
    let mut firsts = [0u64; 3];
    for turn in 0..1000 {
        q.turn = turn;
        let got = q.ask(&rrset);
        let k = (turn % 3) as usize;
        for (i, r) in got.iter().enumerate() {
            assert_eq!(*r, rrset[(i + k) % 3], "turn {turn} is a rotation by {k}");
        }
        firsts[usize::from(octet(&got[0]) - 1)] += 1;
    }
    assert_eq!(firsts, [334, 333, 333]);
    // The turn is not truncated before the remainder: 2^32 + 1 ≡ 2 (mod 3).
    q.turn = (1 << 32) + 1;
    assert_eq!(q.ask_a(&rrset), [3, 1, 2]);
}

#[test]
fn weighted_addresses_follow_member_weights() {
    let member = weights(&[3, 1, 1]);
    let mut q = asker(Weighted, &member);
    let mut firsts = [0u64; 3];
    let mut orders: HashMap<String, u64> = HashMap::new();
    for _ in 0..6000 {
        let got = q.ask_a(&addrs(3));
        firsts[usize::from(got[0] - 1)] += 1;
        *orders
            .entry(got.iter().map(u8::to_string).collect())
            .or_default() += 1;
    }
    let first = chi_square(&firsts, &[0.6, 0.2, 0.2]);
    assert!(first < CHI2_DF2, "first places {firsts:?}: χ² = {first:.2}");
    // The whole order: after the weight-3 record the other two are even; after a
    // weight-1 record the weight-3 one is second three times in four.
    let perms = ["123", "132", "213", "231", "312", "321"];
    let observed: Vec<u64> = perms
        .iter()
        .map(|p| orders.get(*p).map_or(0, |n| *n))
        .collect();
    let whole = chi_square(&observed, &[0.3, 0.3, 0.15, 0.05, 0.15, 0.05]);
    assert!(whole < CHI2_DF5, "orders {observed:?}: χ² = {whole:.2}");
}

#[test]
fn weight_zero_addresses_come_last() {
    let member = weights(&[0, 2, 0, 4]);
    let mut q = asker(Weighted, &member);
    let mut third = HashMap::new();
    for _ in 0..1000 {
        let got = q.ask_a(&addrs(4));
        assert!(matches!(got[..2], [2, 4] | [4, 2]), "{got:?}");
        *third.entry(got[2]).or_insert(0) += 1;
    }
    // Among themselves the weight-0 records take turns.
    assert!(third.values().all(|&n| n > 400), "{third:?}");

    // All weights 0: nobody is preferred, so the first place is spread evenly.
    let none = weights(&[0; 4]);
    let mut q = asker(Weighted, &none);
    let mut firsts = [0u64; 4];
    for _ in 0..4000 {
        firsts[usize::from(q.ask_a(&addrs(4))[0] - 1)] += 1;
    }
    let x2 = chi_square(&firsts, &[0.25; 4]);
    assert!(x2 < CHI2_DF3, "first places {firsts:?}: χ² = {x2:.2}");
}

#[test]
fn weighted_srv_follows_rfc2782() {
    // Priority 10: weights 0, 60, 20, 20. Priority 20: 30 and 10. Given out of order.
    let rrset = [
        srv(20, 30, "e.svc.test."),
        srv(10, 0, "z.svc.test."),
        srv(10, 60, "a.svc.test."),
        srv(20, 10, "f.svc.test."),
        srv(10, 20, "b.svc.test."),
        srv(10, 20, "c.svc.test."),
    ];
    let target = |r: &Record| srv_of(r).map(|s| s.target.to_string()).unwrap_or_default();
    let ten = ["z.svc.test.", "a.svc.test.", "b.svc.test.", "c.svc.test."];
    // Every member weight is 1: only the SRV weights may matter.
    let mut q = asker(Weighted, &unknown);
    let (mut first10, mut first20) = ([0u64; 4], [0u64; 2]);
    for _ in 0..10_000 {
        let got = q.ask(&rrset);
        let priorities: Vec<u16> = got.iter().map(srv_priority).collect();
        assert_eq!(priorities, [10, 10, 10, 10, 20, 20], "lower priority first");
        let i = ten.iter().position(|t| *t == target(&got[0]));
        first10[i.expect("a priority-10 target")] += 1;
        first20[usize::from(target(&got[4]) == "f.svc.test.")] += 1;
    }
    // A draw from 0..=100: 0 picks the weight-0 record, 1..=60 the next, and so on.
    let x10 = chi_square(&first10, &[1.0, 60.0, 20.0, 20.0].map(|w| w / 101.0));
    assert!(x10 < CHI2_DF3, "priority 10: {first10:?}, χ² = {x10:.2}");
    assert!(first10[0] > 0, "the weight-0 record has its small chance");
    // No zero weight: a draw from 0..=40, where 0..=30 picks the first listed (weight 30).
    let x20 = chi_square(&first20, &[31.0 / 41.0, 10.0 / 41.0]);
    assert!(x20 < CHI2_DF1, "priority 20: {first20:?}, χ² = {x20:.2}");
}

#[test]
fn client_hash_is_stable_per_client_and_spread_over_clients() {
    let rrset = addrs(4);
    let reversed: Vec<Record> = rrset.iter().rev().cloned().collect();
    let mut q = asker(ClientHash, &unknown);
    let mut firsts = [0u64; 4];
    let mut orders: HashMap<Vec<u8>, u64> = HashMap::new();
    for i in 0..4800 {
        q.from = client(i);
        q.turn = i.into();
        let got = q.ask_a(&rrset);
        q.turn = 7;
        let from = q.from;
        assert_eq!(
            got,
            q.ask_a(&reversed),
            "{from}: one order, whatever the zone's and turn"
        );
        firsts[usize::from(got[0] - 1)] += 1;
        *orders.entry(got).or_default() += 1;
    }
    let first = chi_square(&firsts, &[0.25; 4]);
    assert!(first < CHI2_DF3, "first places {firsts:?}: χ² = {first:.2}");
    // Each of the 24 orders is as likely as any other.
    assert_eq!(orders.len(), 24);
    let observed: Vec<u64> = orders.values().copied().collect();
    let whole = chi_square(&observed, &[1.0 / 24.0; 24]);
    assert!(whole < CHI2_DF23, "orders {observed:?}: χ² = {whole:.2}");

    // A client over a dual-stack socket is the same client.
    let v4 = Ipv4Addr::new(127, 0, 3, 9);
    q.from = v4.into();
    let got = q.ask_a(&rrset);
    q.from = v4.to_ipv6_mapped().into();
    assert_eq!(got, q.ask_a(&rrset));
}

#[test]
fn client_hash_moves_few_clients_when_records_come_and_go() {
    let (four, five, three) = (addrs(4), addrs(5), [a(1), a(3), a(4)]);
    let mut q = asker(ClientHash, &unknown);
    let clients = 4000;
    let (mut moved, mut lost) = (0u32, 0u32);
    for i in 0..clients {
        q.from = client(i);
        let before = q.ask_a(&four)[0];
        let added = q.ask_a(&five)[0];
        let removed = q.ask_a(&three)[0];
        if added != before {
            moved += 1;
            assert_eq!(added, 5, "{} moved, to the new record only", q.from);
        }
        if before == 2 {
            lost += 1;
            assert_ne!(removed, 2);
        } else {
            assert_eq!(
                removed, before,
                "{} did not have the removed record first",
                q.from
            );
        }
    }
    let fraction = f64::from(moved) / f64::from(clients);
    assert!(
        (0.10..=0.35).contains(&fraction),
        "moved {fraction:.3}, not about 0.20"
    );
    assert!(lost > 0);
}

#[test]
fn client_hash_follows_member_weights() {
    let member = weights(&[3, 1, 0]);
    let mut q = asker(ClientHash, &member);
    let mut firsts = [0u64; 2];
    for i in 0..4000 {
        q.from = client(i);
        let got = q.ask_a(&addrs(3));
        assert_eq!(got[2], 3, "weight 0 is last");
        firsts[usize::from(got[0] - 1)] += 1;
    }
    let x2 = chi_square(&firsts, &[0.75, 0.25]);
    assert!(x2 < CHI2_DF1, "first places {firsts:?}: χ² = {x2:.2}");
}

#[test]
fn client_hash_is_the_same_in_every_process() {
    // FNV-1a test vectors (draft-eastlake-fnv), the finaliser, and the orders two clients
    // got when this was written: a change to any would move every client at an upgrade.
    let fnv = |s: &str| {
        let mut h = Fnv1a::new();
        h.write(s.as_bytes());
        h.0
    };
    assert_eq!(fnv(""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv("a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv("foobar"), 0x8594_4171_f739_67e8);
    let mut h = Fnv1a::new();
    h.write(&[4, 127, 0, 0, 1]);
    h.write(&canonical_rdata(&a(1)));
    assert_eq!(h.finish(), 0x9b9c_264b_76ae_b3af);
    let mut q = asker(ClientHash, &unknown);
    assert_eq!(q.ask_a(&addrs(4)), [3, 2, 1, 4]);
    q.from = Ipv6Addr::LOCALHOST.into();
    assert_eq!(q.ask_a(&addrs(4)), [3, 1, 2, 4]);
    // Case in a target name does not change its key (canonical RDATA).
    let key = |t| canonical_rdata(&srv(1, 1, t));
    assert_eq!(key("A.Svc.Test."), key("a.svc.test."));
}

#[test]
fn lowest_latency_orders_by_rtt_unknown_last_ties_stable() {
    let ms = |n| Some(Duration::from_millis(n));
    let rtts = [ms(30), None, ms(10), None, ms(10), ms(20)];
    let member = |r: &Record| Member {
        weight: 1,
        rtt: rtts[usize::from(octet(r) - 1)],
    };
    let mut q = asker(LowestLatency, &member);
    assert_eq!(q.ask_a(&addrs(6)), [3, 5, 6, 1, 2, 4]);
    // Ties keep the order they came in, whichever that is.
    let reversed: Vec<Record> = addrs(6).into_iter().rev().collect();
    assert_eq!(q.ask_a(&reversed), [5, 3, 6, 1, 4, 2]);
}

#[test]
fn short_rrsets_are_left_alone() {
    for p in Policy::ALL {
        let mut q = asker(p, &unknown);
        assert_eq!(q.ask(&[]), []);
        assert_eq!(q.ask(&[a(1)]), [a(1)]);
    }
}
