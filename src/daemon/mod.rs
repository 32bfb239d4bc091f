//! `tern serve` wired together: the one place that builds every part from a [`Config`] and
//! runs them until a signal. Like `lab`, this is wiring: it may import anything.

mod dashboard;
mod lab;
mod observe;
mod ready;
mod tls;

pub use self::lab::{LabResolver, start_lab_resolver};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hickory_proto::rr::Name;
use tokio::net::{TcpListener, UdpSocket};

use crate::authority::Catalog;
use crate::authority::store::{ZoneFile, ZoneStore};
use crate::cache::Cache;
use crate::cache::persist::FileOp;
use crate::config::{Config, ZoneConfig};
use crate::discovery::registry::Registry;
use crate::dnssec::anchor::Anchors;
use crate::handler::{HandlerConfig, Recursion};
use crate::metrics::Metrics;
use crate::nameserver::{ListenerLimits, NameServer, Running};
use crate::resolver::validate::Validator;
use crate::resolver::{NetUpstream, Resolver, ServerSet, TraceSink, hints};
use crate::server::{Shutdown, TcpLimits, shutdown};
use crate::signals::Signals;

/// A zone origin from the command line or config, made fully qualified.
pub fn parse_origin(origin: &str) -> Result<Name, String> {
    let mut name = Name::from_ascii(origin).map_err(|e| format!("bad origin {origin}: {e}"))?;
    name.set_fqdn(true);
    Ok(name)
}

pub(crate) fn zone_files(zones: &[ZoneConfig]) -> Result<Vec<ZoneFile>, String> {
    zones
        .iter()
        .map(|z| {
            Ok(ZoneFile {
                origin: parse_origin(&z.origin)?,
                file: z.file.clone(),
                journal: z.journal_path(),
                secondary: z.is_secondary(),
            })
        })
        .collect()
}

/// Binds every listen address: `workers` UDP sockets each (SO_REUSEPORT), one TCP listener.
pub async fn bind(
    addrs: &[SocketAddr],
    workers: usize,
) -> Result<(Vec<UdpSocket>, Vec<TcpListener>), String> {
    let mut udp = Vec::new();
    let mut tcp = Vec::new();
    for addr in addrs {
        let failed = |proto: &str, e: std::io::Error| {
            format!("{proto} {}", crate::net::bind_error(*addr, &e))
        };
        udp.extend(crate::server::bind_udp(*addr, workers).map_err(|e| failed("udp", e))?);
        tcp.push(
            TcpListener::bind(addr)
                .await
                .map_err(|e| failed("tcp", e))?,
        );
    }
    Ok((udp, tcp))
}

