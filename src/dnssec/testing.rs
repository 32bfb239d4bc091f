//! Test fixtures: small zones signed with `sign.rs`, records from zone-file text (DESIGN.md
//! rule 9), chains of NSEC/NSEC3 and the handful of records a proof needs from them.

use std::path::Path;

use hickory_proto::dnssec::rdata::{DNSKEY, NSEC3};
use hickory_proto::dnssec::{Algorithm, DigestType, PublicKey, PublicKeyBuf};
use hickory_proto::rr::{Name, Record, RecordData, RecordType};

use super::base32;
use super::sign::{
    KSK, Nsec3Params, Owners, SigningKey, Window, ZSK, nsec_chain, nsec3_chain, nsec3_hash,
};
use super::{SignedRrset, TrustAnchor, ZoneKeys};

/// The validators' clock in every test (2023-11-14).
pub(crate) const NOW: u64 = 1_700_000_000;

const RSA_2048: &[u8] = include_bytes!("testdata/rsa2048.pk8");

pub(crate) fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("test name")
}

/// Records from zone-file text, one per line (leading blanks ignored, TTL and class given).
pub(crate) fn records(text: &str) -> Vec<Record> {
    let text: Vec<&str> = text.lines().map(str::trim).collect();
    let root = Name::root();
    crate::zonefile::parse_zone_text(&text.join("\n"), Path::new("test.zone"), Some(&root))
        .expect("test records")
        .into_iter()
        .map(|l| l.record)
        .collect()
}

/// The RSA key of `testdata/` (ring cannot generate RSA keys).
pub(crate) fn rsa_key(algorithm: Algorithm) -> SigningKey {
    SigningKey::from_pkcs8(RSA_2048, algorithm, ZSK).expect("rsa test key")
}

/// A zone with a KSK and a ZSK, signing with a window around [`NOW`].
pub(crate) struct TestZone {
    pub(crate) name: Name,
    pub(crate) ksk: SigningKey,
    pub(crate) zsk: SigningKey,
    pub(crate) window: Window,
}

impl TestZone {
    pub(crate) fn new(zone: &str, algorithm: Algorithm) -> TestZone {
        let key = |flags| match algorithm {
            Algorithm::RSASHA256 | Algorithm::RSASHA512 => {
                SigningKey::from_pkcs8(RSA_2048, algorithm, flags).expect("rsa key")
            }
            _ => SigningKey::generate(algorithm, flags).expect("key"),
        };
        TestZone {
            name: name(zone),
            ksk: key(KSK),
            zsk: key(ZSK),
            window: Window::around(NOW, 3600, 7 * 86400),
        }
    }

    /// The records of `text` as one RRset signed by the ZSK.
    pub(crate) fn sign(&self, text: &str) -> SignedRrset {
        self.sign_records(records(text))
    }

    pub(crate) fn sign_records(&self, recs: Vec<Record>) -> SignedRrset {
        self.sign_with(&self.zsk, recs, self.window)
    }

    pub(crate) fn sign_with(
        &self,
        key: &SigningKey,
        recs: Vec<Record>,
        window: Window,
    ) -> SignedRrset {
        let sig = key.sign(&self.name, &recs, window).expect("sign");
        let mut sets = SignedRrset::group(&recs);
        assert_eq!(sets.len(), 1, "one RRset to sign");
        let mut set = sets.remove(0);
        set.rrsigs.push(sig);
        set
    }

    /// The DNSKEY RRset (KSK and ZSK) signed by the KSK.
    pub(crate) fn dnskey_set(&self) -> SignedRrset {
        let recs = vec![
            self.ksk.dnskey_record(&self.name, 3600),
            self.zsk.dnskey_record(&self.name, 3600),
        ];
        self.sign_with(&self.ksk, recs, self.window)
    }

    /// The parent's DS record for the KSK (SHA-256).
    pub(crate) fn ds(&self) -> Vec<Record> {
        vec![
            self.ksk
                .ds(&self.name, 3600, DigestType::SHA256)
                .expect("ds"),
        ]
    }

