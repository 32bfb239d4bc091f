//! Review probe: an alias chain of ours that ends below a zone cut in the same zone. NSD 4.6.1
//! (run on loopback with this zone, `dig +norec`) answers with AA=1, the CNAMEs in the answer
//! section, the cut's NS in the authority section and its glue in the additional section, and
//! the bare referral for the target asked directly with AA=0: RFC 1035 §4.1.1 ties AA to "the
//! name which matches the query name, or the first owner name in the answer section", and
//! that CNAME is our authoritative data. In that run dig showed tern's answers (`serve
//! --no-recursion`) the same as NSD's, flags and sections, for A, NS, DS and ANY; this pins the
//! catalog's part.

use std::path::Path;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{Record, RecordType};

use super::{Catalog, Zone};
use crate::testing::name;

/// The zone NSD was run with.
const ZONE: &str = "$ORIGIN c.test.\n$TTL 300\n@ SOA ns h 1 3600 600 86400 60\n@ NS ns\n\
ns A 192.0.2.1\nalias CNAME alias2\nalias2 CNAME www.sub\ndirect CNAME www.sub\n\
sub NS ns.sub\nns.sub A 192.0.2.30\ndeep CNAME sub\n";

fn shown(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| r.to_string()).collect()
}

/// (AA, answer, authority, additional) as dig shows them.
type Sections = (bool, Vec<String>, Vec<String>, Vec<String>);

fn ask(qname: &str, qtype: RecordType) -> Sections {
    let zone = Zone::from_text(ZONE, Path::new("c.test.zone"), None).expect("zone");
    let catalog = Catalog::new([zone]).expect("catalog");
    let a = catalog.answer(&name(qname), qtype).expect("ours");
    assert_eq!(a.rcode, ResponseCode::NoError, "{qname}");
    (
        a.authoritative,
        shown(&a.answers),
        shown(&a.authorities),
        shown(&a.additionals),
    )
}

#[test]
fn an_alias_chain_ending_in_a_referral_is_authoritative_as_nsd_answers() {
    let cut = vec!["sub.c.test. 300 IN NS ns.sub.c.test.".to_string()];
    let glue = vec!["ns.sub.c.test. 300 IN A 192.0.2.30".to_string()];
    let cases: [(&str, Sections); 4] = [
        (
            "alias.c.test.",
            (
                true,
                vec![
                    "alias.c.test. 300 IN CNAME alias2.c.test.".to_string(),
                    "alias2.c.test. 300 IN CNAME www.sub.c.test.".to_string(),
                ],
                cut.clone(),
                glue.clone(),
            ),
        ),
        (
            "direct.c.test.",
            (
                true,
                vec!["direct.c.test. 300 IN CNAME www.sub.c.test.".to_string()],
                cut.clone(),
                glue.clone(),
            ),
        ),
        // The alias's target is the cut itself.
        (
            "deep.c.test.",
            (
                true,
                vec!["deep.c.test. 300 IN CNAME sub.c.test.".to_string()],
                cut.clone(),
                glue.clone(),
            ),
        ),
        // The target asked directly: a bare referral, not authoritative.
        ("www.sub.c.test.", (false, Vec::new(), cut, glue)),
    ];
    for (qname, want) in cases {
        assert_eq!(ask(qname, RecordType::A), want, "{qname} A");
    }
}
