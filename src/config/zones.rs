//! `[[zone]]` and `[[tsig_key]]`: the zones served, their answer ordering, and who may change
//! them.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use hickory_proto::rr::{LowerName, Name};
use serde::Deserialize;

use super::{Config, ConfigError, cidr_at, parse_name};
use crate::acl::{Acl, TransferAcl};
use crate::authority::balance::Policy;
use crate::tsig::{self, Key, Keyring};

/// One authoritative zone.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    pub origin: String,
    pub file: PathBuf,
    /// How every RRset of the zone is ordered in answers (round-robin | weighted |
    /// client-hash | lowest-latency); default: as the file lists it.
    #[serde(default)]
    pub balance: Option<String>,
    /// TSIG keys (by name, from `[[tsig_key]]` files) that may UPDATE the zone; none: every
    /// UPDATE is REFUSED.
    #[serde(default)]
    pub update_keys: Vec<String>,
    /// Where accepted updates and every serial served are journaled, with what each changed;
    /// default `FILE.jnl` beside the zone file when the zone takes updates, has secondaries
    /// (`allow_transfer` or `notify`) or is one: its serial must then never go backwards across
    /// a restart, it answers IXFR from before the restart, and a secondary finds its copy there.
    pub journal: Option<PathBuf>,
    /// Who may transfer the zone (AXFR/IXFR): CIDRs (`127.0.0.0/8`) and TSIG key names
    /// (`key:xfr-key`); default nobody (REFUSED).
    #[serde(default)]
    pub allow_transfer: Vec<String>,
    /// Secondaries told of every change by NOTIFY (RFC 1996): `ADDR` or `ADDR:PORT` (53).
    #[serde(default)]
    pub notify: Vec<String>,
    /// The TSIG key (a `[[tsig_key]]` name) that signs the NOTIFYs sent to `notify`: what a
    /// secondary that takes only signed NOTIFYs (BIND `allow-notify { key K; }`, a Knot acl
    /// with a key) needs; default unsigned.
    pub notify_key: Option<String>,
    /// The zone's primaries (`ADDR` or `ADDR:PORT`): with them the zone is a secondary, and
    /// `file` is where its copy is written as a zone file after each transfer (its journal is
    /// what a restart reads first).
    #[serde(default)]
    pub primaries: Vec<String>,
    /// The TSIG key (a `[[tsig_key]]` name) that signs this secondary's transfers, SOA
    /// queries, and that its primaries' NOTIFY must carry.
    pub transfer_key: Option<String>,
}

impl ZoneConfig {
    /// A secondary zone: its data comes from its primaries.
    pub(crate) fn is_secondary(&self) -> bool {
        !self.primaries.is_empty()
    }

    /// The journal the zone keeps: one given, or the default for a zone that takes updates,
    /// has secondaries or is one.
    pub(crate) fn journal_path(&self) -> Option<PathBuf> {
        let replicated =
            !self.allow_transfer.is_empty() || !self.notify.is_empty() || self.is_secondary();
        if self.update_keys.is_empty() && !replicated && self.journal.is_none() {
            return None;
        }
        Some(self.journal.clone().unwrap_or_else(|| {
            let mut name = self.file.clone().into_os_string();
            name.push(".jnl");
            PathBuf::from(name)
        }))
    }
}

/// The keys the server knows and which zones take updates signed with which of them.
#[derive(Debug, Clone, Default)]
pub(crate) struct UpdatePolicy {
    pub keyring: Keyring,
    /// Zones that take updates, each with the (absolute) names of the keys it accepts.
    pub zones: Vec<(Name, Vec<Name>)>,
}

/// A zone this server is primary for, as far as replication goes.
#[derive(Debug, Clone)]
pub(crate) struct PrimaryZone {
    pub origin: Name,
    pub allow_transfer: TransferAcl,
    pub notify: Vec<SocketAddr>,
    /// The key of `notify_key`: signs every NOTIFY sent (RFC 8945).
    pub notify_key: Option<Key>,
}

/// A zone this server is secondary for.
#[derive(Debug, Clone)]
pub(crate) struct SecondaryZone {
    pub origin: Name,
    pub primaries: Vec<SocketAddr>,
    /// Where the copy is written as a zone file after every transfer (read at start when the
    /// journal has nothing later).
    pub file: PathBuf,
    /// The zone's journal: every transfer's increment, the copy a restart reads first.
    pub journal: Option<PathBuf>,
    /// The key of `transfer_key`, from the `[[tsig_key]]` files.
    pub key: Option<Key>,
    /// Who may transfer the copy on (a secondary can feed further secondaries)...
    pub allow_transfer: TransferAcl,
    /// ...and which of them hear of each new serial it takes, signed with `notify_key`.
    pub notify: Vec<SocketAddr>,
    pub notify_key: Option<Key>,
}

/// Every zone's replication settings.
#[derive(Debug, Clone, Default)]
pub(crate) struct Replication {
    pub primaries: Vec<PrimaryZone>,
    pub secondaries: Vec<SecondaryZone>,
}

impl Replication {
    /// Every zone whose new serials are announced by NOTIFY, primary or secondary (a
    /// secondary may feed secondaries of its own), with its targets.
    pub(crate) fn announced(&self) -> Vec<PrimaryZone> {
        let secondaries = self.secondaries.iter().map(|z| PrimaryZone {
            origin: z.origin.clone(),
            allow_transfer: z.allow_transfer.clone(),
            notify: z.notify.clone(),
            notify_key: z.notify_key.clone(),
        });
        self.primaries
            .iter()
            .cloned()
            .chain(secondaries)
            .filter(|z| !z.notify.is_empty())
            .collect()
    }
}

