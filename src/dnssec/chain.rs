//! One link of the chain of trust (RFC 4035 §5.2): from a DS RRset, or a trust anchor, to the
//! zone's DNSKEY RRset, and from there to the set of keys that sign the zone's data. The result
//! is a [`KeyState`] the resolver caches per zone with its TTL.

use hickory_proto::dnssec::DigestType;
use hickory_proto::dnssec::Verifier;
use hickory_proto::dnssec::rdata::{DNSKEY, DS};
use hickory_proto::rr::{Name, RecordData, RecordType};

use super::budget::{DS_PER_ZONE, KEYS_PER_RRSIG};
use super::verify::supported;
use super::{BOGUS_TTL, Check, Ede, Key, Reason, Security, SignedRrset, TrustAnchor, Validation};

/// The validated DNSKEYs of one zone: the keys its data may be signed with. Only keys that can
/// sign are kept (RFC 4034 §2.1.1: the Zone Key bit set; RFC 5011 §2.1: not revoked) and only
/// algorithms this validator verifies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ZoneKeys {
    zone: Name,
    keys: Vec<Key>,
    ttl: u32,
}

impl ZoneKeys {
    /// Keys taken as validated: the output of the chain step (or of a test).
    pub(crate) fn trusted(
        zone: &Name,
        dnskeys: impl IntoIterator<Item = DNSKEY>,
        ttl: u32,
    ) -> Self {
        let keys = dnskeys
            .into_iter()
            .filter(|k| k.zone_key() && !k.revoke() && supported(k.algorithm()))
            .filter_map(Key::new)
            .collect();
        ZoneKeys {
            zone: zone.clone(),
            keys,
            ttl,
        }
    }

    pub(crate) fn zone(&self) -> &Name {
        &self.zone
    }

    pub(crate) fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// How long the validated key set may be cached: the smallest of the DNSKEY RRset's
    /// capped TTL and the DS RRset's.
    pub(crate) fn ttl(&self) -> u32 {
        self.ttl
    }
}

/// What the chain step established about a zone's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum KeyState {
    /// The keys are authenticated; the zone's data is verified with them.
    Secure(ZoneKeys),
    /// The zone is provably unsigned or uses only algorithms/digests this validator does not
    /// support: its data is insecure. `ede` is 1 or 2 when that is why (informational).
    Insecure {
        zone: Name,
        ttl: u32,
        why: String,
        ede: Option<Ede>,
    },
    /// The keys cannot be authenticated: the zone's data is bogus.
    Bogus { reason: Reason, ttl: u32 },
}

impl KeyState {
    pub(crate) fn security(&self) -> Security {
        match self {
            KeyState::Secure(_) => Security::Secure,
            KeyState::Insecure { .. } => Security::Insecure,
            KeyState::Bogus { reason, .. } => Security::Bogus(reason.clone()),
        }
    }

    // Read by the tests.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn keys(&self) -> Option<&ZoneKeys> {
        match self {
            KeyState::Secure(keys) => Some(keys),
            _ => None,
        }
    }

    /// How long the state may be cached.
    pub(crate) fn ttl(&self) -> u32 {
        match self {
            KeyState::Secure(k) => k.ttl(),
            KeyState::Insecure { ttl, .. } | KeyState::Bogus { ttl, .. } => *ttl,
        }
    }
}

fn bogus(zone: &Name, ede: Ede, step: impl Into<String>) -> KeyState {
    KeyState::Bogus {
        reason: Reason::new(zone, ede, step),
        ttl: BOGUS_TTL,
    }
}

/// DS records worth trying: supported algorithm and digest; and RFC 4509 §3: SHA-1 digests
/// ignored when a stronger one is present, so a forged SHA-1 DS cannot downgrade the link.
fn usable_ds(ds: &[DS]) -> Vec<&DS> {
    let usable: Vec<&DS> = ds
        .iter()
        .filter(|d| supported(d.algorithm()) && d.digest_type().is_supported())
        .collect();
    let strong = usable.iter().any(|d| d.digest_type() != DigestType::SHA1);
    usable
        .into_iter()
        .filter(|d| !strong || d.digest_type() != DigestType::SHA1)
        .take(DS_PER_ZONE)
        .collect()
}

impl Validation {
    /// A delegation's link: `ds` is the child's DS RRset as the parent served it (verified
    /// here with the parent's keys), `dnskeys` the child's DNSKEY RRset. Without a DS RRset the
    /// resolver needs a denial proof instead (`Validation::no_ds`). The resolver takes the two
    /// halves apart (`verified_ds`, then `keys_from_ds`) to ask for a bogus DS again.
    #[cfg(test)]
    pub(crate) fn child_keys(
        &mut self,
        parent: &ZoneKeys,
        ds: &SignedRrset,
        dnskeys: &SignedRrset,
    ) -> KeyState {
        match self.verified_ds(parent, ds) {
            Ok((records, ttl)) => self.keys_from_ds(&ds.name, &records, ttl, dnskeys),
            Err(bogus) => bogus,
        }
    }

    /// The DS half of [`Validation::child_keys`]: the DS records of `ds` and their TTL once
    /// verified with the parent's keys, else the bogus verdict (the DS RRset's own fault).
    pub(crate) fn verified_ds(
        &mut self,
        parent: &ZoneKeys,
        ds: &SignedRrset,
    ) -> Result<(Vec<DS>, u32), KeyState> {
        if ds.rtype != RecordType::DS {
            return Err(bogus(
                &ds.name,
                Ede::Bogus,
                format!("{}/{} is not a DS RRset", ds.name, ds.rtype),
            ));
        }
        let checked = self.verify_with(ds, parent.zone(), parent.keys(), Check::Ds);
        if let Security::Bogus(reason) = checked.security {
            return Err(KeyState::Bogus {
                reason,
                ttl: BOGUS_TTL,
            });
        }
        let records: Vec<DS> = ds
            .records
            .iter()
            .filter_map(|r| DS::try_borrow(&r.data).cloned())
            .collect();
        Ok((records, checked.ttl))
    }

