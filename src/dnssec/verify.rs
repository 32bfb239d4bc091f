//! RRset verification (RFC 4035 §5.3): is one RRset signed by one of its zone's keys, now?
//!
//! Every RRSIG is checked cheaply first (type, signer, labels, validity window, a key with
//! its tag and algorithm), and only then with public-key cryptography, counted against the
//! budget. The first RRSIG that verifies makes the RRset secure; if none does, the most telling
//! failure is reported: a bad signature before an expired one, an expired one before a
//! missing key, a missing key before a foreign signer.

use hickory_proto::dnssec::Verifier;
use hickory_proto::dnssec::rdata::{DNSKEY, RRSIG};
use hickory_proto::dnssec::{Algorithm, PublicKey, TBS};
use hickory_proto::rr::{DNSClass, Name, Record, RecordData};

use super::budget::{Exhausted, KEYS_PER_RRSIG, VERIFICATIONS_PER_RRSET};
use super::{Check, Ede, Reason, Security, SignedRrset, Validation, ZoneKeys};

/// A DNSKEY with its key tag (RFC 4034 Appendix B) computed once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) dnskey: DNSKEY,
    pub(crate) tag: u16,
}

impl Key {
    /// `None` for a key whose RDATA cannot be encoded (and so has no tag).
    pub(crate) fn new(dnskey: DNSKEY) -> Option<Key> {
        let tag = dnskey.calculate_key_tag().ok()?;
        Some(Key { dnskey, tag })
    }

    pub(crate) fn algorithm(&self) -> Algorithm {
        self.dnskey.algorithm()
    }
}

/// The RRSIG in a record, if it is one.
pub(crate) fn rrsig(record: &Record) -> Option<&RRSIG> {
    RRSIG::try_borrow(&record.data)
}

/// Algorithms this validator verifies: hickory-proto's ring backend, RSASHA1 (5, 7),
/// RSASHA256 (8), RSASHA512 (10), ECDSAP256SHA256 (13), ECDSAP384SHA384 (14), ED25519 (15).
/// Anything else is "unsupported", which makes a zone insecure, never bogus (RFC 4035 §5.2).
pub(crate) fn supported(algorithm: Algorithm) -> bool {
    algorithm.is_supported()
}

/// What verifying one RRset found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Checked {
    pub(crate) security: Security,
    /// RFC 4035 §5.3.3: when secure, the RRset's TTL capped by the RRSIG's TTL, its Original
    /// TTL and the seconds left until it expires; otherwise the TTL as received.
    pub(crate) ttl: u32,
    /// `Some(closest encloser)` when the RRSIG's Labels field is smaller than the owner's
    /// label count: the RRset was synthesized from `*.<closest encloser>` (RFC 4035
    /// §5.3.4), and the answer needs a proof that the query name itself does not exist
    /// (`Validation::wildcard_answer`).
    pub(crate) wildcard: Option<Name>,
}

/// A reason an RRSIG was not accepted, ranked by how much it tells the operator.
struct Failure {
    rank: u8,
    ede: Ede,
    step: String,
}

fn keep(best: &mut Option<Failure>, rank: u8, ede: Ede, step: impl FnOnce() -> String) {
    if best.as_ref().is_none_or(|b| rank > b.rank) {
        *best = Some(Failure {
            rank,
            ede,
            step: step(),
        });
    }
}

/// RFC 4034 §3.1.5: RRSIG times are seconds modulo 2^32 compared in RFC 1982 serial number
/// arithmetic, so the window still works after 2106. Returns the seconds left, or why not.
fn window(sig: &RRSIG, now: u64) -> Result<u32, Ede> {
    // Truncation is the point: the comparison is modulo 2^32.
    let now = now as u32;
    let input = sig.input();
    if (now.wrapping_sub(input.sig_inception.get()) as i32) < 0 {
        return Err(Ede::SignatureNotYetValid);
    }
    let left = input.sig_expiration.get().wrapping_sub(now) as i32;
    if left < 0 {
        return Err(Ede::SignatureExpired);
    }
    Ok(left as u32)
}

/// The RRset in canonical form for signing: RFC 4034 §6.3 asks duplicates to be removed
/// (hickory's `TBS` sorts but keeps them).
fn canonical(records: &[Record]) -> Vec<Record> {
    let mut out = records.to_vec();
    out.sort_by(|a, b| a.data.cmp(&b.data));
    out.dedup_by(|a, b| a.data == b.data);
    out
}

/// The public-key check itself. An undecodable key or signature is simply a failure.
fn signature_verifies(set: &SignedRrset, sig: &RRSIG, key: &DNSKEY, records: &[Record]) -> bool {
    let Ok(tbs) = TBS::from_input(&set.name, DNSClass::IN, sig.input(), records.iter()) else {
        return false;
    };
    key.public_key().verify(tbs.as_ref(), sig.sig()).is_ok()
}

impl Validation {
    /// RFC 4035 §5.3: verifies `set` with the validated keys of the zone that holds it. For
    /// a DS RRset those are the parent zone's keys.
    pub(crate) fn verify(&mut self, set: &SignedRrset, keys: &ZoneKeys) -> Checked {
        self.verify_with(set, keys.zone(), keys.keys(), Check::Rrsig)
    }

