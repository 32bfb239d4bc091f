//! The ordinary walk: answers, aliases, glueless delegations, lame, silent and truncating
//! servers, negative answers and the cache.

use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::op::ResponseCode::{NXDomain, NoError};
use hickory_proto::rr::RecordType::{A, AAAA, MX, TXT};
use tokio::time::{Instant, advance};

use super::*;
use crate::cache::Key;
use crate::resolver::fake::{Mode, ip};

#[tokio::test(start_paused = true)]
async fn plain_answers_from_every_branch() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    let cases: &[(&str, RecordType, &[&str])] = &[
        (
            "www.alpha.test.",
            A,
            &["www.alpha.test. 3600 A 127.0.0.100"],
        ),
        (
            "www.alpha.test.",
            AAAA,
            &["www.alpha.test. 3600 AAAA 2001:db8::100"],
        ),
        (
            "www.beta.example.",
            A,
            &["www.beta.example. 3600 A 127.0.0.110"],
        ),
        (
            "host.deep.alpha.test.",
            A,
            &["host.deep.alpha.test. 3600 A 127.0.0.102"],
        ),
        (
            "alpha.test.",
            MX,
            &["alpha.test. 3600 MX 10 mail.alpha.test."],
        ),
        (
            "small.big.test.",
            A,
            &["small.big.test. 3600 A 127.0.0.150"],
        ),
        (
            "anything.wild.alpha.test.",
            A,
            &["anything.wild.alpha.test. 3600 A 127.0.0.101"],
        ),
        (
            "WWW.Alpha.TEST.",
            A,
            &["www.alpha.test. 3600 A 127.0.0.100"],
        ),
    ];
    for (qname, qtype, want) in cases {
        let res = expect(&r, qname, *qtype, NoError).await;
        assert_eq!(lines(&res.answers), *want, "{qname} {qtype}");
        assert!(!res.stale);
    }
}

/// What `chain1.alpha.test. A` answers, fresh (3600) or counted down in the cache to `ttl`.
fn chain1(ttl: u32) -> [String; 3] {
    [
        format!("chain1.alpha.test. {ttl} CNAME chain2.alpha.test."),
        format!("chain2.alpha.test. {ttl} CNAME www.beta.example."),
        format!("www.beta.example. {ttl} A 127.0.0.110"),
    ]
}

#[tokio::test(start_paused = true)]
async fn cname_chains_across_zones() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    let res = expect(&r, "chain1.alpha.test.", A, NoError).await;
    assert_eq!(lines(&res.answers), chain1(3600));
    let res = expect(&r, "alias.beta.example.", A, NoError).await;
    assert_eq!(
        lines(&res.answers),
        [
            "alias.beta.example. 3600 CNAME www.alpha.test.",
            "www.alpha.test. 3600 A 127.0.0.100",
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn in_bailiwick_chain_is_taken_from_one_reply() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    expect(&r, "www.alpha.test.", TXT, NoError).await;
    let alpha = |net: &FakeNet| net.count(ip("127.0.0.41")) + net.count(ip("127.0.0.42"));
    let before = (net.total(), alpha(&net));
    // c3 → c4 → … → c12 → www: ten CNAMEs, all in alpha.test., in one authoritative reply.
    let res = expect(&r, "c3.alpha.test.", A, NoError).await;
    assert_eq!(res.answers.len(), 11);
    assert_eq!(
        lines(&res.answers[10..]),
        ["www.alpha.test. 3600 A 127.0.0.100"]
    );
    assert_eq!(net.total() - before.0, 1, "one query for the whole chain");
    assert_eq!(alpha(&net) - before.1, 1);
    // Each link was cached: asking for the middle of the chain sends nothing.
    let res = expect(&r, "c7.alpha.test.", A, NoError).await;
    assert_eq!(res.upstream_queries, 0);
    assert_eq!(res.answers.len(), 7);
}

#[tokio::test(start_paused = true)]
async fn glueless_delegation_resolves_the_name_server_names_first() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    let res = expect(&r, "www.glueless.test.", A, NoError).await;
    assert_eq!(
        lines(&res.answers),
        ["www.glueless.test. 3600 A 127.0.0.120"]
    );
    let sent = net.sent();
    let ns_lookup = sent
        .iter()
        .position(|s| s.qname == name("ns1.beta.example.") || s.qname == name("ns2.beta.example."))
        .expect("name server address looked up");
    let answer = sent
        .iter()
        .position(|s| s.qname == name("www.glueless.test."))
        .expect("asked for the name");
    assert!(ns_lookup < answer);
}

