//! Review probes of the catalog and one-zone lookups: RFC 4592 wildcards, empty
//! non-terminals, referrals, and zones that cannot be answered from.

use std::path::Path;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

use super::{Answer, Catalog, Zone};
use crate::testing::name;

fn zone(origin: &str, body: &str) -> Zone {
    let text = format!(
        "$ORIGIN {origin}\n$TTL 300\n@ SOA ns1 host 1 2 3 4 60\n@ NS ns1\nns1 A 192.0.2.1\n{body}"
    );
    Zone::from_text(&text, Path::new("t.zone"), None).expect("valid zone")
}

/// An alias into a zone we are authoritative for but cannot answer from (a secondary whose
/// copy expired) must not be answered from the parent zone: the parent knows nothing below
/// the child's apex, and its NXDOMAIN would be a lie told with AA=1. Asked directly, the same
/// name gets SERVFAIL; through the alias it must too.
#[test]
fn an_alias_into_an_unavailable_zone_is_servfail_not_the_parents_answer() {
    let catalog = Catalog::new([zone("a.test.", "alias CNAME www.c.a.test.\n")])
        .expect("catalog")
        .with_unavailable([name("c.a.test.")]);
    let direct = catalog
        .answer(&name("www.c.a.test."), RecordType::A)
        .expect("ours");
    assert_eq!(direct.rcode, ResponseCode::ServFail);
    let via = catalog
        .answer(&name("alias.a.test."), RecordType::A)
        .expect("ours");
    assert_eq!(via.rcode, ResponseCode::ServFail, "{via:?}");
}

/// RFC 4592 §2.2.1 and §4.1: the closest encloser decides; an existing name or an empty
/// non-terminal blocks the wildcard above it, and a wildcard owner with no data of its own
/// (only names below it) still matches, with NODATA.
#[test]
fn wildcard_probes() {
    let z = zone(
        "w.test.",
        "* TXT apex-wild\nhost A 192.0.2.5\n*.e TXT wild-e\nx.a.e TXT deep\nsub.*.f TXT below-wild\n",
    );
    // (question, expected: "records", "nodata" or "nxdomain").
    let cases = [
        // The apex wildcard matches any missing name below it, one label or several.
        ("nope.w.test.", "records"),
        ("a.b.w.test.", "records"),
        // host exists: no wildcard for it, nor below it (its closest encloser is host).
        ("host.w.test.", "nodata"),
        ("x.host.w.test.", "nxdomain"),
        // a.e is an empty non-terminal: NODATA, and it blocks *.e for names below it.
        ("a.e.w.test.", "nodata"),
        ("z.a.e.w.test.", "nxdomain"),
        // *.f has only a name below it: it matches, with no data.
        ("q.f.w.test.", "nodata"),
    ];
    for (q, want) in cases {
        let got = match z.lookup(&name(q), RecordType::TXT) {
            Answer::Records(_) => "records",
            Answer::NoData { .. } => "nodata",
            Answer::NxDomain { .. } => "nxdomain",
            _ => "other",
        };
        assert_eq!(got, want, "{q}");
    }
}

/// A referral is not authoritative and carries the cut's NS and glue; the NS of a cut asked
/// for directly is a referral too.
#[test]
fn referral_probes() {
    let catalog = Catalog::new([zone(
        "r.test.",
        "kid NS ns.kid\nkid NS ns1\nns.kid A 192.0.2.7\n",
    )])
    .expect("catalog");
    for (q, t) in [
        ("kid.r.test.", RecordType::NS),
        ("a.b.kid.r.test.", RecordType::A),
    ] {
        let a = catalog.answer(&name(q), t).expect("ours");
        assert!(!a.authoritative && a.answers.is_empty(), "{q}: {a:?}");
        assert_eq!(a.authorities.len(), 2, "{q}: {a:?}");
        assert_eq!(
            a.additionals.len(),
            2,
            "{q}: glue and sibling address: {a:?}"
        );
    }
}
