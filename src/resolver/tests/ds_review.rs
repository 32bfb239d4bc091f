//! Review tests of the DS step of the chain of trust when one of the parent's servers is a
//! stale secondary (its copy's signatures expired): its DS RRset, or its proof that there is
//! no DS, is that server's fault, not the child's. Unbound blacklists the server and asks the
//! parent's others (its validator's restarts); the child must not be SERVFAIL for BOGUS_TTL.

use std::time::Duration;

use hickory_proto::op::ResponseCode::NoError;
use hickory_proto::rr::RecordType::A;
use tokio::time::Instant;

use super::validate::{signed_net_with, validating};
use super::*;
use crate::cache::Trust;
use crate::lab::sign::Signing;

/// ns2.nic.test., serving a copy of `test.` whose signatures expired.
const STALE: &str = "127.0.0.22";
/// ns1.nic.test., up to date.
const GOOD: &str = "127.0.0.21";

/// The lab with `test.`'s second server stale, and made to look fastest, so that it is asked
/// first.
fn stale_parent() -> (Arc<FakeNet>, Arc<Resolver>) {
    let (net, anchors) = signed_net_with(|_, text| text, &[("test.", Signing::Stale, STALE)]);
    let r = validating(&net, anchors);
    let now = Instant::now();
    r.infra
        .record_reply(ip(STALE), Some(Duration::from_millis(1)), now);
    r.infra
        .record_reply(ip(GOOD), Some(Duration::from_millis(50)), now);
    (net, r)
}

/// RFC 4035 §5: the DS of `secure.test.` from the stale server is bogus; the good server's
/// is valid, so the child's answer is secure.
#[tokio::test(start_paused = true)]
async fn a_ds_from_a_stale_parent_server_is_fetched_again_from_another() {
    let (_net, r) = stale_parent();
    let www = expect(&r, "www.secure.test.", A, NoError).await;
    assert_eq!(www.security, Trust::Secure, "{www:?}");
}

/// RFC 4035 §5.2: the proof that `insecure.test.` has no DS, from the stale server, is
/// bogus; the good server's proves it, so the child's answer is insecure, not bogus.
#[tokio::test(start_paused = true)]
async fn a_no_ds_proof_from_a_stale_parent_server_is_fetched_again_from_another() {
    let (_net, r) = stale_parent();
    let www = expect(&r, "www.insecure.test.", A, NoError).await;
    assert_eq!(www.security, Trust::Insecure, "{www:?}");
}

/// A DS judged bogus because the parent's own keys are (both of `test.`'s servers stale) is
/// the grandparent's chain's verdict: no DS query is sent again for it.
#[tokio::test(start_paused = true)]
async fn a_bogus_parent_costs_no_ds_retry() {
    let copies = [
        ("test.", Signing::Stale, STALE),
        ("test.", Signing::Stale, GOOD),
    ];
    let (net, anchors) = signed_net_with(|_, text| text, &copies);
    let r = validating(&net, anchors);
    let res = resolve(&r, "www.secure.test.", A).await.expect("resolves");
    assert!(matches!(res.security, Trust::Bogus { .. }), "{res:?}");
    let ds_asked = net
        .sent()
        .iter()
        .filter(|s| s.qname == name("secure.test.") && s.qtype == hickory_proto::rr::RecordType::DS)
        .count();
    assert_eq!(ds_asked, 0);
}
