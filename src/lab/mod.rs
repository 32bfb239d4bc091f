//! The simulated internet: root, TLD and leaf name servers on loopback addresses (port 53),
//! described by `zones/hierarchy/lab.toml`. Used by `tern lab`, the tests and the benchmarks,
//! so nothing ever needs the real internet. Each server is a tern authoritative server with
//! recursion off; an address listed in glue without a server is a silent server.

pub(crate) mod cluster;
pub(crate) mod sign;
pub(crate) mod tls;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hickory_proto::rr::Name;
use serde::Deserialize;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;

use self::sign::{Keys, Signing, sign_zones};
use crate::authority::{Catalog, Zone, ZoneErrors};
use crate::metrics::Metrics;
use crate::nameserver::NameServer;
use crate::server::Shutdown;

/// The lab files compiled into the binary, so `tern lab` works from any folder.
const EMBEDDED: &[(&str, &str)] = &[
    ("lab.toml", include_str!("../../zones/hierarchy/lab.toml")),
    (
        "root.hints",
        include_str!("../../zones/hierarchy/root.hints"),
    ),
    ("root.zone", include_str!("../../zones/hierarchy/root.zone")),
    ("test.zone", include_str!("../../zones/hierarchy/test.zone")),
    (
        "example.zone",
        include_str!("../../zones/hierarchy/example.zone"),
    ),
    (
        "alpha.test.zone",
        include_str!("../../zones/hierarchy/alpha.test.zone"),
    ),
    (
        "deep.alpha.test.zone",
        include_str!("../../zones/hierarchy/deep.alpha.test.zone"),
    ),
    (
        "beta.example.zone",
        include_str!("../../zones/hierarchy/beta.example.zone"),
    ),
    (
        "glueless.test.zone",
        include_str!("../../zones/hierarchy/glueless.test.zone"),
    ),
    (
        "lame.test.zone",
        include_str!("../../zones/hierarchy/lame.test.zone"),
    ),
    (
        "silent.test.zone",
        include_str!("../../zones/hierarchy/silent.test.zone"),
    ),
    (
        "big.test.zone",
        include_str!("../../zones/hierarchy/big.test.zone"),
    ),
    (
        "secure.test.zone",
        include_str!("../../zones/hierarchy/secure.test.zone"),
    ),
    (
        "bogus.test.zone",
        include_str!("../../zones/hierarchy/bogus.test.zone"),
    ),
    (
        "insecure.test.zone",
        include_str!("../../zones/hierarchy/insecure.test.zone"),
    ),
];

