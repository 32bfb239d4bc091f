//! Forward zones over DNS over TLS against a real Unbound serving DoT (`tls-service-key`,
//! `tls-service-pem`) from local data: `tern serve` with `tls_name` and a relative `ca`
//! answers what that Unbound answers, as it does over plain UDP; a zone whose `tls_name` the
//! certificate does not carry gets SERVFAIL with EDE 22, a log line naming the server and
//! rustls's reason, and sends no query at all: Unbound, which also listens for plain DNS on
//! the DoT port's UDP side, logs none, and sockets bound where a plaintext fallback would go
//! (port 53 of the DoT server's address, UDP and TCP) see nothing. When Unbound restarts,
//! tern connects again after its backoff and answers as before.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::{TcpListener, UdpSocket};

use crate::support::unbound::Unbound;
use crate::support::{Serve, TempDir, ede, exchange, query, udp_raw};

/// Unbound's DoT address (port 853) and its plain one; tern's.
const UNBOUND_TLS: &str = "127.70.0.1:853";
const UNBOUND_PLAIN: &str = "127.70.0.2:53";
const TERN: &str = "127.70.0.10:53";
/// tern's own DoT listener: a forward zone pointed at it is a loop.
const TERN_TLS: &str = "127.70.0.10:853";
/// Where a plaintext fallback to the DoT server would land.
const FALLBACK_53: &str = "127.70.0.1:53";

/// Unbound's answers: no internet needed.
const LOCAL_DATA: &[&str] = &[
    "www.fwd.test. 300 IN A 192.0.2.80",
    "www.fwd.test. 300 IN A 192.0.2.81",
    "fwd.test. 300 IN MX 10 mail.fwd.test.",
    "www.plain.test. 300 IN AAAA 2001:db8::53",
    "www.wrong.test. 300 IN A 192.0.2.99",
    "www.untrusted.test. 300 IN A 192.0.2.98",
];

/// The installed unbound, or `None` (the test is skipped, saying so).
fn unbound_installed() -> Option<PathBuf> {
    [
        "/usr/sbin/unbound",
        "/usr/local/sbin/unbound",
        "/usr/bin/unbound",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.is_file())
}

/// A self-signed P-256 leaf for `dns.example` (what `ca` trusts) and its key, by openssl.
fn certificate_for_dns_example(dir: &Path) -> (PathBuf, PathBuf) {
    let (pem, key) = (dir.join("ca.pem"), dir.join("server.key"));
    let openssl = crate::support::system_binary("openssl", "test certificates");
    let out = std::process::Command::new(openssl)
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=dns.example", "-addext"])
        .args(["subjectAltName=DNS:dns.example", "-addext"])
        // rustls refuses a CA certificate as the server's own: a leaf, trusted as itself.
        .args(["basicConstraints=critical,CA:FALSE", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&pem)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "openssl: {out:?}");
    (pem, key)
}

fn start_unbound(state: &Path, pem: &Path, key: &Path) -> Unbound {
    let mut server = format!(
        "  interface: {tls}\n  tls-port: 853\n  tls-service-pem: \"{}\"\n  \
         tls-service-key: \"{}\"\n  log-queries: yes\n  verbosity: 1\n  \
         module-config: \"iterator\"\n",
        pem.display(),
        key.display(),
        tls = UNBOUND_TLS.replace(':', "@"),
    );
    for zone in ["fwd.test.", "plain.test.", "wrong.test.", "untrusted.test."] {
        server.push_str(&format!("  local-zone: \"{zone}\" static\n"));
    }
    for data in LOCAL_DATA {
        server.push_str(&format!("  local-data: \"{data}\"\n"));
    }
    Unbound::start(state, UNBOUND_PLAIN.parse().expect("addr"), &server, "")
}

fn write_config(dir: &Path, pem: &Path, key: &Path) -> PathBuf {
    let config = dir.join("tern.toml");
    // `ca` relative: the config file's folder's. Unbound's local data is unsigned and the
    // internet's DS chain out of reach: test. is insecure by a negative trust anchor.
    let text = format!(
        "[server]\nlisten = [\"{TERN}\"]\n\
         [dnssec]\nnegative_trust_anchors = [\"test.\"]\n\
         [[forward]]\nzone = \"fwd.test.\"\nservers = [\"{UNBOUND_TLS}\"]\n\
         tls_name = \"dns.example\"\nca = \"ca.pem\"\n\
         [[forward]]\nzone = \"plain.test.\"\nservers = [\"{UNBOUND_PLAIN}\"]\n\
         [[forward]]\nzone = \"wrong.test.\"\nservers = [\"{UNBOUND_TLS}\"]\n\
         tls_name = \"other.example\"\nca = \"ca.pem\"\n\
         [[forward]]\nzone = \"untrusted.test.\"\nservers = [\"{UNBOUND_TLS}\"]\n\
         tls_name = \"dns.example\"\nca = \"other/ca.pem\"\n\
         [[forward]]\nzone = \"loop.test.\"\nservers = [\"{TERN_TLS}\"]\n\
         tls_name = \"dns.example\"\nca = \"ca.pem\"\n\
         [tls]\ncertificate = \"{}\"\nkey = \"{}\"\nlisten = [\"{TERN_TLS}\"]\n",
        pem.display(),
        key.display(),
    );
    std::fs::write(&config, text).expect("config");
    config
}