/// The lab, where `bad` is asked before `good`, its zone's other server: measured servers sort
/// after unmeasured ones, so `good` has answered once in 20 ms.
fn asked_first(bad: &str, good: &str) -> (Arc<FakeNet>, Arc<Resolver>, IpAddr, IpAddr) {
    let net = FakeNet::lab();
    let r = resolver(&net);
    let (bad, good) = (ip(bad), ip(good));
    r.infra
        .record_reply(good, Some(Duration::from_millis(20)), Instant::now());
    (net, r, bad, good)
}

#[tokio::test(start_paused = true)]
async fn lame_server_is_tried_once_then_avoided() {
    let (net, r, lame, good) = asked_first("127.0.0.61", "127.0.0.62");
    let res = expect(&r, "www.lame.test.", A, NoError).await;
    assert_eq!(lines(&res.answers), ["www.lame.test. 3600 A 127.0.0.130"]);
    assert_eq!(net.count(lame), 1, "lame server tried first, once");
    for qname in ["www.lame.test.", "nope.lame.test.", "other.lame.test."] {
        resolve(&r, qname, AAAA).await.expect("resolves");
    }
    expect(&r, "nope.lame.test.", A, NXDomain).await;
    assert_eq!(net.count(lame), 1, "lame server never asked again");
    assert!(net.count(good) >= 4);
}

#[tokio::test(start_paused = true)]
async fn silent_server_costs_one_try_not_the_budget() {
    let (net, r, dead, _) = asked_first("127.0.0.71", "127.0.0.72");
    // Warm the path down to test. so only the silent.test. servers cost time.
    expect(&r, "www.alpha.test.", A, NoError).await;
    let started = Instant::now();
    let res = expect(&r, "www.silent.test.", A, NoError).await;
    let took = started.elapsed();
    assert_eq!(lines(&res.answers), ["www.silent.test. 3600 A 127.0.0.140"]);
    assert_eq!(net.count(dead), 1);
    assert!(
        took >= Duration::from_millis(300),
        "waited for the dead server: {took:?}"
    );
    assert!(
        took < Duration::from_secs(1),
        "one per-try timeout, not the budget: {took:?}"
    );
    // Now the dead server sorts last: the next question costs no timeout.
    let started = Instant::now();
    expect(&r, "nope.silent.test.", A, NXDomain).await;
    assert!(started.elapsed() < Duration::from_millis(50));
    assert_eq!(net.count(dead), 1);
}

#[tokio::test(start_paused = true)]
async fn truncated_udp_answer_is_retried_over_tcp() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    let res = expect(&r, "big.big.test.", TXT, NoError).await;
    assert_eq!(res.answers.len(), 12);
    let to_big: Vec<bool> = net
        .sent()
        .iter()
        .filter(|s| s.qname == name("big.big.test."))
        .map(|s| s.tcp)
        .collect();
    assert_eq!(to_big, [false, true], "UDP first, then TCP");
}

#[tokio::test(start_paused = true)]
async fn truncated_answer_whose_tcp_retry_fails_is_never_cached() {
    // TC=1 replies that still carry the A record, and TCP refused.
    let (net, r, big) = big_test_failed(Mode::Truncate, Mode::Unreachable).await;
    assert!(
        r.cache()
            .get(&Key::new(&name("small.big.test."), A), Instant::now())
            .is_none()
    );
    assert_eq!(net.count(big), 2, "one UDP try and one TCP try");
    net.set_modes(big, Mode::Answer, Mode::Answer);
    advance(Duration::from_secs(6)).await;
    let res = expect(&r, "small.big.test.", A, NoError).await;
    assert_eq!(lines(&res.answers), ["small.big.test. 3600 A 127.0.0.150"]);
}