/// `ADDR` or `ADDR:PORT` (IPv6 as `[ADDR]:PORT`); the DNS port when none is given.
fn server_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    text.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("{text:?} is not ADDR or ADDR:PORT"))
}

/// A file of TSIG keys as `tsig-keygen` writes them.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TsigKeyConfig {
    pub file: PathBuf,
}

impl Config {
    /// Each zone's default answer ordering (`[[zone]] balance`).
    pub(crate) fn zone_balance(&self) -> Result<HashMap<LowerName, Policy>, ConfigError> {
        let mut out = HashMap::new();
        for z in &self.zones {
            if let Some(b) = &z.balance {
                let policy = b
                    .parse::<Policy>()
                    .map_err(|e| ConfigError::Invalid(format!("zone {}: {e}", z.origin)))?;
                out.insert(LowerName::new(&parse_name(&z.origin)?), policy);
            }
        }
        Ok(out)
    }

    /// The TSIG keys of every `[[tsig_key]]` file, and for each zone with `update_keys` the keys
    /// it accepts. Every key a zone names must be in one of the files; a file that cannot be
    /// read, or holds a key we cannot use, is an error naming it.
    pub(crate) fn update_policy(&self) -> Result<UpdatePolicy, ConfigError> {
        let keyring = self.keyring()?;
        let mut zones = Vec::new();
        for z in self.zones.iter().filter(|z| !z.update_keys.is_empty()) {
            let origin = parse_name(&z.origin)?;
            let mut names = Vec::new();
            for k in &z.update_keys {
                let name = Name::from_ascii(k).map_err(|e| {
                    ConfigError::Invalid(format!("zone {}: key {k}: {e}", z.origin))
                })?;
                let key = keyring.get(&name).ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "zone {}: update key {k} is in no [[tsig_key]] file",
                        z.origin
                    ))
                })?;
                names.push(key.name().clone());
            }
            zones.push((origin, names));
        }
        Ok(UpdatePolicy { keyring, zones })
    }

    /// Every key of the `[[tsig_key]]` files.
    pub(crate) fn keyring(&self) -> Result<Keyring, ConfigError> {
        let mut keys = Vec::new();
        for k in &self.tsig_keys {
            keys.extend(
                tsig::read_key_file(&k.file).map_err(|e| ConfigError::Invalid(e.to_string()))?,
            );
        }
        Ok(Keyring::new(keys))
    }

    /// Transfer ACLs, NOTIFY targets and primaries, checked: every key named is in `keyring`
    /// (the `[[tsig_key]]` files, read once by `keyring`), every address parses, a secondary
    /// takes no updates and serves no `[[service]]` (its primary owns the data).
    pub(crate) fn replication(&self, keyring: &Keyring) -> Result<Replication, ConfigError> {
        let mut out = Replication::default();
        for (n, z) in self.zones.iter().enumerate() {
            let invalid = |e: String| ConfigError::Invalid(format!("zone {}: {e}", z.origin));
            let origin = parse_name(&z.origin)?;
            let key = |name: &str| -> Result<Key, ConfigError> {
                let parsed = Name::from_ascii(name).map_err(|e| invalid(format!("{name}: {e}")))?;
                keyring
                    .get(&parsed)
                    .cloned()
                    .ok_or_else(|| invalid(format!("key {name} is in no [[tsig_key]] file")))
            };
            let mut blocks = Vec::new();
            let mut keys = Vec::new();
            for (i, entry) in z.allow_transfer.iter().enumerate() {
                match entry.strip_prefix("key:") {
                    Some(name) => keys.push(key(name)?.name().clone()),
                    None => blocks.push(cidr_at(&format!("zone[{n}].allow_transfer[{i}]"), entry)?),
                }
            }
            let allow_transfer = TransferAcl {
                cidrs: Acl::new(blocks),
                keys,
            };
            let addrs = |list: &[String]| -> Result<Vec<SocketAddr>, ConfigError> {
                list.iter()
                    .map(|a| server_addr(a).map_err(invalid))
                    .collect()
            };
            // A key that would sign nothing is a mistake worth saying at start.
            if z.notify_key.is_some() && z.notify.is_empty() {
                return Err(invalid("notify_key needs notify targets".to_string()));
            }
            let notify_key = z.notify_key.as_deref().map(key).transpose()?;
            if z.is_secondary() {
                if !z.update_keys.is_empty() {
                    return Err(invalid(
                        "a secondary takes no updates (send them to its primary)".to_string(),
                    ));
                }
                if self
                    .services
                    .iter()
                    .any(|s| parse_name(&s.zone).ok() == Some(origin.clone()))
                {
                    return Err(invalid(
                        "a secondary serves no [[service]] (register it on the primary)"
                            .to_string(),
                    ));
                }
                out.secondaries.push(SecondaryZone {
                    origin,
                    primaries: addrs(&z.primaries)?,
                    file: z.file.clone(),
                    journal: z.journal_path(),
                    key: z.transfer_key.as_deref().map(key).transpose()?,
                    allow_transfer,
                    notify: addrs(&z.notify)?,
                    notify_key,
                });
            } else {
                if z.transfer_key.is_some() {
                    return Err(invalid("transfer_key needs primaries".to_string()));
                }
                out.primaries.push(PrimaryZone {
                    origin,
                    allow_transfer,
                    notify: addrs(&z.notify)?,
                    notify_key,
                });
            }
        }
        Ok(out)
    }
}
