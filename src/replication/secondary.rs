//! Secondary zones (RFC 1034 §4.3.5, RFC 1996): each zone pulls from its primaries at start,
//! on a NOTIFY from one of them, and on its SOA's REFRESH/RETRY timers; compares serials
//! (RFC 1982) and transfers only when the primary is ahead, by IXFR when we hold a copy (AXFR
//! when the primary cannot answer incrementally); applies a transfer whole or not at all; keeps
//! the copy on disk; and stops answering for the zone (SERVFAIL) once EXPIRE has passed since
//! the last time a primary confirmed it. During a partition it serves what it has: availability
//! first, convergence when the primary is reachable again.

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, Name, RData, Record, SerialNumber};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::fetch::{FetchError, Peer, query_soa, transfer};
use super::status::{Outcome as Checked, StatusCell, ZoneStatus};
use crate::authority::store::{Secondaries, StoreError};
use crate::authority::transfer::{Incoming, Progress, Transfer, TransferError, apply_deltas};
use crate::config::SecondaryZone;
use crate::handler::NotifyReceiver;
use crate::metrics::Metrics;
use crate::server::Shutdown;

/// How long one SOA query may take, both tries together.
const SOA_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one transfer may take, start to end.
const TRANSFER_TIMEOUT: Duration = Duration::from_secs(60);
/// A transfer holding more records than this is abandoned: a broken or hostile primary must
/// not fill our memory.
const TRANSFER_MAX_RECORDS: usize = 2_000_000;
/// The SOA timers are the zone owner's, but a timer of 0 would spin and one of years would
/// never converge: they are kept within 1 s .. 1 day (REFRESH, RETRY) and 1 s .. 90 days
/// (EXPIRE). Before there is any copy, RETRY is this.
const TIMER_MIN: Duration = Duration::from_secs(1);
const REFRESH_MAX: Duration = Duration::from_secs(86_400);
const EXPIRE_MAX: Duration = Duration::from_secs(90 * 86_400);
const NO_COPY_RETRY: Duration = Duration::from_secs(5);

/// The secondary zones and the tasks that keep them.
pub(crate) struct Secondary {
    zones: HashMap<LowerName, Arc<Kept>>,
}

struct Kept {
    config: SecondaryZone,
    /// Our address, the source of SOA queries and transfers (see `Peer`).
    source: Option<IpAddr>,
    /// Woken by an accepted NOTIFY: check the primaries now.
    wake: Notify,
    /// What the task last did, for the dashboard.
    status: StatusCell,
}

#[derive(Debug, thiserror::Error)]
enum RefreshError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    #[error("{0}")]
    Transfer(#[from] TransferError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("zone has no primaries")]
    NoPrimaries,
    /// The SOA query said the primary was ahead, but its AXFR is not (RFC 1982).
    #[error("the AXFR holds serial {theirs}, not later than our {ours}: our copy is kept")]
    Older { ours: u32, theirs: u32 },
}

impl Secondary {
    /// `source`: the address to query the primaries from (our listen address; `None`: any).
    pub(crate) fn new(zones: Vec<SecondaryZone>, source: Option<IpAddr>) -> Arc<Secondary> {
        let zones = zones
            .into_iter()
            .map(|config| {
                let key = LowerName::new(&config.origin);
                let kept = Kept {
                    config,
                    source,
                    wake: Notify::new(),
                    status: StatusCell::default(),
                };
                (key, Arc::new(kept))
            })
            .collect();
        Arc::new(Secondary { zones })
    }

    /// Starts one task per zone, each until `shutdown`.
    pub(crate) fn run(
        &self,
        writer: Arc<dyn Secondaries>,
        metrics: Arc<Metrics>,
        shutdown: Shutdown,
    ) {
        for kept in self.zones.values() {
            tokio::spawn(keep(
                Arc::clone(kept),
                Arc::clone(&writer),
                Arc::clone(&metrics),
                shutdown.clone(),
            ));
        }
    }
}

impl Secondary {
    /// Each zone's refresh state as of now, by origin.
    pub(crate) fn status(&self) -> Vec<(Name, ZoneStatus)> {
        self.zones
            .values()
            .map(|k| (k.config.origin.clone(), k.status.get()))
            .collect()
    }
}