/// Runs `tern serve` with `config` until SIGTERM or SIGINT: binds, loads the zones, starts
/// the resolver, services, replication and the listeners, then prints the counters.
pub async fn run(config: Config) -> Result<(), String> {
    // First: from here on SIGHUP and SIGTERM are ours, not the default action (death).
    let signals = Signals::install().map_err(|e| format!("cannot handle signals: {e}"))?;
    let limits = config.server_limits().map_err(|e| e.to_string())?;
    // Opened, not served yet: the registry serves the files and the services together.
    let store = ZoneStore::open(&zone_files(&config.zones)?).map_err(|e| e.to_string())?;
    let services = config.services().map_err(|e| e.to_string())?;
    let zone_balance = config.zone_balance().map_err(|e| e.to_string())?;
    let policy = config.update_policy().map_err(|e| e.to_string())?;
    // The [[tsig_key]] files, read once: updates, transfers and NOTIFY all check against them.
    let keyring = policy.keyring.clone();
    let (udp, tcp) = bind(&config.server.listen, limits.threads).await?;
    let tls = tls::bind(&config).await?;
    let metrics_listener = observe::bind_metrics(&config).await?;
    let metrics = Arc::new(Metrics::default());
    let persist = config.cache_persist().map_err(|e| e.to_string())?;
    if persist.is_some() && config.server.no_recursion {
        tracing::warn!("[cache] persist keeps the resolver's cache, and recursion is off: no file");
    }
    // For `tern ctl`: the resolver's cache and the zones answered without configuration.
    let mut cache = None;
    let mut builtin = Vec::new();
    let (trigger, signal) = shutdown::channel();
    let replication = config.replication(&keyring).map_err(|e| e.to_string())?;
    let notify_targets = dashboard::notify_targets(&replication);
    // Replication traffic leaves from our first listen address, the one peers know us by.
    let source = config
        .server
        .listen
        .first()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified());
    let tcp_limits = TcpLimits {
        idle_timeout: Duration::from_millis(limits.tcp_idle_timeout_ms),
        max_connections: limits.tcp_max_connections,
        pipeline_depth: limits.tcp_pipeline_depth,
        max_per_prefix: limits.tcp_max_connections_per_prefix,
        ipv4_prefix: limits.tcp_ipv4_prefix,
        ipv6_prefix: limits.tcp_ipv6_prefix,
    };
    let mut node = NameServer::stored(store, services, Arc::clone(&metrics))
        .zone_balance(zone_balance)
        .config(HandlerConfig {
            edns_payload: limits.edns_udp_payload,
            identity: config.identity(),
            cookies: config.server_cookies().map_err(|e| e.to_string())?,
            minimal_responses: config.server.minimal_responses(),
        })
        .updates(policy)
        .replication(replication, keyring, source)
        .rate_limits(rate_limits(&config)?)
        .listener_limits(ListenerLimits {
            tcp: tcp_limits,
            udp_max_in_flight: limits.udp_max_in_flight,
            udp_rcvbuf: limits.udp_rcvbuf,
            udp_busy_poll_us: limits.udp_busy_poll_us,
        });
    let secondary = node.secondary();
    let query_log = observe::query_log(&config, &metrics)?;
    if let Some(log) = &query_log {
        node = node.query_log(log.clone());
    }
    if !config.server.no_recursion {
        let hints = load_hints(config.recursion.root_hints.as_deref())?;
        // The addresses as bound (port 0 resolved), for the forwarding-loop guard.
        let mut bound: Vec<SocketAddr> = udp
            .iter()
            .filter_map(|s| s.local_addr().ok())
            .chain(tcp.iter().filter_map(|s| s.local_addr().ok()))
            // A TLS or HTTPS forwarder on our own DoT or DoH listener is a loop too.
            .chain(config.tls.listen.iter().copied())
            .chain(config.tls.https_listen.iter().copied())
            .collect();
        bound.sort();
        bound.dedup();
        let resolver = build_resolver_on(&config, &bound, hints, &metrics, None)?;
        cache = Some(Arc::clone(resolver.cache()));
        if let Some((file, _)) = &persist {
            // Before the first query, which then finds what the file holds.
            let (cache, file) = (Arc::clone(resolver.cache()), file.clone());
            let _ = tokio::task::spawn_blocking(move || {
                let now = tokio::time::Instant::now();
                cache.save_or_load(FileOp::Load, &file, now, SystemTime::now())
            })
            .await;
        }
        let acl = config.acl().map_err(|e| e.to_string())?;
        let snoop = config.snoop_acl().map_err(|e| e.to_string())?;
        node = node.recursion(Recursion {
            resolver,
            acl,
            snoop,
        });
        if config.recursion.default_local_zones != Some(false) {
            let configured: Vec<Name> = zone_files(&config.zones)?
                .into_iter()
                .map(|z| z.origin)
                .collect();
            let zones = builtin_zones(|o| configured.contains(o))?;
            builtin = zones
                .zones()
                .map(|z| (z.origin().clone(), z.serial()))
                .collect();
            node = node.builtin_zones(zones);
        }
    }
    // Every change to the zones (services, health, SIGHUP reloads, UPDATEs, transfers) goes
    // through the registry, which hands the handler each new catalog.
    let (running, registry) = node
        .start(udp, tcp, signal.clone())
        .map_err(|e| e.to_string())?;
    let Running {
        handler,
        tasks: mut running,
    } = running;
    for addr in &config.server.listen {
        tracing::info!(%addr, "serving");
    }
    let certificates = tls.map(|tls| tls.serve(&handler, tcp_limits, &signal, &mut running));
    if let Some(listener) = metrics_listener {
        let parts = dashboard::Parts {
            handler: Arc::clone(&handler),
            resolver: handler.resolver().cloned(),
            cache: cache.clone(),
            registry: Arc::clone(&registry),
            zone_sources: dashboard::zone_sources(&config.zones)?,
            builtin: builtin.clone(),
            recent: query_log.as_ref().map(|l| l.recent()),
            secondary,
            notify_targets,
        };
        observe::serve_metrics(listener, &config, &metrics, parts, signal.clone())?;
    }
    let persisting = match (persist, &cache) {
        (Some((file, every)), Some(cache)) => {
            let saver = keep_saving(Arc::clone(cache), file.clone(), every, signal.clone());
            Some((tokio::spawn(saver), Arc::clone(cache), file))
        }
        _ => None,
    };
    let control = match &config.control.socket {
        Some(path) => Some(
            crate::control::server::start(
                path,
                crate::control::Control {
                    handler: Arc::clone(&handler),
                    registry: Arc::clone(&registry),
                    metrics: Arc::clone(&metrics),
                    cache,
                    zone_sources: dashboard::zone_sources(&config.zones)?,
                    builtin,
                    tls: certificates.clone(),
                    query_log: query_log.clone(),
                },
                signal,
            )
            .map_err(|e| e.to_string())?,
        ),
        None => None,
    };
    // Sockets bound, zones loaded, control socket up: a Type=notify unit counts as started.
    ready::notify("READY=1");
    signals
        .run_until_stopped(|| {
            reload(&registry);
            if let Some(certificates) = &certificates {
                tls::reload(certificates);
            }
            // After logrotate moved the file: lines go to a new one from here on.
            if let Some(log) = &query_log {
                log.reopen();
            }
        })
        .await;
    tracing::info!("shutting down");
    ready::notify("STOPPING=1");
    trigger.fire();
    while running.join_next().await.is_some() {}
    if let Some(control) = control {
        let _ = control.await;
    }
    if let Some((saver, cache, file)) = persisting {
        // Last, once nothing answers any more: the file holds the cache as it ended.
        let _ = saver.await;
        save(cache, file).await;
    }
    if let Some(log) = query_log {
        // The last queries' lines, written before we go. The listeners have stopped (a UDP
        // lookup still in flight ended with its socket's thread, unanswered and unlogged),
        // but a TCP connection's task may still answer and log after this sync: its line can
        // be lost. Not drained: a line or two at shutdown.
        let _ = tokio::task::spawn_blocking(move || log.sync(Duration::from_secs(2))).await;
    }
    eprint!("{metrics}");
    Ok(())
}

