//! Scale-out: dnsdist (Debian's 1.7) in front of two `tern serve --no-recursion` binaries that
//! serve the same zone. dnsdist spreads the queries round robin (deterministic: with one query
//! at a time the two terns alternate, where `leastOutstanding` sees no outstanding query on
//! either and picks by measured latency, so its split depends on timing: 57/43 in a trial
//! here); every query is answered; the terns' own `queries` counters add up to what dnsdist
//! forwarded plus its health checks, each tern taking its share; and when one tern stops,
//! dnsdist marks it down and the other answers everything, and takes it back when it returns.
//!
//! dnsdist's health checks ask `health.scale.test. A` (a name the zone has, `mustResolve`),
//! once a second per backend. So that the terns' counters can be accounted for exactly, its
//! `checkFunction` appends one line per check to a file per backend. It polls no security
//! status (`setSecurityPollSuffix("")`), opens no console or web server, and has no packet
//! cache; every name asked is different anyway. Everything stays on 127.223.0.0/24.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::support::{self, TempDir, query, udp_raw};

const SUBNET: u8 = 223;
const TERN: &str = env!("CARGO_BIN_EXE_tern");

/// Every name below scale.test. has an A record (the wildcard), so each query can ask a new one.
const ZONE: &str = "$ORIGIN scale.test.\n$TTL 300\n\
@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.223.0.1\n\
health A 127.223.0.99\n* A 127.223.0.200\n";
const WILDCARD_ADDR: &str = "127.223.0.200";

/// Queries sent through dnsdist for the split.
const QUERIES: usize = 400;
/// Bounds on each tern's share of them (round robin with one query at a time gives 50 %).
const SHARE: std::ops::RangeInclusive<usize> = (QUERIES * 35 / 100)..=(QUERIES * 65 / 100);

/// How long to wait for a process to start listening, dnsdist to change its mind about a
/// backend, or a process to exit after SIGTERM.
const WAIT: Duration = Duration::from_secs(5);

/// A state folder holding the zone file, removed when dropped.
fn state(what: &str) -> TempDir {
    let dir = TempDir::new(&format!("scaleout-{what}"));
    std::fs::write(dir.0.join("scale.test.zone"), ZONE).expect("zone file");
    dir
}

