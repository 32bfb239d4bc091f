//! Review tests of the registry: what registrations, removals and health changes leave in the
//! zone served. A registry over a one-zone store, its catalogs caught as they are published.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::rr::{RData, RecordType};

use super::health::{Check, CheckSpec, HealthTable};
use super::registry::{Registration, Registry, RegistryError};
use super::service::{Instance, Service};
use crate::authority::Catalog;
use crate::authority::store::{ZoneFile, ZoneOwner, ZoneStore};
use crate::metrics::Metrics;
use crate::testing::{Scratch, ip, name};

const ZONE: &str =
    "$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 86400 300\n@ NS ns1\nns1 A 127.80.0.1\n";

struct Fixture {
    registry: Arc<Registry>,
    metrics: Arc<Metrics>,
    served: Arc<Mutex<Option<Catalog>>>,
    _dir: Scratch,
}

fn fixture(tag: &str, services: Vec<Registration>) -> Fixture {
    fixture_at(tag, "cluster.test.", services)
}

fn fixture_at(tag: &str, origin: &str, services: Vec<Registration>) -> Fixture {
    let dir = Scratch::new(&format!("disc-review-{tag}"));
    let file = dir.join("zone");
    std::fs::write(&file, ZONE).expect("zone file");
    let store = ZoneStore::open(&[ZoneFile::new(name(origin), file)]).expect("opens");
    let served = Arc::new(Mutex::new(None));
    let publish = Arc::clone(&served);
    let owner = ZoneOwner::new(store, move |catalog| {
        *publish.lock().expect("lock") = Some(catalog);
    });
    let metrics = Arc::new(Metrics::default());
    let registry = Registry::new(
        Arc::new(owner),
        services,
        Default::default(),
        HealthTable::new(),
        Arc::clone(&metrics),
    )
    .expect("registers");
    Fixture {
        registry,
        metrics,
        served,
        _dir: dir,
    }
}

impl Fixture {
    fn addresses(&self, qname: &str) -> Vec<IpAddr> {
        let served = self.served.lock().expect("lock");
        let catalog = served.as_ref().expect("published");
        let answer = catalog
            .answer(&name(qname), RecordType::A)
            .expect("in a zone");
        let mut out: Vec<IpAddr> = answer
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(IpAddr::V4(a.0)),
                _ => None,
            })
            .collect();
        out.sort();
        out
    }
}

fn web(service_name: &str, instances: &[(&str, &str)]) -> Registration {
    let mut service = Service::new("cluster.test.", service_name).expect("service");
    for (n, a) in instances {
        service.instances.push(Instance::new(n, ip(a), 8080));
    }
    Registration::new(service)
}

/// An instance removed and added again is a new instance: it must not inherit the health of
/// the one removed. Without a check nothing would ever bring it back (Consul forgets a
/// service's checks when it is deregistered).
#[test]
fn an_instance_removed_and_added_again_does_not_inherit_its_old_health() {
    let f = fixture(
        "readd",
        vec![web(
            "web",
            &[("web-1", "127.80.0.11"), ("web-2", "127.80.0.12")],
        )],
    );
    let host = name("web.cluster.test.");
    f.registry
        .set_healthy(&host, "web-1", false)
        .expect("marked down");
    assert_eq!(f.addresses("web.cluster.test."), [ip("127.80.0.12")]);
    f.registry.remove_instance(&host, "web-1").expect("removed");
    f.registry
        .add_instance(&host, Instance::new("web-1", ip("127.80.0.21"), 8080), None)
        .expect("added");
    assert_eq!(
        f.addresses("web.cluster.test."),
        [ip("127.80.0.12"), ip("127.80.0.21")]
    );
    // The same through a whole re-registration that drops the instance first.
    f.registry
        .set_healthy(&host, "web-2", false)
        .expect("marked down");
    f.registry
        .register(web("web", &[("web-1", "127.80.0.21")]))
        .expect("web-2 dropped");
    f.registry
        .register(web(
            "web",
            &[("web-1", "127.80.0.21"), ("web-2", "127.80.0.12")],
        ))
        .expect("web-2 back");
    assert_eq!(
        f.addresses("web.cluster.test."),
        [ip("127.80.0.12"), ip("127.80.0.21")]
    );
}

