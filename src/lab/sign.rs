//! The lab's signed zones (issue 18 item 8): a zone marked `dnssec = "nsec"` in `lab.toml` is
//! signed when the lab starts — a key made for the run, the DNSKEY at the apex, an NSEC chain,
//! an RRSIG over every authoritative RRset — and its DS goes into its parent, which is signed
//! after it; `"bogus"` signs a zone and then corrupts the RRSIG of its `www` A RRset, so a
//! validator has something to refuse. The root's DS is the lab's trust anchor.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use hickory_proto::dnssec::rdata::{DNSSECRData, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType};
use hickory_proto::rr::{Name, RData, Record, RecordData, RecordType};
use serde::Deserialize;

use super::LabError;
use crate::dnssec::sign::{KSK, Owners, SigningKey, Window, nsec_chain};
use crate::zonefile::{Located, Location};

/// How a lab zone is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Signing {
    Nsec,
    /// Signed, then one signature broken.
    Bogus,
    /// Signed long enough ago that every signature has expired (a stale secondary's copy).
    Stale,
}

/// Signatures hold from an hour before the start (validators' clocks differ) for 30 days.
const BEFORE: u32 = 3600;
const AFTER: u32 = 30 * 86400;

/// The keys of one lab, made on first use and shared by its copies (a subnet's copy signs with
/// the same keys, so its anchor is the same).
#[derive(Debug, Clone, Default)]
pub(crate) struct Keys(Arc<Mutex<HashMap<Name, Arc<SigningKey>>>>);

impl Keys {
    fn of(&self, zone: &Name) -> Result<Arc<SigningKey>, LabError> {
        // A panic elsewhere while holding the map leaves it whole: keys are only ever added.
        let mut keys = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = keys.get(zone) {
            return Ok(Arc::clone(key));
        }
        // One key per zone, flagged as a key-signing key: it signs everything (a CSK).
        let key = SigningKey::generate(Algorithm::ECDSAP256SHA256, KSK)
            .map_err(|e| LabError::Sign(format!("{zone}: {e}")))?;
        let key = Arc::new(key);
        keys.insert(zone.clone(), Arc::clone(&key));
        Ok(key)
    }

    /// The DS of `zone`'s key, as a record.
    pub(crate) fn ds(&self, zone: &Name, ttl: u32) -> Result<Record, LabError> {
        self.of(zone)?
            .ds(zone, ttl, DigestType::SHA256)
            .map_err(|e| LabError::Sign(format!("{zone}: {e}")))
    }
}

/// Signs every zone in `plan` (origin → how) among `zones` (origin → its records), children
/// before parents so each child's DS is in its parent before the parent is signed. `now` is
/// UNIX seconds.
pub(crate) fn sign_zones(
    zones: &mut HashMap<Name, Vec<Located>>,
    plan: &[(Name, Signing)],
    keys: &Keys,
    now: u64,
) -> Result<(), LabError> {
    let mut order: Vec<&(Name, Signing)> = plan.iter().collect();
    order.sort_by_key(|(origin, _)| std::cmp::Reverse(origin.num_labels()));
    let window = Window::around(now, BEFORE, AFTER);
    for (origin, how) in order {
        let Some(records) = zones.get_mut(origin) else {
            continue;
        };
        let key = keys.of(origin)?;
        let window = match how {
            // Signed 61 days before `now`: expired 31 days ago.
            Signing::Stale => Window::around(now.saturating_sub(61 * 86400), BEFORE, AFTER),
            Signing::Nsec | Signing::Bogus => window,
        };
        sign_zone(origin, records, &key, *how, window)?;
        // The parent in the lab that delegates this zone publishes its DS.
        let parent = zones
            .keys()
            .filter(|p| *p != origin && p.zone_of(origin))
            .max_by_key(|p| p.num_labels())
            .cloned();
        if let Some(parent) = parent
            && let Some(parent_records) = zones.get_mut(&parent)
        {
            let ttl = parent_records
                .iter()
                .find(|l| l.record.name == *origin && l.record.record_type() == RecordType::NS)
                .map_or(86400, |l| l.record.ttl);
            parent_records.push(Located {
                record: keys.ds(origin, ttl)?,
                at: at(origin),
            });
        }
    }
    Ok(())
}

fn at(origin: &Name) -> Location {
    Location {
        file: format!("signed at start: {origin}").into(),
        line: 0,
    }
}

