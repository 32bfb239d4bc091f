//! Watching a running `tern serve`: its `/metrics` endpoint (the counters move as queries are
//! answered, and `promtool check metrics` accepts the text) and its JSON query log (a line
//! per query, a SERVFAIL's line carrying the same EDE as the reply).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{self, Lab, Serve, TempDir, query, tcp, udp_raw};

const SUBNET: u8 = 60;
/// The query-log test's own lab: test processes (nextest) run side by side.
const LOG_SUBNET: u8 = 63;

const SVC_ZONE: &str = "$TTL 60\n@ SOA ns h 42 3600 600 86400 60\n@ NS ns\nns A 127.0.0.1\n";

/// A `tern serve` recursing through the lab, with `extra` appended to its config.
fn serve(lab: &Lab, dir: &Path, dns: SocketAddr, extra: &str) -> Serve {
    std::fs::write(
        dir.join("root.hints"),
        lab.files.root_hints().expect("lab hints"),
    )
    .expect("write hints");
    let config = dir.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{dns}\"]\n\
             [recursion]\nroot_hints = \"root.hints\"\nallow = [\"127.0.0.0/8\"]\n{extra}"
        ),
    )
    .expect("write config");
    Serve::start(&config, "info", &dir.join("tern.log"))
}

async fn ask(server: SocketAddr, qname: &str, qtype: RecordType) -> Option<Message> {
    let msg = query(qname, qtype, true, Some(1232));
    let reply = udp_raw(
        server,
        &msg.to_vec().expect("encode"),
        Duration::from_millis(500),
    )
    .await?;
    Message::from_vec(&reply).ok()
}

/// A query with EDNS version 1: answered BADVERS (16, RFC 6891 §6.1.3), an RCODE that needs
/// the OPT record's upper bits.
async fn ask_edns1(server: SocketAddr) -> Message {
    let mut msg = query("www.alpha.test.", RecordType::A, true, Some(1232));
    if let Some(edns) = msg.edns.as_mut() {
        edns.set_version(1);
    }
    let reply = udp_raw(
        server,
        &msg.to_vec().expect("encode"),
        Duration::from_millis(500),
    )
    .await
    .expect("an answer");
    let reply = Message::from_vec(&reply).expect("parses");
    // 16 is BADVERS in a header+OPT and BADSIG in a TSIG record; hickory names it BADSIG.
    assert_eq!(u16::from(reply.metadata.response_code), 16);
    reply
}

/// Asks until the server answers (it is starting), at most 10 s.
async fn wait_ready(server: SocketAddr, log: &Path) {
    for _ in 0..40 {
        if ask(server, "localhost.", RecordType::A).await.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let log = std::fs::read_to_string(log).unwrap_or_default();
    panic!("tern serve did not answer on {server}:\n{log}");
}

/// `GET path` over plain TCP: the status line and the body.
pub(crate) async fn http_get(addr: SocketAddr, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect to metrics");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: tern-test\r\n\r\n");
    s.write_all(request.as_bytes()).await.expect("send");
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .expect("metrics answer in time")
        .expect("read");
    let (head, body) = out.split_once("\r\n\r\n").expect("an HTTP head");
    let status = head.lines().next().unwrap_or_default().to_string();
    assert!(
        head.contains("Connection: close"),
        "the server closes: {head}"
    );
    (status, body.to_string())
}

