//! Zone replication between the `tern serve` binary and other implementations, over real
//! sockets: BIND's `dig` and Knot's `kdig` transferring from tern (AXFR, IXFR, TSIG, the
//! transfer ACL), NSD and Knot as secondaries of tern (NOTIFY, then IXFR), tern as a secondary
//! of NSD (AXFR, and IXFR through a chain tern → NSD → tern), and two terns with a TSIG-keyed
//! transfer.
//!
//! Everything runs on `127.221.0.x`. Each test writes its configs, zone files and logs into its
//! own temporary folder (removed when the test ends), and stops every process it started by
//! that process's PID when it ends, also when an assertion fails. The zones' SOA REFRESH is an
//! hour, so a change reaching a secondary within the test's wait came by NOTIFY. NSD, Knot,
//! dig, kdig and nsupdate must be installed (tests/run.sh installs them): without them these
//! tests fail rather than silently pass.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::support::{self, TempDir, addr, query, udp_raw};

const SUBNET: u8 = 221;
const TERN: &str = env!("CARGO_BIN_EXE_tern");
/// The longest any one condition is waited for.
const WAIT: Duration = Duration::from_secs(10);

const KEY_NAME: &str = "xfr-key";
const SECRET: &str = "rA0vYkUtMYbHyasRqZjFKV7wWJrYcXs2xJ0C9Rk0u0o=";
const WRONG_SECRET: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// The key in BIND's key-file format (`tsig-keygen xfr-key`, with a fixed secret).
fn key_file_text() -> String {
    format!("key \"{KEY_NAME}\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{SECRET}\";\n}};\n")
}

/// A zone at serial `serial`, REFRESH an hour (only NOTIFY makes a secondary follow fast).
fn zone_text(origin: &str, ns: IpAddr, serial: u32) -> String {
    format!(
        "$ORIGIN {origin}\n$TTL 300\n\
         @ SOA ns1 hostmaster {serial} 3600 600 86400 60\n\
         @ NS ns1\n\
         ns1 A {ns}\n\
         old A 192.0.2.1\n\
         www A 192.0.2.2\n\
         www AAAA 2001:db8::2\n\
         @ MX 10 www\n\
         @ TXT \"v=spf1 -all\"\n"
    )
}

/// What `zone_text` holds, as dig prints records (whitespace collapsed), SOA excepted.
fn zone_lines(origin: &str, ns: IpAddr) -> Vec<String> {
    let mut v = vec![
        format!("{origin} 300 IN NS ns1.{origin}"),
        format!("ns1.{origin} 300 IN A {ns}"),
        format!("old.{origin} 300 IN A 192.0.2.1"),
        format!("www.{origin} 300 IN A 192.0.2.2"),
        format!("www.{origin} 300 IN AAAA 2001:db8::2"),
        format!("{origin} 300 IN MX 10 www.{origin}"),
        format!("{origin} 300 IN TXT \"v=spf1 -all\""),
    ];
    v.sort();
    v
}

fn soa_line(origin: &str, serial: u32) -> String {
    format!("{origin} 300 IN SOA ns1.{origin} hostmaster.{origin} {serial} 3600 600 86400 60")
}

/// The change every test makes on a primary: one record deleted, one added, one UPDATE.
const CHANGE: &str = "update delete old.ORIGIN A\nupdate add new.ORIGIN 300 A 192.0.2.9\n";

// ---------------------------------------------------------------------------------------------
// Folders and processes

/// A server process this test started; stopped by its PID when dropped, also on panic.
struct Daemon {
    child: Child,
    what: &'static str,
    log: PathBuf,
    /// SIGTERM first, so a daemon with children (NSD) stops them; SIGKILL if it lingers.
    graceful: bool,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.graceful {
            let _ = Command::new("kill")
                .arg(self.child.id().to_string())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Daemon {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Panics (with the log) if the process has already exited.
    fn check_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("{} exited ({status}); log:\n{}", self.what, self.log());
        }
    }
}

/// Starts `tern serve --log-level info` on `config` written to `dir/tern.toml`; the log goes to
/// `dir/tern.log` (uncoloured). Waits until it answers for `zone` (any answer).
async fn start_tern(dir: &Path, server: SocketAddr, config: &str, zone: &str) -> Daemon {
    let path = dir.join("tern.toml");
    std::fs::write(&path, config).expect("tern.toml");
    let log_path = dir.join("tern.log");
    let log = std::fs::File::create(&log_path).expect("log file");
    let child = Command::new(TERN)
        .args(["serve", "--log-level", "info", "--config"])
        .arg(&path)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start tern serve");
    let mut tern = Daemon {
        child,
        what: "tern",
        log: log_path,
        graceful: false,
    };
    answering(&mut tern, server, zone, &format!("serving addr={server}")).await;
    tern
}