/// Why the lab cannot start.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("lab.toml: {0}")]
    Manifest(#[from] toml::de::Error),
    #[error("lab file {0} is missing")]
    Missing(String),
    #[error("{0}")]
    Zone(#[from] ZoneErrors),
    #[error("bad zone origin {origin}: {reason}")]
    Origin { origin: String, reason: String },
    #[error("{}", crate::net::bind_error(*addr, source))]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("{0}")]
    Catalog(#[from] crate::authority::DuplicateZone),
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cluster: {0}")]
    Cluster(String),
    #[error("signing {0}")]
    Sign(String),
    #[error("lab certificate: {0}")]
    Tls(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    server: Vec<ServerEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServerEntry {
    name: String,
    addr: IpAddr,
    zones: Vec<ZoneEntry>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneEntry {
    origin: String,
    file: String,
    /// Signed at start: see `sign.rs`.
    #[serde(default)]
    dnssec: Option<Signing>,
}

/// The lab's text files (manifest, zones, hints), by file name, and the keys its signed zones
/// are signed with (made on first use, the same for every copy of the lab).
#[derive(Debug, Clone)]
pub struct LabFiles {
    files: HashMap<String, String>,
    keys: Keys,
}

/// One simulated name server, ready to bind.
#[derive(Debug)]
pub struct LabServer {
    pub name: String,
    pub addr: IpAddr,
    pub catalog: Catalog,
}

impl LabFiles {
    /// The hierarchy shipped in `zones/hierarchy/`, compiled in.
    pub fn embedded() -> LabFiles {
        LabFiles {
            files: EMBEDDED
                .iter()
                .map(|(n, t)| (n.to_string(), t.to_string()))
                .collect(),
            keys: Keys::default(),
        }
    }

    /// A hierarchy read from a folder holding `lab.toml` and the files it names.
    pub fn from_dir(dir: &Path) -> Result<LabFiles, LabError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| LabError::Read { path, source })
        };
        let manifest = read("lab.toml")?;
        let parsed: Manifest = toml::from_str(&manifest)?;
        let mut files = HashMap::new();
        for z in parsed.server.iter().flat_map(|s| &s.zones) {
            if !files.contains_key(&z.file) {
                files.insert(z.file.clone(), read(&z.file)?);
            }
        }
        files.insert("root.hints".to_string(), read("root.hints")?);
        files.insert("lab.toml".to_string(), manifest);
        Ok(LabFiles {
            files,
            keys: Keys::default(),
        })
    }

    /// Moves every address `127.0.0.x` to `127.<n>.0.x`, so tests can run several labs at once.
    pub fn on_subnet(&self, n: u8) -> LabFiles {
        let to = format!("127.{n}.0.");
        LabFiles {
            files: self
                .files
                .iter()
                .map(|(k, v)| (k.clone(), v.replace("127.0.0.", &to)))
                .collect(),
            keys: self.keys.clone(),
        }
    }

    fn get(&self, name: &str) -> Result<&str, LabError> {
        self.files
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| LabError::Missing(name.to_string()))
    }

    /// The root hints pointing at this lab's root servers.
    pub fn root_hints(&self) -> Result<&str, LabError> {
        self.get("root.hints")
    }

    /// The text of one zone file of the lab.
    pub fn file(&self, name: &str) -> Result<&str, LabError> {
        self.get(name)
    }

    /// The lab's trust anchor: the DS of the root's key, as a zone-file line (what
    /// `--trust-anchor` reads); `None` when the lab's root is not signed.
    pub fn trust_anchor(&self) -> Result<Option<String>, LabError> {
        let manifest: Manifest = toml::from_str(self.get("lab.toml")?)?;
        let root_signed = manifest
            .server
            .iter()
            .flat_map(|s| &s.zones)
            .any(|z| z.origin == "." && z.dnssec.is_some());
        if !root_signed {
            return Ok(None);
        }
        Ok(Some(format!("{}\n", self.keys.ds(&Name::root(), 86400)?)))
    }

    /// Parses the manifest and every zone, and signs the zones marked for it.
    pub fn servers(&self) -> Result<Vec<LabServer>, LabError> {
        let manifest: Manifest = toml::from_str(self.get("lab.toml")?)?;
        let origin_of = |z: &ZoneEntry| {
            Name::from_ascii(&z.origin).map_err(|e| LabError::Origin {
                origin: z.origin.clone(),
                reason: e.to_string(),
            })
        };
        // Each zone's records, read once however many servers serve it.
        let mut records: HashMap<Name, Vec<crate::zonefile::Located>> = HashMap::new();
        let mut files: HashMap<Name, String> = HashMap::new();
        let mut plan = Vec::new();
        for z in manifest.server.iter().flat_map(|s| &s.zones) {
            let origin = origin_of(z)?;
            match files.get(&origin) {
                Some(file) if *file == z.file => continue,
                // One zone, one content: signing and the DS in its parent need that.
                Some(file) => {
                    return Err(LabError::Origin {
                        origin: z.origin.clone(),
                        reason: format!("served from both {file} and {}", z.file),
                    });
                }
                None => {}
            }
            let read = crate::zonefile::parse_zone_text(
                self.get(&z.file)?,
                Path::new(&z.file),
                Some(&origin),
            )?;
            if let Some(how) = z.dnssec {
                plan.push((origin.clone(), how));
            }
            records.insert(origin.clone(), read);
            files.insert(origin, z.file.clone());
        }
        if !plan.is_empty() {
            // Edge: signatures are dated by the wall clock, as a signer's are.
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            sign_zones(&mut records, &plan, &self.keys, now)?;
        }
        let mut parsed: HashMap<Name, Zone> = HashMap::new();
        for (origin, located) in records {
            let file = files.get(&origin).cloned().unwrap_or_default();
            let zone = Zone::from_records(Some(&origin), located, Path::new(&file))?;
            parsed.insert(origin, zone);
        }
        let mut out = Vec::new();
        for entry in manifest.server {
            let mut zones = Vec::new();
            for z in &entry.zones {
                if let Some(zone) = parsed.get(&origin_of(z)?) {
                    zones.push(zone.clone());
                }
            }
            out.push(LabServer {
                name: entry.name,
                addr: entry.addr,
                catalog: Catalog::new(zones)?,
            });
        }
        Ok(out)
    }
}

/// Binds every lab server on `addr:port` (UDP and TCP) and serves until `shutdown`.
/// Returns once all sockets are bound, so queries can be sent right away.
pub async fn start(
    files: &LabFiles,
    port: u16,
    shutdown: Shutdown,
) -> Result<JoinSet<()>, LabError> {
    let mut tasks = JoinSet::new();
    for server in files.servers()? {
        let addr = SocketAddr::new(server.addr, port);
        let (udp, tcp) = bind(addr).await?;
        NameServer::fixed(server.catalog, Arc::new(Metrics::default()))
            .start(udp, tcp, shutdown.clone())
            .map_err(|source| LabError::Bind { addr, source })?
            .join_into(&mut tasks);
        tracing::debug!(server = %server.name, %addr, "lab server up");
    }
    Ok(tasks)
}

/// UDP and TCP bound at `addr`, for one lab server.
async fn bind(addr: SocketAddr) -> Result<(Vec<UdpSocket>, Vec<TcpListener>), LabError> {
    let bind_err = |source| LabError::Bind { addr, source };
    let udp = UdpSocket::bind(addr).await.map_err(bind_err)?;
    let tcp = TcpListener::bind(addr).await.map_err(bind_err)?;
    Ok((vec![udp], vec![tcp]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_lab_parses() {
        let servers = LabFiles::embedded().servers().expect("lab zones are valid");
        assert!(servers.len() >= 10);
        assert!(
            servers.iter().any(|s| s.catalog.zones().next().is_none()),
            "the lame server serves nothing"
        );
    }

    #[tokio::test]
    async fn a_taken_address_says_what_may_hold_it() {
        let taken = std::net::UdpSocket::bind("127.238.0.11:0").expect("bind");
        let addr = taken.local_addr().expect("addr");
        let err = bind(addr).await.expect_err("in use").to_string();
        assert!(err.starts_with(&format!("{addr}: ")), "{err}");
        assert!(err.contains("another tern (`tern lab`"), "{err}");
    }

    #[test]
    fn one_zone_from_two_files_is_refused() {
        let mut lab = LabFiles::embedded();
        let manifest = "[[server]]\nname = \"a\"\naddr = \"127.0.0.11\"\n\
                        zones = [{ origin = \"test.\", file = \"test.zone\" }]\n\
                        [[server]]\nname = \"b\"\naddr = \"127.0.0.12\"\n\
                        zones = [{ origin = \"test.\", file = \"alpha.test.zone\" }]\n";
        lab.files
            .insert("lab.toml".to_string(), manifest.to_string());
        let err = lab.servers().expect_err("refused");
        assert!(err.to_string().contains("served from both"), "{err}");
    }

    #[test]
    fn subnet_rewrite_moves_all_addresses() {
        let lab = LabFiles::embedded().on_subnet(42);
        assert!(lab.root_hints().expect("hints").contains("127.42.0.11"));
        assert!(
            lab.servers()
                .expect("valid")
                .iter()
                .all(|s| s.addr.to_string().starts_with("127.42.0."))
        );
    }
}