/// A process this test started; SIGKILLed (by its PID) and reaped when dropped, also on panic.
struct Proc {
    child: Child,
    /// Where its stdout and stderr go.
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    fn spawn(cmd: &mut Command, out: PathBuf, err: PathBuf) -> Proc {
        let stdout = std::fs::File::create(&out).expect("stdout file");
        let stderr = std::fs::File::create(&err).expect("stderr file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
        Proc { child, out, err }
    }

    /// SIGTERM, then waits (bounded) for it to exit. Panics if it does not.
    async fn terminate(&mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success(), "kill -TERM {}", self.child.id());
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if self.child.try_wait().expect("try_wait").is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "{} did not exit within {WAIT:?} of SIGTERM",
            self.child.id()
        );
    }

    fn exited(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_some()
    }

    fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!(
            "--- stdout\n{}--- stderr\n{}",
            read(&self.out),
            read(&self.err)
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A no-op once the child has been reaped: never signals a reused PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The bytes waiting in the receive queue of each UDP socket bound to `addr`, read from
/// /proc/net/udp (so that looking sends the terns no query their counters would count).
fn udp_queues(addr: SocketAddr) -> Vec<u64> {
    let IpAddr::V4(ip) = addr.ip() else {
        return Vec::new();
    };
    let local = format!(
        "{:08X}:{:04X}",
        u32::from_ne_bytes(ip.octets()),
        addr.port()
    );
    std::fs::read_to_string("/proc/net/udp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|fields| fields.get(1) == Some(&local.as_str()))
        // `tx_queue:rx_queue`, in hex.
        .filter_map(|fields| u64::from_str_radix(fields.get(4)?.split_once(':')?.1, 16).ok())
        .collect()
}

/// True once something listens on UDP `addr`.
fn listening_udp(addr: SocketAddr) -> bool {
    !udp_queues(addr).is_empty()
}

/// Waits (bounded) until every datagram sent to the terns on `ips` has been read: the
/// health checks dnsdist sent before it stopped are then in their counters.
async fn wait_read(ips: [IpAddr; 2]) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if ips
            .iter()
            .all(|ip| udp_queues(SocketAddr::new(*ip, 53)).iter().all(|&q| q == 0))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the terns on {ips:?} left datagrams unread for {WAIT:?}");
}

/// Waits (bounded) until `proc` listens on UDP `addr`.
async fn wait_listening(proc: &mut Proc, addr: SocketAddr) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if listening_udp(addr) {
            return;
        }
        assert!(
            !proc.exited(),
            "exited before listening on {addr}\n{}",
            proc.logs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("nothing listens on {addr} after {WAIT:?}\n{}", proc.logs());
}

/// `tern serve`, authoritative for scale.test. only, on `ip:53`.
async fn start_tern(dir: &Path, ip: IpAddr, name: &str) -> Proc {
    let addr = SocketAddr::new(ip, 53);
    let mut tern = Proc::spawn(
        Command::new(TERN)
            .args(["serve", "--no-recursion", "--log-level", "warn", "--listen"])
            .arg(addr.to_string())
            .arg("--zone")
            .arg(format!(
                "scale.test.={}",
                dir.join("scale.test.zone").display()
            )),
        dir.join(format!("{name}.out")),
        dir.join(format!("{name}.err")),
    );
    wait_listening(&mut tern, addr).await;
    tern
}

/// A counter from what `tern serve` printed on stderr when it stopped (`queries   123`).
fn counter(tern: &Proc, name: &str) -> usize {
    let text = std::fs::read_to_string(&tern.err).expect("tern stderr");
    text.lines()
        .find_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [n, v] if n == name => v.parse().ok(),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no `{name}` counter in tern's stderr:\n{text}"))
}

/// The backends' names in dnsdist's config and log.
const BACKENDS: [&str; 2] = ["tern-1", "tern-2"];

/// A health-check function for dnsdist that asks the query it is given and appends a line to
/// `file` each time, so the test can account for every query the backends counted.
const COUNTED: &str = r#"local function counted(file)
  return function(qname, qtype, qclass, dh)
    local f = io.open(file, "a")
    f:write("check\n")
    f:close()
    return qname, qtype, qclass
  end
end
"#;

/// dnsdist on `listen:53` in front of `backends` (port 53), round robin, in the foreground.
/// Health checks are counted one line each in `DIR/checks.NAME`.
async fn start_dnsdist(dir: &Path, listen: IpAddr, backends: [IpAddr; 2]) -> Proc {
    let mut conf = format!(
        "setSecurityPollSuffix(\"\")\nsetLocal(\"{listen}:53\")\n\
         setVerboseHealthChecks(true)\n{COUNTED}"
    );
    for (name, ip) in BACKENDS.iter().zip(backends) {
        let checks = dir.join(format!("checks.{name}"));
        conf.push_str(&format!(
            "newServer{{address=\"{ip}:53\", name=\"{name}\", pool=\"\", \
             checkName=\"health.scale.test.\", checkType=\"A\", mustResolve=true, \
             checkInterval=1, checkTimeout=500, maxCheckFailures=1, rise=1, \
             checkFunction=counted({:?})}}\n",
            checks.display().to_string()
        ));
    }
    conf.push_str("setServerPolicy(roundrobin)\n");
    let path = dir.join("dnsdist.conf");
    std::fs::write(&path, conf).expect("dnsdist config");
    let dnsdist = support::system_binary("dnsdist", "the load balancer of the scale-out test");
    let mut proc = Proc::spawn(
        Command::new(dnsdist)
            .args(["--supervised", "--disable-syslog", "-C"])
            .arg(&path),
        dir.join("dnsdist.out"),
        dir.join("dnsdist.err"),
    );
    wait_listening(&mut proc, SocketAddr::new(listen, 53)).await;
    for (name, ip) in BACKENDS.iter().zip(backends) {
        wait_marked(&mut proc, name, ip, "up", 1).await;
    }
    proc
}

/// Waits (bounded) until dnsdist has logged `times` times that it marked backend `name` `state`.
async fn wait_marked(dnsdist: &mut Proc, name: &str, ip: IpAddr, state: &str, times: usize) {
    let line = format!("Marking downstream {name} ({ip}:53) as '{state}'");
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let out = std::fs::read_to_string(&dnsdist.out).unwrap_or_default();
        if out.matches(&line).count() >= times {
            return;
        }
        assert!(!dnsdist.exited(), "dnsdist exited\n{}", dnsdist.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "dnsdist did not mark {name} {state} within {WAIT:?}\n{}",
        dnsdist.logs()
    );
}

/// Health checks dnsdist sent backend `name` (lines its checkFunction wrote).
fn checks(dir: &Path, name: &str) -> usize {
    std::fs::read_to_string(dir.join(format!("checks.{name}")))
        .unwrap_or_default()
        .lines()
        .count()
}

/// Asks `qname` A through `server`; the failure, if it is not the wildcard's answer.
async fn ask(server: SocketAddr, qname: &str) -> Result<(), String> {
    let msg = query(qname, RecordType::A, true, Some(1232));
    let reply = udp_raw(
        server,
        &msg.to_vec().expect("encode"),
        Duration::from_secs(2),
    )
    .await
    .ok_or_else(|| format!("{qname}: no answer within 2 s"))?;
    let m = Message::from_vec(&reply).map_err(|e| format!("{qname}: {e}"))?;
    let answers: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
    let ok = m.metadata.id == msg.metadata.id
        && m.metadata.response_code == ResponseCode::NoError
        && m.metadata.authoritative
        && m.queries.first().map(|q| q.name().to_ascii()).as_deref() == Some(qname)
        && answers == [WILDCARD_ADDR];
    ok.then_some(()).ok_or_else(|| {
        format!(
            "{qname}: {} AA={} {answers:?}",
            m.metadata.response_code, m.metadata.authoritative
        )
    })
}

/// Sends `n` distinct queries through `server`, one at a time; panics on any failure.
async fn ask_all(server: SocketAddr, label: &str, n: usize) {
    for i in 0..n {
        if let Err(e) = ask(server, &format!("q{i}.{label}.scale.test.")).await {
            panic!("query {i} of {n} through dnsdist: {e}");
        }
    }
}

#[tokio::test]
async fn dnsdist_round_robin_splits_queries_between_two_terns() {
    let dir = state("split");
    let ips = [support::addr(SUBNET, 1), support::addr(SUBNET, 2)];
    let front = support::addr(SUBNET, 10);
    let mut terns = [
        start_tern(&dir.0, ips[0], BACKENDS[0]).await,
        start_tern(&dir.0, ips[1], BACKENDS[1]).await,
    ];
    let mut dnsdist = start_dnsdist(&dir.0, front, ips).await;

    let started = Instant::now();
    ask_all(SocketAddr::new(front, 53), "split", QUERIES).await;
    eprintln!(
        "{QUERIES} queries through dnsdist in {:?}",
        started.elapsed()
    );

    // dnsdist first, so no health check is sent after the count is taken; then until the
    // terns have read the last ones (they print their counters when they stop).
    dnsdist.terminate().await;
    wait_read(ips).await;
    let checks = BACKENDS.map(|name| checks(&dir.0, name));
    for tern in &mut terns {
        tern.terminate().await;
    }
    let queries = terns.each_ref().map(|t| counter(t, "queries"));
    let refused = terns.each_ref().map(|t| counter(t, "refused"));
    eprintln!("tern queries {queries:?}, of which dnsdist health checks {checks:?}");

    assert_eq!(refused, [0, 0], "every query was for the zone");
    assert!(
        checks.iter().all(|&c| c >= 1),
        "dnsdist health-checked both: {checks:?}"
    );
    // Nothing but the forwarded queries and the health checks reached the terns.
    assert_eq!(
        queries[0] + queries[1],
        QUERIES + checks[0] + checks[1],
        "tern queries {queries:?} = {QUERIES} forwarded + health checks {checks:?}"
    );
    for ((name, q), c) in BACKENDS.iter().zip(queries).zip(checks) {
        let share = q - c;
        assert!(
            SHARE.contains(&share),
            "{name} answered {share} of {QUERIES} forwarded queries, outside {SHARE:?}"
        );
    }
}

#[tokio::test]
async fn dnsdist_marks_a_stopped_tern_down_and_the_other_answers_everything() {
    // Its own addresses, so it runs beside the split test.
    let dir = state("failover");
    let ips = [support::addr(SUBNET, 3), support::addr(SUBNET, 4)];
    let front = SocketAddr::new(support::addr(SUBNET, 11), 53);
    let mut first = start_tern(&dir.0, ips[0], BACKENDS[0]).await;
    let mut second = start_tern(&dir.0, ips[1], BACKENDS[1]).await;
    let mut dnsdist = start_dnsdist(&dir.0, front.ip(), ips).await;
    ask_all(front, "both", 20).await;

    // One tern stops: at its next health check (at most a second later) dnsdist marks it down,
    // and from then on every query goes to the other one.
    first.terminate().await;
    let stopped = Instant::now();
    wait_marked(&mut dnsdist, BACKENDS[0], ips[0], "down", 1).await;
    eprintln!("marked down {:?} after the stop", stopped.elapsed());
    ask_all(front, "one", 100).await;

    // Back again (a rolling restart): marked up at its next check, and it takes its share.
    let mut back = start_tern(&dir.0, ips[0], "tern-1-again").await;
    wait_marked(&mut dnsdist, BACKENDS[0], ips[0], "up", 2).await;
    ask_all(front, "again", 40).await;
    dnsdist.terminate().await;
    wait_read(ips).await;
    back.terminate().await;
    second.terminate().await;

    let before = counter(&first, "queries");
    let back_queries = counter(&back, "queries");
    let second_queries = counter(&second, "queries");
    eprintln!("queries: first tern {before}, second {second_queries}, first again {back_queries}");
    // Health checks are at most one a second each; these bounds leave room for them.
    assert!(
        (10..=20).contains(&before),
        "the first tern had ~half of the 20 queries: {before}"
    );
    assert!(
        second_queries >= 10 + 100 + 20,
        "the second tern answered all 100 while the first was down: {second_queries}"
    );
    assert!(
        (20..=30).contains(&back_queries),
        "the restarted tern took half of the last 40: {back_queries}"
    );
}
