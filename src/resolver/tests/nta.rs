//! `tern ctl nta` as the resolver sees it (RFC 7646): a runtime negative trust anchor makes a
//! bogus zone insecure from the next query on (its cached bogus verdict dropped), removing it
//! brings validation back, and a configured one cannot be removed.

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::rr::RecordType::{A, TXT};

use super::validate::{bogus_ede, key_queries, signed_net, validating_with};
use super::*;
use crate::cache::Trust;
use crate::resolver::validate::{NtaError, NtaSource};

#[tokio::test(start_paused = true)]
async fn a_runtime_negative_anchor_makes_a_bogus_zone_insecure_until_removed() {
    let (net, anchors) = signed_net();
    let r = validating_with(&net, anchors, vec![name("insecure.test.")]);
    let res = expect(&r, "www.bogus.test.", A, NoError).await;
    assert_eq!(bogus_ede(&res.security), Some(6), "{res:?}");

    let added = r.nta_add(&name("Bogus.Test.")).expect("validating");
    assert!(added.changed);
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
    // Added twice: nothing changes (but the subtree is flushed again).
    assert!(!r.nta_add(&name("bogus.test.")).expect("validating").changed);
    assert_eq!(
        r.nta_list().expect("validating"),
        [
            (name("insecure.test."), NtaSource::Configured),
            (name("bogus.test."), NtaSource::Runtime)
        ]
    );

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
        r.nta_add(&name("bogus.test.")),
        Err(NtaError::NotValidating)
    );
    assert_eq!(r.nta_list(), Err(NtaError::NotValidating));
}
