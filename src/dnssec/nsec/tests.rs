//! The canonical-order edge cases of single NSEC records (no signatures needed here; the
//! signed end-to-end cases are in `denial/tests.rs`).

use super::*;
use crate::dnssec::testing::name;

fn rr(owner: &str, next: &str, types: &[RecordType]) -> NsecRr {
    NsecRr {
        owner: name(owner),
        nsec: NSEC::new_cover_self(name(next), types.iter().copied()),
    }
}

#[test]
fn ordinary_last_and_only_nsec_spans() {
    let plain = rr("b.example.", "d.example.", &[RecordType::A]);
    assert!(proves_absent(&plain, &name("c.example.")));
    assert!(proves_absent(&plain, &name("x.b.example.")));
    assert!(!proves_absent(&plain, &name("b.example.")));
    assert!(!proves_absent(&plain, &name("d.example.")));
    assert!(!proves_absent(&plain, &name("e.example.")));

    // the last NSEC points back to the apex: everything after its owner in the zone
    let last = rr("y.example.", "example.", &[RecordType::A]);
    assert!(proves_absent(&last, &name("z.example.")));
    assert!(proves_absent(&last, &name("a.z.example.")));
    assert!(!proves_absent(&last, &name("a.example.")));
    assert!(!proves_absent(&last, &name("example.")));
    assert!(!proves_absent(&last, &name("other.")));

    // a zone of one name: all names below the apex are absent
    let only = rr("example.", "example.", &[RecordType::SOA, RecordType::NS]);
    assert!(proves_absent(&only, &name("a.example.")));
    assert!(!proves_absent(&only, &name("example.")));
    assert!(!proves_absent(&only, &name("example.org.")));
}

#[test]
fn a_cut_or_a_dname_hides_the_names_below_it() {
    let cut = rr("sub.example.", "t.example.", &[RecordType::NS]);
    assert!(!proves_absent(&cut, &name("x.sub.example.")));
    assert!(
        proves_absent(&cut, &name("su-b.example."))
            == (name("sub.example.") < name("su-b.example."))
    );
    let dname = rr("d.example.", "e.example.", &[RecordType::DNAME]);
    assert!(!proves_absent(&dname, &name("x.d.example.")));
    // the apex is not a cut: its NSEC covers names below it
    let apex = rr("example.", "b.example.", &[RecordType::SOA, RecordType::NS]);
    assert!(proves_absent(&apex, &name("a.example.")));
}

#[test]
fn an_empty_non_terminal_exists() {
    let ent = rr("a.example.", "x.c.example.", &[RecordType::A]);
    assert!(!proves_absent(&ent, &name("c.example.")));
    assert_eq!(
        nodata(
            std::slice::from_ref(&ent),
            &name("c.example."),
            RecordType::A
        ),
        Proof::Proven
    );
    assert!(matches!(
        nxdomain(&[ent], &name("c.example.")),
        Proof::Missing(_)
    ));
}

#[test]
fn closest_encloser_and_common_ancestor() {
    assert_eq!(
        common_ancestor(&name("a.b.example."), &name("c.b.example.")),
        name("b.example.")
    );
    assert_eq!(
        common_ancestor(&name("a.example."), &name("other.")),
        Name::root()
    );
    assert_eq!(
        common_ancestor(&name("A.Example."), &name("b.example.")),
        name("example.")
    );
    let covering = rr("b.x.example.", "c.example.", &[RecordType::A]);
    assert_eq!(
        closest_encloser(&name("q.x.example."), &covering),
        name("x.example.")
    );
    assert_eq!(wildcard_of(&name("x.example.")), Some(name("*.x.example.")));
}
