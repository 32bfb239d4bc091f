//! The message tier's prefetch window: the first hit in the last tenth of an answer's lifetime
//! asks for a refresh, once; never an authoritative answer, nor when off; and once refreshed,
//! the answer is forgotten, to be kept again from the newer data.

use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

use super::*;
use crate::wire::parse;
use crate::wire::tests::{name, query};

const QNAME: &str = "www.example.test.";

fn answer(ttl: u32) -> Message {
    let mut m = Message::new(1, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(name(QNAME), RecordType::A));
    m.add_answer(Record::from_rdata(
        name(QNAME),
        ttl,
        RData::A(A::new(192, 0, 2, 1)),
    ));
    m
}

/// The hit at `now`, if any, with whether it asks for a refresh.
fn ask(tier: &Messages<()>, now: Instant) -> Option<bool> {
    let q = query(QNAME, |_| {});
    let question = parse(&q).expect("parsed");
    let mut out = Vec::new();
    tier.answer_into(&q, &question, 512, 1232, &[], now, &mut out)
        .map(|hit| hit.prefetch)
}

#[tokio::test(start_paused = true)]
async fn the_first_hit_in_the_last_tenth_asks_once() {
    let tier = Messages::with_capacity(16);
    let t0 = Instant::now();
    tier.insert(&mut answer(100), t0, false, (), 0);
    let at = |secs: u64| t0 + Duration::from_secs(secs);
    assert_eq!(ask(&tier, at(0)), Some(false));
    assert_eq!(ask(&tier, at(89)), Some(false), "11 s left");
    assert_eq!(ask(&tier, at(90)), Some(true), "10 s left");
    for secs in 90..100 {
        assert_eq!(ask(&tier, at(secs)), Some(false), "asked once");
    }
    assert_eq!(ask(&tier, at(100)), None, "expired");
}

#[tokio::test(start_paused = true)]
async fn a_refreshed_answer_is_forgotten_and_kept_again() {
    let tier = Messages::with_capacity(16);
    let t0 = Instant::now();
    tier.insert(&mut answer(100), t0, false, (), 0);
    let q = query(QNAME, |_| {});
    let key = Messages::<()>::key_of(&parse(&q).expect("parsed")).expect("a key");
    tier.forget_key(&key);
    assert_eq!(ask(&tier, t0), None);
    let later = t0 + Duration::from_secs(95);
    tier.insert(&mut answer(100), later, false, (), 0);
    assert_eq!(ask(&tier, later + Duration::from_secs(89)), Some(false));
    assert_eq!(ask(&tier, later + Duration::from_secs(90)), Some(true));
}

#[tokio::test(start_paused = true)]
async fn local_answers_and_a_tier_without_prefetch_never_ask() {
    let t0 = Instant::now();
    let late = t0 + Duration::from_secs(99);
    let local = Messages::with_capacity(16);
    local.insert(&mut answer(100), t0, true, (), 0);
    assert_eq!(ask(&local, late), Some(false));

    let off = Messages::with_capacity(16).with_prefetch(0);
    off.insert(&mut answer(100), t0, false, (), 0);
    assert_eq!(ask(&off, late), Some(false));

    // A lifetime under 10 s has no whole second to spare at 10 %; at 50 % it has.
    let short = Messages::with_capacity(16);
    short.insert(&mut answer(5), t0, false, (), 0);
    assert_eq!(ask(&short, t0 + Duration::from_secs(4)), Some(false));
    let wide = Messages::with_capacity(16).with_prefetch(50);
    wide.insert(&mut answer(5), t0, false, (), 0);
    assert_eq!(ask(&wide, t0 + Duration::from_secs(2)), Some(false));
    assert_eq!(ask(&wide, t0 + Duration::from_secs(3)), Some(true));
}
