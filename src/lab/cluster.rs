//! The lab's cluster: a discovery server for `cluster.test.` (the zone of
//! `zones/cluster.test.zone` plus two services), and the service nodes behind it, small TCP
//! and HTTP listeners on loopback, health-checked like real ones. `tern lab` starts it beside
//! the simulated internet; its resolver reaches the discovery server through a stub zone.
//! The zone takes dynamic updates signed with a key made for the run (`Cluster::key_file`),
//! and is replicated to two secondaries (`SECONDARIES`) by NOTIFY and IXFR.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::Name;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::{LabError, bind};
use crate::acl::{Acl, TransferAcl};
use crate::authority::balance::Policy;
use crate::authority::store::{ZoneFile, ZoneStore};
use crate::config::{PrimaryZone, Replication, SecondaryZone, UpdatePolicy};
use crate::discovery::health::{Check, CheckSpec, HttpCheck};
use crate::discovery::registry::{Registration, Registry};
use crate::discovery::service::{Instance, Protocol, Service};
use crate::handler::Handler;
use crate::metrics::Metrics;
use crate::nameserver::NameServer;
use crate::server::Shutdown;
use crate::tsig::{Keyring, keytool, read_key_file};

/// The discovery server's address (port 53 in `tern lab`).
pub(crate) const DISCOVERY_SERVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 90);

const CLUSTER_ZONE: &str = include_str!("../../zones/cluster.test.zone");
const WEB_PORT: u16 = 8080;
const API_PORT: u16 = 8081;

/// The lab's secondaries of `cluster.test.` (port 53 in `tern lab`).
pub(crate) const SECONDARIES: [Ipv4Addr; 2] =
    [Ipv4Addr::new(127, 0, 0, 98), Ipv4Addr::new(127, 0, 0, 99)];

/// The key that may update `cluster.test.` in the lab.
pub(crate) const UPDATE_KEY: &str = "cluster-key";

/// The running cluster: its tasks and addresses.
pub struct Cluster {
    pub tasks: JoinSet<()>,
    pub server: SocketAddr,
    /// The BIND key file of `UPDATE_KEY`, for `nsupdate -k`.
    pub key_file: PathBuf,
    /// The secondaries' addresses.
    pub secondaries: Vec<SocketAddr>,
    /// The discovery server's services and their health, for the dashboard.
    pub registry: Arc<Registry>,
    /// The discovery server's handler: its zone and who transferred it.
    pub handler: Arc<Handler>,
}

impl Cluster {
    /// What `tern lab` prints about the cluster: questions for the resolver on `ip`:`port`, a
    /// signed update with BIND's and with Knot's client, and the secondaries following it.
    pub fn tries(&self, ip: IpAddr, port: u16) -> Vec<String> {
        let (server, key) = (self.server.ip(), self.key_file.display());
        let mut out = vec![format!(
            "the cluster: discovery server {}, web nodes 127.0.0.91-93:8080 (TCP checks, round \
             robin), api nodes 127.0.0.94-95:8081 (HTTP checks, weighted 3:1); try:",
            self.server
        )];
        for q in [
            "web.cluster.test A",
            "_web._tcp.cluster.test SRV",
            "_api._tcp.cluster.test SRV",
        ] {
            out.push(format!("  dig @{ip} -p {port} {q}"));
        }
        out.push(format!("  dig @{server} _api._tcp.cluster.test SRV"));
        out.push(
            "take a node down for 30 s (unhealthy within 2 s, out of the answers once their 5 s TTL \
             runs out; red on the dashboard):"
                .to_string(),
        );
        out.push(format!(
            "  curl -X POST 'http://127.0.0.92:{WEB_PORT}/stop?seconds=30'; dig @{ip} -p {port} \
             web.cluster.test A"
        ));
        out.push(format!(
            "register a record with a signed update (key {key}), then ask for it:"
        ));
        let update = "zone cluster.test.\\nupdate add db.cluster.test. 60 A 127.0.0.96\\nsend\\n";
        out.push(format!(
            "  printf 'server {server}\\n{update}' | nsupdate -k {key}"
        ));
        out.push(format!(
            "  printf 'server {server}\\n{update}' | knsupdate -k <(tern key knot {key})"
        ));
        out.push(format!("  dig @{ip} -p {port} db.cluster.test A"));
        let replicas: Vec<String> = self
            .secondaries
            .iter()
            .map(|s| s.ip().to_string())
            .collect();
        out.push(format!(
            "secondaries of cluster.test. on {} follow by NOTIFY and IXFR; try:",
            replicas.join(", ")
        ));
        out.push(format!("  dig @{server} cluster.test AXFR"));
        for r in &replicas {
            out.push(format!("  dig @{r} db.cluster.test A"));
        }
        out
    }
}