/// Waits until the daemon's log says it started (`ready`: so an old server left on the same
/// address cannot pass for it) and `server` answers a query for `zone`'s SOA (SERVFAIL counts).
async fn answering(daemon: &mut Daemon, server: SocketAddr, zone: &str, ready: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        daemon.check_running();
        if daemon.log().contains(ready) && ask(server, zone, RecordType::SOA).await.is_some() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} does not answer on {server}; log:\n{}",
            daemon.what,
            daemon.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Starts NSD in the foreground on `ip:53` with `zones` (its `zone:` blocks), all its state in
/// `dir`; waits until it answers for `probe`.
async fn start_nsd(dir: &Path, ip: IpAddr, zones: &str, probe: &str) -> Daemon {
    let binary = support::system_binary("nsd", "NSD (Debian package nsd), a transfer peer");
    let state = dir.display();
    let conf = format!(
        "server:\n  ip-address: {ip}\n  port: 53\n  do-ip6: no\n  server-count: 1\n  \
         username: \"\"\n  chroot: \"\"\n  zonesdir: \"{state}\"\n  pidfile: \"{state}/nsd.pid\"\n  \
         database: \"\"\n  zonelistfile: \"{state}/zone.list\"\n  xfrdfile: \"{state}/xfrd.state\"\n  \
         xfrdir: \"{state}\"\n  logfile: \"{state}/nsd.log\"\n  verbosity: 2\n  rrl-ratelimit: 0\n\
         remote-control:\n  control-enable: no\n{zones}"
    );
    let path = dir.join("nsd.conf");
    std::fs::write(&path, conf).expect("nsd.conf");
    let out = std::fs::File::create(dir.join("nsd.out")).expect("nsd.out");
    let child = Command::new(binary)
        .arg("-d")
        .arg("-c")
        .arg(&path)
        .stdout(out.try_clone().expect("nsd.out"))
        .stderr(out)
        .spawn()
        .expect("start nsd");
    let mut nsd = Daemon {
        child,
        what: "nsd",
        log: dir.join("nsd.log"),
        graceful: true,
    };
    answering(&mut nsd, SocketAddr::new(ip, 53), probe, "nsd started").await;
    nsd
}

/// Starts `knotd -c` in the foreground on `ip:53`; `rest` is its `remote:`/`acl:`/`zone:`
/// configuration. Its rundir, database and log are in `dir`.
async fn start_knot(dir: &Path, ip: IpAddr, rest: &str, probe: &str) -> Daemon {
    let binary = support::system_binary("knotd", "Knot DNS (Debian package knot), a secondary");
    let state = dir.display();
    let conf = format!(
        "server:\n  rundir: \"{state}\"\n  listen: {ip}@53\n\
         database:\n  storage: \"{state}\"\n  journal-db-max-size: 64M\n  \
         timer-db-max-size: 16M\n  kasp-db-max-size: 16M\n\
         log:\n  - target: \"{state}/knot.log\"\n    any: info\n\
         template:\n  - id: default\n    storage: \"{state}\"\n    zonefile-sync: -1\n\
         {rest}"
    );
    let path = dir.join("knot.conf");
    std::fs::write(&path, conf).expect("knot.conf");
    let out = std::fs::File::create(dir.join("knot.out")).expect("knot.out");
    let child = Command::new(binary)
        .arg("-c")
        .arg(&path)
        .stdout(out.try_clone().expect("knot.out"))
        .stderr(out)
        .spawn()
        .expect("start knotd");
    let mut knot = Daemon {
        child,
        what: "knotd",
        log: dir.join("knot.log"),
        graceful: true,
    };
    answering(&mut knot, SocketAddr::new(ip, 53), probe, "server started").await;
    knot
}

// ---------------------------------------------------------------------------------------------
// Asking and waiting

/// One UDP query, RD=0 (None when nothing came back in 300 ms).
async fn ask(server: SocketAddr, qname: &str, qtype: RecordType) -> Option<Message> {
    let msg = query(qname, qtype, false, Some(1232));
    let reply = udp_raw(
        server,
        &msg.to_vec().expect("encode"),
        Duration::from_millis(300),
    )
    .await?;
    Message::from_vec(&reply).ok()
}

