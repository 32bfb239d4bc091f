//! The running side of discovery: the services registered, their health checks, and the one
//! writer that turns them into zone data. Every change (a service added or removed, an
//! instance going up or down, a zone file reloaded, an UPDATE, a transfer in) goes through the
//! zone store, which rebuilds the one zone it touches, and ends in a new catalog handed to
//! `publish`; the handler never learns where a record came from.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use hickory_proto::op::Message;
use hickory_proto::rr::{LowerName, Name, RData, Record};
use tokio::task::AbortHandle;
use tracing::{info, warn};

use super::health::{CheckSpec, HealthTable, run_checks};
use super::service::{Instance, Service, ServiceError};
use crate::authority::Catalog;
use crate::authority::balance::{Member, Policy};
use crate::authority::rules::{BalanceRules, Members, Rule};
use crate::authority::store::{Owned, Secondaries, StoreError, Updater, ZoneStore};
use crate::metrics::Metrics;
use crate::server::Shutdown;

/// A service as registered: its definition, how its answers are ordered, and how each
/// instance (by name) is checked.
#[derive(Debug, Clone)]
pub struct Registration {
    pub service: Service,
    pub balance: Option<Policy>,
    pub checks: HashMap<String, CheckSpec>,
}

impl Registration {
    /// `service` as it is: no balancing of its own, no checks.
    pub fn new(service: Service) -> Registration {
        Registration {
            service,
            balance: None,
            checks: HashMap::new(),
        }
    }

    /// Orders the service's answers with `policy`.
    pub fn balance(mut self, policy: Policy) -> Registration {
        self.balance = Some(policy);
        self
    }

    /// Adds an instance, checked with `check` if given.
    pub fn instance(mut self, instance: Instance, check: Option<CheckSpec>) -> Registration {
        if let Some(check) = check {
            self.checks.insert(instance.name.clone(), check);
        }
        self.service.instances.push(instance);
        self
    }
}

/// Why a registration was refused.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{0}")]
    Service(#[from] ServiceError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("service {0} is not registered")]
    NoSuchService(Name),
    #[error("instance {instance} of service {service} is not registered")]
    NoSuchInstance { service: Name, instance: String },
}

type Publish = Box<dyn Fn(Catalog) + Send + Sync>;

/// Services, their health, and the zone store they write to.
pub struct Registry {
    state: Mutex<State>,
    zone_balance: HashMap<LowerName, Policy>,
    health: Arc<HealthTable>,
    metrics: Arc<Metrics>,
    publish: Publish,
    checks: Mutex<Checks>,
}

/// The zones and the services writing to them, under one lock: every change to either is one
/// step of the one writer.
struct State {
    store: ZoneStore,
    services: Vec<Registration>,
}

/// The health checks running, by instance id; none before [`Registry::run`] starts them.
#[derive(Default)]
struct Checks {
    shutdown: Option<Shutdown>,
    running: HashMap<String, (CheckSpec, AbortHandle)>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Plain data; a panic elsewhere leaves nothing half-written that matters.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The id an instance has in the health table.
pub fn instance_id(service: &Service, instance: &Instance) -> String {
    service.instance_name(instance).to_ascii()
}

impl Registry {
    /// The one writer of `store` (opened, not yet served: see [`ZoneStore::open`]) with
    /// `services` registered from the start: their records and the files are served together,
    /// at one serial per zone, and published once. `zone_balance` is each zone's default
    /// ordering (`[[zone]] balance`), and `publish` receives every new catalog.
    pub fn new(
        store: ZoneStore,
        services: Vec<Registration>,
        zone_balance: HashMap<LowerName, Policy>,
        health: Arc<HealthTable>,
        metrics: Arc<Metrics>,
        publish: impl Fn(Catalog) + Send + Sync + 'static,
    ) -> Result<Arc<Registry>, RegistryError> {
        let registry = Registry {
            state: Mutex::new(State {
                store,
                services: Vec::new(),
            }),
            zone_balance,
            health,
            metrics,
            publish: Box::new(publish),
            checks: Mutex::new(Checks::default()),
        };
        {
            let mut state = lock(&registry.state);
            for registration in services {
                registration.service.validate()?;
                let host = registration.service.host();
                state.services.retain(|r| r.service.host() != host);
                state.services.push(registration);
            }
            let State { store, services } = &mut *state;
            for reg in services.iter() {
                registry.write_service(store, &reg.service)?;
            }
            let zones: Vec<Name> = store.files().map(|f| f.origin.clone()).collect();
            for zone in &zones {
                store.set_balance(zone, registry.rules(zone, services))?;
            }
            store.commit_pending()?;
            registry.publish_locked(store)?;
        }
        Ok(Arc::new(registry))
    }

