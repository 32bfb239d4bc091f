//! Review of cache-time semantics at the resolver: a walked answer's TTLs say no more than
//! what the cache keeps of it (RFC 4035 §5.3.3: a validated RRset and its RRSIGs live no
//! longer than the signatures; Unbound's validator cuts the rrset's TTL to them,
//! `validator/val_sigcrypt.c` `adjust_ttl`, and its reply is built from that rrset).

use std::time::Duration;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::rr::RecordType::A;
use tokio::time::{Instant, advance};

use super::validate::{signed_net, validating};
use super::*;
use crate::cache::{Key, Trust};

/// The lab's signatures expire 30 days after signing: walked 100 s before that, www's TTL of
/// 300 is cut to 100 in the cache, and the answer (with its RRSIGs) must say no more.
#[tokio::test(start_paused = true)]
async fn a_walked_answer_says_no_more_than_its_signatures_have_left() {
    let (net, anchors) = signed_net();
    let r = validating(&net, anchors);
    advance(Duration::from_secs(30 * 86_400 - 100)).await;
    let res = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!(res.security, Trust::Secure, "{res:?}");
    let key = Key::new(&name("www.secure.test."), A);
    let kept = r.cache().fresh_ttl(&key, Instant::now());
    assert!(kept.is_some_and(|t| t <= 100), "cached for {kept:?}");
    let sent: Vec<u32> = res
        .answers
        .iter()
        .chain(&res.answer_sigs)
        .map(|r| r.ttl)
        .collect();
    assert!(!res.answer_sigs.is_empty());
    assert!(
        sent.iter().all(|&t| t <= 100),
        "answer TTLs {sent:?} outlive the signatures (100 s left)"
    );
}