    /// The DS → DNSKEY step with DS records already validated (and perhaps cached): a DNSKEY
    /// matching a usable DS must sign the zone's DNSKEY RRset. The SEP flag is not required:
    /// RFC 4034 §2.1.2 makes it a hint that validators must not rely on.
    pub(crate) fn keys_from_ds(
        &mut self,
        zone: &Name,
        ds: &[DS],
        ds_ttl: u32,
        dnskeys: &SignedRrset,
    ) -> KeyState {
        self.authenticate(zone, ds, &[], Some(ds_ttl), dnskeys, Check::Ds)
    }

    /// The first link: a trust anchor (DS and/or DNSKEY records) for the zone of `dnskeys`.
    pub(crate) fn anchored_keys(
        &mut self,
        anchor: &TrustAnchor,
        dnskeys: &SignedRrset,
    ) -> KeyState {
        self.authenticate(
            &anchor.zone,
            &anchor.ds,
            &anchor.dnskeys,
            None,
            dnskeys,
            Check::Anchor,
        )
    }

    fn authenticate(
        &mut self,
        zone: &Name,
        ds: &[DS],
        anchor_keys: &[DNSKEY],
        ds_ttl: Option<u32>,
        dnskeys: &SignedRrset,
        check: Check,
    ) -> KeyState {
        let usable = usable_ds(ds);
        let usable_anchors: Vec<&DNSKEY> = anchor_keys
            .iter()
            .filter(|k| k.zone_key() && !k.revoke() && supported(k.algorithm()))
            .collect();
        if usable.is_empty() && usable_anchors.is_empty() {
            if ds.is_empty() && anchor_keys.is_empty() {
                return bogus(
                    zone,
                    Ede::DnskeyMissing,
                    "no DS or trust anchor to start from",
                );
            }
            // RFC 4035 §5.2: no supported algorithm or digest means no authentication path,
            // which is treated like a proven absence of DS: insecure.
            let algorithms_ok = ds.iter().any(|d| supported(d.algorithm()))
                || anchor_keys.iter().any(|k| supported(k.algorithm()));
            let (ede, why) = if algorithms_ok {
                (Ede::UnsupportedDsDigest, "only unsupported DS digest types")
            } else {
                (
                    Ede::UnsupportedDnskeyAlgorithm,
                    "only unsupported DNSKEY algorithms",
                )
            };
            self.trace
                .note(check, zone, "DS/anchor", format_args!("{why}: insecure"));
            return KeyState::Insecure {
                zone: zone.clone(),
                ttl: ds_ttl.unwrap_or(BOGUS_TTL),
                why: why.to_string(),
                ede: Some(ede),
            };
        }
        if dnskeys.rtype != RecordType::DNSKEY
            || dnskeys.name != *zone
            || dnskeys.records.is_empty()
        {
            self.trace
                .note(Check::Dnskey, zone, "DNSKEY RRset", "missing");
            return bogus(
                zone,
                Ede::DnskeyMissing,
                format!("no DNSKEY RRset for {zone}"),
            );
        }
        let all: Vec<DNSKEY> = dnskeys
            .records
            .iter()
            .filter_map(|r| DNSKEY::try_borrow(&r.data).cloned())
            .collect();
        let candidates: Vec<Key> = all
            .iter()
            .filter(|k| k.zone_key() && !k.revoke() && supported(k.algorithm()))
            .cloned()
            .filter_map(Key::new)
            .collect();

        let mut trusted: Vec<Key> = Vec::new();
        for d in &usable {
            let matching = candidates
                .iter()
                .filter(|k| k.tag == d.key_tag() && k.algorithm() == d.algorithm())
                .take(KEYS_PER_RRSIG)
                .filter(|k| d.covers(zone, &k.dnskey).unwrap_or(false));
            let mut found = false;
            for k in matching {
                found = true;
                if !trusted.contains(k) {
                    trusted.push(k.clone());
                }
            }
            self.trace.note(
                check,
                zone,
                format_args!(
                    "DS {} alg {} digest {}",
                    d.key_tag(),
                    d.algorithm(),
                    u8::from(d.digest_type())
                ),
                if found {
                    "matches a DNSKEY"
                } else {
                    "matches no DNSKEY"
                },
            );
        }
        for a in &usable_anchors {
            if let Some(k) = candidates
                .iter()
                .find(|k| k.dnskey.public_key() == a.public_key())
                .filter(|k| !trusted.contains(k))
            {
                self.trace.note(
                    check,
                    zone,
                    format_args!("DNSKEY {}", k.tag),
                    "is a trust anchor",
                );
                trusted.push(k.clone());
            }
        }
        if trusted.is_empty() {
            return bogus(
                zone,
                Ede::DnskeyMissing,
                format!("no DNSKEY of {zone} matches its DS or anchor"),
            );
        }
        let checked = self.verify_with(dnskeys, zone, &trusted, Check::Dnskey);
        match checked.security {
            Security::Secure => {
                let ttl = ds_ttl.map_or(checked.ttl, |t| t.min(checked.ttl));
                KeyState::Secure(ZoneKeys::trusted(zone, all, ttl))
            }
            Security::Bogus(reason) => KeyState::Bogus {
                reason,
                ttl: BOGUS_TTL,
            },
            other => bogus(zone, Ede::Bogus, format!("DNSKEY RRset {other}")),
        }
    }
}

#[cfg(test)]
mod tests;
