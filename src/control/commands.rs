//! The control commands: a request line parsed, run against the running parts, and answered
//! in text, one item per line.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::SystemTime;

use hickory_proto::rr::Name;
use tokio::time::Instant;

use super::Control;
use crate::cache::Cache;
use crate::cache::admin::Flush;
use crate::cache::persist::FileOp;
use crate::discovery::registry::instance_id;

/// The commands, with a line of help each (`tern ctl --help` shows the same list).
pub(crate) const HELP: &str = "\
commands:
stats             counters and cache size, `name value` per line
reload            re-read the zone files and TLS certificate, reopen the query log (as
                  SIGHUP); a zone file or certificate in error: the old ones stay
flush NAME        forget NAME (every type) in the cache and the hit path
flush-zone NAME   forget everything at or below NAME
flush-all         empty the cache
dump-cache        the cache as zone-file text, TTLs counting down
save-cache FILE   write the cache to FILE in [cache] persist's binary form (atomically)
load-cache FILE   merge such a file into the cache, its TTLs aged by the time since the write
zones [--all]     origin, serial and source (file PATH, secondary of ADDR, services) of each
                  configured zone, sorted; --all adds the built-in local zones (localhost.,
                  the RFC 6761 and RFC 6303 names) after them, marked `builtin`
services          each service instance and its health; `unhealthy failed_open` when every
                  instance of its service is down, so all are answered anyway
nta add NAME [LIFETIME]
                  treat NAME and below as insecure (RFC 7646) for LIFETIME (30s, 15m, 2d;
                  default 1h, at most 1w), or until removed or restart; again: new lifetime
nta remove NAME   drop a negative trust anchor added with nta add
nta list          the negative trust anchors: `NAME configured` or `NAME runtime Ns left`";

/// Runs one request line: `Ok(body)` or `Err(reason)` (which may span lines).
pub(super) fn run(ctl: &Control, line: &str) -> Result<String, String> {
    let mut words = line.split_whitespace();
    let command = words.next().ok_or("empty request")?;
    let args: Vec<&str> = words.collect();
    let no_args = |body: String| {
        if args.is_empty() {
            Ok(body)
        } else {
            Err(format!("{command} takes no arguments"))
        }
    };
    match command {
        "stats" => no_args(stats(ctl)),
        "reload" => {
            if !args.is_empty() {
                return Err("reload takes no arguments".to_string());
            }
            reload(ctl)
        }
        "flush" => Ok(flushed(ctl, Flush::Name(&one_name(command, &args)?))),
        "flush-zone" => Ok(flushed(ctl, Flush::Zone(&one_name(command, &args)?))),
        "flush-all" => no_args(flushed(ctl, Flush::All)),
        "dump-cache" => no_args(dump_cache(ctl)),
        "save-cache" | "load-cache" => cache_file_command(ctl, command, line),
        "zones" => match args.as_slice() {
            [] => Ok(zones(ctl, false)),
            ["--all"] => Ok(zones(ctl, true)),
            _ => Err("usage: zones [--all]".to_string()),
        },
        "services" => no_args(services(ctl)),
        "nta" => super::nta::run(ctl, &args),
        "help" => Ok(format!("{HELP}\n")),
        other => Err(format!("unknown command {other:?}\n{HELP}")),
    }
}

pub(super) fn one_name(command: &str, args: &[&str]) -> Result<Name, String> {
    let [name] = args else {
        return Err(format!("usage: {command} NAME"));
    };
    let mut name = Name::from_ascii(name).map_err(|e| format!("bad name {name:?}: {e}"))?;
    name.set_fqdn(true);
    Ok(name)
}

fn stats(ctl: &Control) -> String {
    let mut out = String::new();
    for (name, value) in ctl.metrics.rows() {
        let _ = writeln!(out, "{name} {value}");
    }
    if let Some(cache) = &ctl.cache {
        let _ = writeln!(out, "cache_entries {}", cache.len());
        let _ = writeln!(out, "cache_bytes {}", cache.bytes());
    }
    out
}

