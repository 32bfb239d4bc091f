//! A scenario's CONFIG (Unbound's `unbound.conf` syntax) mapped onto tern's resolver and
//! handler settings. Each option is either applied, or accepted as not changing what the
//! scenarios check (with the reason), or refused: a scenario with a refused option fails
//! with its name rather than run under settings it did not ask for.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use hickory_proto::dnssec::rdata::DNSSECRData;
use hickory_proto::rr::{Name, RData};

use super::rpl::Setting;
use crate::acl::Acl;
use crate::limits::{JOSTLE_TIMEOUT_MS, MAX_CLIENT_QUERIES, OUTBOUND_MSG_RETRY};
use crate::resolver::{Forward, ResolverConfig, Stub};
use crate::zonefile::parse_zone_text;

/// What a scenario's CONFIG asks of tern.
pub(super) struct Setup {
    pub(super) resolver: ResolverConfig,
    /// Root servers (`stub-zone: name: "."`), in place of the lab's hints.
    pub(super) root: Vec<SocketAddr>,
    /// Clients whose RD=0 queries are answered from the cache (`allow_snoop`).
    pub(super) snoop: Acl,
    /// `trust-anchor` lines (zone-file DS or DNSKEY records): validate from them.
    pub(super) anchors: Vec<String>,
    /// `val-override-date`: the UNIX time the validator dates signatures by at the start.
    pub(super) validation_time: Option<u64>,
    /// `minimal-responses` (Unbound's default: yes): tern's `[server] minimal_responses`.
    pub(super) minimal_responses: bool,
    /// `prefetch`: off unless asked, as Unbound's default (tern's is on).
    pub(super) prefetch: bool,
}

/// Options accepted without a tern setting: tern's own behaviour stands in for them (the
/// reason says how, and where that makes a scenario fail or excluded).
const NO_EFFECT: &[(&str, &str)] = &[
    (
        "do-not-query-localhost",
        "the scripted net has no localhost",
    ),
    ("harden-glue", "tern always scrubs out-of-bailiwick glue"),
    ("harden-referral-path", "not applicable to forwarding"),
    ("val-log-level", "logging only"),
    (
        "target-fetch-policy",
        "tern fetches no targets ahead; the scenarios set it to none",
    ),
    // The scenario that depends on this (a one-byte cache) is excluded; the others stay far
    // below it.
    (
        "msg-cache-size",
        "tern's cache is sized on its own; see the excluded fwd_lrudrop",
    ),
    ("msg-cache-slabs", "as msg-cache-size"),
    ("verbosity", "logging only"),
];

fn yes(s: &Setting) -> Result<bool, String> {
    match s.value.as_str() {
        "yes" | "on" => Ok(true),
        "no" | "off" => Ok(false),
        v => Err(format!("{}: expected yes or no, got {v}", s.key)),
    }
}

fn name(s: &Setting) -> Result<Name, String> {
    let fqdn = if s.value.ends_with('.') {
        s.value.clone()
    } else {
        format!("{}.", s.value)
    };
    Name::from_ascii(&fqdn).map_err(|e| format!("{}: {e}", s.key))
}

/// `ip` or `ip@port` (port 53 by default).
fn addr(s: &Setting) -> Result<SocketAddr, String> {
    let (ip, port) = match s.value.split_once('@') {
        Some((ip, port)) => (
            ip,
            port.parse()
                .map_err(|_| format!("bad port in {}", s.value))?,
        ),
        None => (s.value.as_str(), 53),
    };
    let ip: IpAddr = ip.parse().map_err(|_| format!("bad address {}", s.value))?;
    Ok(SocketAddr::new(ip, port))
}

/// `YYYYMMDDhhmmss` (UTC) as UNIX seconds: read by the zone reader as an RRSIG's expiration,
/// the one place tern already turns that form into seconds.
fn unix_time(text: &str) -> Option<u64> {
    if text.len() != 14 {
        return None;
    }
    let line = format!(". 0 IN RRSIG A 8 0 0 {text} {text} 1 . AAAA");
    let records =
        parse_zone_text(&line, Path::new("val-override-date"), Some(&Name::root())).ok()?;
    match &records.first()?.record.data {
        RData::DNSSEC(DNSSECRData::RRSIG(sig)) => Some(u64::from(sig.input().sig_expiration.get())),
        _ => None,
    }
}

/// One `forward-zone:` or `stub-zone:` clause being read.
#[derive(Default)]
struct Zone {
    name: Option<Name>,
    servers: Vec<SocketAddr>,
    first: bool,
    /// `forward-no-cache`, `stub-no-cache` (the latter has no tern setting).
    no_cache: bool,
}

/// The zone clause read under `key`, added (named `name`) if new.
fn slot(
    zones: &mut Vec<((usize, String), Zone)>,
    key: (usize, String),
    name: Option<Name>,
) -> usize {
    if let Some(at) = zones.iter().position(|(k, _)| *k == key) {
        return at;
    }
    let zone = Zone {
        name,
        ..Zone::default()
    };
    zones.push((key, zone));
    zones.len() - 1
}

