//! `[[zone]]` and `[[tsig_key]]`: the zones served, their answer ordering, and who may change
//! them.

use std::collections::HashMap;
use std::path::PathBuf;

use hickory_proto::rr::{LowerName, Name};
use serde::Deserialize;

use super::{Config, ConfigError, parse_name};
use crate::authority::balance::Policy;
use crate::tsig::{self, Keyring};

/// One authoritative zone.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
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
    /// Where accepted updates are journaled; default `FILE.jnl` beside the zone file when the
    /// zone takes updates.
    pub journal: Option<PathBuf>,
}

impl ZoneConfig {
    /// The journal the zone keeps, if it takes updates.
    pub fn journal_path(&self) -> Option<PathBuf> {
        if self.update_keys.is_empty() {
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
pub struct UpdatePolicy {
    pub keyring: Keyring,
    /// Zones that take updates, each with the (absolute) names of the keys it accepts.
    pub zones: Vec<(Name, Vec<Name>)>,
}

/// A file of TSIG keys as `tsig-keygen` writes them.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TsigKeyConfig {
    pub file: PathBuf,
}

impl Config {
    /// Each zone's default answer ordering (`[[zone]] balance`).
    pub fn zone_balance(&self) -> Result<HashMap<LowerName, Policy>, ConfigError> {
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
    pub fn update_policy(&self) -> Result<UpdatePolicy, ConfigError> {
        let mut keys = Vec::new();
        for k in &self.tsig_keys {
            keys.extend(
                tsig::read_key_file(&k.file).map_err(|e| ConfigError::Invalid(e.to_string()))?,
            );
        }
        let keyring = Keyring::new(keys);
        if let Some(z) = self
            .zones
            .iter()
            .find(|z| z.journal.is_some() && z.update_keys.is_empty())
        {
            return Err(ConfigError::Invalid(format!(
                "zone {}: a journal without update_keys would never be written",
                z.origin
            )));
        }
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
}