fn cluster_origin() -> Result<Name, LabError> {
    Name::from_ascii("cluster.test.").map_err(|e| LabError::Origin {
        origin: "cluster.test.".to_string(),
        reason: e.to_string(),
    })
}

fn node(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, last))
}

fn checked(check: Check) -> CheckSpec {
    CheckSpec {
        interval: Duration::from_secs(1),
        timeout: Duration::from_millis(500),
        ..CheckSpec::new(check)
    }
}

/// `web`: three TCP nodes, round robin; `api`: two HTTP nodes weighted 3:1.
fn services() -> Result<Vec<Registration>, LabError> {
    let zone = cluster_origin()?;
    let instance = |name: &str, last: u8, port: u16, weight: u16| Instance {
        name: name.to_string(),
        address: node(last),
        port,
        weight,
        priority: 0,
    };
    let web: Vec<Instance> = (1..=3)
        .map(|i| instance(&format!("web-{i}"), 90 + i, WEB_PORT, 1))
        .collect();
    let api = vec![
        instance("api-1", 94, API_PORT, 3),
        instance("api-2", 95, API_PORT, 1),
    ];
    let web_checks = web
        .iter()
        .map(|i| {
            let at = SocketAddr::new(i.address, i.port);
            (i.name.clone(), checked(Check::Tcp(at)))
        })
        .collect();
    let mut api_checks = HashMap::new();
    for i in &api {
        let url = format!("http://{}/health", SocketAddr::new(i.address, i.port));
        let check = url.parse::<HttpCheck>().map_err(|e| LabError::Origin {
            origin: url.clone(),
            reason: e.to_string(),
        })?;
        api_checks.insert(i.name.clone(), checked(Check::Http(check)));
    }
    let service = |name: &str, instances| Service {
        zone: zone.clone(),
        name: name.to_string(),
        protocol: Protocol::Tcp,
        ttl: 5,
        instances,
    };
    Ok(vec![
        Registration {
            service: service("web", web),
            balance: Some(Policy::RoundRobin),
            checks: web_checks,
        },
        Registration {
            service: service("api", api),
            balance: Some(Policy::Weighted),
            checks: api_checks,
        },
    ])
}

/// How long `POST /stop` takes a node down when the request does not say (`?seconds=N`).
const STOP_DEFAULT: Duration = Duration::from_secs(30);
/// The longest a node stays down.
const STOP_MAX: Duration = Duration::from_secs(3600);

/// A service node at `at`, answering every HTTP request with 200 OK (a web node's TCP check
/// only needs the connection). `POST /stop?seconds=N` closes its listener for N seconds (30
/// unless said), so a newcomer can watch its health check fail, the dashboard turn it red
/// and the discovery server stop answering it, then see it come back.
async fn service_node(
    at: SocketAddr,
    tasks: &mut JoinSet<()>,
    mut shutdown: Shutdown,
) -> Result<(), LabError> {
    let bind = move || async move {
        TcpListener::bind(at)
            .await
            .map_err(|source| LabError::Bind { addr: at, source })
    };
    let mut listener = bind().await?;
    tasks.spawn(async move {
        let (stop, mut stops) = tokio::sync::mpsc::channel(1);
        loop {
            tokio::select! {
                _ = shutdown.recv() => return,
                Some(pause) = stops.recv() => {
                    drop(listener);
                    tracing::info!(node = %at, ?pause, "lab node stopped on request");
                    tokio::select! {
                        _ = shutdown.recv() => return,
                        _ = tokio::time::sleep(pause) => {}
                    }
                    listener = match bind().await {
                        Ok(listener) => listener,
                        Err(e) => {
                            tracing::warn!(node = %at, "lab node cannot listen again: {e}");
                            return;
                        }
                    };
                }
                accepted = listener.accept() => {
                    if let Ok((conn, _)) = accepted {
                        tokio::spawn(answer(conn, stop.clone()));
                    }
                }
            }
        }
    });
    Ok(())
}