impl NotifyReceiver for Secondary {
    /// RFC 1996 §3.10: a NOTIFY is taken only from the zone's primaries' addresses, and, when
    /// the zone has a transfer key, only signed with it: as NSD (`allow-notify: ADDR KEY`) and
    /// Knot (an acl with a key) do, since an unsigned datagram's source is easily forged. A
    /// primary signs its NOTIFYs with `notify_key` (tern), `also-notify { ADDR key K; }` (BIND)
    /// or `notify: ADDR KEY` (NSD); a refused one only delays the check to the REFRESH timer.
    fn notified(&self, zone: &Name, from: IpAddr, key: Option<&Name>) -> ResponseCode {
        let Some(kept) = self.zones.get(&LowerName::new(zone)) else {
            return ResponseCode::NotAuth;
        };
        let config = &kept.config;
        // Edge: over TCP a dual-stack [::] listener sees an IPv4 primary IPv4-mapped.
        let from = from.to_canonical();
        if !config
            .primaries
            .iter()
            .any(|p| p.ip().to_canonical() == from)
        {
            debug!(zone = %zone, %from, "NOTIFY from a server that is not a primary");
            return ResponseCode::Refused;
        }
        if let Some(want) = &config.key
            && key != Some(want.name())
        {
            debug!(zone = %zone, %from, key = ?key, want = %want.name(), "NOTIFY not signed with the zone's key");
            return ResponseCode::Refused;
        }
        info!(zone = %zone, %from, "NOTIFY accepted; checking the primary");
        kept.wake.notify_one();
        ResponseCode::NoError
    }
}

/// The SOA timers of a record set, clamped (see `TIMER_MIN`).
struct Timers {
    refresh: Duration,
    retry: Duration,
    expire: Duration,
}

fn timers(records: Option<&[Record]>) -> Timers {
    let soa = records.and_then(|rs| {
        rs.iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.clone()),
            _ => None,
        })
    });
    let secs = |s: u32, max: Duration| Duration::from_secs(u64::from(s)).clamp(TIMER_MIN, max);
    match soa {
        Some(soa) => Timers {
            refresh: secs(soa.refresh as u32, REFRESH_MAX),
            retry: secs(soa.retry as u32, REFRESH_MAX),
            expire: secs(soa.expire as u32, EXPIRE_MAX),
        },
        None => Timers {
            refresh: NO_COPY_RETRY,
            retry: NO_COPY_RETRY,
            expire: EXPIRE_MAX,
        },
    }
}

fn serial_of(records: &[Record]) -> Option<u32> {
    records.iter().find_map(|r| match &r.data {
        RData::SOA(soa) => Some(soa.serial),
        _ => None,
    })
}

/// RFC 1982 §3.2: `a` is later than `b`. Not `<=` negated: two serials exactly 2^31 apart
/// are undefined (hickory's `partial_cmp` is `None`), and a secondary moves only to a serial
/// that is later, as BIND (`isc_serial_gt`) and IXFR's reading here (`Incoming`) decide.
fn later(a: u32, b: u32) -> bool {
    SerialNumber::new(a) > SerialNumber::new(b)
}

/// The age of the copy on disk (the copy file or the journal, whichever was written last):
/// after a restart, EXPIRE counts from when it was written.
fn copy_age(config: &SecondaryZone) -> Option<Duration> {
    let written = |path: &Path| std::fs::metadata(path).ok()?.modified().ok();
    let modified = std::iter::once(config.file.as_path())
        .chain(config.journal.as_deref())
        .filter_map(written)
        .max()?;
    Some(
        // Edge: a file's time is on the wall clock, so its age is too.
        SystemTime::now()
            .duration_since(modified)
            .unwrap_or_default(),
    )
}

