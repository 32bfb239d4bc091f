//! Real conditions, deterministically: lost datagrams, slow and overloaded servers, servers
//! that never set AA, a priming reply without glue, and the cost of a cold walk.

use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::op::ResponseCode::{self, NoError};
use hickory_proto::rr::RecordType::{self, A, TXT};
use tokio::time::Instant;

use super::*;
use crate::cache::{Data, Key, Rank};
use crate::resolver::fake::ip;
use crate::resolver::infra::Standing;

/// The cold-run questions of `tests/bench/questions.txt` (name and type per line).
fn questions() -> Vec<(Name, RecordType)> {
    include_str!("../../../tests/bench/questions.txt")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (n, t) = l.split_once(' ').expect("name TYPE");
            (name(n), t.parse::<RecordType>().expect("type"))
        })
        .collect()
}

/// What a user sees of an answer: RCODE and answer records without TTLs, or the failure.
fn seen(res: &Result<Resolution, ResolveError>) -> (Option<ResponseCode>, Vec<String>) {
    match res {
        Ok(r) => {
            let mut records: Vec<String> = lines(&r.answers)
                .iter()
                .map(|l| {
                    let mut f: Vec<&str> = l.split(' ').collect();
                    f.remove(1);
                    f.join(" ")
                })
                .collect();
            records.sort();
            (Some(r.rcode), records)
        }
        Err(e) => (None, vec![e.to_string()]),
    }
}

async fn cold_run(net: &Arc<FakeNet>) -> Vec<(Option<ResponseCode>, Vec<String>)> {
    let r = resolver(net);
    let mut out = Vec::new();
    for (qname, qtype) in questions() {
        out.push(seen(&r.resolve(&qname, qtype, Instant::now()).await));
    }
    out
}

/// Every address the lab serves from.
fn lab_hosts() -> Vec<std::net::IpAddr> {
    crate::lab::LabFiles::embedded()
        .servers()
        .expect("lab")
        .into_iter()
        .map(|s| s.addr)
        .collect()
}

