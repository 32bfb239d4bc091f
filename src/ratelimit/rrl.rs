//! Response Rate Limiting for authoritative answers, the model of BIND and NSD: responses are
//! accounted per {client prefix, kind of response, name}, each account allowed
//! `responses_per_second` (a second's worth as burst), and a response over it is dropped,
//! except every `slip`-th one, which goes out truncated (TC=1, no records): a real client
//! retries over TCP and is answered, while a spoofed victim of reflection gets only small
//! packets, and few of them.
//!
//! The name of an account is what an attacker cannot vary to get a fresh account: the qname
//! of a positive answer, but the wildcard that synthesised it, the zone's apex (the owner of
//! the SOA in the authority section) for NXDOMAIN, NODATA and errors, and the delegation
//! point of a referral. The window is BIND's: a limited response is still charged, down to
//! `window` seconds of debt, so a flood stays limited until it has stopped for that long.

use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tokio::time::Instant;

use super::bucket::{Buckets, Shape, Take};
use super::{ClientPrefix, Exempt};

/// Kinds of response, accounted separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Answer,
    Nxdomain,
    Referral,
    Nodata,
    Error,
}

/// The kind and name (hashed) a response is accounted under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Token {
    pub kind: Kind,
    name: u64,
}

/// What to do with a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Send,
    /// Send it truncated: TC=1, the question (and OPT) only.
    Slip,
    Drop,
}

/// RRL, bounds-checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrlSettings {
    pub responses_per_second: u32,
    /// Seconds a flooding account stays limited after it stops.
    pub window: u32,
    /// Every `slip`-th limited response goes out truncated; 0: none (all dropped), 1: all.
    pub slip: u32,
    pub prefix: ClientPrefix,
    pub exempt: Exempt,
    pub table_size: usize,
}

/// The accounts and the policy.
#[derive(Debug)]
pub struct Rrl {
    buckets: Buckets,
    slip: u32,
    prefix: ClientPrefix,
    exempt: Exempt,
    /// Hashes names into tokens (keyed, like the table).
    names: std::collections::hash_map::RandomState,
}

impl Rrl {
    pub fn new(settings: &RrlSettings) -> Rrl {
        Rrl {
            buckets: Buckets::new(
                settings.table_size,
                Shape {
                    rate: settings.responses_per_second,
                    burst: settings.responses_per_second,
                    debt_secs: settings.window,
                },
                // Edge: the buckets count time from their creation; every take passes `now`.
                Instant::now(),
            ),
            slip: settings.slip,
            prefix: settings.prefix,
            exempt: settings.exempt.clone(),
            names: std::collections::hash_map::RandomState::new(),
        }
    }

    /// The account `kind` and `name` (any case) go to.
    pub(crate) fn token(&self, kind: Kind, name: &Name) -> Token {
        let mut h = self.names.build_hasher();
        for label in name.iter() {
            h.write_u8(label.len() as u8);
            for b in label {
                h.write_u8(b.to_ascii_lowercase());
            }
        }
        Token {
            kind,
            name: h.finish(),
        }
    }

    /// Classifies a response (NSD's `rrl_classify`); `wildcard` tells which wildcard, if
    /// any, synthesised the answer for a name (asked only for positive answers).
    pub(crate) fn classify(
        &self,
        response: &Message,
        wildcard: impl FnOnce(&Name) -> Option<Name>,
    ) -> Token {
        let root = Name::root();
        let qname = response.queries.first().map_or(&root, |q| q.name());
        let soa_owner = || {
            response
                .authorities
                .iter()
                .find(|r| r.record_type() == RecordType::SOA)
                .map(|r| &r.name)
        };
        match response.metadata.response_code {
            ResponseCode::NoError => {}
            ResponseCode::NXDomain => {
                return self.token(Kind::Nxdomain, soa_owner().unwrap_or(qname));
            }
            _ => return self.token(Kind::Error, soa_owner().unwrap_or(&root)),
        }
        if response.answers.is_empty() {
            if let Some(apex) = soa_owner() {
                return self.token(Kind::Nodata, apex);
            }
            if let Some(ns) = response
                .authorities
                .iter()
                .find(|r| r.record_type() == RecordType::NS)
            {
                return self.token(Kind::Referral, &ns.name);
            }
            return self.token(Kind::Nodata, qname);
        }
        match wildcard(qname) {
            Some(source) => self.token(Kind::Answer, &source),
            None => self.token(Kind::Answer, qname),
        }
    }

    /// Accounts one response to `client` at `now`.
    pub(crate) fn check(&self, client: IpAddr, token: Token, now: Instant) -> Verdict {
        if self.exempt.contains(client) {
            return Verdict::Send;
        }
        let (v6, addr) = self.prefix.of(client);
        // The name's hash is keyed already; kind and family go in its low bits.
        let extra = token.name ^ ((token.kind as u64) << 1 | u64::from(v6));
        match self.buckets.take(addr, extra, now) {
            Take::Allowed => Verdict::Send,
            Take::Limited { in_a_row } => slip_or_drop(self.slip, in_a_row),
        }
    }
}

/// BIND's slip: of the limited responses in a row, every `slip`-th is truncated.
fn slip_or_drop(slip: u32, in_a_row: u32) -> Verdict {
    if slip != 0 && in_a_row.is_multiple_of(slip) {
        Verdict::Slip
    } else {
        Verdict::Drop
    }
}

#[cfg(test)]
mod tests;