/// Keeps one zone until shutdown.
async fn keep(
    kept: Arc<Kept>,
    writer: Arc<dyn Secondaries>,
    metrics: Arc<Metrics>,
    mut shutdown: Shutdown,
) {
    let config = &kept.config;
    let origin = &config.origin;
    // When a primary last confirmed our copy; a copy from disk counts from when it was written.
    // Edge: the SOA timers (RFC 1035 §3.3.13) are this task's own; it reads the clock to run
    // them: at the start, after each check, and when woken.
    let started = Instant::now();
    let mut confirmed: Option<Instant> = writer
        .records(origin)
        .and(copy_age(config).and_then(|age| started.checked_sub(age)));
    let mut expired = false;
    // A copy from disk may have expired already: not served while the first check waits.
    let expire = timers(writer.records(origin).as_deref()).expire;
    if confirmed.is_some_and(|t| Instant::now() >= t + expire) {
        expire_zone(writer.as_ref(), origin);
        expired = true;
        kept.status.expired();
    }
    loop {
        let refreshed = refresh(config, kept.source, writer.as_ref()).await;
        // Edge: the timers run from the end of the check (its timeouts took time).
        let now = Instant::now();
        // What we serve after this check: its SOA sets the timers (building it walks the zone,
        // so once per check).
        let records = writer.records(origin);
        let timers = timers(records.as_deref());
        let wait = match refreshed {
            Ok((primary, checked)) => {
                kept.status.succeeded(now, primary, checked);
                confirmed = Some(now);
                if expired {
                    // The data is confirmed again: serve it (a transfer already did).
                    let _ = writer.set_available(origin, true);
                    info!(zone = %origin, "primary reachable again; serving the zone");
                    expired = false;
                }
                match checked {
                    Checked::Current { serial } => debug!(zone = %origin, serial, "up to date"),
                    Checked::Transferred { serial, kind } => {
                        Metrics::inc(&metrics.transfers_in);
                        // The copy on disk first, so whoever reads the log line finds it.
                        if let Some(records) = &records
                            && let Err(e) = write_copy(&config.file, origin, records)
                        {
                            warn!(zone = %origin, file = %config.file.display(), error = %e, "cannot keep the copy on disk");
                        }
                        info!(zone = %origin, serial, kind, "transfer applied");
                    }
                }
                timers.refresh
            }
            Err(e) => {
                kept.status.failed(now, e.to_string());
                Metrics::inc(&metrics.transfer_failures);
                if records.is_some() && !expired {
                    warn!(zone = %origin, error = %e, "refresh failed; serving what we have");
                } else {
                    warn!(zone = %origin, error = %e, "refresh failed; no data to serve (SERVFAIL)");
                }
                timers.retry
            }
        };
        let deadline = confirmed.map(|t| t + timers.expire);
        let due = |now: Instant| deadline.is_some_and(|d| now >= d);
        if !expired && due(now) {
            expire_zone(writer.as_ref(), origin);
            expired = true;
        }
        let mut until = now + wait;
        if let Some(deadline) = deadline.filter(|_| !expired) {
            until = until.min(deadline);
        }
        kept.status.scheduled(until, deadline, expired);
        tokio::select! {
            _ = shutdown.recv() => return,
            _ = kept.wake.notified() => {}
            _ = tokio::time::sleep_until(until) => {}
        }
        // Woken at the deadline: expire now, not after the next check's timeouts. Edge: by the
        // timer or by a NOTIFY, so only the clock says whether the deadline has passed.
        if !expired && due(Instant::now()) {
            expire_zone(writer.as_ref(), origin);
            expired = true;
            kept.status.expired();
        }
    }
}

fn expire_zone(writer: &dyn Secondaries, origin: &Name) {
    warn!(zone = %origin, "EXPIRE passed without reaching a primary: answering SERVFAIL for the zone");
    if let Err(e) = writer.set_available(origin, false) {
        warn!(zone = %origin, error = %e, "cannot mark the zone expired");
    }
}

/// Asks each primary in turn until one transfers a later serial. One that is not ahead of us
/// confirms our copy, but the next is asked too, as BIND does: a lagging first primary must
/// not hide a later one (the one whose NOTIFY woke us, say). Failing all, the first that
/// confirmed our copy, else the last error.
async fn refresh(
    config: &SecondaryZone,
    source: Option<IpAddr>,
    writer: &dyn Secondaries,
) -> Result<(SocketAddr, Checked), RefreshError> {
    let mut last = RefreshError::NoPrimaries;
    let mut current = None;
    for primary in &config.primaries {
        match from_primary(config, Peer::new(*primary, source), writer).await {
            Ok(checked @ Checked::Transferred { .. }) => return Ok((*primary, checked)),
            Ok(checked @ Checked::Current { .. }) => {
                current.get_or_insert((*primary, checked));
            }
            Err(e) => {
                debug!(zone = %config.origin, %primary, error = %e, "primary failed");
                last = e;
            }
        }
    }
    current.ok_or(last)
}

