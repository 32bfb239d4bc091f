//! Shared test support: start tern servers on loopback and query them over real sockets.
//!
//! Every test uses its own loopback subnet `127.<n>.0.x` (see `subnet`), so tests run in
//! parallel on port 53 without colliding.

#![allow(dead_code)]

pub(crate) mod nsd;
pub(crate) mod unbound;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, Record, RecordType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinSet;

use tern::Handler;
use tern::Metrics;
use tern::Registry;
use tern::ShutdownTrigger;
use tern::{Catalog, Zone};
use tern::{Fixed, NameServer, Stored};

/// How long a test waits for any one reply before failing.
pub(crate) const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// A loopback address on a test's own subnet: `127.<subnet>.0.<host>`.
pub(crate) fn addr(subnet: u8, host: u8) -> IpAddr {
    IpAddr::from([127, subnet, 0, host])
}

pub(crate) fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("test name")
}

/// Parses zone text (test zones are tables of zone-file text, not code).
pub(crate) fn zone(origin: &str, text: &str) -> Zone {
    Zone::from_text(
        text,
        Path::new(&format!("{origin}zone")),
        Some(&name(origin)),
    )
    .expect("test zone is valid")
}

/// A running tern server; stops when dropped.
pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) handler: Arc<Handler>,
    tasks: JoinSet<()>,
    trigger: ShutdownTrigger,
}

impl TestServer {
    /// Fires the shutdown and waits until every task serving has ended, none by a panic.
    pub(crate) async fn stopped(mut self) {
        self.trigger.fire();
        while let Some(ended) = self.tasks.join_next().await {
            ended.expect("no panic");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.trigger.fire();
        // Left to wind down after the shutdown, as the server's own tasks do.
        self.tasks.detach_all();
    }
}

/// Starts an authoritative-only tern on `addr` (port 0 picks a free port) serving `zones`.
pub(crate) async fn start_authoritative(addr: SocketAddr, zones: Vec<Zone>) -> TestServer {
    let catalog = Catalog::new(zones).expect("no duplicate zones");
    start_fixed(
        addr,
        NameServer::fixed(catalog, Arc::new(Metrics::default())),
    )
    .await
}

/// Binds UDP and TCP on the same address and port and starts `server` there.
pub(crate) async fn start_fixed(addr: SocketAddr, server: NameServer<Fixed>) -> TestServer {
    let (udp, tcp) = bind_pair(addr).await;
    let addr = udp.local_addr().expect("bound");
    let (trigger, signal) = tern::shutdown_channel();
    let running = server
        .start(vec![udp], vec![tcp], signal)
        .expect("listeners start");
    TestServer {
        addr,
        handler: running.handler,
        tasks: running.tasks,
        trigger,
    }
}

/// [`start_fixed`] for a server of stored zones; also returns the zones' writer.
pub(crate) async fn start_stored(
    addr: SocketAddr,
    server: NameServer<Stored>,
) -> (TestServer, Arc<Registry>) {
    let (udp, tcp) = bind_pair(addr).await;
    let addr = udp.local_addr().expect("bound");
    let (trigger, signal) = tern::shutdown_channel();
    let (running, registry) = server
        .start(vec![udp], vec![tcp], signal)
        .expect("name server starts");
    let server = TestServer {
        addr,
        handler: running.handler,
        tasks: running.tasks,
        trigger,
    };
    (server, registry)
}

/// UDP and TCP sockets on one address; with port 0, retries until both get the same port.
pub(crate) async fn bind_pair(addr: SocketAddr) -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind(addr).await.expect("bind udp");
        let bound = udp.local_addr().expect("bound");
        if let Ok(tcp) = TcpListener::bind(bound).await {
            return (udp, tcp);
        }
    }
    panic!("no port free for both UDP and TCP on {addr}");
}

/// Moves time on by `by`, at once, for the name servers of this test whose edges and timers
/// read its runtime's clock (TCP listeners, timers, and UDP listeners started with
/// [`tern::UdpRuntime::Caller`]): the clock jumps `by`, then runs on in real time. It is paused
/// only while it is moved, never while a reply is awaited: a paused clock jumps to the next
/// timer whenever the runtime has nothing to do, which would fire every I/O timeout at once.
/// Needs the `current_thread` runtime of `#[tokio::test]`.
pub(crate) async fn pass(by: Duration) {
    tokio::time::pause();
    tokio::time::advance(by).await;
    tokio::time::resume();
}

/// A query message as `dig` sends it; `edns` is the advertised UDP payload size, if any.
pub(crate) fn query(qname: &str, qtype: RecordType, rd: bool, edns: Option<u16>) -> Message {
    let mut m = Message::new(rand_id(), MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = rd;
    m.add_query(Query::query(name(qname), qtype));
    if let Some(payload) = edns {
        let mut e = Edns::new();
        e.set_max_payload(payload);
        m.set_edns(e);
    }
    m
}

fn rand_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0x1234);
    NEXT.fetch_add(7919, Ordering::Relaxed)
}