/// An instance whose check is dropped (replaced by one registered without a check) keeps no
/// verdict of the check that no longer runs: nothing would ever bring it back otherwise.
#[test]
fn an_instance_whose_check_is_dropped_does_not_stay_down() {
    let check = CheckSpec::new(Check::Tcp("127.80.0.11:8080".parse().expect("addr")));
    let reg = web("web", &[("web-2", "127.80.0.12")])
        .instance(Instance::new("web-1", ip("127.80.0.11"), 8080), Some(check));
    let f = fixture("dropped-check", vec![reg]);
    let host = name("web.cluster.test.");
    // What a failing check leaves in the table.
    f.registry
        .set_healthy(&host, "web-1", false)
        .expect("marked down");
    assert_eq!(f.addresses("web.cluster.test."), [ip("127.80.0.12")]);
    f.registry
        .add_instance(&host, Instance::new("web-1", ip("127.80.0.11"), 8080), None)
        .expect("replaced, unchecked");
    assert_eq!(
        f.addresses("web.cluster.test."),
        [ip("127.80.0.11"), ip("127.80.0.12")]
    );
}

/// A check that cannot run (here its timeout exceeds its interval) is refused with the
/// registration, as the configuration refuses it: taken, it would never run, and the instance
/// would stay in the answers unchecked with nothing but a log line to say so.
#[test]
fn a_check_that_cannot_run_is_refused() {
    let f = fixture("bad-check", vec![web("web", &[("web-1", "127.80.0.11")])]);
    let host = name("web.cluster.test.");
    let mut check = CheckSpec::new(Check::Tcp("127.80.0.12:8080".parse().expect("addr")));
    check.timeout = check.interval * 2;
    let added = f.registry.add_instance(
        &host,
        Instance::new("web-2", ip("127.80.0.12"), 8080),
        Some(check.clone()),
    );
    assert!(added.is_err(), "{added:?}");
    assert_eq!(f.addresses("web.cluster.test."), [ip("127.80.0.11")]);
    let reg = web("api", &[]).instance(Instance::new("api-1", ip("127.80.0.13"), 80), Some(check));
    assert!(f.registry.register(reg).is_err());
}

/// Names that do not fit in 255 octets (RFC 1035 §2.3.4) are refused as such, and never
/// become some other name.
#[test]
fn names_too_long_for_dns_are_refused() {
    let long = "a".repeat(60);
    let zone = format!("{long}.{long}.{long}.test.");
    let mut service = Service::new(&zone, &"s".repeat(40)).expect("the service name fits");
    service
        .instances
        .push(Instance::new(&"i".repeat(40), ip("127.80.0.11"), 80));
    assert!(
        service.validate().is_err(),
        "{:?}",
        service.instance_name(&service.instances[0])
    );
    // Served, such a service must be refused, and the zone's apex left as it was.
    let f = fixture_at("long", &zone, vec![]);
    let registered = f.registry.register(Registration::new(service));
    assert!(
        matches!(registered, Err(RegistryError::Service(_))),
        "{registered:?}"
    );
    let served = f.served.lock().expect("lock");
    let catalog = served.as_ref().expect("published");
    let soa = catalog
        .answer(&name(&zone), RecordType::SOA)
        .expect("in the zone");
    assert_eq!(soa.answers.len(), 1);
}

/// RFC 2181 §8: a TTL is 0 to 2^31 − 1; a larger one is read as 0 (RFC 2181) or cut to
/// 2^31 − 1 (RFC 8767 §4) by whoever gets it. A service's TTL past that is refused, not served.
#[test]
fn a_service_ttl_past_2_31_is_refused() {
    let mut service = Service::new("cluster.test.", "web").expect("service");
    service.ttl = 1 << 31;
    assert!(service.validate().is_err());
    service.ttl = (1 << 31) - 1;
    assert_eq!(service.validate(), Ok(()));
}

/// `services_failed_open` counts the times a service had no healthy instance and answered
/// with all of them: once when it goes into that state, not again at every later health
/// change of some other service while it stays there.
#[test]
fn failing_open_is_counted_once_per_episode() {
    let f = fixture(
        "failed-open",
        vec![
            web("web", &[("web-1", "127.80.0.11")]),
            web("api", &[("api-1", "127.80.0.21"), ("api-2", "127.80.0.22")]),
        ],
    );
    let (web_host, api) = (name("web.cluster.test."), name("api.cluster.test."));
    let count = || Metrics::get(&f.metrics.services_failed_open);
    f.registry
        .set_healthy(&web_host, "web-1", false)
        .expect("down");
    assert_eq!(count(), 1, "web fails open");
    assert_eq!(f.addresses("web.cluster.test."), [ip("127.80.0.11")]);
    for healthy in [false, true, false, true] {
        f.registry
            .set_healthy(&api, "api-1", healthy)
            .expect("api flaps");
    }
    assert_eq!(count(), 1, "web is still in the same episode");
    f.registry
        .set_healthy(&web_host, "web-1", true)
        .expect("up");
    f.registry
        .set_healthy(&web_host, "web-1", false)
        .expect("down again");
    assert_eq!(count(), 2, "a second episode");
}
