//! Review probe: the DS RRset of a child zone is the parent's data (RFC 4035 §3.1.4.1), so
//! the parent answers it whatever state the child zone is in.

use std::path::Path;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::{Catalog, Zone};
use crate::testing::name;

fn zone(origin: &str, body: &str) -> Zone {
    let text = format!(
        "$ORIGIN {origin}\n$TTL 300\n@ SOA ns1 host 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.1\n{body}"
    );
    Zone::from_text(&text, Path::new("t.zone"), None).expect("valid zone")
}

/// A child zone we are secondary for whose copy expired (or never came) cannot answer for
/// its own names: SERVFAIL. But the DS at its apex is held by the parent, which we serve and
/// which can answer it, as BIND does (a DS query looks for the zone above the exact match).
/// Answering SERVFAIL makes a validating resolver treat the whole child as bogus, though the
/// parent's (signed) answer is right here.
#[test]
fn the_ds_of_an_unavailable_child_is_answered_by_its_parent() {
    let ds = "kid DS 12345 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n";
    let parent = zone("p.test.", &format!("kid NS ns1\n{ds}"));
    let catalog = Catalog::new([parent])
        .expect("catalog")
        .with_unavailable([name("kid.p.test.")]);
    let a = catalog
        .answer(&name("kid.p.test."), RecordType::DS)
        .expect("ours");
    assert_eq!(a.rcode, ResponseCode::NoError, "{a:?}");
    assert!(a.authoritative, "{a:?}");
    assert_eq!(a.answers.len(), 1, "{a:?}");
    assert_eq!(a.answers[0].record_type(), RecordType::DS);
    // Every other question about the child is still SERVFAIL, and so is a DS below its apex.
    for (q, t) in [
        ("kid.p.test.", RecordType::SOA),
        ("www.kid.p.test.", RecordType::A),
        ("sub.kid.p.test.", RecordType::DS),
    ] {
        let a = catalog.answer(&name(q), t).expect("ours");
        assert_eq!(a.rcode, ResponseCode::ServFail, "{q} {t}: {a:?}");
    }
}
