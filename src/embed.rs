//! Embedding tern: a discovery server started from a Rust program or test, with services
//! registered, deregistered and marked up or down while it runs.
//!
//! ```
//! use std::net::{IpAddr, Ipv4Addr};
//! use tern::embed::{Builder, Instance, Registration, Service};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let zone = "$TTL 300\n@ SOA ns hostmaster 1 3600 600 86400 300\n@ NS ns\nns A 127.0.0.1\n";
//! let web = Service::new("cluster.test.", "web")?;
//! let running = Builder::new()
//!     .listen("127.0.0.1:0".parse()?)
//!     .zone_text("cluster.test.", zone)
//!     .service(Registration::new(web))
//!     .start()
//!     .await?;
//! let node = Instance::new("web-1", IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);
//! running.add_instance("web.cluster.test.", node, None)?;
//! assert_eq!(running.services()[0].service.instances.len(), 1);
//! running.set_healthy("web.cluster.test.", "web-1", false)?;
//! running.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use hickory_proto::rr::Name;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinSet;

pub use crate::authority::balance::Policy;
pub use crate::discovery::health::{Check, CheckSpec, Health};
pub use crate::discovery::registry::{Registration, RegistryError};
pub use crate::discovery::service::{Instance, Service};

use crate::authority::store::{ZoneFile, ZoneStore};
use crate::discovery::registry::{Registry, instance_id};
use crate::metrics::Metrics;
use crate::nameserver::{NameServer, NameServerError};
use crate::server::{ShutdownTrigger, shutdown};