fn reload(ctl: &Control) -> Result<String, String> {
    // First, and whatever becomes of the rest: after logrotate renamed the file, every line
    // until this goes to the renamed one (which `delaycompress` keeps open for it).
    if let Some(log) = &ctl.query_log {
        log.reopen();
    }
    let zones = match ctl.registry.zones().reload() {
        Ok(()) => {
            tracing::info!("zones reloaded (tern ctl)");
            Ok("zones reloaded\n".to_string())
        }
        Err(e) => {
            tracing::error!("reload failed (tern ctl); still serving the previous zones: {e}");
            Err(format!(
                "reload failed; still serving the previous zones\n{e}"
            ))
        }
    };
    let Some(certificates) = &ctl.tls else {
        return zones;
    };
    // The certificate is tried whatever became of the zones: a renewal must not wait on an
    // unrelated broken zone file.
    let tls = match certificates.reload() {
        Ok(()) => {
            tracing::info!("tls certificate reloaded (tern ctl)");
            Ok("tls certificate reloaded\n".to_string())
        }
        Err(e) => {
            tracing::error!("tls certificate reload failed (tern ctl); keeping the old one: {e}");
            Err(format!(
                "tls certificate reload failed; keeping the old one\n{e}\n"
            ))
        }
    };
    match (zones, tls) {
        (Ok(z), Ok(t)) => Ok(z + &t),
        (Err(z), Ok(_)) => Err(z),
        (Ok(_), Err(t)) => Err(t),
        (Err(z), Err(t)) => Err(format!("{z}\n{t}")),
    }
}

fn flushed(ctl: &Control, what: Flush<'_>) -> String {
    let removed = ctl.handler.flush(what);
    tracing::info!(?what, removed, "cache flushed (tern ctl)");
    format!("removed {removed} cache entries\n")
}

fn dump_cache(ctl: &Control) -> String {
    let Some(cache) = &ctl.cache else {
        return "; no cache: recursion is off\n".to_string();
    };
    // Edge: an operator's command, outside any request: the dump shows TTLs as of now.
    super::dump::text(&cache.dump(Instant::now()))
}

/// `save-cache FILE` or `load-cache FILE` split into the verb and FILE, which is the rest of
/// the line (trimmed) so that a path may hold spaces; `None` for any other command, or
/// without a FILE.
pub(super) fn file_argument(line: &str) -> Option<(&str, &str)> {
    let (verb, rest) = line.trim().split_once(char::is_whitespace)?;
    let file = rest.trim();
    (matches!(verb, "save-cache" | "load-cache") && !file.is_empty()).then_some((verb, file))
}

/// The cache and the file of `save-cache FILE` or `load-cache FILE`. The server opens the
/// file, in its own working folder: a relative path would not be the one the operator meant
/// (`tern ctl` makes it absolute before sending).
fn cache_file<'a>(
    ctl: &'a Control,
    command: &str,
    line: &str,
) -> Result<(&'a Cache, PathBuf), String> {
    let Some((_, file)) = file_argument(line) else {
        return Err(format!("usage: {command} FILE"));
    };
    let file = PathBuf::from(file);
    if !file.is_absolute() {
        return Err(format!(
            "{command}: {} is not an absolute path",
            file.display()
        ));
    }
    let cache = ctl.cache.as_deref().ok_or("no cache: recursion is off")?;
    Ok((cache, file))
}

/// `save-cache FILE` or `load-cache FILE`: the cache file written or merged in.
fn cache_file_command(ctl: &Control, command: &str, line: &str) -> Result<String, String> {
    let (cache, file) = cache_file(ctl, command, line)?;
    // Edge: an operator's command, outside any request: the clock is read here.
    let op = if command == "save-cache" {
        FileOp::Save
    } else {
        FileOp::Load
    };
    match cache.save_or_load(op, &file, Instant::now(), SystemTime::now()) {
        Ok(done) => Ok(format!("{}: {done}\n", file.display())),
        Err(e) => Err(format!("{}: {e}", file.display())),
    }
}

