//! A small DNSSEC signer: keys made with ring through hickory-proto, RRSIGs over RRsets, DS
//! records, and NSEC / NSEC3 chains over a list of owner names. The unit tests sign their
//! fixtures with it, and the lab can sign its simulated internet at start with it (issue 18
//! item 8). It is not an operator's signer: no key files, rollovers or incremental signing.

use std::collections::BTreeMap;

use hickory_proto::dnssec::SigningKey as CryptoKey;
use hickory_proto::dnssec::Verifier;
use hickory_proto::dnssec::crypto::{EcdsaSigningKey, Ed25519SigningKey, RsaSigningKey};
use hickory_proto::dnssec::rdata::{DNSKEY, DS, NSEC, NSEC3, RRSIG, SigInput};
use hickory_proto::dnssec::{Algorithm, DigestType, Nsec3HashAlgorithm, TBS};
use hickory_proto::rr::{DNSClass, Name, Record, RecordData, RecordType, SerialNumber};
use thiserror::Error;

use super::base32;

/// DNSKEY flags (RFC 4034 §2.1.1): a zone key, and a zone key marked as entry point.
pub(crate) const ZSK: u16 = 256;
pub(crate) const KSK: u16 = 257;

#[derive(Debug, Error)]
pub(crate) enum SignError {
    #[error("key: {0}")]
    Key(String),
    #[error("signing {0}: {1}")]
    Sign(String, String),
    #[error("name {0}: {1}")]
    Name(String, String),
}

/// When signatures are valid: inception and expiration in UNIX seconds (mod 2^32).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) inception: u32,
    pub(crate) expiration: u32,
}

impl Window {
    /// From `before` seconds before `now` (clock skew of the validators) to `after` after.
    pub(crate) fn around(now: u64, before: u32, after: u32) -> Window {
        // Truncation is the point: RRSIG times are seconds modulo 2^32 (RFC 4034 §3.1.5).
        let now = now as u32;
        Window {
            inception: now.wrapping_sub(before),
            expiration: now.wrapping_add(after),
        }
    }
}

/// A private key with its DNSKEY.
pub(crate) struct SigningKey {
    key: Box<dyn CryptoKey>,
    dnskey: DNSKEY,
    tag: u16,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SigningKey(tag {}, {})",
            self.tag,
            self.dnskey.algorithm()
        )
    }
}

/// PKCS#8 bytes in the key type hickory's constructors take, without naming the crate that
/// defines it (rustls-pki-types is not a dependency of ours).
fn pkcs8<'a, T: From<&'a [u8]>>(der: &'a [u8]) -> T {
    T::from(der)
}

fn key_error(e: impl std::fmt::Display) -> SignError {
    SignError::Key(e.to_string())
}

impl SigningKey {
    /// A fresh key: ECDSAP256SHA256, ECDSAP384SHA384 or ED25519 (ring cannot generate RSA
    /// keys; load those with [`SigningKey::from_pkcs8`]). `flags` is [`ZSK`] or [`KSK`].
    pub(crate) fn generate(algorithm: Algorithm, flags: u16) -> Result<SigningKey, SignError> {
        let key: Box<dyn CryptoKey> = match algorithm {
            Algorithm::ECDSAP256SHA256 | Algorithm::ECDSAP384SHA384 => {
                let der = EcdsaSigningKey::generate_pkcs8(algorithm).map_err(key_error)?;
                Box::new(EcdsaSigningKey::from_pkcs8(&der, algorithm).map_err(key_error)?)
            }
            Algorithm::ED25519 => {
                let der = Ed25519SigningKey::generate_pkcs8().map_err(key_error)?;
                Box::new(Ed25519SigningKey::from_pkcs8(&der).map_err(key_error)?)
            }
            other => return Err(SignError::Key(format!("cannot generate {other} keys"))),
        };
        SigningKey::from_key(key, flags)
    }

    /// A key from PKCS#8 DER bytes, any algorithm hickory signs with (RSA included).
    pub(crate) fn from_pkcs8(
        der: &[u8],
        algorithm: Algorithm,
        flags: u16,
    ) -> Result<SigningKey, SignError> {
        let key: Box<dyn CryptoKey> = match algorithm {
            Algorithm::RSASHA256 | Algorithm::RSASHA512 => {
                Box::new(RsaSigningKey::from_pkcs8(&pkcs8(der), algorithm).map_err(key_error)?)
            }
            Algorithm::ECDSAP256SHA256 | Algorithm::ECDSAP384SHA384 => {
                Box::new(EcdsaSigningKey::from_pkcs8(&pkcs8(der), algorithm).map_err(key_error)?)
            }
            Algorithm::ED25519 => {
                Box::new(Ed25519SigningKey::from_pkcs8(&pkcs8(der)).map_err(key_error)?)
            }
            other => return Err(SignError::Key(format!("cannot sign with {other}"))),
        };
        SigningKey::from_key(key, flags)
    }

