//! Forward zones over DNS over HTTPS (RFC 8484) against a second `tern serve` serving DoH
//! (`[tls] https_listen`) with a certificate the test makes as `tern lab` does: a zone with
//! `url` answers what that tern answers; a URL whose host the certificate does not name, or a
//! `ca` it does not chain to, gets SERVFAIL with EDE 22, a warning naming the server and the
//! reason, and no query at all (the upstream's query log has none, and nothing hears UDP where
//! a plaintext fallback would go); many questions at once share one kept connection; a zone
//! pointed at our own DoH listener is a forwarding loop; when the upstream restarts, the zone
//! fails while it is down and is answered again over one new connection. And against
//! Unbound's own DoH (`https-port`): answers what that Unbound answers.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::UdpSocket;

use crate::forward_tls::connections_to;
use crate::support::{Serve, TempDir, ede, exchange, query};

/// The upstream tern: plain DNS, DoH, and the address it vouches for.
const UPSTREAM_IP: [u8; 4] = [127, 234, 0, 1];
const UPSTREAM: &str = "127.234.0.1:53";
const UPSTREAM_DOH: &str = "127.234.0.1:8443";
/// The forwarding tern, and its own DoH listener (a forward zone pointed at it is a loop).
const TERN: &str = "127.234.0.10:53";
const TERN_DOH: &str = "127.234.0.10:8443";

const ZONE: &str = "$TTL 300\n\
    @ IN SOA ns1 hostmaster 1 7200 3600 1209600 60\n\
    @ IN NS ns1\n\
    @ IN MX 10 mail\n\
    ns1 IN A 192.0.2.53\n\
    www IN A 192.0.2.80\n\
    www IN A 192.0.2.81\n\
    www IN AAAA 2001:db8::80\n\
    mail IN A 192.0.2.25\n";

/// The upstream's config: authoritative for `doh.test.` only, every query in its query log.
fn upstream_config(dir: &Path) -> std::path::PathBuf {
    let files = tern::make_certificate(dir, IpAddr::from(UPSTREAM_IP)).expect("certificate");
    std::fs::write(dir.join("doh.test.zone"), ZONE).expect("zone");
    let config = dir.join("tern.toml");
    let text = format!(
        "[server]\nlisten = [\"{UPSTREAM}\"]\nno_recursion = true\n\
         [[zone]]\norigin = \"doh.test.\"\nfile = \"doh.test.zone\"\n\
         [log]\nqueries = \"queries.jsonl\"\n\
         [tls]\ncertificate = \"{}\"\nkey = \"{}\"\nhttps_listen = [\"{UPSTREAM_DOH}\"]\n",
        files.certificate.display(),
        files.key.display(),
    );
    std::fs::write(&config, text).expect("config");
    config
}

/// The forwarder: `doh.test.` over DoH to the upstream as `localhost` (what its certificate
/// names); the same with another host (`badname`), with a CA it does not chain to (`badca`);
/// and `loop.test.` to our own DoH listener.
fn start_forwarder(dir: &Path, upstream_ca: &Path, other_ca: &Path) -> Serve {
    let own = tern::make_certificate(&dir.join("own"), IpAddr::from([127, 234, 0, 10]))
        .expect("own certificate");
    let forward = |zone: &str, host: &str, server: &str, ca: &Path| {
        format!(
            "[[forward]]\nzone = \"{zone}\"\nurl = \"https://{host}/dns-query\"\n\
             servers = [\"{server}\"]\nca = \"{}\"\n",
            ca.display()
        )
    };
    let text = format!(
        "[server]\nlisten = [\"{TERN}\"]\n\
         [dnssec]\nnegative_trust_anchors = [\"test.\"]\n\
         {}{}{}{}\
         [tls]\ncertificate = \"{}\"\nkey = \"{}\"\nhttps_listen = [\"{TERN_DOH}\"]\n",
        forward("doh.test.", "localhost", UPSTREAM_DOH, upstream_ca),
        forward("badname.test.", "other.example", UPSTREAM_DOH, upstream_ca),
        forward("badca.test.", "localhost", UPSTREAM_DOH, other_ca),
        forward("loop.test.", "localhost", TERN_DOH, &own.ca),
        own.certificate.display(),
        own.key.display(),
    );
    let config = dir.join("tern.toml");
    std::fs::write(&config, text).expect("config");
    Serve::start(&config, "info", &dir.join("tern.log"))
}

fn answers(m: &Message) -> BTreeSet<String> {
    m.answers
        .iter()
        .map(|r| format!("{} {}", r.record_type(), r.data))
        .collect()
}