/// The value of the series `series` (name and labels as written), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn promtool_check(text: &str) {
    let out = support::pipe_through(
        "promtool",
        "the checker of the metrics text",
        &["check", "metrics"],
        text,
    );
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_counts_queries_and_passes_promtool() {
    let lab = support::start_lab(SUBNET).await;
    let dir = TempDir::new("metrics-endpoint");
    let dns = SocketAddr::new(support::addr(SUBNET, 200), 53);
    let scrape = SocketAddr::new(support::addr(SUBNET, 200), 9153);
    // A zone with a service: web-1 unchecked (healthy), web-2 checked on a closed port.
    std::fs::write(dir.0.join("svc.test.zone"), SVC_ZONE).expect("write zone");
    let closed = SocketAddr::new(support::addr(SUBNET, 200), 1);
    let _serve = serve(
        &lab,
        &dir.0,
        dns,
        &format!(
            "[metrics]\nlisten = \"{scrape}\"\n\
             [[zone]]\norigin = \"svc.test.\"\nfile = \"svc.test.zone\"\n\
             [[service]]\nzone = \"svc.test.\"\nname = \"web\"\nprotocol = \"tcp\"\n\
             [[service.instance]]\nname = \"web-1\"\naddress = \"127.0.0.1\"\nport = 8080\n\
             [[service.instance]]\nname = \"web-2\"\naddress = \"127.0.0.2\"\nport = 8080\n\
             check = {{ tcp = \"{closed}\", interval_ms = 100, timeout_ms = 100, rise = 1, fall = 1 }}\n"
        ),
    );
    wait_ready(dns, &dir.0.join("tern.log")).await;

    let (status, before) = http_get(scrape, "/metrics").await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    let a_udp = "tern_queries_total{transport=\"udp\",qtype=\"A\"}";
    let a_before = value(&before, a_udp);

    // A miss, then the same question again (a hit, answered by the hit path), AAAA, and TCP.
    for _ in 0..2 {
        let m = ask(dns, "www.alpha.test.", RecordType::A)
            .await
            .expect("an answer");
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    }
    ask(dns, "www.alpha.test.", RecordType::AAAA)
        .await
        .expect("an answer");
    let over_tcp = tcp(dns, &query("www.alpha.test.", RecordType::A, true, None)).await;
    assert_eq!(over_tcp.metadata.response_code, ResponseCode::NoError);
    ask_edns1(dns).await;

    let (_, after) = http_get(scrape, "/metrics").await;
    assert_eq!(value(&after, a_udp), a_before + 3.0, "{after}");
    let badvers = "tern_responses_total{transport=\"udp\",rcode=\"BADVERS\"}";
    assert_eq!(value(&after, badvers), 1.0, "{after}");
    for (series, at_least) in [
        ("tern_queries_total{transport=\"udp\",qtype=\"AAAA\"}", 1.0),
        ("tern_queries_total{transport=\"tcp\",qtype=\"A\"}", 1.0),
        (
            "tern_responses_total{transport=\"udp\",rcode=\"NOERROR\"}",
            3.0,
        ),
        ("tern_hit_path_answers_total", 1.0),
        ("tern_cache_hits_total", 2.0),
        ("tern_cache_misses_total", 1.0),
        ("tern_upstream_queries_total", 1.0),
        ("tern_answer_latency_seconds_count", 4.0),
        ("tern_cache_entries", 1.0),
        ("tern_cache_bytes", 1.0),
    ] {
        assert!(
            value(&after, series) >= at_least,
            "{series} below {at_least}:\n{after}"
        );
    }
    // The lab's root server was asked, and timed.
    let root = format!(
        "tern_upstream_rtt_seconds_count{{server=\"{}:53\"}}",
        support::addr(SUBNET, 11)
    );
    assert!(value(&after, &root) >= 1.0, "{root}:\n{after}");
    promtool_check(&after);

    // Gauges read at scrape time: the zone's serial and each instance's health (web-2's check
    // fails within a few intervals).
    // 42 in the file, raised as the registry publishes the service's records.
    let serial = value(&after, "tern_zone_serial{zone=\"svc.test.\"}");
    assert!(serial >= 42.0, "{after}");
    let healthy = |text: &str, instance: &str| {
        value(
            text,
            &format!(
                "tern_service_instance_healthy{{service=\"web.svc.test.\",instance=\"{instance}\"}}"
            ),
        )
    };
    assert_eq!(healthy(&after, "web-1"), 1.0, "{after}");
    let mut web2 = healthy(&after, "web-2");
    for _ in 0..50 {
        if web2 == 0.0 && after.contains("instance=\"web-2\"") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (_, text) = http_get(scrape, "/metrics").await;
        web2 = healthy(&text, "web-2");
    }
    assert_eq!(web2, 0.0, "web-2's check fails");

    let (status, _) = http_get(scrape, "/nothing-here").await;
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
}

/// The lines of `path` once it has at least `n` (at most 5 s).
async fn log_lines(path: &PathBuf, n: usize) -> Vec<serde_json::Value> {
    let mut lines = Vec::new();
    for _ in 0..50 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        lines = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        if lines.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_log_has_a_json_line_per_query_with_the_servfail_reason() {
    let lab = support::start_lab(LOG_SUBNET).await;
    let dir = TempDir::new("metrics-querylog");
    let dns = SocketAddr::new(support::addr(LOG_SUBNET, 201), 53);
    let _serve = serve(&lab, &dir.0, dns, "[log]\nqueries = \"queries.jsonl\"\n");
    let log = dir.0.join("queries.jsonl");
    wait_ready(dns, &dir.0.join("tern.log")).await;
    let start = log_lines(&log, 1).await.len();

    for _ in 0..2 {
        ask(dns, "www.alpha.test.", RecordType::A)
            .await
            .expect("an answer");
    }
    // An 11-CNAME chain: SERVFAIL with EDE 0 "CNAME chain ..." (see tests/it/resolver.rs).
    let failed = ask(dns, "c1.alpha.test.", RecordType::A)
        .await
        .expect("an answer");
    assert_eq!(failed.metadata.response_code, ResponseCode::ServFail);
    let (code, text) = support::ede(&failed).expect("EDE in the reply");

    ask_edns1(dns).await;

    let lines = log_lines(&log, start + 4).await;
    let ours = &lines[start..];
    assert_eq!(ours.len(), 4, "{lines:?}");
    let (miss, hit, fail, badvers) = (&ours[0], &ours[1], &ours[2], &ours[3]);
    assert_eq!(badvers["rcode"], "BADVERS", "{badvers}");
    for line in &ours[..3] {
        let time = line["time"].as_str().expect("time");
        assert!(
            time.ends_with('Z') && time.len() == 27,
            "RFC 3339 UTC: {time}"
        );
        assert!(
            line["client"]
                .as_str()
                .is_some_and(|c| c.starts_with("127.")),
            "{line}"
        );
        assert_eq!(line["transport"], "udp");
        assert_eq!(line["qtype"], "A");
        assert_eq!(line["flags"]["rd"], true);
        assert_eq!(line["flags"]["ra"], true);
        assert_eq!(line["flags"]["aa"], false);
        assert!(line["latency_us"].is_u64(), "{line}");
    }
    assert_eq!(miss["qname"], "www.alpha.test.");
    assert_eq!(miss["rcode"], "NOERROR");
    assert_eq!(miss["cache"], false);
    assert!(miss["upstream"].as_u64().is_some_and(|n| n > 0), "{miss}");
    assert_eq!(hit["qname"], "www.alpha.test.");
    assert_eq!(hit["cache"], true);
    assert_eq!(hit["hit_path"], true);
    assert_eq!(hit["upstream"], 0);
    assert_eq!(fail["qname"], "c1.alpha.test.");
    assert_eq!(fail["rcode"], "SERVFAIL");
    assert_eq!(fail["ede"]["code"], code);
    assert_eq!(fail["ede"]["text"], text.as_str());
    assert!(miss.get("ede").is_none(), "{miss}");
}