/// What a request to a node asks: `Some(pause)` to stop for that long.
fn stop_asked(request: &[u8]) -> Option<Duration> {
    let line = request.split(|&b| b == b'\r' || b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_ascii_whitespace();
    let (method, target) = (words.next()?, words.next()?);
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if method != "POST" || path != "/stop" {
        return None;
    }
    let seconds = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("seconds="))
        .and_then(|n| n.parse().ok())
        .map_or(STOP_DEFAULT, Duration::from_secs);
    Some(seconds.clamp(Duration::from_secs(1), STOP_MAX))
}

async fn answer(mut conn: TcpStream, stop: tokio::sync::mpsc::Sender<Duration>) {
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf));
    let Ok(Ok(n)) = read.await else {
        return;
    };
    // A TCP check closes without a word.
    if n == 0 {
        return;
    }
    let body = match stop_asked(&buf[..n]) {
        Some(pause) => {
            // One stop at a time; a second while it is down cannot reach it anyway.
            let _ = stop.try_send(pause);
            format!("stopping for {} s\n", pause.as_secs())
        }
        None => "ok\n".to_string(),
    };
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all((head + &body).as_bytes()).await;
}

/// Starts the nodes and the discovery server on `DISCOVERY_SERVER:port`, with health checks,
/// until `shutdown`. The zone file is written to `state` (the store reads zones from files).
pub async fn start(port: u16, state: PathBuf, shutdown: Shutdown) -> Result<Cluster, LabError> {
    let mut tasks = JoinSet::new();
    for (last, port) in [
        (91, WEB_PORT),
        (92, WEB_PORT),
        (93, WEB_PORT),
        (94, API_PORT),
        (95, API_PORT),
    ] {
        let at = SocketAddr::new(node(last), port);
        service_node(at, &mut tasks, shutdown.clone()).await?;
    }
    std::fs::create_dir_all(&state).map_err(|source| LabError::Read {
        path: state.clone(),
        source,
    })?;
    let write = |path: &PathBuf, text: &str| {
        std::fs::write(path, text).map_err(|source| LabError::Read {
            path: path.clone(),
            source,
        })
    };
    let file = state.join("cluster.test.zone");
    write(&file, CLUSTER_ZONE)?;
    let key_file = state.join(format!("{UPDATE_KEY}.key"));
    let text = keytool::generate(UPDATE_KEY, "hmac-sha256").map_err(LabError::Cluster)?;
    write(&key_file, &text)?;
    let keys = read_key_file(&key_file).map_err(|e| LabError::Cluster(e.to_string()))?;
    let key_names: Vec<Name> = keys.iter().map(|k| k.name().clone()).collect();
    let origin = cluster_origin()?;
    let zone = ZoneFile {
        journal: Some(state.join("cluster.test.zone.jnl")),
        ..ZoneFile::new(origin.clone(), file)
    };
    let store = ZoneStore::open(&[zone]).map_err(|e| LabError::Cluster(e.to_string()))?;
    let metrics = Arc::new(Metrics::default());
    let secondaries: Vec<SocketAddr> = SECONDARIES
        .iter()
        .map(|ip| SocketAddr::new(IpAddr::V4(*ip), port))
        .collect();
    let replicated = PrimaryZone {
        origin: origin.clone(),
        allow_transfer: TransferAcl {
            cidrs: Acl::loopback(),
            keys: Vec::new(),
        },
        notify: secondaries.clone(),
        notify_key: None,
    };
    let server = SocketAddr::new(IpAddr::V4(DISCOVERY_SERVER), port);
    let (udp, tcp) = bind(server).await?;
    let (running, registry) = NameServer::stored(store, services()?, metrics)
        .updates(UpdatePolicy {
            keyring: Keyring::new(keys),
            zones: vec![(origin.clone(), key_names)],
        })
        .replication(
            Replication {
                primaries: vec![replicated],
                secondaries: Vec::new(),
            },
            Keyring::default(),
            Some(IpAddr::V4(DISCOVERY_SERVER)),
        )
        .start(udp, tcp, shutdown.clone())
        .map_err(|e| LabError::Cluster(e.to_string()))?;
    let handler = running.join_into(&mut tasks);
    for (i, at) in secondaries.iter().enumerate() {
        let copy = state
            .join(format!("secondary-{}", i + 1))
            .join("cluster.test.zone");
        secondary(
            *at,
            server,
            origin.clone(),
            copy,
            &mut tasks,
            shutdown.clone(),
        )
        .await?;
    }
    Ok(Cluster {
        tasks,
        server,
        key_file,
        secondaries,
        registry,
        handler,
    })
}