/// big.test. has one server; its first sends are lost on the way, or refused by a local
/// firewall (an iptables DROP in OUTPUT makes sendto fail with EPERM: nothing about the
/// server). A lost try waits out its timer (unmeasured server: 400 ms); a refused one is over
/// at once and the next goes without waiting, as in Unbound (the exchange's tests bound how
/// many). Either way the server stays up.
#[tokio::test(start_paused = true)]
async fn a_lost_or_locally_refused_send_is_resent_to_the_only_server() {
    type Lose = fn(&FakeNet, IpAddr, &[bool]);
    // (how, which of the first sends fail, sends until the answer, ms waited)
    #[rustfmt::skip]
    let cases: [(&str, Lose, [bool; 4], usize, u64); 2] = [
        ("lost", FakeNet::lose, [true, false, false, false], 2, 400),
        ("refused locally", FakeNet::lose_locally, [true, true, false, false], 3, 0),
    ];
    for (losses, lose, pattern, sends, waited) in cases {
        let net = FakeNet::lab();
        let r = resolver(&net);
        let big = ip("127.0.0.81");
        lose(&net, big, &pattern);
        let asked = Instant::now();
        let res = expect(&r, "small.big.test.", A, NoError).await;
        assert_eq!(lines(&res.answers), ["small.big.test. 3600 A 127.0.0.150"]);
        assert_eq!(net.count(big), sends, "{losses}: resent until answered");
        assert_eq!(asked.elapsed(), Duration::from_millis(waited), "{losses}");
        assert_eq!(
            r.infra.standing(big, Instant::now()),
            Standing::Up,
            "{losses}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn every_question_survives_heavy_random_loss() {
    let clean = cold_run(&FakeNet::lab()).await;
    assert!(clean.iter().filter(|s| s.0.is_some()).count() >= 64);
    // Each host loses a different third of its queries, in a fixed pseudo-random pattern:
    // far worse than the 10 % of the issue, and still every answer must come.
    // The second case is the same where the losses are our own sends failing.
    type Lose = fn(&FakeNet, IpAddr, &[bool]);
    for (losses, step, lose) in [
        ("", 7, FakeNet::lose as Lose),
        (" (local losses)", 5, FakeNet::lose_locally),
    ] {
        let net = FakeNet::lab();
        for (i, addr) in lab_hosts().into_iter().enumerate() {
            let pattern: Vec<bool> = (0..11).map(|k| (k * step + i * 3) % 11 < 4).collect();
            lose(&net, addr, &pattern);
        }
        let lossy = cold_run(&net).await;
        for (i, (q, (want, got))) in questions().iter().zip(clean.iter().zip(&lossy)).enumerate() {
            assert_eq!(want, got, "question {i}{losses}: {} {}", q.0, q.1);
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_late_reply_from_a_slow_server_is_still_taken() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    let big = ip("127.0.0.81");
    expect(&r, "small.big.test.", A, NoError).await;
    // Now the only server takes 700 ms: past its timeout (20 ms, measured), so tries go out
    // again, but the first reply is accepted when it comes.
    net.set_latency(big, Duration::from_millis(700));
    let asked = Instant::now();
    let res = expect(&r, "big.big.test.", A, ResponseCode::NoError).await;
    assert!(res.answers.is_empty(), "NODATA");
    assert_eq!(
        asked.elapsed(),
        Duration::from_millis(700),
        "the first try's reply"
    );
    assert!(net.count(big) > 2, "retransmitted meanwhile");
    assert_eq!(r.infra.standing(big, Instant::now()), Standing::Up);
}

#[tokio::test(start_paused = true)]
async fn an_overloaded_server_sheds_load_and_every_name_still_resolves() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    expect(&r, "www.alpha.test.", A, NoError).await;
    // Both alpha.test. servers answer 5 queries at a time, 20 ms each; the rest is dropped.
    for a in ["127.0.0.41", "127.0.0.42"] {
        net.set_latency(ip(a), Duration::from_millis(20));
        net.set_capacity(ip(a), 5);
    }
    // A hundred unique names at once, each answered.
    super::overload::flood(&r, &net, 100).await;
    for a in ["127.0.0.41", "127.0.0.42"] {
        assert_eq!(
            r.infra.standing(ip(a), Instant::now()),
            Standing::Up,
            "a busy server is not a dead one"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn answers_without_aa_are_used_final_cname_and_glueless_ns() {
    let net = FakeNet::lab();
    // Every leaf server answers without AA; beta.example.'s servers also set RA, like a
    // recursive server answering from its cache.
    for a in ["127.0.0.41", "127.0.0.42"] {
        net.clear_aa(ip(a), false);
    }
    for a in ["127.0.0.51", "127.0.0.52"] {
        net.clear_aa(ip(a), true);
    }
    let r = resolver(&net);
    let res = expect(&r, "www.alpha.test.", A, NoError).await;
    assert_eq!(lines(&res.answers), ["www.alpha.test. 3600 A 127.0.0.100"]);
    let res = expect(&r, "chain1.alpha.test.", A, NoError).await;
    assert_eq!(res.answers.len(), 3, "CNAME, CNAME, then beta.example.'s A");
    // glueless.test.'s servers are named in beta.example., whose servers clear AA.
    let res = expect(&r, "www.glueless.test.", A, NoError).await;
    assert_eq!(
        lines(&res.answers),
        ["www.glueless.test. 3600 A 127.0.0.120"]
    );
    let cached = r
        .cache()
        .get(&Key::new(&name("www.alpha.test."), A), Instant::now())
        .expect("cached");
    assert_eq!(cached.rank, Rank::NonAuthoritative);
    // A recursive server's empty answer is not NODATA: it is lame, and with no other server
    // the question fails.
    let e = resolve(&r, "www.beta.example.", TXT).await;
    assert!(e.is_ok(), "TXT exists: {e:?}");
    let e = resolve(&r, "nope.beta.example.", A).await;
    assert!(e.is_err(), "a cache's NXDOMAIN is not an answer: {e:?}");
}

#[tokio::test(start_paused = true)]
async fn an_authoritative_answer_is_preferred_and_never_replaced_by_a_non_authoritative_one() {
    let net = FakeNet::lab();
    let (sloppy, proper) = (ip("127.0.0.41"), ip("127.0.0.42"));
    net.clear_aa(sloppy, false);
    let r = resolver(&net);
    // Make the sloppy server the first choice, and let it answer once.
    r.infra
        .record_reply(proper, Some(Duration::from_millis(20)), Instant::now());
    expect(&r, "www.alpha.test.", A, NoError).await;
    assert_eq!(net.count(sloppy), 1);
    // It answered without AA: from now on the authoritative server is asked first.
    let before = net.count(proper);
    expect(&r, "mail.alpha.test.", A, NoError).await;
    assert_eq!(net.count(proper), before + 1);
    assert_eq!(net.count(sloppy), 1);
    let key = Key::new(&name("mail.alpha.test."), A);
    assert_eq!(
        r.cache().get(&key, Instant::now()).expect("cached").rank,
        Rank::Authoritative
    );
    // A non-authoritative reply with other data for the same RRset changes nothing.
    let other = Record::from_rdata(
        name("mail.alpha.test."),
        3600,
        hickory_proto::rr::RData::A(hickory_proto::rr::rdata::A::new(127, 0, 0, 99)),
    );
    r.store(
        vec![crate::resolver::classify::Learn {
            key: key.clone(),
            data: Data::Positive(vec![other]),
            rank: Rank::NonAuthoritative,
            signed: Vec::new(),
        }],
        Instant::now(),
    );
    let res = expect(&r, "mail.alpha.test.", A, NoError).await;
    assert_eq!(lines(&res.answers), ["mail.alpha.test. 3600 A 127.0.0.103"]);
}

#[tokio::test(start_paused = true)]
async fn a_priming_reply_without_glue_primes_once() {
    let net = FakeNet::lab();
    for a in ["127.0.0.11", "127.0.0.12"] {
        net.prime_without_glue(ip(a));
    }
    let r = resolver(&net);
    for qname in ["www.alpha.test.", "www.beta.example.", "www.lame.test."] {
        expect(&r, qname, A, NoError).await;
    }
    let primes = net
        .sent()
        .iter()
        .filter(|s| s.qname.is_root() && s.qtype == RecordType::NS)
        .count();
    assert_eq!(primes, 1, "primed once");
}

#[tokio::test(start_paused = true)]
async fn names_under_one_long_name_cost_one_query_each_once_walked() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    expect(&r, "www.alpha.test.", A, NoError).await;
    let first = expect(&r, "a.b.c.d.e.f.g.h.i.labels.alpha.test.", A, NoError).await;
    assert!(
        first.upstream_queries <= 10,
        "RFC 9156 §2.3: {}",
        first.upstream_queries
    );
    for (qname, qtype) in [
        ("a.b.c.d.e.f.g.h.i.labels.alpha.test.", TXT),
        ("z.b.c.d.e.f.g.h.i.labels.alpha.test.", A),
    ] {
        let res = expect(&r, qname, qtype, NoError).await;
        assert_eq!(res.upstream_queries, 1, "{qname} {qtype}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_cold_run_of_the_67_questions_costs_fewer_queries_than_unbound() {
    let net = FakeNet::lab();
    let answers = cold_run(&net).await;
    assert_eq!(answers.len(), 67);
    // Unbound 1.17 spent 115–120 upstream packets on the same run over NSD (issue 6).
    let sent = net.total();
    // 81 today; a regression past Unbound's figure fails here.
    assert!(sent <= 100, "{sent} upstream queries");
}