#[tokio::test(start_paused = true)]
async fn negative_answers_carry_the_soa_and_are_cached_for_its_minimum() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    let nx = expect(&r, "nope.alpha.test.", A, NXDomain).await;
    assert!(nx.answers.is_empty());
    let soa = lines(&nx.authorities);
    assert_eq!(soa.len(), 1);
    assert!(
        soa[0].starts_with("alpha.test. 300 SOA ns1.alpha.test."),
        "{soa:?}"
    );
    // NXDOMAIN covers every type of the name.
    let other_type = expect(&r, "nope.alpha.test.", AAAA, NXDomain).await;
    assert_eq!(other_type.upstream_queries, 0);
    let nodata = expect(&r, "www.alpha.test.", MX, NoError).await;
    assert!(nodata.answers.is_empty());
    assert!(lines(&nodata.authorities)[0].starts_with("alpha.test. 300 SOA"));
    advance(Duration::from_secs(100)).await;
    let sent = net.total();
    let nx = expect(&r, "nope.alpha.test.", A, NXDomain).await;
    let nodata = expect(&r, "www.alpha.test.", MX, NoError).await;
    assert_eq!(net.total(), sent, "both from the cache");
    assert!(lines(&nx.authorities)[0].starts_with("alpha.test. 200 SOA"));
    assert!(lines(&nodata.authorities)[0].starts_with("alpha.test. 200 SOA"));
    advance(Duration::from_secs(201)).await;
    let nx = expect(&r, "nope.alpha.test.", A, NXDomain).await;
    assert!(nx.upstream_queries > 0, "expired after the SOA minimum");
}

#[tokio::test(start_paused = true)]
async fn cached_ttl_counts_down_and_repeats_send_nothing() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    let first = expect(&r, "chain1.alpha.test.", A, NoError).await;
    assert!(first.upstream_queries > 0);
    advance(Duration::from_secs(10)).await;
    let sent = net.total();
    let again = expect(&r, "chain1.alpha.test.", A, NoError).await;
    assert_eq!(net.total(), sent);
    assert_eq!(again.upstream_queries, 0);
    assert_eq!(lines(&again.answers), chain1(3590));
    let short = expect(&r, "short-ttl.alpha.test.", A, NoError).await;
    assert_eq!(
        lines(&short.answers),
        ["short-ttl.alpha.test. 5 A 127.0.0.104"]
    );
    advance(Duration::from_secs(6)).await;
    let short = expect(&r, "short-ttl.alpha.test.", A, NoError).await;
    assert_eq!(
        short.upstream_queries, 1,
        "expired, asked again straight at alpha.test."
    );
}

#[tokio::test(start_paused = true)]
async fn servfail_from_one_server_moves_on_to_the_next() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    let (broken, good) = (ip("127.0.0.41"), ip("127.0.0.42"));
    net.set_modes(
        broken,
        Mode::Rcode(ResponseCode::ServFail),
        Mode::Rcode(ResponseCode::ServFail),
    );
    r.infra
        .record_reply(good, Some(Duration::from_millis(20)), Instant::now());
    let res = expect(&r, "www.alpha.test.", A, NoError).await;
    assert_eq!(lines(&res.answers), ["www.alpha.test. 3600 A 127.0.0.100"]);
    expect(&r, "mail.alpha.test.", A, NoError).await;
    assert_eq!(net.count(broken), 1);
}

#[tokio::test(start_paused = true)]
async fn referral_and_glue_data_are_not_answers() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    expect(&r, "www.alpha.test.", A, NoError).await;
    // The referral from test. left alpha.test. NS and the glue of ns1/ns2 in the cache; asked
    // for them, the resolver still asks alpha.test.'s own servers (RFC 2181 §5.4.1).
    for (qname, qtype) in [("alpha.test.", RecordType::NS), ("ns1.alpha.test.", A)] {
        let before = net.count(ip("127.0.0.41")) + net.count(ip("127.0.0.42"));
        let res = expect(&r, qname, qtype, NoError).await;
        assert!(!res.answers.is_empty());
        assert_eq!(
            net.count(ip("127.0.0.41")) + net.count(ip("127.0.0.42")),
            before + 1,
            "{qname} {qtype} asked of the zone's servers"
        );
        // Now authoritative data is cached and answers repeats.
        assert_eq!(expect(&r, qname, qtype, NoError).await.upstream_queries, 0);
    }
}