    fn from_key(key: Box<dyn CryptoKey>, flags: u16) -> Result<SigningKey, SignError> {
        let public = key.to_public_key().map_err(key_error)?;
        let dnskey = DNSKEY::with_flags(flags, public);
        let tag = dnskey.calculate_key_tag().map_err(key_error)?;
        Ok(SigningKey { key, dnskey, tag })
    }

    pub(crate) fn dnskey(&self) -> &DNSKEY {
        &self.dnskey
    }

    pub(crate) fn tag(&self) -> u16 {
        self.tag
    }

    pub(crate) fn dnskey_record(&self, zone: &Name, ttl: u32) -> Record {
        Record::from_rdata(zone.clone(), ttl, self.dnskey.clone().into_rdata())
    }

    /// The DS record the parent publishes for this key.
    pub(crate) fn ds(
        &self,
        zone: &Name,
        ttl: u32,
        digest: DigestType,
    ) -> Result<Record, SignError> {
        let hash = self.dnskey.to_digest(zone, digest).map_err(key_error)?;
        let ds = DS::new(
            self.tag,
            self.dnskey.algorithm(),
            digest,
            hash.as_ref().to_vec(),
        );
        Ok(Record::from_rdata(zone.clone(), ttl, ds.into_rdata()))
    }

    /// The RRSIG record over the RRset `records` (one owner and type), signed as `signer`.
    pub(crate) fn sign(
        &self,
        signer: &Name,
        records: &[Record],
        window: Window,
    ) -> Result<Record, SignError> {
        let first = records
            .first()
            .ok_or_else(|| SignError::Sign(signer.to_string(), "empty RRset".into()))?;
        let what = format!("{}/{}", first.name, first.record_type());
        let ttl = records.iter().map(|r| r.ttl).min().unwrap_or(first.ttl);
        let input = SigInput {
            type_covered: first.record_type(),
            algorithm: self.dnskey.algorithm(),
            // RFC 4034 §3.1.3: labels of the owner, not counting a leading "*".
            num_labels: first.name.num_labels(),
            original_ttl: ttl,
            sig_expiration: SerialNumber::new(window.expiration),
            sig_inception: SerialNumber::new(window.inception),
            key_tag: self.tag,
            signer_name: signer.clone(),
        };
        let tbs = TBS::from_input(&first.name, DNSClass::IN, &input, records.iter())
            .map_err(|e| SignError::Sign(what.clone(), e.to_string()))?;
        let sig = self
            .key
            .sign(&tbs)
            .map_err(|e| SignError::Sign(what, e.to_string()))?;
        Ok(Record::from_rdata(
            first.name.clone(),
            ttl,
            RRSIG::from_sig(input, sig).into_rdata(),
        ))
    }
}

/// The owner names of a zone with the types at each, the input of the chains below. A name
/// at a delegation lists NS (and DS if signed); glue below a delegation does not belong here.
pub(crate) type Owners = BTreeMap<Name, Vec<RecordType>>;

/// RFC 4034 §4: the NSEC chain of a zone, in canonical order, the last pointing back to the
/// apex. Every owner gets NSEC and RRSIG in its bitmap (all of them are signed).
pub(crate) fn nsec_chain(owners: &Owners, ttl: u32) -> Vec<Record> {
    let names: Vec<&Name> = owners.keys().collect();
    let mut out = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let next = names[(i + 1) % names.len()];
        let types = owners[*name].iter().copied();
        let nsec = NSEC::new_cover_self((*next).clone(), types);
        out.push(Record::from_rdata((*name).clone(), ttl, nsec.into_rdata()));
    }
    out
}

/// NSEC3 parameters (RFC 5155 §3; RFC 9276 asks for no salt and no extra iterations).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Nsec3Params {
    pub(crate) salt: Vec<u8>,
    pub(crate) iterations: u16,
    pub(crate) opt_out: bool,
}

/// The NSEC3 hash of `name` (RFC 5155 §5).
pub(crate) fn nsec3_hash(name: &Name, params: &Nsec3Params) -> Result<Vec<u8>, SignError> {
    Nsec3HashAlgorithm::SHA1
        .hash(&params.salt, name, params.iterations)
        .map(|d| d.as_ref().to_vec())
        .map_err(|e| SignError::Name(name.to_string(), e.to_string()))
}

/// The owner of the NSEC3 record for a hash: its base32hex label under the zone.
pub(crate) fn nsec3_owner(zone: &Name, hash: &[u8]) -> Result<Name, SignError> {
    zone.prepend_label(base32::encode(hash))
        .map_err(|e| SignError::Name(zone.to_string(), e.to_string()))
}