/// Maps the settings, or names the first one tern cannot honour.
#[test]
fn override_dates_are_utc_unix_seconds() {
    assert_eq!(unix_time("19700101000000"), Some(0));
    // `date -u -d 2020-10-21T10:05:00Z +%s`
    assert_eq!(unix_time("20201021100500"), Some(1_603_274_700));
    assert_eq!(unix_time("2020"), None);
}

pub(super) fn setup(settings: &[Setting]) -> Result<Setup, String> {
    let mut setup = Setup {
        resolver: ResolverConfig::default(),
        root: Vec::new(),
        snoop: Acl::new(Vec::new()),
        anchors: Vec::new(),
        validation_time: None,
        minimal_responses: true,
        prefetch: false,
    };
    let mut forwards: Vec<((usize, String), Zone)> = Vec::new();
    for s in settings {
        let zone = |forwards: &mut Vec<_>| slot(forwards, (s.clause_no, s.clause.clone()), None);
        match (s.clause.as_str(), s.key.as_str()) {
            ("forward-zone" | "stub-zone", "name") => {
                let at = zone(&mut forwards);
                forwards[at].1.name = Some(name(s)?);
            }
            ("forward-zone", "forward-addr") | ("stub-zone", "stub-addr") => {
                let at = zone(&mut forwards);
                forwards[at].1.servers.push(addr(s)?);
            }
            ("forward-zone", "forward-first") => {
                let at = zone(&mut forwards);
                forwards[at].1.first = yes(s)?;
            }
            ("forward-zone", "forward-no-cache") | ("stub-zone", "stub-no-cache") => {
                let at = zone(&mut forwards);
                forwards[at].1.no_cache = yes(s)?;
            }
            // Deckard's configs name the forwarders of "." without a clause.
            ("server", "forward-addr") => {
                let key = (usize::MAX, "forward-zone".to_string());
                let at = slot(&mut forwards, key, Some(Name::root()));
                forwards[at].1.servers.push(addr(s)?);
            }
            ("server", "trust-anchor") => setup.anchors.push(s.value.clone()),
            ("server", "val-override-date") => {
                setup.validation_time = Some(unix_time(&s.value).ok_or_else(|| {
                    format!(
                        "val-override-date: expected YYYYMMDDhhmmss, got {}",
                        s.value
                    )
                })?);
            }
            ("server", "prefetch") => setup.prefetch = yes(s)?,
            // Unbound 1.17's `serve-expired-client-timeout` is 0 unless set: expired data is
            // answered at once and refreshed behind, as tern with a zero client timer. `no`
            // keeps tern's serve-stale after the RFC 8767 timer (tern has no switch for it).
            ("server", "serve-expired") => {
                if yes(s)? {
                    setup.resolver.stale_answer_timeout = Duration::ZERO;
                }
            }
            // testbound runs one thread: its per-thread list is tern's whole-process one.
            ("server", "num-queries-per-thread") => {
                let n = s.value.parse().map_err(|_| format!("bad {}", s.key))?;
                setup.resolver.max_client_queries = MAX_CLIENT_QUERIES.check(Some(n))?;
            }
            ("server", "jostle-timeout") => {
                let ms = s.value.parse().map_err(|_| format!("bad {}", s.key))?;
                setup.resolver.jostle_timeout =
                    Duration::from_millis(JOSTLE_TIMEOUT_MS.check(Some(ms))?);
            }
            ("server", "qname-minimisation") => setup.resolver.qname_minimisation = yes(s)?,
            ("server", "minimal-responses") => setup.minimal_responses = yes(s)?,
            ("server", "outbound-msg-retry") => {
                let n = s.value.parse().map_err(|_| format!("bad {}", s.key))?;
                setup.resolver.limits.outbound_msg_retry = OUTBOUND_MSG_RETRY.check(Some(n))?;
            }
            ("server", "access-control") => {
                match s.value.split_whitespace().collect::<Vec<_>>()[..] {
                    [net, "allow_snoop"] if net.starts_with("127.") => {
                        setup.snoop = Acl::loopback()
                    }
                    [_, "allow"] => {}
                    _ => return Err(format!("unsupported access-control: {}", s.value)),
                }
            }
            ("server", key) if NO_EFFECT.iter().any(|(k, _)| *k == key) => {}
            (clause, key) => {
                return Err(format!("unsupported option {clause}: {key}: {}", s.value));
            }
        }
    }
    for ((_, clause), zone) in forwards {
        let Some(name) = zone.name else {
            return Err(format!("a {clause} without a name"));
        };
        if clause == "stub-zone" && zone.no_cache {
            return Err("stub-no-cache has no tern equivalent".to_string());
        }
        if clause == "stub-zone" && name.is_root() {
            setup.root = zone.servers;
        } else if clause == "stub-zone" {
            setup.resolver.stubs.push(Stub {
                zone: name,
                servers: zone.servers,
            });
        } else {
            setup.resolver.forwards.push(Forward {
                zone: name,
                servers: zone.servers,
                first: zone.first,
                tls: None,
                no_cache: zone.no_cache,
            });
        }
    }
    Ok(setup)
}
