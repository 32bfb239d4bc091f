//! One store for everything a served zone is made of: the records of its file, and records
//! other sources own (a service's names, later dynamic updates and transfers). Every change
//! goes through the store, which builds a new immutable [`Catalog`] for the handler to swap in;
//! so a SIGHUP reload never erases service records, and a service change never loses a reload.
//!
//! A source owns whole names: its records replace whatever the file has at those names. Each
//! change of a zone's content raises its SOA serial by one (RFC 1982 arithmetic, wrapping), so
//! a secondary or a cache can tell the versions apart.

use std::collections::BTreeMap;
use std::path::PathBuf;

use hickory_proto::rr::{LowerName, Name, RData, Record};

use super::reload::CatalogError;
use super::rules::BalanceRules;
use super::{Catalog, Zone};
use crate::zonefile::{Located, Location, ZoneErrors, parse_zone_file};

/// A zone served from a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneFile {
    pub origin: Name,
    pub file: PathBuf,
}

/// Records a source owns in one zone: every name in `names` is the source's, with exactly the
/// records in `records` (none: the name does not exist).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Owned {
    pub names: Vec<Name>,
    pub records: Vec<Record>,
}

/// Why the store refused a change.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("zone {0} is not served here")]
    NoSuchZone(Name),
    #[error("{name} is outside the zone {zone}")]
    OutsideZone { name: Box<Name>, zone: Box<Name> },
    #[error("{0}")]
    Catalog(#[from] CatalogError),
}

#[derive(Debug, Clone)]
struct StoredZone {
    source: ZoneFile,
    file_records: Vec<Located>,
    /// By source ("service web.cluster.test."), in a stable order.
    owned: BTreeMap<String, Owned>,
    /// Changes made since the file was read; added to its SOA serial.
    generation: u32,
    balance: BalanceRules,
}

/// Every served zone and the sources of its data. One writer at a time (callers hold it behind
/// a mutex); readers get immutable catalogs.
#[derive(Debug, Clone, Default)]
pub struct ZoneStore {
    zones: Vec<StoredZone>,
}

fn read_file(source: &ZoneFile) -> Result<Vec<Located>, ZoneErrors> {
    parse_zone_file(&source.file, Some(&source.origin))
}

impl ZoneStore {
    /// Reads every zone file; all or nothing, with every broken file's `file:line` errors.
    pub fn load(sources: &[ZoneFile]) -> Result<ZoneStore, CatalogError> {
        let mut zones = Vec::with_capacity(sources.len());
        let mut errors = Vec::new();
        for source in sources {
            match read_file(source) {
                Ok(file_records) => zones.push(StoredZone {
                    source: source.clone(),
                    file_records,
                    owned: BTreeMap::new(),
                    generation: 0,
                    balance: BalanceRules::default(),
                }),
                Err(e) => errors.extend(e.0),
            }
        }
        if !errors.is_empty() {
            return Err(CatalogError::Zones(ZoneErrors(errors)));
        }
        let store = ZoneStore { zones };
        // Reject what would not build (a bad record combination, a duplicate origin) now.
        store.catalog()?;
        Ok(store)
    }

    /// Re-reads every zone file, keeping what other sources own. All or nothing: on any error
    /// the store is unchanged and the error names each `file:line`.
    pub fn reload(&mut self) -> Result<(), CatalogError> {
        let mut next = self.clone();
        let mut errors = Vec::new();
        for zone in &mut next.zones {
            match read_file(&zone.source) {
                Ok(records) => {
                    if records_differ(&records, &zone.file_records) {
                        zone.generation = zone.generation.wrapping_add(1);
                    }
                    zone.file_records = records;
                }
                Err(e) => errors.extend(e.0),
            }
        }
        if !errors.is_empty() {
            return Err(CatalogError::Zones(ZoneErrors(errors)));
        }
        next.catalog()?;
        *self = next;
        Ok(())
    }