/// Sends raw bytes over UDP and returns the raw reply (None on timeout).
pub(crate) async fn udp_raw(server: SocketAddr, bytes: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let local: SocketAddr = if server.is_ipv4() {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    }
    .parse()
    .expect("addr");
    let sock = UdpSocket::bind(local).await.expect("client socket");
    sock.send_to(bytes, server).await.expect("send");
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(wait, sock.recv_from(&mut buf)).await {
        Ok(Ok((n, _))) => Some(buf[..n].to_vec()),
        _ => None,
    }
}

/// Sends a query over UDP and parses the reply.
pub(crate) async fn udp(server: SocketAddr, msg: &Message) -> Message {
    let bytes = msg.to_vec().expect("encode query");
    let reply = udp_raw(server, &bytes, REPLY_TIMEOUT)
        .await
        .expect("no UDP reply");
    let m = Message::from_vec(&reply).expect("reply parses");
    assert_eq!(m.metadata.id, msg.metadata.id, "reply id matches");
    m
}

/// Asks over UDP and, when the answer is truncated, again over TCP, as a stub resolver does.
pub(crate) async fn exchange(server: SocketAddr, msg: &Message) -> Message {
    let m = udp(server, msg).await;
    if m.metadata.truncation {
        return tcp(server, msg).await;
    }
    m
}

/// `qname qtype` with RD as given, EDNS (1232 bytes) and DO as given.
pub(crate) fn dnssec_query(qname: &str, qtype: RecordType, rd: bool, dnssec_ok: bool) -> Message {
    let mut m = query(qname, qtype, rd, Some(1232));
    if let Some(edns) = m.edns.as_mut() {
        edns.set_dnssec_ok(dnssec_ok);
    }
    m
}

/// Sends a query over a fresh TCP connection and parses the reply.
pub(crate) async fn tcp(server: SocketAddr, msg: &Message) -> Message {
    let mut stream = TcpStream::connect(server).await.expect("tcp connect");
    tcp_send(&mut stream, &msg.to_vec().expect("encode")).await;
    let m =
        Message::from_vec(&tcp_recv(&mut stream).await.expect("tcp reply")).expect("reply parses");
    assert_eq!(m.metadata.id, msg.metadata.id, "reply id matches");
    m
}

/// Writes one length-prefixed frame.
pub(crate) async fn tcp_send(stream: &mut TcpStream, bytes: &[u8]) {
    let len = u16::try_from(bytes.len()).expect("frame fits");
    stream
        .write_all(&len.to_be_bytes())
        .await
        .expect("write len");
    stream.write_all(bytes).await.expect("write body");
}

/// Reads one length-prefixed frame (None if the server closed or timed out).
pub(crate) async fn tcp_recv(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let read = async {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.ok()?;
        let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut body).await.ok()?;
        Some(body)
    };
    tokio::time::timeout(REPLY_TIMEOUT, read)
        .await
        .ok()
        .flatten()
}

/// Records rendered as zone-file lines (`name ttl IN type rdata`), lower-cased names, sorted:
/// the form test tables compare against.
pub(crate) fn lines(records: &[Record]) -> Vec<String> {
    let mut v: Vec<String> = records
        .iter()
        .filter(|r| r.record_type() != RecordType::OPT)
        .map(|r| {
            format!(
                "{} {} IN {} {}",
                r.name.to_ascii().to_lowercase(),
                r.ttl,
                r.record_type(),
                r.data
            )
        })
        .collect();
    v.sort();
    v
}

/// The lab (simulated internet) on subnet `127.<n>.0.x`, port 53; stops when dropped.
pub(crate) struct Lab {
    pub(crate) files: tern::LabFiles,
    _tasks: tokio::task::JoinSet<()>,
    trigger: ShutdownTrigger,
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.trigger.fire();
    }
}

/// Starts the lab hierarchy of `zones/hierarchy/` on its own subnet.
pub(crate) async fn start_lab(n: u8) -> Lab {
    let files = tern::LabFiles::embedded().on_subnet(n);
    let (trigger, signal) = tern::shutdown_channel();
    let tasks = tern::start_lab(&files, 53, signal)
        .await
        .expect("lab starts (needs root for port 53)");
    Lab {
        files,
        _tasks: tasks,
        trigger,
    }
}

/// A recursive tern resolving through a lab; the lab stops with it.
pub(crate) struct Recursive {
    pub(crate) server: TestServer,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) lab: Lab,
}

/// A resolver over `lab`, with recursion for clients `acl` allows.
pub(crate) fn lab_resolver(lab: &Lab, metrics: &Arc<Metrics>) -> tern::Resolver {
    net_resolver(lab.files.root_hints().expect("lab hints"), metrics)
}

/// A resolver over real sockets starting from `hints` (named.root format text).
pub(crate) fn net_resolver(hints: &str, metrics: &Arc<Metrics>) -> tern::Resolver {
    let hints = tern::parse_root_hints(hints, Path::new("root.hints")).expect("hints parse");
    tern::Resolver::new(
        Arc::new(tern::NetUpstream::default()),
        hints,
        Arc::new(tern::Cache::new(tern::CachePolicy::default())),
        tern::ResolverConfig::default(),
        Arc::clone(metrics),
    )
}

