//! The built-in zones as the query service reads them: a question under none of their
//! top-level labels (`localhost.`, `invalid.`, `arpa.`) skips the catalog, whose search for
//! the deepest zone costs a lowercased copy and a table lookup per label of every miss.

use hickory_proto::rr::{Name, RecordType};

use crate::authority::{Catalog, LocalAnswer};

/// The built-in catalog and the last labels of its zones.
pub(super) struct Builtin {
    pub(super) catalog: Catalog,
    /// The zones' top-level labels, lowercase; `None` when one zone is the root, which holds
    /// every name.
    tops: Option<Vec<Box<[u8]>>>,
}

impl Builtin {
    pub(super) fn new(catalog: Catalog) -> Builtin {
        let mut tops = Some(Vec::new());
        for zone in catalog.zones() {
            match (zone.origin().iter().next_back(), &mut tops) {
                (None, _) => tops = None,
                (Some(top), Some(list)) => {
                    let top: Box<[u8]> = top.to_ascii_lowercase().into();
                    if !list.contains(&top) {
                        list.push(top);
                    }
                }
                (Some(_), None) => {}
            }
        }
        Builtin { catalog, tops }
    }

    /// [`Catalog::answer`], for names that may lie in one of the zones.
    pub(super) fn answer(&self, qname: &Name, qtype: RecordType) -> Option<LocalAnswer> {
        if let Some(tops) = &self.tops {
            let top = qname.iter().next_back()?;
            if !tops.iter().any(|t| t.eq_ignore_ascii_case(top)) {
                return None;
            }
        }
        self.catalog.answer(qname, qtype)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> Builtin {
        let zones = crate::authority::builtin::default_local_zones(|_| false).unwrap();
        Builtin::new(Catalog::new(zones).unwrap())
    }

    #[test]
    fn only_names_under_the_zones_are_looked_up_whatever_their_case() {
        let b = builtin();
        let cases = [
            ("LocalHost.", true),
            ("x.INVALID.", true),
            ("1.0.0.127.in-addr.ARPA.", true),
            ("www.example.com.", false),
            ("arpa.example.", false),
            (".", false),
        ];
        for (name, answered) in cases {
            let name = Name::from_ascii(name).unwrap();
            assert_eq!(b.answer(&name, RecordType::A).is_some(), answered, "{name}");
        }
    }
}
