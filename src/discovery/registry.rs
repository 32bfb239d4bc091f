//! The running side of discovery: the services registered and their health checks. Discovery
//! only emits records: each service's names and addresses as its instances' health has them,
//! handed to the zones' one writer ([`ZoneOwner`], in `authority`), which rebuilds the zone
//! they belong to and publishes; the handler never learns where a record came from.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use hickory_proto::rr::{LowerName, Name};
use tokio::task::AbortHandle;
use tracing::{info, warn};

use super::health::{CheckSpec, HealthTable, run_checks};
use super::members::ServiceMembers;
use super::service::{Instance, Service, ServiceError};
use crate::authority::balance::Policy;
use crate::authority::rules::{BalanceRules, Members, Rule};
use crate::authority::store::{Owned, StoreError, ZoneOwner, ZoneStore};
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
    /// A health check that could not run: taken, the instance would go unchecked.
    #[error("health check of instance {instance} of service {service}: {reason}")]
    Check {
        service: Box<Name>,
        instance: String,
        reason: String,
    },
}

impl Registration {
    /// The service's names, and every check within its bounds: a check refused here would
    /// otherwise only fail to start, leaving its instance in the answers unchecked.
    fn validate(&self) -> Result<(), RegistryError> {
        self.service.validate()?;
        for (instance, check) in &self.checks {
            check.validate().map_err(|e| RegistryError::Check {
                service: Box::new(self.service.host()),
                instance: instance.clone(),
                reason: e.to_string(),
            })?;
        }
        Ok(())
    }
}