/// Adds the DNSKEY, the NSEC chain and the RRSIGs to one zone's records.
fn sign_zone(
    origin: &Name,
    records: &mut Vec<Located>,
    key: &SigningKey,
    how: Signing,
    window: Window,
) -> Result<(), LabError> {
    let failed = |e: crate::dnssec::sign::SignError| LabError::Sign(format!("{origin}: {e}"));
    let cuts: Vec<Name> = records
        .iter()
        .filter(|l| l.record.record_type() == RecordType::NS && l.record.name != *origin)
        .map(|l| l.record.name.clone())
        .collect();
    // Glue (names below a cut) is not the zone's data: not in the chain, not signed.
    let glue = |name: &Name| cuts.iter().any(|c| c != name && c.zone_of(name));
    let negative_ttl = records
        .iter()
        .find_map(|l| match &l.record.data {
            RData::SOA(soa) => Some(soa.minimum.min(l.record.ttl)),
            _ => None,
        })
        .unwrap_or(3600);
    records.push(Located {
        record: key.dnskey_record(origin, 3600),
        at: at(origin),
    });
    let mut owners = Owners::new();
    for l in records.iter().filter(|l| !glue(&l.record.name)) {
        let types = owners.entry(l.record.name.clone()).or_default();
        if !types.contains(&l.record.record_type()) {
            types.push(l.record.record_type());
        }
    }
    for nsec in nsec_chain(&owners, negative_ttl) {
        records.push(Located {
            record: nsec,
            at: at(origin),
        });
    }
    // Every authoritative RRset: at a cut only the DS and the NSEC are the parent's own data.
    let mut sets: BTreeMap<(Name, RecordType), Vec<Record>> = BTreeMap::new();
    for l in records.iter().filter(|l| !glue(&l.record.name)) {
        let rtype = l.record.record_type();
        let at_cut = cuts.contains(&l.record.name);
        if at_cut && !matches!(rtype, RecordType::DS | RecordType::NSEC) {
            continue;
        }
        sets.entry((l.record.name.clone(), rtype))
            .or_default()
            .push(l.record.clone());
    }
    let www = origin
        .prepend_label("www")
        .map_err(|e| LabError::Sign(format!("{origin}: {e}")))?;
    for ((name, rtype), set) in sets {
        let mut rrsig = key.sign(origin, &set, window).map_err(failed)?;
        if how == Signing::Bogus && name == www && rtype == RecordType::A {
            rrsig = corrupted(rrsig);
        }
        records.push(Located {
            record: rrsig,
            at: at(origin),
        });
    }
    Ok(())
}

/// The same RRSIG with one bit of its signature flipped: still well formed, never valid.
fn corrupted(mut record: Record) -> Record {
    if let RData::DNSSEC(DNSSECRData::RRSIG(rrsig)) = &record.data {
        let mut sig = rrsig.sig().to_vec();
        if let Some(last) = sig.last_mut() {
            *last ^= 0x01;
        }
        record.data = RRSIG::from_sig(rrsig.input().clone(), sig).into_rdata();
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::name;
    use crate::zonefile::parse_zone_text;

    #[test]
    fn a_signed_parent_holds_its_childs_ds_and_every_set_is_signed() {
        let parent = "$ORIGIN test.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 127.0.0.1\n\
                      child NS ns.child\nns.child A 127.0.0.2\n";
        let child = "$ORIGIN child.test.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\n\
                     ns A 127.0.0.2\nwww A 127.0.0.3\n";
        let read = |text: &str, origin: &str| {
            parse_zone_text(text, std::path::Path::new("t"), Some(&name(origin))).expect("zone")
        };
        let mut zones = HashMap::from([
            (name("test."), read(parent, "test.")),
            (name("child.test."), read(child, "child.test.")),
        ]);
        let keys = Keys::default();
        let plan = [
            (name("test."), Signing::Nsec),
            (name("child.test."), Signing::Bogus),
        ];
        sign_zones(&mut zones, &plan, &keys, 1_800_000_000).expect("signs");
        let has = |zone: &str, owner: &str, rtype: RecordType| {
            zones[&name(zone)].iter().any(|l| {
                l.record.name == name(owner)
                    && match &l.record.data {
                        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => {
                            rtype == RecordType::RRSIG || sig.input().type_covered == rtype
                        }
                        _ => l.record.record_type() == rtype,
                    }
            })
        };
        assert!(has("test.", "child.test.", RecordType::DS));
        // Signed: the DS at the cut, not the NS there nor the glue below it.
        let sigs_at = |zone: &str, owner: &str| -> Vec<RecordType> {
            zones[&name(zone)]
                .iter()
                .filter(|l| l.record.name == name(owner))
                .filter_map(|l| match &l.record.data {
                    RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(sig.input().type_covered),
                    _ => None,
                })
                .collect()
        };
        let mut at_cut = sigs_at("test.", "child.test.");
        at_cut.sort();
        assert_eq!(at_cut, [RecordType::DS, RecordType::NSEC]);
        assert!(sigs_at("test.", "ns.child.test.").is_empty());
        assert!(has("child.test.", "child.test.", RecordType::DNSKEY));
        assert!(has("child.test.", "www.child.test.", RecordType::A));
        // The anchor a validator gets for a zone matches the key that signed it.
        let ds = keys.ds(&name("child.test."), 60).expect("ds");
        assert!(zones[&name("test.")].iter().any(|l| l.record == ds));
    }
}