#[tokio::test(start_paused = true)]
async fn ds_is_asked_of_the_parent_even_with_the_child_cached() {
    // Under the unsigned alpha.test.: a signed parent's referral would have brought the proof
    // that there is no DS (cached, RFC 4035 §3.1.4), and nobody would be asked.
    let net = FakeNet::lab();
    let r = resolver(&net);
    expect(&r, "host.deep.alpha.test.", A, NoError).await;
    let before = net.sent().len();
    let res = expect(&r, "deep.alpha.test.", RecordType::DS, NoError).await;
    let asked: Vec<_> = net.sent()[before..].iter().map(|s| s.server).collect();
    assert!(!asked.is_empty());
    assert!(
        asked
            .iter()
            .all(|a| *a == ip("127.0.0.41") || *a == ip("127.0.0.42")),
        "only alpha.test.'s servers are asked for deep.alpha.test. DS: {asked:?}"
    );
    assert_eq!(
        res.authorities[0].name,
        name("alpha.test."),
        "NODATA from the parent zone"
    );
}

#[tokio::test(start_paused = true)]
async fn a_childs_ns_answer_never_outlives_the_delegation() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    expect(&r, "www.alpha.test.", A, NoError).await;
    let key = Key::new(&name("alpha.test."), RecordType::NS);
    let delegation = r
        .cache()
        .get(&key, Instant::now())
        .expect("delegation cached")
        .ttl;
    advance(Duration::from_secs(1000)).await;
    expect(&r, "alpha.test.", RecordType::NS, NoError).await;
    let after = r.cache().get(&key, Instant::now()).expect("NS cached").ttl;
    assert!(
        after <= delegation - 1000,
        "child NS TTL {after} outlives the delegation ({delegation} - 1000)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_server_that_rejects_edns_is_asked_again_without_it() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    for a in ["127.0.0.51", "127.0.0.52"] {
        net.set_modes(ip(a), Mode::NoEdns, Mode::NoEdns);
    }
    let res = expect(&r, "www.beta.example.", A, NoError).await;
    assert_eq!(
        lines(&res.answers),
        ["www.beta.example. 3600 A 127.0.0.110"]
    );
    let to_beta: Vec<_> = net
        .sent()
        .into_iter()
        .filter(|s| s.server == ip("127.0.0.51") || s.server == ip("127.0.0.52"))
        .collect();
    assert_eq!(
        to_beta.len(),
        2,
        "one FORMERR, one retry without EDNS: {to_beta:?}"
    );
    assert_eq!(
        to_beta[0].server, to_beta[1].server,
        "the same server, not the next one"
    );
}

/// The pre-EDNS memory is kept only once the retry without EDNS is answered (as Unbound keeps
/// it): a server that answers FORMERR to everything is no pre-EDNS server, and its next query
/// goes with EDNS again (the DO bit a signed zone's answers need).
#[tokio::test(start_paused = true)]
async fn no_edns_is_remembered_only_when_the_retry_without_it_is_answered() {
    let net = FakeNet::lab();
    let r = resolver(&net);
    for a in ["127.0.0.51", "127.0.0.52"] {
        net.set_modes(ip(a), Mode::Rcode(ResponseCode::FormErr), Mode::Answer);
    }
    resolve(&r, "www.beta.example.", A)
        .await
        .expect_err("FORMERR from every server");
    for a in ["127.0.0.51", "127.0.0.52"] {
        assert!(
            !r.infra.no_edns(ip(a), Instant::now()),
            "{a}: FORMERR with and without EDNS says nothing of EDNS"
        );
    }
    for a in ["127.0.0.51", "127.0.0.52"] {
        net.set_modes(ip(a), Mode::NoEdns, Mode::NoEdns);
    }
    advance(Duration::from_secs(10)).await;
    expect(&r, "www.beta.example.", A, NoError).await;
    let asked: Vec<_> = net
        .sent()
        .into_iter()
        .rev()
        .take(2)
        .map(|s| s.server)
        .collect();
    assert!(
        asked.iter().any(|a| r.infra.no_edns(*a, Instant::now())),
        "the server whose plain retry was answered is remembered: {asked:?}"
    );
}