/// RFC 5155 §7.1: the NSEC3 chain of a zone. Empty non-terminals get an NSEC3 with an empty
/// bitmap; with opt-out, delegations without DS get none (their span is marked opt-out).
pub(crate) fn nsec3_chain(
    zone: &Name,
    owners: &Owners,
    params: &Nsec3Params,
    ttl: u32,
) -> Result<Vec<Record>, SignError> {
    let mut all: BTreeMap<Name, Vec<RecordType>> = BTreeMap::new();
    for (name, types) in owners {
        let unsigned_cut = types.contains(&RecordType::NS)
            && !types.contains(&RecordType::SOA)
            && !types.contains(&RecordType::DS);
        if params.opt_out && unsigned_cut {
            continue;
        }
        let mut types = types.clone();
        if !unsigned_cut {
            types.push(RecordType::RRSIG);
        }
        all.insert(name.clone(), types);
        // the empty non-terminals between the name and the apex
        let mut up = name.base_name();
        while zone.zone_of(&up) && up != *zone {
            all.entry(up.clone()).or_default();
            up = up.base_name();
        }
    }
    let mut hashed: Vec<(Vec<u8>, Vec<RecordType>)> = all
        .into_iter()
        .map(|(name, types)| Ok((nsec3_hash(&name, params)?, types)))
        .collect::<Result<_, SignError>>()?;
    hashed.sort();
    let mut out = Vec::with_capacity(hashed.len());
    for (i, (hash, types)) in hashed.iter().enumerate() {
        let next = hashed[(i + 1) % hashed.len()].0.clone();
        let nsec3 = NSEC3::new(
            Nsec3HashAlgorithm::SHA1,
            params.opt_out,
            params.iterations,
            params.salt.clone(),
            next,
            types.iter().copied(),
        );
        out.push(Record::from_rdata(
            nsec3_owner(zone, hash)?,
            ttl,
            nsec3.into_rdata(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use hickory_proto::dnssec::PublicKey;

    use super::*;
    use crate::dnssec::testing::{name, rsa_key};

    #[test]
    fn generated_and_loaded_keys_sign_what_they_verify() {
        let zone = name("example.");
        let rr = Record::from_rdata(
            name("www.example."),
            300,
            hickory_proto::rr::RData::A("192.0.2.1".parse().unwrap()),
        );
        let window = Window::around(1_700_000_000, 3600, 86400);
        for key in [
            SigningKey::generate(Algorithm::ECDSAP256SHA256, ZSK).unwrap(),
            SigningKey::generate(Algorithm::ECDSAP384SHA384, ZSK).unwrap(),
            SigningKey::generate(Algorithm::ED25519, KSK).unwrap(),
            rsa_key(Algorithm::RSASHA256),
            rsa_key(Algorithm::RSASHA512),
        ] {
            let sig = key.sign(&zone, std::slice::from_ref(&rr), window).unwrap();
            let sig = crate::dnssec::verify::rrsig(&sig).unwrap();
            let tbs =
                TBS::from_input(&rr.name, DNSClass::IN, sig.input(), [&rr].into_iter()).unwrap();
            assert!(
                key.dnskey()
                    .public_key()
                    .verify(tbs.as_ref(), sig.sig())
                    .is_ok()
            );
            assert_eq!(sig.input().key_tag, key.tag());
        }
        assert!(SigningKey::generate(Algorithm::RSASHA256, ZSK).is_err());
    }

    #[test]
    fn nsec3_hash_matches_rfc5155_appendix_a() {
        // RFC 5155 Appendix A: salt aabbccdd, 12 iterations; H(example) = 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom
        let params = Nsec3Params {
            salt: vec![0xaa, 0xbb, 0xcc, 0xdd],
            iterations: 12,
            opt_out: false,
        };
        let h = nsec3_hash(&name("example."), &params).unwrap();
        assert_eq!(base32::encode(&h), "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom");
        let h = nsec3_hash(&name("a.example."), &params).unwrap();
        assert_eq!(base32::encode(&h), "35mthgpgcu1qg68fab165klnsnk3dpvl");
    }

    #[test]
    fn chains_close_their_loop() {
        let zone = name("example.");
        let mut owners = Owners::new();
        owners.insert(zone.clone(), vec![RecordType::SOA, RecordType::NS]);
        owners.insert(name("a.b.example."), vec![RecordType::A]);
        owners.insert(name("sub.example."), vec![RecordType::NS]);
        let nsec = nsec_chain(&owners, 300);
        assert_eq!(nsec.len(), 3);
        let last = NSEC::try_borrow(&nsec[2].data).unwrap();
        assert_eq!(last.next_domain_name(), &zone);

        let plain = nsec3_chain(&zone, &owners, &Nsec3Params::default(), 300).unwrap();
        // apex, a.b, the empty non-terminal b, and the unsigned delegation sub
        assert_eq!(plain.len(), 4);
        let opt_out = Nsec3Params {
            opt_out: true,
            ..Nsec3Params::default()
        };
        let out = nsec3_chain(&zone, &owners, &opt_out, 300).unwrap();
        assert_eq!(out.len(), 3);
        assert!(
            out.iter()
                .all(|r| NSEC3::try_borrow(&r.data).is_some_and(|n| n.opt_out()))
        );
    }
}
