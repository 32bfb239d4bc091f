//! `tern ctl nta` as the resolver sees it (RFC 7646): a runtime negative trust anchor makes a
//! bogus zone insecure from the next query on (its cached bogus verdict dropped), removing it
//! brings validation back, and a configured one cannot be removed. A runtime one expires after
//! its lifetime (RFC 7646 §7) with no query needed, its insecure answers dropped then, and a
//! re-add starts its lifetime again.

use std::time::Duration;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::rr::RecordType::{A, TXT};

use super::validate::{bogus_ede, key_queries, signed_net, validating_with};
use super::*;
use crate::cache::{Key, Trust};
use crate::resolver::validate::{Lifetime, NtaAdded, NtaChange, NtaError, NtaSource};

const HOUR: Duration = Duration::from_secs(3600);

/// `tern ctl nta add NAME LIFETIME` now.
fn add(r: &Arc<Resolver>, n: &str, lifetime: Duration) -> NtaChange {
    r.nta_add(&name(n), Lifetime::secs(lifetime.as_secs()), Instant::now())
        .expect("validating")
}

#[tokio::test(start_paused = true)]
async fn a_runtime_negative_anchor_makes_a_bogus_zone_insecure_until_removed() {
    let (net, anchors) = signed_net();
    let r = validating_with(&net, anchors, vec![name("insecure.test.")]);
    let res = expect(&r, "www.bogus.test.", A, NoError).await;
    assert_eq!(bogus_ede(&res.security), Some(6), "{res:?}");

    let added = add(&r, "Bogus.Test.", HOUR);
    assert_eq!(added.added, Some(NtaAdded::New));
    assert!(added.flushed > 0, "the bogus answer was cached: {added:?}");
    // The next query: fetched again (not the cached bogus verdict), insecure, no keys asked.
    let sent = net.total();
    let res = expect(&r, "www.bogus.test.", A, NoError).await;
    assert!(res.upstream_queries > 0);
    assert_eq!(res.security, Trust::Insecure, "{res:?}");
    assert_eq!(key_queries(&net.sent()[sent..]), Vec::<String>::new());
    // The whole subtree, and nothing beside it.
    let txt = expect(&r, "txt.bogus.test.", TXT, NoError).await;
    assert_eq!(txt.security, Trust::Insecure);
    let secure = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!(secure.security, Trust::Secure);
    // Added twice: its lifetime starts again (and the subtree is flushed again).
    let again = add(&r, "bogus.test.", HOUR);
    assert_eq!(again.added, Some(NtaAdded::Refreshed));
    assert_eq!(
        r.nta_list(Instant::now()).expect("validating"),
        [
            (name("insecure.test."), NtaSource::Configured),
            (name("bogus.test."), NtaSource::Runtime { left: HOUR })
        ]
    );
    // A configured one has no lifetime to refresh.
    let configured = add(&r, "insecure.test.", HOUR);
    assert_eq!(configured.added, Some(NtaAdded::Configured));

    // A configured one stays: it would come back at restart.
    assert_eq!(
        r.nta_remove(&name("insecure.test.")),
        Err(NtaError::Configured(name("insecure.test.")))
    );
    // Removed: validated again at once, not served insecure from the cache.
    let insecure = expect(&r, "www.bogus.test.", A, NoError).await;
    assert_eq!(insecure.security, Trust::Insecure);
    r.nta_remove(&name("bogus.test.")).expect("runtime one");
    let res = expect(&r, "www.bogus.test.", A, NoError).await;
    assert_eq!(bogus_ede(&res.security), Some(6), "{res:?}");
    assert_eq!(
        r.nta_remove(&name("bogus.test.")),
        Err(NtaError::Unknown(name("bogus.test.")))
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_validator_there_is_nothing_to_except() {
    let r = resolver(&FakeNet::lab());
    assert_eq!(
        r.nta_add(&name("bogus.test."), Lifetime::default(), Instant::now()),
        Err(NtaError::NotValidating)
    );
    assert_eq!(r.nta_list(Instant::now()), Err(NtaError::NotValidating));
}

/// Lets the timers due by now run.
async fn settle() {
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
}

/// Whether www.bogus.test. A is in the cache as of now.
fn cached(r: &Arc<Resolver>) -> bool {
    r.cache()
        .get(&Key::new(&name("www.bogus.test."), A), Instant::now())
        .is_some()
}

#[tokio::test(start_paused = true)]
async fn a_runtime_negative_anchor_expires_and_its_insecure_answers_go_with_it() {
    let (net, anchors) = signed_net();
    let r = validating_with(&net, anchors, vec![name("insecure.test.")]);
    add(&r, "bogus.test.", Duration::from_secs(60));
    let res = expect(&r, "www.bogus.test.", A, NoError).await;
    assert_eq!(res.security, Trust::Insecure, "{res:?}");
    assert!(cached(&r), "the insecure answer (TTL 300) is cached");

    tokio::time::advance(Duration::from_secs(59)).await;
    settle().await;
    assert_eq!(
        r.nta_list(Instant::now()).expect("validating")[1],
        (
            name("bogus.test."),
            NtaSource::Runtime {
                left: Duration::from_secs(1)
            }
        )
    );
    let res = expect(&r, "www.bogus.test.", A, NoError).await;
    assert_eq!((res.upstream_queries, &res.security), (0, &Trust::Insecure));

    // Expired, and no query needed for the insecure answer to leave the cache: the hit path
    // never asks the validator.
    tokio::time::advance(Duration::from_secs(1)).await;
    settle().await;
    assert!(!cached(&r), "flushed at expiry");
    assert_eq!(
        r.nta_list(Instant::now()).expect("validating"),
        [(name("insecure.test."), NtaSource::Configured)],
        "the configured one never expires"
    );
    let res = expect(&r, "www.bogus.test.", A, NoError).await;
    assert!(res.upstream_queries > 0);
    assert_eq!(
        bogus_ede(&res.security),
        Some(6),
        "validated again: {res:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn adding_again_starts_the_lifetime_again() {
    let (net, anchors) = signed_net();
    let r = validating_with(&net, anchors, Vec::new());
    add(&r, "bogus.test.", Duration::from_secs(60));
    tokio::time::advance(Duration::from_secs(50)).await;
    add(&r, "bogus.test.", Duration::from_secs(60));
    let res = expect(&r, "www.bogus.test.", A, NoError).await;
    assert_eq!(res.security, Trust::Insecure, "{res:?}");

    // Past the first lifetime: the first timer is cancelled, the answer still insecure and
    // cached.
    tokio::time::advance(Duration::from_secs(30)).await;
    settle().await;
    assert!(cached(&r));
    assert_eq!(r.nta_list(Instant::now()).expect("validating").len(), 1);
    // Past the second: gone.
    tokio::time::advance(Duration::from_secs(30)).await;
    settle().await;
    assert!(!cached(&r));
    assert!(r.nta_list(Instant::now()).expect("validating").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_removed_anchors_timer_does_not_end_a_later_one() {
    let (net, anchors) = signed_net();
    let r = validating_with(&net, anchors, Vec::new());
    add(&r, "bogus.test.", Duration::from_secs(60));
    tokio::time::advance(Duration::from_secs(10)).await;
    r.nta_remove(&name("bogus.test.")).expect("runtime one");
    add(&r, "bogus.test.", HOUR);
    let res = expect(&r, "www.bogus.test.", A, NoError).await;
    assert_eq!(res.security, Trust::Insecure, "{res:?}");

    tokio::time::advance(Duration::from_secs(120)).await;
    settle().await;
    assert!(cached(&r), "the later anchor's answer stays");
    let res = expect(&r, "www.bogus.test.", A, NoError).await;
    assert_eq!((res.upstream_queries, &res.security), (0, &Trust::Insecure));
}

#[tokio::test(start_paused = true)]
async fn a_pending_expiry_keeps_nothing_alive() {
    let (net, anchors) = signed_net();
    let r = validating_with(&net, anchors, Vec::new());
    add(&r, "bogus.test.", HOUR);
    let weak = Arc::downgrade(&r);
    drop(r);
    assert!(
        weak.upgrade().is_none(),
        "the timer holds the resolver weakly"
    );
}