async fn from_primary(
    config: &SecondaryZone,
    primary: Peer,
    writer: &dyn Secondaries,
) -> Result<Checked, RefreshError> {
    let origin = &config.origin;
    let key = config.key.as_ref();
    let theirs = query_soa(primary, origin, key, SOA_TIMEOUT).await?;
    let their_serial = serial_of(std::slice::from_ref(&theirs)).unwrap_or(0);
    let ours = writer.records(origin);
    let our_serial = ours.as_deref().and_then(serial_of);
    if let Some(serial) = our_serial
        && !later(their_serial, serial)
    {
        // Same data, or ours is later (RFC 1982): nothing to fetch.
        writer.set_available(origin, true)?;
        return Ok(Checked::Current { serial });
    }
    if let Some(records) = ours {
        let our_soa = records
            .iter()
            .find(|r| matches!(r.data, RData::SOA(_)))
            .cloned();
        if let Some(our_soa) = our_soa {
            match pull(config, primary, Some(&our_soa)).await {
                Ok(Transfer::Incremental(steps)) => match apply_deltas(records, &steps) {
                    Ok(next) => {
                        let serial = writer.transfer_in(origin, next)?;
                        return Ok(Checked::Transferred {
                            serial,
                            kind: "IXFR",
                        });
                    }
                    Err(e) => debug!(zone = %origin, error = %e, "IXFR does not apply; AXFR"),
                },
                Ok(Transfer::Full(all)) => {
                    let serial = writer.transfer_in(origin, all)?;
                    return Ok(Checked::Transferred {
                        serial,
                        kind: "IXFR (in full)",
                    });
                }
                Ok(Transfer::UpToDate(_)) => {
                    let serial = serial_of(&records).unwrap_or(their_serial);
                    return Ok(Checked::Current { serial });
                }
                Err(e) => debug!(zone = %origin, error = %e, "IXFR failed; AXFR"),
            }
        }
    }
    match pull(config, primary, None).await? {
        Transfer::Full(all) => {
            // Edge: the SOA query and the AXFR may reach different data (a primary rolled
            // back between them); a secondary only ever moves forward.
            if let (Some(ours), Some(theirs)) = (our_serial, serial_of(&all))
                && !later(theirs, ours)
            {
                return Err(RefreshError::Older { ours, theirs });
            }
            let serial = writer.transfer_in(origin, all)?;
            Ok(Checked::Transferred {
                serial,
                kind: "AXFR",
            })
        }
        // An AXFR is always a whole zone; `Incoming` says so for AXFR requests.
        other => Err(RefreshError::Transfer(TransferError::Malformed(
            match other {
                Transfer::UpToDate(_) => "AXFR answered as up to date",
                _ => "AXFR answered incrementally",
            },
        ))),
    }
}

/// One AXFR (`ixfr_from: None`) or IXFR from `primary`, checked message by message.
async fn pull(
    config: &SecondaryZone,
    primary: Peer,
    ixfr_from: Option<&Record>,
) -> Result<Transfer, RefreshError> {
    let have = ixfr_from.and_then(|soa| serial_of(std::slice::from_ref(soa)));
    let mut incoming = Incoming::new(config.origin.clone(), have);
    let mut done = None;
    let mut records = 0usize;
    transfer(
        primary,
        &config.origin,
        ixfr_from,
        config.key.as_ref(),
        TRANSFER_TIMEOUT,
        |message| {
            records += message.answers.len();
            if records > TRANSFER_MAX_RECORDS {
                return Err(format!("more than {TRANSFER_MAX_RECORDS} records"));
            }
            match incoming.feed(message).map_err(|e| e.to_string())? {
                Progress::More => Ok(false),
                Progress::Done(t) => {
                    done = Some(t);
                    Ok(true)
                }
            }
        },
    )
    .await?;
    done.ok_or(RefreshError::Transfer(TransferError::Malformed(
        "the transfer ended without its closing SOA",
    )))
}

/// Writes the zone's records as a zone file: to a temporary file first, synced, then renamed
/// over the copy, so a crash leaves the old copy or the new one, never half of one.
pub(crate) fn write_copy(file: &Path, origin: &Name, records: &[Record]) -> std::io::Result<()> {
    if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let mut text = format!("; secondary copy of {origin}, written by tern\n");
    // The SOA first, as a zone file wants it.
    let mut ordered: Vec<&Record> = records.iter().collect();
    ordered.sort_by_key(|r| !matches!(r.data, RData::SOA(_)));
    for r in ordered {
        text.push_str(&r.to_string());
        text.push('\n');
    }
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, file)
}

#[cfg(test)]
mod repl_review;
#[cfg(test)]
mod review_tests;
#[cfg(test)]
mod tests;