    /// Replaces what `source` owns in `zone`. Refused, with the store unchanged, when the zone is
    /// not served, a name lies outside it, or the result would not be a valid zone.
    pub fn set_owned(&mut self, zone: &Name, source: &str, owned: Owned) -> Result<(), StoreError> {
        let mut next = self.clone();
        let stored = next
            .zones
            .iter_mut()
            .find(|z| z.source.origin == *zone)
            .ok_or_else(|| StoreError::NoSuchZone(zone.clone()))?;
        for name in owned
            .names
            .iter()
            .chain(owned.records.iter().map(|r| &r.name))
        {
            if !zone.zone_of(name) {
                return Err(StoreError::OutsideZone {
                    name: Box::new(name.clone()),
                    zone: Box::new(zone.clone()),
                });
            }
        }
        if stored.owned.get(source) == Some(&owned) {
            return Ok(());
        }
        stored.owned.insert(source.to_string(), owned);
        stored.generation = stored.generation.wrapping_add(1);
        next.catalog()?;
        *self = next;
        Ok(())
    }

    /// Sets how `zone`'s answers are ordered (no effect on its content or serial).
    pub fn set_balance(&mut self, zone: &Name, rules: BalanceRules) -> Result<(), StoreError> {
        let stored = self
            .zones
            .iter_mut()
            .find(|z| z.source.origin == *zone)
            .ok_or_else(|| StoreError::NoSuchZone(zone.clone()))?;
        stored.balance = rules;
        Ok(())
    }

    /// The origins and files served.
    pub fn files(&self) -> impl Iterator<Item = &ZoneFile> {
        self.zones.iter().map(|z| &z.source)
    }

    /// Builds every zone from its sources.
    pub fn catalog(&self) -> Result<Catalog, CatalogError> {
        let mut built = Vec::with_capacity(self.zones.len());
        let mut errors = Vec::new();
        for zone in &self.zones {
            match zone.build() {
                Ok(z) => built.push(z),
                Err(e) => errors.extend(e.0),
            }
        }
        if !errors.is_empty() {
            return Err(CatalogError::Zones(ZoneErrors(errors)));
        }
        Ok(Catalog::new(built)?)
    }
}

impl StoredZone {
    fn build(&self) -> Result<Zone, ZoneErrors> {
        let owned_names: Vec<LowerName> = self
            .owned
            .values()
            .flat_map(|o| o.names.iter().map(LowerName::new))
            .collect();
        let mut records: Vec<Located> = self
            .file_records
            .iter()
            .filter(|l| !owned_names.contains(&LowerName::new(&l.record.name)))
            .cloned()
            .collect();
        for (source, owned) in &self.owned {
            let at = Location {
                file: PathBuf::from(source),
                line: 0,
            };
            records.extend(owned.records.iter().map(|r| Located {
                record: r.clone(),
                at: at.clone(),
            }));
        }
        if self.generation != 0 {
            bump_serial(&mut records, self.generation);
        }
        Ok(
            Zone::from_records(Some(&self.source.origin), records, &self.source.file)?
                .with_balance(self.balance.clone()),
        )
    }
}

/// RFC 1982: the served serial is the file's plus the changes since, modulo 2^32.
fn bump_serial(records: &mut [Located], by: u32) {
    for l in records.iter_mut() {
        if let RData::SOA(soa) = &mut l.record.data {
            soa.serial = soa.serial.wrapping_add(by);
        }
    }
}