/// `[cache] persist`: the cache written every `every` until `shutdown` (the last write, once
/// the listeners have stopped, is `run`'s), so a crash loses at most that much.
async fn keep_saving(cache: Arc<Cache>, file: PathBuf, every: Duration, mut shutdown: Shutdown) {
    let start = tokio::time::Instant::now() + every;
    let mut ticks = tokio::time::interval_at(start, every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.recv() => return,
            _ = ticks.tick() => save(Arc::clone(&cache), file.clone()).await,
        }
    }
}

/// Writes the cache to `file` off the async workers; a failure is logged and the next write
/// tries again.
async fn save(cache: Arc<Cache>, file: PathBuf) {
    let _ = tokio::task::spawn_blocking(move || {
        let now = tokio::time::Instant::now();
        cache.save_or_load(FileOp::Save, &file, now, SystemTime::now())
    })
    .await;
}

/// SIGHUP: every zone file read again (services keep their records); a broken file is
/// reported and the zones in service stay as they were.
fn reload(registry: &Registry) {
    match registry.zones().reload() {
        Ok(()) => tracing::info!("zones reloaded"),
        Err(e) => {
            for line in e.to_string().lines() {
                tracing::error!("{line}");
            }
            tracing::error!("reload failed; still serving the previous zones");
        }
    }
}