    pub fn health(&self) -> &Arc<HealthTable> {
        &self.health
    }

    /// Adds (or replaces, by name and zone) a service and publishes its records.
    pub fn register(&self, registration: Registration) -> Result<(), RegistryError> {
        registration.service.validate()?;
        let mut state = lock(&self.state);
        let State { store, services } = &mut *state;
        let host = registration.service.host();
        let zone = registration.service.zone.clone();
        self.write_service(store, &registration.service)?;
        services.retain(|r| r.service.host() != host);
        services.push(registration);
        store.set_balance(&zone, self.rules(&zone, services))?;
        self.publish_locked(store)?;
        self.sync_checks(services);
        Ok(())
    }

    /// Adds an instance to a registered service (or replaces the one of that name), checked
    /// with `check` if given.
    pub fn add_instance(
        &self,
        host: &Name,
        instance: Instance,
        check: Option<CheckSpec>,
    ) -> Result<(), RegistryError> {
        let mut reg = self.registration(host)?;
        reg.service
            .instances
            .retain(|i| !i.name.eq_ignore_ascii_case(&instance.name));
        reg.checks.remove(&instance.name);
        if let Some(check) = check {
            reg.checks.insert(instance.name.clone(), check);
        }
        reg.service.instances.push(instance);
        self.register(reg)
    }

    /// Removes one instance of a registered service.
    pub fn remove_instance(&self, host: &Name, instance: &str) -> Result<(), RegistryError> {
        let mut reg = self.registration(host)?;
        let before = reg.service.instances.len();
        reg.service
            .instances
            .retain(|i| !i.name.eq_ignore_ascii_case(instance));
        if reg.service.instances.len() == before {
            return Err(RegistryError::NoSuchInstance {
                service: host.clone(),
                instance: instance.to_string(),
            });
        }
        reg.checks.remove(instance);
        self.register(reg)
    }

    fn registration(&self, host: &Name) -> Result<Registration, RegistryError> {
        lock(&self.state)
            .services
            .iter()
            .find(|r| r.service.host() == *host)
            .cloned()
            .ok_or_else(|| RegistryError::NoSuchService(host.clone()))
    }

    /// Starts the checks of instances that have none running (or a different one), and stops
    /// those of instances gone; nothing before [`Registry::run`].
    fn sync_checks(&self, services: &[Registration]) {
        let mut checks = lock(&self.checks);
        let Some(shutdown) = checks.shutdown.clone() else {
            return;
        };
        let mut wanted: HashMap<String, CheckSpec> = HashMap::new();
        for reg in services {
            for i in &reg.service.instances {
                if let Some(spec) = reg.checks.get(&i.name) {
                    wanted.insert(instance_id(&reg.service, i), spec.clone());
                }
            }
        }
        checks.running.retain(|id, (spec, handle)| {
            let keep = wanted.get(id) == Some(spec);
            if !keep {
                handle.abort();
            }
            keep
        });
        for (id, spec) in wanted {
            if checks.running.contains_key(&id) {
                continue;
            }
            let (table, mut stop) = (Arc::clone(&self.health), shutdown.clone());
            let (task_id, task_spec) = (id.clone(), spec.clone());
            let task = tokio::spawn(async move {
                let stopped = async move { stop.recv().await };
                if let Err(e) = run_checks(table, task_id.clone(), task_spec, stopped).await {
                    warn!(instance = %task_id, error = %e, "health check not started");
                }
            });
            checks.running.insert(id, (spec, task.abort_handle()));
        }
    }