/// Starts the lab on subnet `n` and a recursive tern on `bind` (port 0: any free port).
pub(crate) async fn start_recursive(n: u8, bind: SocketAddr, acl: tern::Acl) -> Recursive {
    recursive_over(start_lab(n).await, bind, acl).await
}

/// [`start_recursive`] with the server's UDP listeners on this test's runtime, as its TCP
/// listeners and timers are: [`pass`] then moves time for the whole server.
pub(crate) async fn start_recursive_on_test_clock(
    n: u8,
    bind: SocketAddr,
    acl: tern::Acl,
) -> Recursive {
    recursive_on(start_lab(n).await, bind, acl, tern::UdpRuntime::Caller).await
}

/// A recursive tern on `bind` resolving through a running `lab`.
pub(crate) async fn recursive_over(lab: Lab, bind: SocketAddr, acl: tern::Acl) -> Recursive {
    recursive_on(lab, bind, acl, tern::UdpRuntime::default()).await
}

async fn recursive_on(
    lab: Lab,
    bind: SocketAddr,
    acl: tern::Acl,
    udp_runtime: tern::UdpRuntime,
) -> Recursive {
    let metrics = Arc::new(Metrics::default());
    let resolver = lab_resolver(&lab, &metrics);
    let node = recursive(Vec::new(), resolver, acl, &metrics).udp_runtime(udp_runtime);
    let server = start_fixed(bind, node).await;
    Recursive {
        server,
        metrics,
        lab,
    }
}

/// A name server for `zones` recursing through `resolver` for clients `acl` allows.
pub(crate) fn recursive(
    zones: Vec<Zone>,
    resolver: tern::Resolver,
    acl: tern::Acl,
    metrics: &Arc<Metrics>,
) -> NameServer<Fixed> {
    NameServer::fixed(
        Catalog::new(zones).expect("no duplicate zones"),
        Arc::clone(metrics),
    )
    .recursion(tern::Recursion {
        resolver,
        acl,
        snoop: tern::Acl::new(Vec::new()),
    })
}

/// The RFC 8914 Extended DNS Error of a response: info code and text.
pub(crate) fn ede(m: &Message) -> Option<(u16, String)> {
    use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
    match m.edns.as_ref()?.options().get(EdnsCode::Unknown(15))? {
        EdnsOption::Unknown(_, data) if data.len() >= 2 => Some((
            u16::from_be_bytes([data[0], data[1]]),
            String::from_utf8_lossy(&data[2..]).into_owned(),
        )),
        _ => None,
    }
}

/// A system tool: on PATH, or where Debian puts daemons (/usr/sbin is not always on PATH).
/// Panics with `what` when it is missing: interop tests must fail, not skip, without it.
pub(crate) fn system_binary(tool: &str, what: &str) -> std::path::PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain([
        "/usr/sbin",
        "/usr/local/sbin",
        "/sbin",
    ]) {
        let candidate = std::path::Path::new(dir).join(tool);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!("{tool} is not installed: needed as {what}; tests/run.sh installs it");
}

/// A temporary folder `tern-NAME-PID` (emptied first), removed when dropped: declared first in
/// a test, so that it outlives the processes using it.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("tern-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    /// A subfolder, created.
    pub(crate) fn sub(&self, name: &str) -> PathBuf {
        let dir = self.0.join(name);
        std::fs::create_dir_all(&dir).expect("subfolder");
        dir
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the Debian tool `tool` (`why`: what the tests use it for) with `args`, `input` fed on
/// stdin, and waits for it.
pub(crate) fn pipe_through(
    tool: &str,
    why: &str,
    args: &[&str],
    input: &str,
) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(system_binary(tool, why))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {tool}: {e}"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .unwrap_or_else(|e| panic!("feed {tool}: {e}"));
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("{tool} runs: {e}"))
}

/// Runs BIND's `nsupdate` or Knot's `knsupdate` (the same script language) with `args` (a
/// 5 s timeout added) on `script`, fed on stdin.
pub(crate) fn update_client(tool: &str, args: &[&str], script: &str) -> std::process::Output {
    let args: Vec<&str> = args.iter().copied().chain(["-t", "5"]).collect();
    pipe_through(tool, "the UPDATE clients of the tests", &args, script)
}

/// Sends `signal` (`"HUP"`, `"TERM"`) to `child` with kill(1), which must succeed.
pub(crate) fn signal(child: &std::process::Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {}", child.id());
}

/// The `tern serve` binary running `config`, its stderr appended to `log`; SIGKILLed (by its
/// PID) and reaped when dropped, also on panic: nothing may depend on a clean shutdown.
pub(crate) struct Serve(pub(crate) std::process::Child);

impl Serve {
    pub(crate) fn start(config: &Path, log_level: &str, log: &Path) -> Serve {
        use std::process::{Command, Stdio};
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_tern"))
            .args(["serve", "--log-level", log_level, "--config"])
            .arg(config)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tern serve");
        Serve(child)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