/// Where each configured zone's data comes from, as `tern ctl zones` shows it.
/// `[rate_limit]` and `[rrl]`, each off unless its rate is set.
fn rate_limits(config: &Config) -> Result<crate::ratelimit::Limits, String> {
    use crate::ratelimit::{QueryLimiter, Rrl};
    let queries = config.query_limit().map_err(|e| e.to_string())?;
    let rrl = config.rrl().map_err(|e| e.to_string())?;
    if let Some(q) = &queries {
        if config.server.no_recursion {
            tracing::warn!("[rate_limit] limits recursion, and recursion is off: it does nothing");
        }
        tracing::info!(qps = q.queries_per_second, burst = q.burst, action = ?q.action, "query rate limit on");
    }
    if let Some(r) = &rrl {
        tracing::info!(
            rps = r.responses_per_second,
            window = r.window,
            slip = r.slip,
            "response rate limiting on"
        );
    }
    Ok(crate::ratelimit::Limits {
        queries: queries.as_ref().map(QueryLimiter::new),
        rrl: rrl.as_ref().map(Rrl::new),
    })
}

/// The zones a resolver answers itself (`localhost.`, `invalid.`, private reverse zones),
/// less those `configured` replaces.
pub fn builtin_zones(configured: impl Fn(&Name) -> bool) -> Result<Catalog, String> {
    let zones =
        crate::authority::builtin::default_local_zones(configured).map_err(|e| e.to_string())?;
    Catalog::new(zones).map_err(|e| e.to_string())
}

pub fn load_hints(path: Option<&std::path::Path>) -> Result<ServerSet, String> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            hints::parse(&text, p).map_err(|e| e.to_string())
        }
        None => hints::parse(hints::IANA_ROOT_HINTS, std::path::Path::new("root.hints"))
            .map_err(|e| e.to_string()),
    }
}

/// The resolver `config` describes, not yet shared: `NameServer::recursion` completes it with
/// the served zones' delegations; alone (`tern resolve`), put it in an `Arc` as it is.
pub fn build_resolver(
    config: &Config,
    hints: ServerSet,
    metrics: &Arc<Metrics>,
    trace: Option<TraceSink>,
) -> Result<Resolver, String> {
    build_resolver_on(config, &config.server.listen, hints, metrics, trace)
}

/// [`build_resolver`] for a server listening on `listen` (the bound addresses): never asks
/// those.
pub(crate) fn build_resolver_on(
    config: &Config,
    listen: &[SocketAddr],
    hints: ServerSet,
    metrics: &Arc<Metrics>,
    trace: Option<TraceSink>,
) -> Result<Resolver, String> {
    let cache = Arc::new(Cache::new(
        config.cache_policy().map_err(|e| e.to_string())?,
    ));
    let mut rc = config.resolver_config().map_err(|e| e.to_string())?;
    let validator = validator(config, trace.is_some())?;
    rc.trace = trace;
    let resolver = Resolver::new(
        Arc::new(NetUpstream::new(config.upstream_cookies())),
        hints,
        cache,
        rc,
        Arc::clone(metrics),
    )
    // Never ask ourselves: a name server on one of our listeners is a loop.
    .with_listeners(listen);
    Ok(match validator {
        Some(v) => resolver.with_validator(v),
        None => resolver,
    })
}

