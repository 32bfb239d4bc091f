//! NOTIFY out (RFC 1996): a primary tells its secondaries about each new serial, so they need
//! not wait for their REFRESH timer. Each (zone, secondary) pair has its own task; a newer
//! serial replaces one still being retried, and retries back off (§3.6: a NOTIFY is repeated
//! until answered, a bounded number of times).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::rr::{LowerName, Name, Record};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use super::fetch::{Peer, notify};
use crate::authority::Catalog;
use crate::config::PrimaryZone;
use crate::metrics::Metrics;
use crate::server::Shutdown;
use crate::tsig::Key;

/// Attempts per serial, and the wait before the first retry (doubled each time).
const ATTEMPTS: u32 = 5;
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// How long one attempt waits for the secondary's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// Sends NOTIFY for the zones that list secondaries.
pub(crate) struct Notifier {
    zones: HashMap<LowerName, watch::Sender<Option<Record>>>,
}

impl Notifier {
    /// One task per (zone, target), each until `shutdown`. `source`: the address NOTIFYs are
    /// sent from (our listen address, which secondaries list as their primary; `None`: any).
    pub(crate) fn start(
        zones: &[PrimaryZone],
        source: Option<IpAddr>,
        metrics: Arc<Metrics>,
        shutdown: Shutdown,
    ) -> Notifier {
        let mut out = HashMap::new();
        for zone in zones.iter().filter(|z| !z.notify.is_empty()) {
            let (tx, _) = watch::channel(None);
            for target in &zone.notify {
                tokio::spawn(tell(
                    Peer::new(*target, source),
                    zone.origin.clone(),
                    zone.notify_key.clone(),
                    tx.subscribe(),
                    Arc::clone(&metrics),
                    shutdown.clone(),
                ));
            }
            out.insert(LowerName::new(&zone.origin), tx);
        }
        Notifier { zones: out }
    }

    /// Called with every catalog published: each zone with secondaries whose serial changed
    /// (or is seen for the first time, as at start) is announced.
    pub(crate) fn published(&self, catalog: &Catalog) {
        for zone in catalog.zones() {
            let Some(tx) = self.zones.get(&LowerName::new(zone.origin())) else {
                continue;
            };
            let soa = zone.soa().clone();
            tx.send_if_modified(|current| {
                let changed = current.as_ref() != Some(&soa);
                if changed {
                    *current = Some(soa);
                }
                changed
            });
        }
    }
}

/// Announces each new serial of `zone` to `target`, signed with `key` when the zone has one
/// (a secondary may take only signed NOTIFYs, RFC 8945).
async fn tell(
    target: Peer,
    zone: Name,
    key: Option<Key>,
    mut latest: watch::Receiver<Option<Record>>,
    metrics: Arc<Metrics>,
    mut shutdown: Shutdown,
) {
    loop {
        tokio::select! {
            _ = shutdown.recv() => return,
            changed = latest.changed() => if changed.is_err() { return },
        }
        let Some(soa) = latest.borrow_and_update().clone() else {
            continue;
        };
        let mut wait = FIRST_RETRY;
        for attempt in 1..=ATTEMPTS {
            match notify(target, &zone, &soa, key.as_ref(), ANSWER_TIMEOUT).await {
                Ok(()) => {
                    Metrics::inc(&metrics.notifies_sent);
                    info!(zone = %zone, target = %target.server, "NOTIFY acknowledged");
                    break;
                }
                Err(e) if attempt == ATTEMPTS => {
                    warn!(zone = %zone, target = %target.server, error = %e, "NOTIFY unanswered; the secondary will catch up on its REFRESH timer");
                }
                Err(e) => {
                    debug!(zone = %zone, target = %target.server, attempt, error = %e, "NOTIFY failed; retrying")
                }
            }
            if attempt == ATTEMPTS {
                break;
            }
            // A newer serial while we wait: announce that one instead (the outer loop).
            tokio::select! {
                _ = shutdown.recv() => return,
                _ = tokio::time::sleep(wait) => {}
                _ = latest.changed() => {
                    latest.mark_changed();
                    break;
                }
            }
            wait *= 2;
        }
    }
}