fn records_differ(a: &[Located], b: &[Located]) -> bool {
    a.len() != b.len() || a.iter().zip(b).any(|(x, y)| x.record != y.record)
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::RecordType;
    use hickory_proto::rr::rdata::A;

    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).expect("name")
    }

    fn a(owner: &str, last: u8) -> Record {
        Record::from_rdata(name(owner), 5, RData::A(A::new(127, 0, 0, last)))
    }

    fn setup(tag: &str, text: &str) -> (PathBuf, ZoneFile) {
        let dir = std::env::temp_dir().join(format!("tern-store-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let file = dir.join("c.zone");
        std::fs::write(&file, text).expect("write");
        let source = ZoneFile {
            origin: name("c.test."),
            file,
        };
        (dir, source)
    }

    const ZONE: &str =
        "$TTL 60\n@ SOA ns h 100 2 3 4 5\n@ NS ns\nns A 127.0.0.1\nweb A 127.0.0.9\n";

    fn answers(store: &ZoneStore, qname: &str) -> Vec<String> {
        let catalog = store.catalog().expect("builds");
        let mut out: Vec<String> = catalog
            .answer(&name(qname), RecordType::A)
            .expect("served")
            .answers
            .iter()
            .map(|r| r.data.to_string())
            .collect();
        out.sort();
        out
    }

    fn serial(store: &ZoneStore) -> u32 {
        let catalog = store.catalog().expect("builds");
        catalog.find(&name("c.test.")).expect("zone").serial()
    }

    #[test]
    fn owned_names_replace_the_file_and_survive_a_reload() {
        let (dir, source) = setup("own", ZONE);
        let mut store = ZoneStore::load(std::slice::from_ref(&source)).expect("loads");
        assert_eq!(answers(&store, "web.c.test."), ["127.0.0.9"]);
        assert_eq!(serial(&store), 100);
        let owned = Owned {
            names: vec![name("web.c.test.")],
            records: vec![a("web.c.test.", 21), a("web.c.test.", 22)],
        };
        store
            .set_owned(&name("c.test."), "service web", owned.clone())
            .expect("valid");
        assert_eq!(answers(&store, "web.c.test."), ["127.0.0.21", "127.0.0.22"]);
        assert_eq!(serial(&store), 101, "one change, one serial");
        store
            .set_owned(&name("c.test."), "service web", owned)
            .expect("same again");
        assert_eq!(serial(&store), 101, "no change, no new serial");
        // The file changes; a reload keeps the service's records.
        std::fs::write(
            &source.file,
            ZONE.replace("127.0.0.9", "127.0.0.10") + "x A 127.0.0.7\n",
        )
        .expect("write");
        store.reload().expect("reloads");
        assert_eq!(answers(&store, "web.c.test."), ["127.0.0.21", "127.0.0.22"]);
        assert_eq!(answers(&store, "x.c.test."), ["127.0.0.7"]);
        assert_eq!(serial(&store), 102);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_broken_reload_or_change_leaves_the_store_as_it_was() {
        let (dir, source) = setup("bad", ZONE);
        let mut store = ZoneStore::load(std::slice::from_ref(&source)).expect("loads");
        std::fs::write(&source.file, ZONE.replace("127.0.0.9", "300.0.0.9")).expect("write");
        let err = store.reload().expect_err("broken file");
        assert!(err.to_string().contains("c.zone:5:"), "{err}");
        assert_eq!(answers(&store, "web.c.test."), ["127.0.0.9"]);
        let outside = Owned {
            names: vec![name("web.other.test.")],
            records: vec![a("web.other.test.", 1)],
        };
        assert!(matches!(
            store.set_owned(&name("c.test."), "service web", outside),
            Err(StoreError::OutsideZone { .. })
        ));
        assert!(matches!(
            store.set_owned(&name("nope.test."), "service web", Owned::default()),
            Err(StoreError::NoSuchZone(_))
        ));
        // A CNAME beside other data would not be a valid zone.
        let clash = Owned {
            names: vec![name("ns.c.test.")],
            records: vec![
                a("ns.c.test.", 1),
                Record::from_rdata(
                    name("ns.c.test."),
                    5,
                    RData::CNAME(hickory_proto::rr::rdata::CNAME(name("web.c.test."))),
                ),
            ],
        };
        assert!(
            store
                .set_owned(&name("c.test."), "service ns", clash)
                .is_err()
        );
        assert_eq!(serial(&store), 100, "nothing changed");
        std::fs::remove_dir_all(&dir).ok();
    }
}