fn answers(m: &Message) -> BTreeSet<String> {
    m.answers
        .iter()
        .map(|r| format!("{} {}", r.record_type(), r.data))
        .collect()
}

/// Waits until tern answers at all (it may still be starting).
async fn wait_for_tern(serve: &mut Serve, log: &Path) {
    let probe = query("www.plain.test.", RecordType::AAAA, true, Some(1232))
        .to_vec()
        .expect("probe");
    for _ in 0..100 {
        if let Some(status) = serve.0.try_wait().expect("tern status") {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("tern exited ({status}): {log}");
        }
        if udp_raw(
            TERN.parse().expect("addr"),
            &probe,
            Duration::from_millis(200),
        )
        .await
        .is_some()
        {
            return;
        }
    }
    panic!("tern did not answer within 20 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_forward_zone_answers_like_its_unbound_and_a_wrong_name_sends_nothing() {
    if unbound_installed().is_none() {
        eprintln!("skipped: unbound is not installed (Debian package unbound)");
        return;
    }
    let dir = TempDir::new("forward-tls");
    let (pem, key) = certificate_for_dns_example(&dir.0);
    // Sentinels where a plaintext fallback would go: they must hear nothing.
    let udp_53 = UdpSocket::bind(FALLBACK_53).await.expect("bind udp 53");
    let tcp_53 = TcpListener::bind(FALLBACK_53).await.expect("bind tcp 53");
    let mut unbound = start_unbound(&dir.sub("unbound"), &pem, &key);
    let plain: SocketAddr = UNBOUND_PLAIN.parse().expect("addr");
    unbound
        .wait_ready(
            plain,
            &query("www.plain.test.", RecordType::AAAA, true, None),
        )
        .await;
    // Another certificate for the same name, which Unbound does not present: a `ca` its
    // certificate does not chain to.
    certificate_for_dns_example(&dir.sub("other"));
    let config = write_config(&dir.0, &pem, &key);
    let log = dir.0.join("tern.log");
    let mut serve = Serve::start(&config, "info", &log);
    wait_for_tern(&mut serve, &log).await;
    let tern: SocketAddr = TERN.parse().expect("addr");

    // Over TLS and over plain UDP: what Unbound answers.
    for (qname, qtype) in [
        ("www.fwd.test.", RecordType::A),
        ("fwd.test.", RecordType::MX),
        ("nope.fwd.test.", RecordType::A),
        ("www.plain.test.", RecordType::AAAA),
    ] {
        let ours = exchange(tern, &query(qname, qtype, true, Some(1232))).await;
        let theirs = exchange(plain, &query(qname, qtype, true, Some(1232))).await;
        let what = format!(
            "{qname} {qtype}; tern's log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        assert_eq!(
            ours.metadata.response_code, theirs.metadata.response_code,
            "{what}: {ours:?}"
        );
        assert_eq!(answers(&ours), answers(&theirs), "{what}");
    }
    assert_eq!(
        answers(&exchange(tern, &query("www.fwd.test.", RecordType::A, true, None)).await).len(),
        2,
        "both addresses, over TLS"
    );
    // A name only tern asks, and only over TLS: Unbound logs it (its log-queries works, so its
    // silence below means something).
    let only = exchange(
        tern,
        &query("tls-only.fwd.test.", RecordType::A, true, None),
    )
    .await;
    assert_eq!(
        only.metadata.response_code,
        ResponseCode::NXDomain,
        "{only:?}"
    );
    let seen = unbound.log();
    assert!(seen.contains("tls-only.fwd.test. A IN"), "{seen}");

    // Twenty questions at once (none cached): pipelined over the one kept connection.
    let asked = (0..20).map(|i| {
        let q = query(&format!("p{i}.fwd.test."), RecordType::A, true, Some(1232));
        tokio::spawn(async move { exchange(tern, &q).await })
    });
    for reply in futures_join(asked).await {
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::NXDomain,
            "{reply:?}"
        );
    }
    assert_eq!(connections_to(UNBOUND_TLS), 1, "one connection, reused");

    // The certificate does not name other.example: SERVFAIL, EDE 22, a reason in the log.
    let reply = exchange(
        tern,
        &query("www.wrong.test.", RecordType::A, true, Some(1232)),
    )
    .await;
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::ServFail,
        "{reply:?}"
    );
    assert_eq!(ede(&reply).map(|(code, _)| code), Some(22), "{reply:?}");
    let logged = std::fs::read_to_string(&log).expect("tern log");
    let line = logged
        .lines()
        .find(|l| l.contains("DNS over TLS to a forwarder failed"))
        .unwrap_or_else(|| panic!("a warning: {logged}"));
    assert!(
        line.contains(UNBOUND_TLS)
            && line.contains("other.example")
            && line.contains("certificate"),
        "names the server and rustls's reason: {line}"
    );
    eprintln!("the warning: {line}");
    assert!(
        !unbound.log().contains("wrong.test."),
        "no query reached Unbound: {}",
        unbound.log()
    );
    // A `ca` the certificate does not chain to (same name, another key): the same; rustls
    // says BadSignature.
    let untrusted = exchange(
        tern,
        &query("www.untrusted.test.", RecordType::A, true, Some(1232)),
    )
    .await;
    assert_eq!(untrusted.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(ede(&untrusted).map(|(code, _)| code), Some(22));
    let logged = std::fs::read_to_string(&log).expect("tern log");
    assert!(
        logged
            .lines()
            .any(|l| l.contains("tls_name=dns.example") && l.contains("invalid peer certificate")),
        "the chain's failure is logged: {logged}"
    );
    assert!(!unbound.log().contains("untrusted.test."));

    // Our own DoT listener as a forwarder: the loop guard knows it, nothing is sent.
    let looped = exchange(
        tern,
        &query("www.loop.test.", RecordType::A, true, Some(1232)),
    )
    .await;
    assert_eq!(looped.metadata.response_code, ResponseCode::ServFail);
    let (code, text) = ede(&looped).expect("an EDE");
    assert_eq!(code, 22);
    assert!(text.contains("forwarding loop"), "{text}");
    let mut buf = [0u8; 512];
    for (what, heard) in [
        ("UDP 53", udp_53.try_recv_from(&mut buf).is_ok()),
        ("TCP 53", tcp_53.accept().now_or_never_ready()),
    ] {
        assert!(!heard, "a plaintext query went to {what}");
    }

    // Unbound restarts: the kept connection dies with it. While it is down the forward zone
    // fails (SERVFAIL, still no plaintext); once it is back tern connects again, after its
    // backoff, and answers as before.
    drop(unbound);
    let down = exchange(
        tern,
        &query("down.fwd.test.", RecordType::A, true, Some(1232)),
    )
    .await;
    assert_eq!(
        down.metadata.response_code,
        ResponseCode::ServFail,
        "{down:?}"
    );
    let mut unbound = start_unbound(&dir.sub("unbound-again"), &pem, &key);
    unbound
        .wait_ready(
            plain,
            &query("www.plain.test.", RecordType::AAAA, true, None),
        )
        .await;
    let restarted = std::time::Instant::now();
    let mut back = None;
    // Bounded: the backoff after one refused connection is 1 s; 15 s is far past it.
    for i in 0..30 {
        let reply = exchange(
            tern,
            &query(
                &format!("back{i}.fwd.test."),
                RecordType::A,
                true,
                Some(1232),
            ),
        )
        .await;
        if reply.metadata.response_code == ResponseCode::NXDomain {
            back = Some(i);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let back = back.unwrap_or_else(|| {
        panic!(
            "no answer over a new connection 15 s after the restart; tern's log: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    });
    eprintln!(
        "answered again {:?} after the restart (question back{back})",
        restarted.elapsed()
    );
    assert!(
        unbound
            .log()
            .contains(&format!("back{back}.fwd.test. A IN"))
    );
    assert_eq!(connections_to(UNBOUND_TLS), 1, "one new connection");
    drop(serve);
}

/// The replies of every task, in order.
async fn futures_join(
    tasks: impl Iterator<Item = tokio::task::JoinHandle<Message>>,
) -> Vec<Message> {
    let mut out = Vec::new();
    for t in tasks.collect::<Vec<_>>() {
        out.push(t.await.expect("query task"));
    }
    out
}

/// Established TCP connections whose remote end is `server` (IPv4), from /proc/net/tcp.
pub(crate) fn connections_to(server: &str) -> usize {
    let server: std::net::SocketAddrV4 = server.parse().expect("v4 address");
    let remote = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(server.ip().octets()),
        server.port()
    );
    let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
    table
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() > 3 && f[2] == remote && f[3] == "01"
        })
        .count()
}

/// Whether a connection is waiting to be accepted, without waiting for one.
trait NowOrNever {
    fn now_or_never_ready(self) -> bool;
}

impl<F: std::future::Future> NowOrNever for F {
    fn now_or_never_ready(self) -> bool {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut fut = std::pin::pin!(self);
        fut.as_mut().poll(&mut cx).is_ready()
    }
}