/// Services, their health, and the zones' writer they hand their records to.
pub struct Registry {
    /// Locked before the owner's store, never after: a registration and the records it
    /// writes are one step.
    services: Mutex<Vec<Registration>>,
    zones: Arc<ZoneOwner>,
    zone_balance: HashMap<LowerName, Policy>,
    health: Arc<HealthTable>,
    metrics: Arc<Metrics>,
    checks: Mutex<Checks>,
    /// The services (by store source) answering with every instance because none is healthy:
    /// a service is counted and logged when it enters this state, not at every rewrite.
    failing_open: Mutex<HashSet<String>>,
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
pub(crate) fn instance_id(service: &Service, instance: &Instance) -> String {
    service.instance_name(instance).to_ascii()
}

impl Registry {
    /// `services` registered from the start, writing to `zones` (whose store is opened, not
    /// yet served: see [`ZoneStore::open`]): their records and the files are served together,
    /// at one serial per zone, and published once. `zone_balance` is each zone's default
    /// ordering (`[[zone]] balance`).
    pub(crate) fn new(
        zones: Arc<ZoneOwner>,
        services: Vec<Registration>,
        zone_balance: HashMap<LowerName, Policy>,
        health: Arc<HealthTable>,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Registry>, RegistryError> {
        let registry = Registry {
            services: Mutex::new(Vec::new()),
            zones,
            zone_balance,
            health,
            metrics,
            checks: Mutex::new(Checks::default()),
            failing_open: Mutex::default(),
        };
        {
            let mut registered = lock(&registry.services);
            for registration in services {
                registration.validate()?;
                let host = registration.service.host();
                registered.retain(|r| r.service.host() != host);
                registered.push(registration);
            }
            registry.zones.change(|store| {
                for reg in registered.iter() {
                    registry.write_service(store, &reg.service)?;
                }
                let origins: Vec<Name> = store.files().map(|f| f.origin.clone()).collect();
                for zone in &origins {
                    store.set_balance(zone, registry.rules(zone, &registered))?;
                }
                store.commit_pending()
            })?;
        }
        Ok(Arc::new(registry))
    }

    /// The zones' one writer, for the other sources of change (reload, UPDATE, transfers).
    pub(crate) fn zones(&self) -> &Arc<ZoneOwner> {
        &self.zones
    }

    pub(crate) fn health(&self) -> &Arc<HealthTable> {
        &self.health
    }

    /// Adds (or replaces, by name and zone) a service and publishes its records.
    pub(crate) fn register(&self, registration: Registration) -> Result<(), RegistryError> {
        registration.validate()?;
        let mut services = lock(&self.services);
        let host = registration.service.host();
        let zone = registration.service.zone.clone();
        let forgotten = services
            .iter()
            .find(|r| r.service.host() == host)
            .map(|old| forgotten_health(old, &registration))
            .unwrap_or_default();
        let mut next = services.clone();
        next.retain(|r| r.service.host() != host);
        next.push(registration);
        self.zones.change(|store| {
            let registered = next.iter().find(|r| r.service.host() == host);
            if let Some(reg) = registered {
                self.write_service_as(store, &reg.service, &forgotten)?;
            }
            store.set_balance(&zone, self.rules(&zone, &next))
        })?;
        // Only once the registration took: a refused one leaves its instances' health, and the
        // checks that keep it, as they were.
        for id in &forgotten {
            self.health.remove(id);
        }
        *services = next;
        self.sync_checks(&services);
        Ok(())
    }

    /// Adds an instance to a registered service (or replaces the one of that name), checked
    /// with `check` if given.
    pub(crate) fn add_instance(
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
    pub(crate) fn remove_instance(&self, host: &Name, instance: &str) -> Result<(), RegistryError> {
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
        lock(&self.services)
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
    pub(crate) fn deregister(&self, host: &Name) -> Result<(), RegistryError> {
        let mut services = lock(&self.services);
        let Some(gone) = services.iter().find(|r| r.service.host() == *host).cloned() else {
            return Err(RegistryError::NoSuchService(host.clone()));
        };
        let zone = &gone.service.zone;
        let mut next = services.clone();
        next.retain(|r| r.service.host() != *host);
        self.zones.change(|store| {
            store.set_owned(zone, &gone.service.source(), Owned::default())?;
            store.set_balance(zone, self.rules(zone, &next))
        })?;
        for i in &gone.service.instances {
            self.health.remove(&instance_id(&gone.service, i));
        }
        lock(&self.failing_open).remove(&gone.service.source());
        *services = next;
        self.sync_checks(&services);
        Ok(())
    }

    /// Marks an instance healthy or not by hand, as an operator or a test would.
    pub(crate) fn set_healthy(
        &self,
        host: &Name,
        instance: &str,
        healthy: bool,
    ) -> Result<(), RegistryError> {
        {
            // The verdict is written under the services' lock: a removal of the instance
            // meanwhile (which forgets its health under that lock) cannot be undone by it.
            let services = lock(&self.services);
            let reg = services
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
            self.health
                .set_healthy(&instance_id(&reg.service, i), healthy);
        }
        self.refresh()
    }

    /// Every registered service.
    pub(crate) fn services(&self) -> Vec<Registration> {
        lock(&self.services).clone()
    }

    /// Rewrites every service's records from the current health. Only the zones whose records
    /// changed are rebuilt (and the zones published only then).
    pub(crate) fn refresh(&self) -> Result<(), RegistryError> {
        let services = lock(&self.services);
        self.zones.change(|store| {
            for reg in services.iter() {
                self.write_service(store, &reg.service)?;
            }
            Ok(())
        })?;
        Ok(())
    }

    /// Writes one service's records as its instances' health has them.
    fn write_service(&self, store: &mut ZoneStore, s: &Service) -> Result<(), StoreError> {
        self.write_service_as(store, s, &[])
    }

    /// [`Registry::write_service`], counting the instances in `forgotten` as healthy: their
    /// health is about to be dropped from the table, where an unknown id is healthy.
    fn write_service_as(
        &self,
        store: &mut ZoneStore,
        s: &Service,
        forgotten: &[String],
    ) -> Result<(), StoreError> {
        let (owned, failed_open) = s.records(&|i| {
            let id = instance_id(s, i);
            forgotten.contains(&id) || self.health.is_healthy(&id)
        });
        let source = s.source();
        store.set_owned(&s.zone, &source, owned)?;
        let mut failing_open = lock(&self.failing_open);
        if !failed_open {
            if failing_open.remove(&source) {
                info!(service = %s.host(), "an instance is healthy again: fail open is over");
            }
        } else if failing_open.insert(source) {
            Metrics::inc(&self.metrics.services_failed_open);
            warn!(service = %s.host(), instances = s.instances.len(), "every instance fails its check: answering with all of them (fail open)");
        }
        Ok(())
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

    /// Runs every registered instance's health check (and those registered later), and
    /// rewrites the zones whenever an instance goes up or down, until `shutdown`.
    pub(crate) async fn run(self: Arc<Self>, mut shutdown: Shutdown) {
        lock(&self.checks).shutdown = Some(shutdown.clone());
        // Watching before the checks start: a verdict they reach at once is a change seen.
        let mut changes = self.health.subscribe();
        self.sync_checks(&self.services());
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

/// The instances of `old` whose health means nothing under `new`, which replaces it: those no
/// longer registered (one added again later is a new instance, as a re-registered service is
/// in Consul), and those whose check was dropped (the verdict of a check that no longer runs
/// would keep an instance out for good; without a check it is healthy unless marked down).
fn forgotten_health(old: &Registration, new: &Registration) -> Vec<String> {
    old.service
        .instances
        .iter()
        .filter_map(|i| {
            let id = instance_id(&old.service, i);
            let kept = new
                .service
                .instances
                .iter()
                .find(|n| instance_id(&new.service, n) == id);
            let forget = match kept {
                None => true,
                Some(n) => old.checks.contains_key(&i.name) && !new.checks.contains_key(&n.name),
            };
            forget.then_some(id)
        })
        .collect()
}