    /// Removes a service and its records.
    pub fn deregister(&self, host: &Name) -> Result<(), RegistryError> {
        let mut state = lock(&self.state);
        let State { store, services } = &mut *state;
        let Some(gone) = services.iter().find(|r| r.service.host() == *host).cloned() else {
            return Err(RegistryError::NoSuchService(host.clone()));
        };
        let zone = &gone.service.zone;
        store.set_owned(zone, &gone.service.source(), Owned::default())?;
        for i in &gone.service.instances {
            self.health.remove(&instance_id(&gone.service, i));
        }
        services.retain(|r| r.service.host() != *host);
        store.set_balance(zone, self.rules(zone, services))?;
        self.publish_locked(store)?;
        self.sync_checks(services);
        Ok(())
    }

    /// Marks an instance healthy or not by hand, as an operator or a test would.
    pub fn set_healthy(
        &self,
        host: &Name,
        instance: &str,
        healthy: bool,
    ) -> Result<(), RegistryError> {
        let id = {
            let state = lock(&self.state);
            let reg = state
                .services
                .iter()
                .find(|r| r.service.host() == *host)
                .ok_or_else(|| RegistryError::NoSuchService(host.clone()))?;
            let i = reg
                .service
                .instances
                .iter()
                .find(|i| i.name.eq_ignore_ascii_case(instance))
                .ok_or_else(|| RegistryError::NoSuchInstance {
                    service: host.clone(),
                    instance: instance.to_string(),
                })?;
            instance_id(&reg.service, i)
        };
        self.health.set_healthy(&id, healthy);
        self.refresh()
    }

    /// Every registered service.
    pub fn services(&self) -> Vec<Registration> {
        lock(&self.state).services.clone()
    }

    /// Re-reads the zone files, keeping every service's records (SIGHUP). All or nothing.
    pub fn reload(&self) -> Result<(), RegistryError> {
        let mut state = lock(&self.state);
        state.store.reload().map_err(StoreError::from)?;
        self.publish_locked(&state.store)?;
        Ok(())
    }

    /// Rewrites every service's records from the current health; publishes when a zone
    /// changed. Only the zones whose records changed are rebuilt.
    pub fn refresh(&self) -> Result<(), RegistryError> {
        let mut state = lock(&self.state);
        let State { store, services } = &mut *state;
        let mut changed = false;
        for reg in services.iter() {
            changed |= self.write_service(store, &reg.service)?;
        }
        if changed {
            self.publish_locked(store)?;
        }
        Ok(())
    }

    /// Writes one service's records as its instances' health has them; true when its zone
    /// changed.
    fn write_service(&self, store: &mut ZoneStore, s: &Service) -> Result<bool, StoreError> {
        let (owned, failed_open) = s.records(&|i| self.health.is_healthy(&instance_id(s, i)));
        if failed_open {
            Metrics::inc(&self.metrics.services_failed_open);
            warn!(service = %s.host(), instances = s.instances.len(), "every instance fails its check: answering with all of them (fail open)");
        }
        store.set_owned(&s.zone, &s.source(), owned)
    }

    /// How `zone`'s answers are ordered: its services' policies (or the zone's default) over
    /// their instances.
    fn rules(&self, zone: &Name, services: &[Registration]) -> BalanceRules {
        let default = self.zone_balance.get(&LowerName::new(zone)).copied();
        let rules = services
            .iter()
            .filter(|r| r.service.zone == *zone)
            .filter_map(|r| {
                let policy = r.balance.or(default)?;
                Some(Rule {
                    names: vec![
                        LowerName::new(&r.service.host()),
                        LowerName::new(&r.service.srv_name()),
                    ],
                    policy,
                    members: Some(
                        Arc::new(ServiceMembers::new(&r.service, &self.health)) as Arc<dyn Members>
                    ),
                })
            })
            .collect();
        BalanceRules { default, rules }
    }