    /// The zone's keys, taken as validated.
    pub(crate) fn keys(&self) -> ZoneKeys {
        let keys = [self.ksk.dnskey().clone(), self.zsk.dnskey().clone()];
        ZoneKeys::trusted(&self.name, keys, 3600)
    }

    /// A DS trust anchor for the zone.
    pub(crate) fn anchor(&self) -> TrustAnchor {
        let mut anchor = TrustAnchor::new(&self.name);
        anchor.add(&self.ds()[0]);
        anchor
    }

    /// The zone's NSEC chain over `owners`, each NSEC signed.
    pub(crate) fn nsec_chain(&self, owners: &Owners) -> Vec<SignedRrset> {
        nsec_chain(owners, 300)
            .into_iter()
            .map(|r| self.sign_records(vec![r]))
            .collect()
    }

    /// The zone's NSEC3 chain over `owners`, each NSEC3 signed.
    pub(crate) fn nsec3_chain(&self, owners: &Owners, params: &Nsec3Params) -> Vec<SignedRrset> {
        nsec3_chain(&self.name, owners, params, 300)
            .expect("nsec3 chain")
            .into_iter()
            .map(|r| self.sign_records(vec![r]))
            .collect()
    }
}

/// Owners from `("name", "TYPE TYPE")` pairs.
pub(crate) fn owners(list: &[(&str, &str)]) -> Owners {
    list.iter()
        .map(|(n, types)| {
            let types = types
                .split_whitespace()
                .map(|t| t.parse::<RecordType>().expect("type"))
                .collect();
            (name(n), types)
        })
        .collect()
}

/// The NSEC records of `chain` owned by one of `names`.
pub(crate) fn pick(chain: &[SignedRrset], names: &[&str]) -> Vec<SignedRrset> {
    chain
        .iter()
        .filter(|s| names.iter().any(|n| s.name == name(n)))
        .cloned()
        .collect()
}

/// The NSEC3 records of `chain` that match or cover one of `names`.
pub(crate) fn pick3(
    chain: &[SignedRrset],
    params: &Nsec3Params,
    names: &[&str],
) -> Vec<SignedRrset> {
    let hashes: Vec<Vec<u8>> = names
        .iter()
        .map(|n| nsec3_hash(&name(n), params).expect("hash"))
        .collect();
    chain
        .iter()
        .filter(|s| {
            let Some(label) = s.name.iter().next() else {
                return false;
            };
            let own = base32::decode(label).unwrap_or_default();
            let Some(next) = s.records.first().and_then(|r| NSEC3::try_borrow(&r.data)) else {
                return false;
            };
            let next = next.next_hashed_owner_name();
            hashes.iter().any(|h| {
                *h == own
                    || if own < next.to_vec() {
                        own < *h && h.as_slice() < next
                    } else {
                        *h > own || h.as_slice() < next
                    }
            })
        })
        .cloned()
        .collect()
}

/// `n` DNSKEYs with the key tag and algorithm of `key` but other public keys: KeyTrap's
/// colliding keys. The tag is a sum of 16-bit words, so moving one unit from one byte to
/// another of the same parity keeps it.
pub(crate) fn colliding_keys(key: &DNSKEY, n: usize) -> Vec<DNSKEY> {
    let tag = key.calculate_key_tag().expect("tag");
    let bytes = key.public_key().public_bytes().to_vec();
    let mut out = Vec::with_capacity(n);
    'pairs: for i in 0..bytes.len() {
        for j in ((i + 2)..bytes.len()).step_by(2) {
            if bytes[i] == u8::MAX || bytes[j] == 0 {
                continue;
            }
            let mut b = bytes.clone();
            b[i] += 1;
            b[j] -= 1;
            let algorithm = key.public_key().algorithm();
            let k = DNSKEY::with_flags(key.flags(), PublicKeyBuf::new(b, algorithm));
            if k.calculate_key_tag().ok() == Some(tag) {
                out.push(k);
            }
            if out.len() == n {
                break 'pairs;
            }
        }
    }
    out
}