/// The DNSSEC validator `config` asks for: the anchors of `[dnssec] trust_anchor`, else the
/// compiled-in IANA root anchors when the walk starts at the built-in root hints; none with
/// `validate = false`, or with custom root hints and no anchor (said once in the log). With
/// `traced`, the validator's checks are printed as `tern resolve --trace` lines.
fn validator(config: &Config, traced: bool) -> Result<Option<Validator>, String> {
    let dnssec = &config.dnssec;
    if dnssec.validate == Some(false) {
        tracing::info!("DNSSEC validation is off ([dnssec] validate = false)");
        return Ok(None);
    }
    let anchors = match (&dnssec.trust_anchor, &config.recursion.root_hints) {
        (Some(file), _) => Anchors::from_file(file).map_err(|e| e.to_string())?,
        (None, None) => Anchors::builtin(),
        (None, Some(hints)) => {
            tracing::info!(hints = %hints.display(), "DNSSEC validation is off: custom root hints and no trust anchor ([dnssec] trust_anchor)");
            return Ok(None);
        }
    };
    let mut negative = Vec::new();
    for n in &dnssec.negative_trust_anchors {
        negative
            .push(parse_origin(n).map_err(|e| format!("[dnssec] negative_trust_anchors: {e}"))?);
    }
    // A stub zone is reached around the hierarchy, so the signed parent cannot vouch for it
    // (its NSEC may even deny the name): insecure, as Unbound wants `domain-insecure:` for its
    // stub zones under a signed parent.
    for stub in &config.stubs {
        negative.push(parse_origin(&stub.zone).map_err(|e| format!("[[stub]] {e}"))?);
    }
    let mut validator = Validator::new(anchors, negative);
    if traced {
        validator = validator.with_trace(Arc::new(|line: &str| println!(";; {line}")));
    }
    Ok(Some(validator))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{Scratch, name};

    #[tokio::test(start_paused = true)]
    async fn the_cache_is_written_every_interval_until_shutdown() {
        use crate::cache::{CachePolicy, Data, Key, Rank};
        use hickory_proto::rr::{RData, Record, RecordType, rdata::A};
        let dir = Scratch::new("daemon-persist");
        let file = dir.join("cache.bin");
        let cache = Arc::new(Cache::new(CachePolicy::default()));
        let owner = name("www.test.");
        let record = Record::from_rdata(owner.clone(), 3600, RData::A(A::new(192, 0, 2, 1)));
        let data = Data::Positive(vec![record]);
        let now = tokio::time::Instant::now();
        let key = Key::new(&owner, RecordType::A);
        assert!(cache.insert(key, data, 3600, Rank::Authoritative, now));
        let (trigger, signal) = shutdown::channel();
        let every = Duration::from_secs(300);
        let task = tokio::spawn(keep_saving(Arc::clone(&cache), file.clone(), every, signal));
        tokio::time::sleep(Duration::from_secs(299)).await;
        assert!(!file.exists(), "not before the first interval");
        tokio::time::sleep(Duration::from_secs(2)).await;
        std::fs::remove_file(&file).expect("written at 300 s");
        tokio::time::sleep(Duration::from_secs(300)).await;
        assert!(file.exists(), "written again at 600 s");
        trigger.fire();
        task.await.expect("stops at shutdown");
        let reread = Cache::new(CachePolicy::default());
        let loaded = reread.load(&file, tokio::time::Instant::now(), SystemTime::now());
        assert_eq!(loaded.expect("loads").restored, 1);
    }

    /// Negative trust anchors from the config, and every stub zone, are insecure; other names
    /// are not. With custom root hints and no anchor there is no validator at all.
    #[test]
    fn stub_zones_and_ntas_are_insecure_and_custom_hints_need_an_anchor() {
        let dir = Scratch::new("daemon-nta");
        let anchor = dir.join("root.anchor");
        let ds = ". 86400 IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
        std::fs::write(&anchor, ds).expect("anchor");
        let mut config = Config::default();
        config.recursion.root_hints = Some(dir.join("root.hints"));
        assert!(validator(&config, false).expect("valid").is_none());
        config.dnssec.trust_anchor = Some(anchor);
        config.dnssec.negative_trust_anchors = vec!["broken.test.".to_string()];
        config.stubs.push(crate::config::StubConfig {
            zone: "cluster.test.".to_string(),
            servers: vec!["127.0.0.90:53".parse().expect("addr")],
        });
        let v = validator(&config, false).expect("valid").expect("on");
        assert!(v.under_negative_anchor(&name("www.broken.test.")));
        assert!(v.under_negative_anchor(&name("web.cluster.test.")));
        assert!(!v.under_negative_anchor(&name("www.secure.test.")));
        config.dnssec.validate = Some(false);
        assert!(validator(&config, false).expect("valid").is_none());
    }
}