/// Ok when `server` answers `qname`/`qtype` authoritatively (AA, NOERROR) with exactly `want`
/// (RDATA as text, any order); else what it answered.
async fn serves(
    server: SocketAddr,
    qname: &str,
    qtype: RecordType,
    want: &[&str],
) -> Result<(), String> {
    let m = ask(server, qname, qtype)
        .await
        .ok_or_else(|| format!("{server}: no answer to {qname} {qtype}"))?;
    let mut got: Vec<String> = m
        .answers
        .iter()
        .filter(|r| r.record_type() == qtype)
        .map(|r| r.data.to_string())
        .collect();
    got.sort();
    let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
    want.sort();
    let (aa, rcode) = (m.metadata.authoritative, m.metadata.response_code);
    if aa && rcode == ResponseCode::NoError && got == want {
        Ok(())
    } else {
        Err(format!(
            "{server}: {qname} {qtype}: aa={aa} {rcode} {got:?}, want AA NOERROR {want:?}"
        ))
    }
}

/// Ok when `server` answers `zone`'s SOA authoritatively at `serial`.
async fn serial_is(server: SocketAddr, zone: &str, serial: u32) -> Result<(), String> {
    let m = ask(server, zone, RecordType::SOA)
        .await
        .ok_or_else(|| format!("{server}: no answer to {zone} SOA"))?;
    match m.answers.first().map(|r| &r.data) {
        Some(RData::SOA(soa)) if m.metadata.authoritative && soa.serial == serial => Ok(()),
        _ => Err(format!(
            "{server}: {zone} SOA: aa={} {} {:?}, want serial {serial}",
            m.metadata.authoritative,
            m.metadata.response_code,
            m.answers.iter().map(|r| r.to_string()).collect::<Vec<_>>()
        )),
    }
}

/// Polls `check` every 100 ms until it is Ok; after `WAIT`, its last complaint.
async fn eventually<F, Fut>(mut check: F) -> Result<Duration, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(()) => return Ok(start.elapsed()),
            Err(e) if start.elapsed() >= WAIT => return Err(format!("after {WAIT:?}: {e}")),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Whether one line of `log` contains every one of `parts`.
fn log_has(log: &str, parts: &[&str]) -> bool {
    log.lines().any(|l| parts.iter().all(|p| l.contains(p)))
}

/// Polls `daemon`'s log until one line contains every one of `parts`.
async fn logged(daemon: &Daemon, parts: &[&str]) -> Result<(), String> {
    eventually(|| async {
        if log_has(&daemon.log(), parts) {
            Ok(())
        } else {
            Err(String::new())
        }
    })
    .await
    .map(|_| ())
    .map_err(|_| {
        format!(
            "no line of the {} log has {parts:?}; log:\n{}",
            daemon.what,
            daemon.log()
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Command-line tools

fn run(tool: &str, args: &[&str]) -> Output {
    let binary = support::system_binary(tool, "a DNS client of the transfer interop tests");
    Command::new(binary)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{tool} runs: {e}"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The records dig or kdig printed (comments dropped, whitespace collapsed), in order.
fn printed_records(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// `CHANGE` for `origin`, sent by `nsupdate -k KEYFILE` to `server`; panics if refused.
fn change(server: SocketAddr, origin: &str, key_file: &Path) {
    let script = format!(
        "server {} {}\nzone {origin}\n{}send\nquit\n",
        server.ip(),
        server.port(),
        CHANGE.replace("ORIGIN", origin)
    );
    let key = key_file.to_str().expect("utf-8 path");
    let out = support::update_client("nsupdate", &["-k", key], &script);
    assert!(out.status.success(), "nsupdate: {}", text(&out));
}

/// A tern primary's config for `origin`: updates signed with the key, and `allow_transfer` and
/// `notify` as given (TOML arrays).
fn primary_config(server: SocketAddr, origin: &str, allow_transfer: &str, notify: &str) -> String {
    format!(
        "[server]\nlisten = [\"{server}\"]\nno_recursion = true\n\
         [[tsig_key]]\nfile = \"{KEY_NAME}.key\"\n\
         [[zone]]\norigin = \"{origin}\"\nfile = \"{origin}zone\"\n\
         update_keys = [\"{KEY_NAME}\"]\nallow_transfer = {allow_transfer}\nnotify = {notify}\n"
    )
}

/// Writes the zone file and the key file a `primary_config` refers to; the key file's path.
fn primary_files(dir: &Path, origin: &str, ns: IpAddr) -> PathBuf {
    std::fs::write(dir.join(format!("{origin}zone")), zone_text(origin, ns, 1)).expect("zone");
    let key = dir.join(format!("{KEY_NAME}.key"));
    std::fs::write(&key, key_file_text()).expect("key file");
    key
}

// ---------------------------------------------------------------------------------------------
// The tests

mod peers;
mod restart;
mod terns;
mod tools;
