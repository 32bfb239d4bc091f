//! Partition and heal: a tern primary and two tern secondaries, one of which reaches its
//! primary only through a relay the test can cut (its traffic dropped, as a partition would).
//! While cut off, that secondary keeps answering, with AA, the data it has (availability);
//! the other follows every change at once (NOTIFY, IXFR). Healed, the cut-off one converges
//! within its SOA REFRESH interval; restarted while cut off, it serves its stored copy at once.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};

use crate::support::{self, Serve, TempDir, query, udp_raw};

const SUBNET: u8 = 222;

/// REFRESH and RETRY of 1 s: a healed secondary converges within about a second.
const ZONE: &str = "$ORIGIN cluster.test.\n$TTL 30\n\
@ SOA ns1 hostmaster 1 1 1 600 30\n@ NS ns1\nns1 A 127.222.0.1\nweb A 127.222.0.80\n";

const KEY: &str = "key \"cluster-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"rA0vYkUtMYbHyasRqZjFKV7wWJrYcXs2xJ0C9Rk0u0o=\";\n};\n";

fn start(config: &Path) -> Serve {
    Serve::start(config, "info", &config.with_extension("log"))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write test file");
}

fn primary_config(dir: &Path, at: SocketAddr, secondaries: &[SocketAddr]) -> PathBuf {
    write(&dir.join("cluster.test.zone"), ZONE);
    write(&dir.join("cluster-key.key"), KEY);
    let notify: Vec<String> = secondaries.iter().map(|s| format!("\"{s}\"")).collect();
    let path = dir.join("primary.toml");
    write(
        &path,
        &format!(
            "[server]\nlisten = [\"{at}\"]\nno_recursion = true\n\
             [[tsig_key]]\nfile = \"cluster-key.key\"\n\
             [[zone]]\norigin = \"cluster.test.\"\nfile = \"cluster.test.zone\"\n\
             update_keys = [\"cluster-key\"]\nallow_transfer = [\"127.0.0.0/8\"]\n\
             notify = [{}]\n",
            notify.join(", ")
        ),
    );
    path
}

fn secondary_config(dir: &Path, name: &str, at: SocketAddr, primary: SocketAddr) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    write(
        &path,
        &format!(
            "[server]\nlisten = [\"{at}\"]\nno_recursion = true\n\
             [[zone]]\norigin = \"cluster.test.\"\nfile = \"{name}/cluster.test.zone\"\n\
             primaries = [\"{primary}\"]\n"
        ),
    );
    path
}

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

/// What `server` says of `qname` A: its RCODE, AA, the addresses.
async fn a(server: SocketAddr, qname: &str) -> Option<(ResponseCode, bool, Vec<String>)> {
    let m = ask(server, qname, RecordType::A).await?;
    let addrs = m.answers.iter().map(|r| r.data.to_string()).collect();
    Some((m.metadata.response_code, m.metadata.authoritative, addrs))
}

async fn serial(server: SocketAddr) -> Option<u32> {
    let m = ask(server, "cluster.test.", RecordType::SOA).await?;
    match m.answers.first().map(|r| &r.data) {
        Some(RData::SOA(soa)) if m.metadata.authoritative => Some(soa.serial),
        _ => None,
    }
}

