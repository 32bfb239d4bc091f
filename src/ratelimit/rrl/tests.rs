use std::str::FromStr;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType, rdata};

use super::*;
use crate::testing::ip;

fn name(s: &str) -> Name {
    Name::from_str(s).expect("test name")
}

fn rrl(rate: u32, slip: u32) -> Rrl {
    Rrl::new(&RrlSettings {
        responses_per_second: rate,
        window: 5,
        slip,
        prefix: ClientPrefix::default(),
        exempt: Exempt::default(),
        table_size: 4096,
    })
}

/// What `n` responses in a row from one client under one token come to.
fn verdicts(r: &Rrl, client: &str, token: Token, n: usize) -> Vec<Verdict> {
    (0..n)
        .map(|_| r.check(ip(client), token, Instant::now()))
        .collect()
}

use Verdict::{Drop, Send, Slip};

#[tokio::test(start_paused = true)]
async fn slip_2_truncates_every_other_limited_response() {
    let r = rrl(2, 2);
    let t = r.token(Kind::Answer, &name("www.example."));
    assert_eq!(
        verdicts(&r, "192.0.2.1", t, 7),
        [Send, Send, Drop, Slip, Drop, Slip, Drop]
    );
}

#[tokio::test(start_paused = true)]
async fn slip_1_truncates_all_and_slip_0_drops_all() {
    let r = rrl(1, 1);
    let t = r.token(Kind::Answer, &name("www.example."));
    assert_eq!(verdicts(&r, "192.0.2.1", t, 4), [Send, Slip, Slip, Slip]);
    let r = rrl(1, 0);
    assert_eq!(verdicts(&r, "192.0.2.1", t, 4), [Send, Drop, Drop, Drop]);
}

#[tokio::test(start_paused = true)]
async fn kinds_names_and_prefixes_are_accounted_separately() {
    let r = rrl(1, 0);
    let www = r.token(Kind::Answer, &name("www.example."));
    assert_eq!(verdicts(&r, "192.0.2.1", www, 2), [Send, Drop]);
    // Same /24, same account, whatever the case of the name.
    let upper = r.token(Kind::Answer, &name("WWW.Example."));
    assert_eq!(upper, www);
    assert_eq!(verdicts(&r, "192.0.2.77", upper, 1), [Drop]);
    // Another kind, another name, another /24: each a fresh account.
    let nx = r.token(Kind::Nxdomain, &name("www.example."));
    assert_eq!(verdicts(&r, "192.0.2.1", nx, 2), [Send, Drop]);
    let mail = r.token(Kind::Answer, &name("mail.example."));
    assert_eq!(verdicts(&r, "192.0.2.1", mail, 2), [Send, Drop]);
    assert_eq!(verdicts(&r, "192.0.3.1", www, 2), [Send, Drop]);
}

#[tokio::test(start_paused = true)]
async fn a_flood_stays_limited_for_the_window_after_it_stops() {
    let r = rrl(10, 0);
    let t = r.token(Kind::Answer, &name("www.example."));
    assert_eq!(
        verdicts(&r, "192.0.2.1", t, 1000)
            .iter()
            .filter(|v| **v == Send)
            .count(),
        10
    );
    tokio::time::advance(Duration::from_secs(5)).await;
    assert_eq!(
        verdicts(&r, "192.0.2.1", t, 1),
        [Drop],
        "5 s pay back 5 s of debt"
    );
    tokio::time::advance(Duration::from_millis(250)).await;
    assert_eq!(verdicts(&r, "192.0.2.1", t, 1), [Send]);
}

fn response(qname: &str, rcode: ResponseCode) -> Message {
    let mut m = Message::new(7, MessageType::Response, OpCode::Query);
    m.metadata.response_code = rcode;
    m.add_query(Query::query(name(qname), RecordType::A));
    m
}

fn soa(zone: &str) -> Record {
    let soa = rdata::SOA::new(name(zone), name(zone), 1, 3600, 600, 86400, 60);
    Record::from_rdata(name(zone), 60, RData::SOA(soa))
}

fn ns(owner: &str) -> Record {
    Record::from_rdata(name(owner), 60, RData::NS(rdata::NS(name("ns.elsewhere."))))
}

fn a(owner: &str) -> Record {
    Record::from_rdata(name(owner), 60, RData::A(rdata::A::new(192, 0, 2, 1)))
}

#[test]
fn responses_are_accounted_under_the_name_an_attacker_cannot_vary() {
    let r = rrl(1, 0);
    let no_wildcard = |_: &Name| None;

    /// A response (an A record in the answer, an SOA or NS RRset in the authority, each named
    /// by its owner) and the account RRL must charge it to.
    struct Case {
        q: &'static str,
        rcode: ResponseCode,
        a: Option<&'static str>,
        soa: Option<&'static str>,
        ns: Option<&'static str>,
        kind: Kind,
        account: &'static str,
    }
    use ResponseCode::{NXDomain, NoError, Refused};
    #[rustfmt::skip]
    let cases = [
        Case { q: "random1.example.", rcode: NXDomain, a: None, soa: Some("example."), ns: None, kind: Kind::Nxdomain, account: "example." },
        Case { q: "www.example.", rcode: NoError, a: None, soa: Some("example."), ns: None, kind: Kind::Nodata, account: "example." },
        Case { q: "a.b.child.example.", rcode: NoError, a: None, soa: None, ns: Some("child.example."), kind: Kind::Referral, account: "child.example." },
        Case { q: "not.ours.", rcode: Refused, a: None, soa: None, ns: None, kind: Kind::Error, account: "." },
        Case { q: "www.example.", rcode: NoError, a: Some("www.example."), soa: None, ns: Some("example."), kind: Kind::Answer, account: "www.example." },
    ];
    for c in cases {
        let mut m = response(c.q, c.rcode);
        m.answers.extend(c.a.map(a));
        m.authorities.extend(c.soa.map(soa));
        m.authorities.extend(c.ns.map(ns));
        assert_eq!(
            r.classify(&m, no_wildcard),
            r.token(c.kind, &name(c.account)),
            "{} {}",
            c.q,
            c.rcode
        );
    }

    let mut synthesised = response("random2.wild.example.", ResponseCode::NoError);
    synthesised.answers.push(a("random2.wild.example."));
    let source = |q: &Name| {
        assert_eq!(q, &name("random2.wild.example."));
        Some(name("*.wild.example."))
    };
    assert_eq!(
        r.classify(&synthesised, source),
        r.token(Kind::Answer, &name("*.wild.example."))
    );
}

#[test]
fn the_slip_rhythm_runs_on_across_the_in_a_row_cycle() {
    use crate::ratelimit::bucket::IN_A_ROW_CYCLE;
    for slip in 1..=crate::limits::RRL_SLIP.max {
        // The in_a_row values the bucket hands out around its wrap, and the verdicts they get:
        // exactly one slip in every `slip` limited responses, wrap or no wrap.
        let around = (IN_A_ROW_CYCLE - 2 * slip + 1..=IN_A_ROW_CYCLE).chain(1..=2 * slip);
        let slips: Vec<bool> = around.map(|n| slip_or_drop(slip, n) == Slip).collect();
        for (i, window) in slips.chunks(slip as usize).enumerate() {
            let n = window.iter().filter(|s| **s).count();
            assert_eq!(n, 1, "slip {slip}, window {i}: {slips:?}");
        }
    }
}