/// A secondary of `cluster.test.` at `at`, pulling from `primary`; its copy kept in `copy`.
async fn secondary(
    at: SocketAddr,
    primary: SocketAddr,
    origin: Name,
    copy: PathBuf,
    tasks: &mut JoinSet<()>,
    shutdown: Shutdown,
) -> Result<(), LabError> {
    // Its journal is its copy across restarts and its history for IXFR, as a served
    // secondary's (`FILE.jnl`).
    let mut journal = copy.clone().into_os_string();
    journal.push(".jnl");
    let journal = Some(PathBuf::from(journal));
    let source = ZoneFile {
        journal: journal.clone(),
        ..ZoneFile::secondary(origin.clone(), copy.clone())
    };
    let store = ZoneStore::open(&[source]).map_err(|e| LabError::Cluster(e.to_string()))?;
    let zone = SecondaryZone {
        origin,
        primaries: vec![primary],
        file: copy,
        journal,
        key: None,
        allow_transfer: TransferAcl::default(),
        notify: Vec::new(),
        notify_key: None,
    };
    let (udp, tcp) = bind(at).await?;
    let (running, _) = NameServer::stored(store, Vec::new(), Arc::new(Metrics::default()))
        .replication(
            Replication {
                primaries: Vec::new(),
                secondaries: vec![zone],
            },
            Keyring::default(),
            Some(at.ip()),
        )
        .start(udp, tcp, shutdown)
        .map_err(|e| LabError::Cluster(e.to_string()))?;
    running.join_into(tasks);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_stops_only_on_a_post_to_stop() {
        let asked = |r: &str| stop_asked(r.as_bytes());
        assert_eq!(
            asked("POST /stop?seconds=5 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(Duration::from_secs(5))
        );
        assert_eq!(asked("POST /stop HTTP/1.1\r\n\r\n"), Some(STOP_DEFAULT));
        assert_eq!(
            asked("POST /stop?x=1&seconds=0 HTTP/1.1\r\n"),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            asked("POST /stop?seconds=99999 HTTP/1.1\r\n"),
            Some(STOP_MAX)
        );
        assert_eq!(
            asked("POST /stop?seconds=soon HTTP/1.1\r\n"),
            Some(STOP_DEFAULT)
        );
        // A health check, a GET of /stop, garbage: the node stays up.
        assert_eq!(asked("GET /health HTTP/1.1\r\n\r\n"), None);
        assert_eq!(asked("GET /stop HTTP/1.1\r\n\r\n"), None);
        assert_eq!(asked("POST /stopped HTTP/1.1\r\n"), None);
        assert_eq!(asked("\u{0}\u{1}"), None);
        assert_eq!(stop_asked(&[0xff, 0xfe, b'\n']), None);
    }
}
