//! A service's instances as the balancer sees them: the weight each record's target was
//! registered with, and the RTT its health checks measure.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use hickory_proto::rr::{LowerName, RData, Record};

use super::health::HealthTable;
use super::registry::instance_id;
use super::service::Service;
use crate::authority::balance::Member;
use crate::authority::rules::Members;

/// A service's members for the balancer: configured weights, and RTTs from the health table.
#[derive(Debug)]
pub(super) struct ServiceMembers {
    by_address: HashMap<IpAddr, (u32, String)>,
    by_target: HashMap<LowerName, (u32, String)>,
    health: Arc<HealthTable>,
}

impl ServiceMembers {
    pub(super) fn new(service: &Service, health: &Arc<HealthTable>) -> ServiceMembers {
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