/// `origin serial source` per zone: the configured ones (and those only services make) in
/// DNS order (RFC 4034 §6.1: a parent before its children); with `all`, the built-in local
/// zones after them, also sorted. Those are some forty (RFC 6761, RFC 6303), and nobody
/// configured them: by default they would bury the zones one asked about.
fn zones(ctl: &Control, all: bool) -> String {
    let catalog = ctl.handler.catalog();
    let mut configured: Vec<(Name, String, &str)> = ctl
        .zone_sources
        .iter()
        .map(|(origin, source)| {
            let serial = catalog
                .find(origin)
                .filter(|z| z.origin() == origin)
                .map_or("-".to_string(), |z| z.serial().to_string());
            (origin.clone(), serial, source.as_str())
        })
        .collect();
    for zone in catalog.zones() {
        if !ctl.zone_sources.iter().any(|(o, _)| o == zone.origin()) {
            configured.push((zone.origin().clone(), zone.serial().to_string(), "services"));
        }
    }
    listing(configured, &ctl.builtin, all)
}

/// The lines of `zones`: `configured` (origin, serial, source) sorted, then with `all` the
/// built-in zones sorted.
fn listing(
    mut configured: Vec<(Name, String, &str)>,
    builtin: &[(Name, u32)],
    all: bool,
) -> String {
    configured.sort_by(|a, b| a.0.cmp(&b.0));
    let mut builtin: Vec<&(Name, u32)> = if all {
        builtin.iter().collect()
    } else {
        Vec::new()
    };
    builtin.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = String::new();
    for (origin, serial, source) in configured {
        let _ = writeln!(out, "{origin} {serial} {source}");
    }
    for (origin, serial) in builtin {
        let _ = writeln!(out, "{origin} {serial} builtin");
    }
    out
}

fn services(ctl: &Control) -> String {
    let health = ctl.registry.health();
    let mut out = String::new();
    for reg in ctl.registry.services() {
        let s = &reg.service;
        let failed_open = s.fails_open(&|i| health.is_healthy(&instance_id(s, i)));
        for i in &s.instances {
            let h = health.get(&instance_id(s, i));
            // Down, yet answered: every instance of the service is down, so all are listed.
            let state = match &h {
                Some(h) if !h.healthy && failed_open => "unhealthy failed_open",
                Some(h) if !h.healthy => "unhealthy",
                _ => "healthy",
            };
            let _ = write!(
                out,
                "{} {} {}:{} {state}",
                s.host(),
                i.name,
                i.address,
                i.port
            );
            if !reg.checks.contains_key(&i.name) {
                out.push_str(" unchecked");
            }
            if let Some(rtt) = h.as_ref().and_then(|h| h.rtt) {
                let _ = write!(out, " rtt={rtt:?}");
            }
            if let Some(err) = h.as_ref().and_then(|h| h.last_error.as_deref()) {
                let _ = write!(out, " last_error={err:?}");
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::name;

    #[test]
    fn zones_lists_the_configured_sorted_and_builtins_only_with_all() {
        let configured = || {
            vec![
                (name("b.test."), "3".to_string(), "file b.zone"),
                (name("test."), "1".to_string(), "services"),
                (
                    name("a.test."),
                    "2".to_string(),
                    "secondary of 127.238.0.1:53",
                ),
            ]
        };
        let builtin = [(name("localhost."), 1), (name("10.in-addr.arpa."), 1)];
        let want =
            "test. 1 services\na.test. 2 secondary of 127.238.0.1:53\nb.test. 3 file b.zone\n";
        assert_eq!(listing(configured(), &builtin, false), want);
        assert_eq!(
            listing(configured(), &builtin, true),
            format!("{want}10.in-addr.arpa. 1 builtin\nlocalhost. 1 builtin\n")
        );
    }

    #[test]
    fn a_cache_file_is_the_rest_of_the_line() {
        assert_eq!(
            file_argument("save-cache /var/lib/tern/my cache.bin "),
            Some(("save-cache", "/var/lib/tern/my cache.bin"))
        );
        assert_eq!(
            file_argument(" load-cache  /c.bin"),
            Some(("load-cache", "/c.bin"))
        );
        assert_eq!(file_argument("save-cache"), None);
        assert_eq!(file_argument("save-cache   "), None);
        assert_eq!(file_argument("flush a b"), None);
    }
}