    /// Hands the zones served now to `publish`.
    fn publish_locked(&self, store: &ZoneStore) -> Result<(), StoreError> {
        let catalog = store.catalog()?;
        (self.publish)(catalog);
        Ok(())
    }

    /// Runs every registered instance's health check (and those registered later), and
    /// rewrites the zones whenever an instance goes up or down, until `shutdown`.
    pub async fn run(self: Arc<Self>, mut shutdown: Shutdown) {
        lock(&self.checks).shutdown = Some(shutdown.clone());
        self.sync_checks(&self.services());
        let mut changes = self.health.subscribe();
        loop {
            tokio::select! {
                _ = shutdown.recv() => break,
                changed = changes.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    if let Err(e) = self.refresh() {
                        warn!(error = %e, "service records not rewritten");
                    } else {
                        info!(version = *changes.borrow(), "service records rewritten after a health change");
                    }
                }
            }
        }
        let mut checks = lock(&self.checks);
        checks.shutdown = None;
        for (_, (_, handle)) in checks.running.drain() {
            handle.abort();
        }
    }
}

/// Dynamic updates go through the same writer as services and reloads, so each change builds
/// on all the others.
impl Updater for Registry {
    fn update(&self, zone: &Name, update: &Message) -> Result<u32, StoreError> {
        let mut state = lock(&self.state);
        let serial = state.store.update(zone, update)?;
        // The change is durable already; were the publish to fail, it goes out with the next
        // one, and the client hears that it is not served yet.
        if let Err(e) = self.publish_locked(&state.store) {
            warn!(zone = %zone, error = %e, "update journaled but not published");
            return Err(e);
        }
        Ok(serial)
    }
}

/// Transfers into secondary zones go through the same writer too: one catalog, one publish.
impl Secondaries for Registry {
    fn transfer_in(&self, zone: &Name, records: Vec<Record>) -> Result<u32, StoreError> {
        let mut state = lock(&self.state);
        let serial = state.store.transfer_in(zone, records)?;
        self.publish_locked(&state.store)?;
        Ok(serial)
    }

    fn set_available(&self, zone: &Name, available: bool) -> Result<(), StoreError> {
        let mut state = lock(&self.state);
        state.store.set_available(zone, available)?;
        self.publish_locked(&state.store)
    }

    fn records(&self, zone: &Name) -> Option<Vec<Record>> {
        lock(&self.state).store.records(zone)
    }
}

/// A service's members for the balancer: configured weights, and RTTs from the health table.
#[derive(Debug)]
struct ServiceMembers {
    by_address: HashMap<IpAddr, (u32, String)>,
    by_target: HashMap<LowerName, (u32, String)>,
    health: Arc<HealthTable>,
}

impl ServiceMembers {
    fn new(service: &Service, health: &Arc<HealthTable>) -> ServiceMembers {
        let mut by_address = HashMap::new();
        let mut by_target = HashMap::new();
        for i in &service.instances {
            let id = instance_id(service, i);
            by_address
                .entry(i.address)
                .or_insert((u32::from(i.weight), id.clone()));
            by_target.insert(
                LowerName::new(&service.instance_name(i)),
                (u32::from(i.weight), id),
            );
        }
        ServiceMembers {
            by_address,
            by_target,
            health: Arc::clone(health),
        }
    }
}

impl Members for ServiceMembers {
    fn member(&self, record: &Record) -> Member {
        let found = match &record.data {
            RData::A(a) => self.by_address.get(&IpAddr::V4(a.0)),
            RData::AAAA(a) => self.by_address.get(&IpAddr::V6(a.0)),
            RData::SRV(srv) => self.by_target.get(&LowerName::new(&srv.target)),
            _ => None,
        };
        match found {
            Some((weight, id)) => Member {
                weight: *weight,
                rtt: self.health.get(id).and_then(|h| h.rtt),
            },
            None => Member::default(),
        }
    }
}
