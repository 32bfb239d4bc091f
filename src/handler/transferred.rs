//! Who transferred which zone from us, last: per zone, each client address with the time,
//! serial and kind of its last transfer, for the dashboard's view of a primary's secondaries.
//! Only allowed transfers are recorded, so the zones are those configured; the clients per zone
//! are bounded, the least recent giving way.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use hickory_proto::rr::{LowerName, Name};
use tokio::time::Instant;

/// Clients remembered per zone: more than any real set of secondaries, few enough that a
/// scan of transfers from many addresses costs nothing.
const CLIENTS_PER_ZONE: usize = 64;

/// One client's last transfer of a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LastTransfer {
    pub client: IpAddr,
    pub at: Instant,
    /// The zone's serial the transfer brought the client to.
    pub serial: u32,
    /// `AXFR`, `IXFR`, `IXFR in full` or `IXFR up to date`.
    pub kind: &'static str,
}

#[derive(Debug, Default)]
pub(crate) struct Transferred {
    zones: Mutex<HashMap<LowerName, Vec<LastTransfer>>>,
}

impl Transferred {
    pub(crate) fn record(&self, zone: &Name, last: LastTransfer) {
        let mut zones = self.zones.lock().unwrap_or_else(|p| p.into_inner());
        let clients = zones.entry(LowerName::new(zone)).or_default();
        if let Some(known) = clients.iter_mut().find(|c| c.client == last.client) {
            *known = last;
            return;
        }
        if clients.len() >= CLIENTS_PER_ZONE
            && let Some(oldest) = (0..clients.len()).min_by_key(|&i| clients[i].at)
        {
            clients.swap_remove(oldest);
        }
        clients.push(last);
    }

    /// The clients' last transfers of `zone`, the most recent first.
    pub(crate) fn of(&self, zone: &Name) -> Vec<LastTransfer> {
        let zones = self.zones.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = zones
            .get(&LowerName::new(zone))
            .cloned()
            .unwrap_or_default();
        out.sort_by_key(|c| std::cmp::Reverse(c.at));
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn last(client: &str, serial: u32) -> LastTransfer {
        LastTransfer {
            client: client.parse().expect("ip"),
            at: Instant::now(),
            serial,
            kind: "AXFR",
        }
    }

    #[tokio::test(start_paused = true)]
    async fn one_entry_per_client_and_the_least_recent_gives_way() {
        let map = Transferred::default();
        let zone = Name::from_ascii("Example.").expect("name");
        map.record(&zone, last("127.166.0.2", 1));
        tokio::time::advance(Duration::from_secs(1)).await;
        map.record(
            &Name::from_ascii("example.").expect("name"),
            last("127.166.0.2", 2),
        );
        let seen = map.of(&zone);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].serial, 2);
        for i in 0..CLIENTS_PER_ZONE as u8 {
            tokio::time::advance(Duration::from_secs(1)).await;
            map.record(&zone, last(&format!("127.166.1.{i}"), 2));
        }
        let seen = map.of(&zone);
        assert_eq!(seen.len(), CLIENTS_PER_ZONE);
        assert!(!seen.iter().any(|c| c.client.to_string() == "127.166.0.2"));
        assert_eq!(
            seen[0].client.to_string(),
            format!("127.166.1.{}", CLIENTS_PER_ZONE - 1)
        );
        assert!(
            map.of(&Name::from_ascii("other.").expect("name"))
                .is_empty()
        );
    }
}