/// Polls until `server` serves `want` as the zone's serial (bounded: `within`); the serial
/// seen last.
async fn wait_serial(server: SocketAddr, want: u32, within: Duration) -> Option<u32> {
    let deadline = tokio::time::Instant::now() + within;
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        last = serial(server).await;
        if last == Some(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}

/// How many failed refreshes `log` (a secondary's) reports.
fn refresh_failures(log: &Path) -> usize {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .matches("refresh failed")
        .count()
}

/// Polls until `log` reports more than `before` failed refreshes (bounded: `within`).
async fn wait_refresh_failure(log: &Path, before: usize, within: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    while tokio::time::Instant::now() < deadline {
        if refresh_failures(log) > before {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

fn nsupdate(dir: &Path, server: SocketAddr, commands: &str) -> Output {
    let key = dir.join("cluster-key.key");
    let script = format!(
        "server {} {}\nzone cluster.test.\n{commands}send\nquit\n",
        server.ip(),
        server.port()
    );
    support::update_client(
        "nsupdate",
        &["-k", key.to_str().expect("utf-8 path")],
        &script,
    )
}

/// A DNS relay (UDP and TCP) to `upstream` that the test can cut: while cut, datagrams are
/// dropped and connections closed unanswered, as across a partition.
struct Relay {
    cut: Arc<AtomicBool>,
    tasks: tokio::task::JoinSet<()>,
}

impl Relay {
    async fn start(at: SocketAddr, upstream: SocketAddr) -> Relay {
        let cut = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        let udp = Arc::new(UdpSocket::bind(at).await.expect("relay udp"));
        let tcp = TcpListener::bind(at).await.expect("relay tcp");
        let udp_cut = Arc::clone(&cut);
        tasks.spawn(async move {
            let mut buf = vec![0u8; 65_535];
            loop {
                let Ok((len, client)) = udp.recv_from(&mut buf).await else {
                    return;
                };
                if udp_cut.load(Ordering::SeqCst) {
                    continue;
                }
                let packet = buf[..len].to_vec();
                let udp = Arc::clone(&udp);
                tokio::spawn(async move {
                    let Ok(out) = UdpSocket::bind("127.0.0.1:0").await else {
                        return;
                    };
                    if out.send_to(&packet, upstream).await.is_err() {
                        return;
                    }
                    let mut reply = vec![0u8; 65_535];
                    if let Ok(Ok((n, _))) =
                        tokio::time::timeout(Duration::from_secs(2), out.recv_from(&mut reply))
                            .await
                    {
                        let _ = udp.send_to(&reply[..n], client).await;
                    }
                });
            }
        });
        let tcp_cut = Arc::clone(&cut);
        tasks.spawn(async move {
            loop {
                let Ok((mut client, _)) = tcp.accept().await else {
                    return;
                };
                if tcp_cut.load(Ordering::SeqCst) {
                    let _ = client.shutdown().await;
                    continue;
                }
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Relay { cut, tasks }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.tasks.abort_all();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_secondary_serves_what_it_has_and_converges_after_the_heal() {
    let dir = TempDir::new("partition");
    let d = &dir.0;
    let primary = SocketAddr::new(support::addr(SUBNET, 1), 53);
    let near = SocketAddr::new(support::addr(SUBNET, 2), 53);
    let far = SocketAddr::new(support::addr(SUBNET, 3), 53);
    let relay_at = SocketAddr::new(support::addr(SUBNET, 9), 53);
    let relay = Relay::start(relay_at, primary).await;

    let _primary = start(&primary_config(d, primary, &[near, far]));
    let _near = start(&secondary_config(d, "near", near, primary));
    let far_config = secondary_config(d, "far", far, relay_at);
    let far_tern = start(&far_config);
    let wait = Duration::from_secs(8);
    let first = wait_serial(primary, 1, wait).await;
    assert_eq!(first, Some(1), "the primary serves the zone");
    assert_eq!(
        wait_serial(near, 1, wait).await,
        Some(1),
        "near has its copy"
    );
    assert_eq!(wait_serial(far, 1, wait).await, Some(1), "far has its copy");

    // The partition: far's primary is unreachable. A change reaches near at once (NOTIFY).
    let far_log = far_config.with_extension("log");
    let failed_before = refresh_failures(&far_log);
    relay.set_cut(true);
    let out = nsupdate(d, primary, "update add db.cluster.test. 30 A 127.222.0.5\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(wait_serial(near, 2, wait).await, Some(2), "near follows");
    assert_eq!(
        a(near, "db.cluster.test.").await,
        Some((ResponseCode::NoError, true, vec!["127.222.0.5".to_string()]))
    );
    // far answers with what it has, authoritatively: the old serial, no db record, once it
    // has tried its primary (REFRESH 1 s) and failed; NOTIFY from an address that is not its
    // primary's is refused. Waited for by its log, not by a guess at how long that takes (a
    // process of its own: this test cannot move its clock).
    assert!(
        wait_refresh_failure(&far_log, failed_before, wait).await,
        "far tried its primary and failed"
    );
    assert_eq!(serial(far).await, Some(1), "far keeps serving serial 1");
    assert_eq!(
        a(far, "db.cluster.test.").await,
        Some((ResponseCode::NXDomain, true, vec![]))
    );
    assert_eq!(
        a(far, "web.cluster.test.").await,
        Some((
            ResponseCode::NoError,
            true,
            vec!["127.222.0.80".to_string()]
        ))
    );

    // Restarted while still cut off: its stored copy is served at once.
    drop(far_tern);
    let out = nsupdate(d, primary, "update delete web.cluster.test. A\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _far_again = start(&far_config);
    assert_eq!(
        wait_serial(far, 1, wait).await,
        Some(1),
        "far restarted serves its copy"
    );
    assert_eq!(
        a(far, "web.cluster.test.").await,
        Some((
            ResponseCode::NoError,
            true,
            vec!["127.222.0.80".to_string()]
        ))
    );

    // Healed: far converges within its REFRESH interval (1 s; 5 s allowed).
    relay.set_cut(false);
    assert_eq!(
        wait_serial(far, 3, Duration::from_secs(5)).await,
        Some(3),
        "far converges"
    );
    assert_eq!(
        a(far, "db.cluster.test.").await,
        Some((ResponseCode::NoError, true, vec!["127.222.0.5".to_string()]))
    );
    assert_eq!(
        a(far, "web.cluster.test.").await,
        Some((ResponseCode::NXDomain, true, vec![]))
    );
    let log = std::fs::read_to_string(&far_log).unwrap_or_default();
    // The change came incrementally: far asked from the serial of its copy.
    assert!(log.contains("kind=\"IXFR"), "far caught up by IXFR: {log}");
}