/// Why an embedded server did not start, or a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("{0:?} is not a domain name: {1}")]
    Name(String, String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Zones(String),
    #[error("{0}")]
    Registry(#[from] RegistryError),
    #[error("no listen address given")]
    NoListener,
}

impl From<NameServerError> for EmbedError {
    fn from(e: NameServerError) -> EmbedError {
        match e {
            NameServerError::Registry(e) => EmbedError::Registry(e),
            NameServerError::Listeners(e) => EmbedError::Io(e),
        }
    }
}

fn name(s: &str) -> Result<Name, EmbedError> {
    let mut n = Name::from_ascii(s).map_err(|e| EmbedError::Name(s.to_string(), e.to_string()))?;
    n.set_fqdn(true);
    Ok(n)
}

enum ZoneData {
    File(PathBuf),
    Text(String),
}

/// What to start: listen addresses, zones, services.
#[derive(Default)]
pub struct Builder {
    listen: Vec<SocketAddr>,
    zones: Vec<(String, ZoneData)>,
    services: Vec<Registration>,
}

/// A running embedded server; stops on [`Running::shutdown`] (or when dropped, without waiting).
pub struct Running {
    addrs: Vec<SocketAddr>,
    registry: Arc<Registry>,
    trigger: Option<ShutdownTrigger>,
    tasks: JoinSet<()>,
    state: PathBuf,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Serves UDP and TCP on `addr` (port 0: a free port, the same for both).
    pub fn listen(mut self, addr: SocketAddr) -> Builder {
        self.listen.push(addr);
        self
    }

    /// Serves the zone `origin` from a zone file.
    pub fn zone_file(mut self, origin: &str, path: impl Into<PathBuf>) -> Builder {
        self.zones
            .push((origin.to_string(), ZoneData::File(path.into())));
        self
    }

    /// Serves the zone `origin` from zone-file text.
    pub fn zone_text(mut self, origin: &str, text: &str) -> Builder {
        self.zones
            .push((origin.to_string(), ZoneData::Text(text.to_string())));
        self
    }

    /// Registers a service in one of the zones.
    pub fn service(mut self, registration: Registration) -> Builder {
        self.services.push(registration);
        self
    }

    /// Loads the zones, registers the services, binds the sockets and starts serving and
    /// health-checking. Each UDP socket is served by a thread of its own with its own tokio
    /// runtime (as in `tern serve`), so a paused clock of the caller's runtime does not apply
    /// to UDP answers.
    pub async fn start(self) -> Result<Running, EmbedError> {
        if self.listen.is_empty() {
            return Err(EmbedError::NoListener);
        }
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let state = std::env::temp_dir().join(format!("tern-embed-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&state)?;
        let mut files = Vec::new();
        for (i, (origin, data)) in self.zones.into_iter().enumerate() {
            let file = match data {
                ZoneData::File(path) => path,
                ZoneData::Text(text) => {
                    let path = state.join(format!("zone-{i}"));
                    std::fs::write(&path, text)?;
                    path
                }
            };
            files.push(ZoneFile::new(name(&origin)?, file));
        }
        let store = ZoneStore::open(&files).map_err(|e| EmbedError::Zones(e.to_string()))?;
        let (mut udp, mut tcp, mut addrs) = (Vec::new(), Vec::new(), Vec::new());
        for addr in self.listen {
            let (u, t) = bind_pair(addr).await?;
            addrs.push(u.local_addr()?);
            udp.push(u);
            tcp.push(t);
        }
        let (trigger, signal) = shutdown::channel();
        let (running, registry) =
            NameServer::stored(store, self.services, Arc::new(Metrics::default()))
                .start(udp, tcp, signal)?;
        let tasks = running.tasks;
        Ok(Running {
            addrs,
            registry,
            trigger: Some(trigger),
            tasks,
            state,
        })
    }
}

/// UDP and TCP on one address; with port 0, until both get the same port.
async fn bind_pair(addr: SocketAddr) -> std::io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    for _ in 0..50 {
        let udp = UdpSocket::bind(addr).await?;
        match TcpListener::bind(udp.local_addr()?).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no port free for UDP and TCP")))
}

impl Running {
    /// The first address served (with the port chosen for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Adds (or replaces) an instance of the service `host` (`NAME.ZONE`), checked with
    /// `check` if given.
    pub fn add_instance(
        &self,
        host: &str,
        instance: Instance,
        check: Option<CheckSpec>,
    ) -> Result<(), EmbedError> {
        Ok(self.registry.add_instance(&name(host)?, instance, check)?)
    }

    /// Removes an instance of the service `host`.
    pub fn remove_instance(&self, host: &str, instance: &str) -> Result<(), EmbedError> {
        Ok(self.registry.remove_instance(&name(host)?, instance)?)
    }

    /// Registers (or replaces) a whole service.
    pub fn register(&self, registration: Registration) -> Result<(), EmbedError> {
        Ok(self.registry.register(registration)?)
    }

    /// Removes a service and its records.
    pub fn deregister(&self, host: &str) -> Result<(), EmbedError> {
        Ok(self.registry.deregister(&name(host)?)?)
    }

    /// Marks an instance up or down by hand; its checks, if any, carry on from there.
    pub fn set_healthy(&self, host: &str, instance: &str, healthy: bool) -> Result<(), EmbedError> {
        Ok(self.registry.set_healthy(&name(host)?, instance, healthy)?)
    }

    /// What is registered now.
    pub fn services(&self) -> Vec<Registration> {
        self.registry.services()
    }

    /// The health of one instance, as its checks (or [`Running::set_healthy`]) left it.
    pub fn health(&self, host: &str, instance: &str) -> Option<Health> {
        let host = name(host).ok()?;
        let reg = self
            .services()
            .into_iter()
            .find(|r| r.service.host() == host)?;
        let i = reg
            .service
            .instances
            .iter()
            .find(|i| i.name.eq_ignore_ascii_case(instance))?;
        self.registry.health().get(&instance_id(&reg.service, i))
    }

    /// Stops serving and checking, and waits until everything has stopped.
    pub async fn shutdown(mut self) {
        if let Some(trigger) = self.trigger.take() {
            trigger.fire();
        }
        while self.tasks.join_next().await.is_some() {}
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(trigger) = self.trigger.take() {
            trigger.fire();
        }
        let _ = std::fs::remove_dir_all(&self.state);
    }
}