    /// The verification, with the keys that may sign given explicitly: all of a zone's keys
    /// for its data, only the DS- or anchor-matched ones for its DNSKEY RRset.
    pub(super) fn verify_with(
        &mut self,
        set: &SignedRrset,
        zone: &Name,
        keys: &[Key],
        check: Check,
    ) -> Checked {
        let what = format!("{}/{}", set.name, set.rtype);
        let unsigned = |security| Checked {
            security,
            ttl: set.ttl(),
            wildcard: None,
        };
        if set.records.is_empty() {
            return unsigned(Security::bogus(
                zone,
                Ede::Bogus,
                format!("{what}: empty RRset"),
            ));
        }
        let sigs: Vec<(&Record, &RRSIG)> = set
            .rrsigs
            .iter()
            .filter(|r| r.name == set.name)
            .filter_map(|r| rrsig(r).map(|s| (r, s)))
            .filter(|(_, s)| s.input().type_covered == set.rtype)
            .collect();
        if sigs.is_empty() {
            self.trace.note(check, zone, &what, "no RRSIG");
            return unsigned(Security::bogus(
                zone,
                Ede::RrsigsMissing,
                format!("no RRSIG for {what}"),
            ));
        }

        let owner_labels = set.name.num_labels();
        let records = canonical(&set.records);
        let mut best: Option<Failure> = None;
        let mut tried = 0u32;
        for (sig_record, sig) in sigs {
            let input = sig.input();
            let (tag, alg) = (input.key_tag, input.algorithm);
            if input.signer_name != *zone {
                keep(&mut best, 1, Ede::Bogus, || {
                    format!("{what} signed by {}, not by {zone}", input.signer_name)
                });
                continue;
            }
            if !zone.zone_of(&set.name) {
                keep(&mut best, 1, Ede::Bogus, || {
                    format!("{what} is not in {zone}")
                });
                continue;
            }
            if input.num_labels > owner_labels {
                keep(&mut best, 1, Ede::Bogus, || {
                    format!("{what}: RRSIG labels {} > {owner_labels}", input.num_labels)
                });
                continue;
            }
            if !supported(alg) {
                keep(&mut best, 0, Ede::Bogus, || {
                    format!("{what}: RRSIG by unsupported algorithm {}", u8::from(alg))
                });
                continue;
            }
            let left = match window(sig, self.now) {
                Ok(left) => left,
                Err(ede) => {
                    let (lo, hi) = (input.sig_inception.get(), input.sig_expiration.get());
                    self.trace.note(
                        check,
                        zone,
                        format_args!("{what} tag {tag} alg {alg}"),
                        format_args!("outside its validity {lo}..{hi}"),
                    );
                    keep(&mut best, 3, ede, || {
                        let when = if ede == Ede::SignatureExpired {
                            format!("expired at {hi}")
                        } else {
                            format!("not valid before {lo}")
                        };
                        format!("RRSIG {what} tag {tag} {when}")
                    });
                    continue;
                }
            };
            let candidates = keys
                .iter()
                .filter(|k| k.tag == tag && k.algorithm() == alg)
                .take(KEYS_PER_RRSIG);
            let mut any = false;
            for key in candidates {
                any = true;
                if tried >= VERIFICATIONS_PER_RRSET {
                    return self.exhausted(set, zone, check, Exhausted::RrsetVerifications(tried));
                }
                if let Err(e) = self.budget.verification() {
                    return self.exhausted(set, zone, check, e);
                }
                tried += 1;
                if signature_verifies(set, sig, &key.dnskey, &records) {
                    let ttl = set
                        .ttl()
                        .min(sig_record.ttl)
                        .min(input.original_ttl)
                        .min(left);
                    let wildcard = (input.num_labels < owner_labels)
                        .then(|| set.name.trim_to(usize::from(input.num_labels)));
                    self.trace.note(
                        check,
                        zone,
                        format_args!("{what} tag {tag} alg {alg}"),
                        format_args!(
                            "verified (ttl {ttl}){}",
                            wildcard
                                .as_ref()
                                .map(|w| format!(", expanded from *.{w}"))
                                .unwrap_or_default()
                        ),
                    );
                    return Checked {
                        security: Security::Secure,
                        ttl,
                        wildcard,
                    };
                }
                self.trace.note(
                    check,
                    zone,
                    format_args!("{what} tag {tag} alg {alg}"),
                    "signature does not verify",
                );
                keep(&mut best, 4, Ede::Bogus, || {
                    format!("RRSIG {what} tag {tag} does not verify")
                });
            }
            if !any {
                keep(&mut best, 2, Ede::DnskeyMissing, || {
                    format!("no DNSKEY of {zone} with tag {tag} alg {alg} for {what}")
                });
            }
        }
        let failure = best.unwrap_or(Failure {
            rank: 0,
            ede: Ede::Bogus,
            step: format!("no usable RRSIG for {what}"),
        });
        self.trace.note(check, zone, &what, &failure.step);
        unsigned(Security::Bogus(Reason::new(
            zone,
            failure.ede,
            failure.step,
        )))
    }

    fn exhausted(&mut self, set: &SignedRrset, zone: &Name, check: Check, e: Exhausted) -> Checked {
        let what = format!("{}/{}", set.name, set.rtype);
        self.trace.note(check, zone, &what, e);
        Checked {
            security: Security::bogus(zone, Ede::Bogus, format!("{what}: {e}")),
            ttl: set.ttl(),
            wildcard: None,
        }
    }
}

#[cfg(test)]
mod tests;