/// Asks `server` until it answers `qname` A with NOERROR (30 s at most; the forwarder may
/// have met the upstream still starting, and wait out a backoff).
async fn wait_answering(server: SocketAddr, qname: &str, serve: &mut Serve, log: &Path) {
    for _ in 0..100 {
        if let Some(status) = serve.0.try_wait().expect("tern status") {
            panic!("{server} exited ({status}): {}", read(log));
        }
        let probe = query(qname, RecordType::A, true, None);
        let bytes = probe.to_vec().expect("probe");
        let reply = crate::support::udp_raw(server, &bytes, Duration::from_millis(200)).await;
        let ok = reply.and_then(|r| Message::from_vec(&r).ok());
        if ok.is_some_and(|m| m.metadata.response_code == ResponseCode::NoError) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{server} did not answer within 30 s: {}", read(log));
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

async fn ask(server: &str, qname: &str, qtype: RecordType) -> Message {
    let server: SocketAddr = server.parse().expect("addr");
    exchange(server, &query(qname, qtype, true, Some(1232))).await
}

/// `tern` answers each question as `upstream` does: RCODE and answer records.
async fn same_answers(tern: &str, upstream: &str, questions: &[(&str, RecordType)], log: &Path) {
    for &(qname, qtype) in questions {
        let ours = ask(tern, qname, qtype).await;
        let theirs = ask(upstream, qname, qtype).await;
        let what = format!("{qname} {qtype}; tern's log: {}", read(log));
        assert_eq!(
            ours.metadata.response_code, theirs.metadata.response_code,
            "{what}: {ours:?}"
        );
        assert_eq!(answers(&ours), answers(&theirs), "{what}");
    }
}

/// SERVFAIL with EDE 22 (No Reachable Authority), and its text.
fn unreachable(m: &Message, what: &str) -> String {
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::ServFail,
        "{what}: {m:?}"
    );
    let (code, text) = ede(m).unwrap_or_else(|| panic!("{what}: an EDE: {m:?}"));
    assert_eq!(code, 22, "{what}: {text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doh_forward_zone_answers_like_its_upstream_over_one_connection_and_never_in_the_clear() {
    let dir = TempDir::new("forward-doh");
    // Where a plaintext fallback to the DoH server would land: UDP on its address and port.
    let fallback = UdpSocket::bind(UPSTREAM_DOH).await.expect("bind udp");
    let upstream_dir = dir.sub("upstream");
    let upstream_config = upstream_config(&upstream_dir);
    let upstream_log = upstream_dir.join("tern.log");
    let mut upstream = Serve::start(&upstream_config, "info", &upstream_log);
    let up: SocketAddr = UPSTREAM.parse().expect("addr");
    wait_answering(up, "www.doh.test.", &mut upstream, &upstream_log).await;
    // Another CA, which never signed the upstream's certificate.
    let other =
        tern::make_certificate(&dir.sub("other"), IpAddr::from(UPSTREAM_IP)).expect("other CA");
    let forwarder_dir = dir.sub("forwarder");
    let log = forwarder_dir.join("tern.log");
    let mut serve = start_forwarder(&forwarder_dir, &upstream_dir.join("ca.pem"), &other.ca);
    let tern: SocketAddr = TERN.parse().expect("addr");
    wait_answering(tern, "www.doh.test.", &mut serve, &log).await;

    // What the upstream answers, asked directly.
    let questions = [
        ("www.doh.test.", RecordType::A),
        ("www.doh.test.", RecordType::AAAA),
        ("doh.test.", RecordType::MX),
        ("nope.doh.test.", RecordType::A),
        ("mail.doh.test.", RecordType::TXT),
    ];
    same_answers(TERN, UPSTREAM, &questions, &log).await;
    assert_eq!(
        answers(&ask(TERN, "www.doh.test.", RecordType::A).await).len(),
        2
    );
    let queries = upstream_dir.join("queries.jsonl");
    assert!(
        read(&queries).contains("nope.doh.test"),
        "the upstream logs what it is asked: {}",
        read(&queries)
    );

    // Thirty questions at once (none cached): streams of the one kept connection.
    let asked: Vec<_> = (0..30)
        .map(|i| {
            tokio::spawn(async move { ask(TERN, &format!("m{i}.doh.test."), RecordType::A).await })
        })
        .collect();
    for task in asked {
        let reply = task.await.expect("query task");
        assert_eq!(
            reply.metadata.response_code,
            ResponseCode::NXDomain,
            "{reply:?}"
        );
    }
    assert_eq!(connections_to(UPSTREAM_DOH), 1, "one connection, shared");

    // The certificate does not name other.example; the other CA did not sign it: SERVFAIL,
    // EDE 22, a warning naming the server and the reason, nothing asked.
    let badname = ask(TERN, "www.badname.test.", RecordType::A).await;
    unreachable(&badname, "wrong host");
    let badca = ask(TERN, "www.badca.test.", RecordType::A).await;
    unreachable(&badca, "wrong CA");
    let logged = read(&log);
    let warnings: Vec<&str> = logged
        .lines()
        .filter(|l| l.contains("DNS over HTTPS to a forwarder failed"))
        .collect();
    assert!(
        warnings.iter().any(|l| l.contains(UPSTREAM_DOH)
            && l.contains("other.example")
            && l.contains("certificate")),
        "the host's failure, naming the server: {logged}"
    );
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("url=https://localhost/") && l.contains("invalid peer certificate")),
        "the chain's failure: {logged}"
    );
    eprintln!("the warnings: {warnings:#?}");
    let seen = read(&queries);
    assert!(
        !seen.contains("badname.test") && !seen.contains("badca.test"),
        "no query reached the upstream: {seen}"
    );

    // Our own DoH listener as a forwarder: the loop guard knows it.
    let looped = ask(TERN, "www.loop.test.", RecordType::A).await;
    let text = unreachable(&looped, "loop");
    assert!(text.contains("forwarding loop"), "{text}");

    let mut buf = [0u8; 512];
    assert!(
        fallback.try_recv_from(&mut buf).is_err(),
        "a plaintext query went to UDP {UPSTREAM_DOH}"
    );

    // The upstream restarts: the kept connection dies with it. While it is down the zone
    // fails (SERVFAIL, still nothing in the clear); once it is back, tern connects again
    // after its backoff (1 s after one refusal) and answers as before.
    drop(upstream);
    let down = ask(TERN, "down.doh.test.", RecordType::A).await;
    assert_eq!(
        down.metadata.response_code,
        ResponseCode::ServFail,
        "{down:?}"
    );
    let mut upstream = Serve::start(&upstream_config, "info", &upstream_log);
    wait_answering(up, "www.doh.test.", &mut upstream, &upstream_log).await;
    let mut back = None;
    for i in 0..30 {
        let reply = ask(TERN, &format!("back{i}.doh.test."), RecordType::A).await;
        if reply.metadata.response_code == ResponseCode::NXDomain {
            back = Some(i);
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(back.is_some(), "answered again within 15 s: {}", read(&log));
    assert_eq!(connections_to(UPSTREAM_DOH), 1, "one new connection");
    assert!(
        fallback.try_recv_from(&mut buf).is_err(),
        "nothing in the clear while it was down"
    );
    drop(serve);
    drop(upstream);
}

/// Unbound's DoH (`https-port`, Debian's build links libnghttp2) and its plain address.
const UNBOUND_DOH: &str = "127.235.0.1:443";
const UNBOUND_PLAIN: &str = "127.235.0.2:53";
const TERN_TO_UNBOUND: &str = "127.235.0.10:53";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doh_forward_zone_answers_like_an_unbound_serving_doh() {
    let dir = TempDir::new("forward-doh-unbound");
    let files = tern::make_certificate(&dir.0, IpAddr::from([127, 235, 0, 1])).expect("cert");
    let mut server = format!(
        "  interface: {}\n  https-port: 443\n  tls-service-pem: \"{}\"\n  \
         tls-service-key: \"{}\"\n  log-queries: yes\n  verbosity: 1\n  \
         module-config: \"iterator\"\n  local-zone: \"uh.test.\" static\n",
        UNBOUND_DOH.replace(':', "@"),
        files.certificate.display(),
        files.key.display(),
    );
    for data in [
        "www.uh.test. 300 IN A 192.0.2.70",
        "www.uh.test. 300 IN AAAA 2001:db8::70",
        "uh.test. 300 IN MX 10 mail.uh.test.",
    ] {
        server.push_str(&format!("  local-data: \"{data}\"\n"));
    }
    let plain: SocketAddr = UNBOUND_PLAIN.parse().expect("addr");
    let mut unbound =
        crate::support::unbound::Unbound::start(&dir.sub("unbound"), plain, &server, "");
    unbound
        .wait_ready(plain, &query("www.uh.test.", RecordType::A, true, None))
        .await;
    let config = dir.0.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{TERN_TO_UNBOUND}\"]\n\
             [dnssec]\nnegative_trust_anchors = [\"test.\"]\n\
             [[forward]]\nzone = \"uh.test.\"\nurl = \"https://localhost/dns-query\"\n\
             servers = [\"{UNBOUND_DOH}\"]\nca = \"ca.pem\"\n"
        ),
    )
    .expect("config");
    let log = dir.0.join("tern.log");
    let mut serve = Serve::start(&config, "info", &log);
    let tern: SocketAddr = TERN_TO_UNBOUND.parse().expect("addr");
    wait_answering(tern, "www.uh.test.", &mut serve, &log).await;
    let questions = [
        ("www.uh.test.", RecordType::A),
        ("www.uh.test.", RecordType::AAAA),
        ("uh.test.", RecordType::MX),
        ("nope.uh.test.", RecordType::A),
    ];
    same_answers(TERN_TO_UNBOUND, UNBOUND_PLAIN, &questions, &log).await;
    // A name only tern asks: Unbound logged it, so it came over DoH.
    let only = ask(TERN_TO_UNBOUND, "doh-only.uh.test.", RecordType::A).await;
    assert_eq!(
        only.metadata.response_code,
        ResponseCode::NXDomain,
        "{only:?}"
    );
    assert!(
        unbound.log().contains("doh-only.uh.test. A IN"),
        "{}",
        unbound.log()
    );
    assert_eq!(connections_to(UNBOUND_DOH), 1, "one connection");
    drop(serve);
}
