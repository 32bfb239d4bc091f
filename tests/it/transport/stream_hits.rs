//! The hit path of streams against `tern serve`: a question answered before, asked again over
//! a kept DoT connection or over TCP, is answered by the connection's own hit path with the
//! full path's answer, counted under its transport in `/metrics` and named so in the query log.

use std::net::SocketAddr;
use std::path::Path;

use hickory_proto::rr::RecordType;

use super::stream_options::dot;
use super::tls::{make_pair, recv, send};
use crate::support::{self, Serve, TempDir};

const IP: &str = "127.78.1.1";

const ZONE: &str = "$TTL 300\n\
    @ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n\
    @ IN NS ns1\n\
    ns1 IN A 192.0.2.53\n\
    www IN A 192.0.2.1\n";

/// `tern serve` of `h.test.` with DoT on IP:8853, UDP and TCP on IP:8053, metrics on
/// IP:9153, and a query log `queries.jsonl`.
fn serve(dir: &Path) -> Serve {
    let (crt, key) = make_pair(dir, "server");
    std::fs::write(dir.join("h.test.zone"), ZONE).expect("zone");
    let config = dir.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{IP}:8053\"]\nno_recursion = true\n\
             [[zone]]\norigin = \"h.test.\"\nfile = \"h.test.zone\"\n\
             [tls]\ncertificate = \"{}\"\nkey = \"{}\"\nlisten = [\"{IP}:8853\"]\n\
             [metrics]\nlisten = \"{IP}:9153\"\n\
             [log]\nqueries = \"queries.jsonl\"\n",
            crt.display(),
            key.display()
        ),
    )
    .expect("config");
    Serve::start(&config, "info", &dir.join("tern.log"))
}

/// The value of `series` (name and labels as written) in `/metrics`, 0 when absent.
fn metric(series: &str) -> f64 {
    let out = std::process::Command::new(support::system_binary("curl", "a metrics scraper"))
        .args(["-s", "--max-time", "5"])
        .arg(format!("http://{IP}:9153/metrics"))
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// The query log's lines once there are `n` (at most 5 s).
async fn logged(path: &Path, n: usize) -> Vec<serde_json::Value> {
    let mut lines = Vec::new();
    for _ in 0..50 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        lines = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if lines.len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dot_and_tcp_hits_are_answered_counted_and_logged_under_their_transport() {
    let dir = TempDir::new("stream-hits");
    let _serve = serve(&dir.0);
    let dot_addr: SocketAddr = format!("{IP}:8853").parse().expect("address");
    let mut stream = dot(dot_addr, &dir.0.join("server.crt")).await;
    // A miss (the full path keeps the answer), then the same question on the same connection.
    let q = support::query("www.h.test.", RecordType::A, false, Some(1232));
    send(&mut stream, &q).await;
    let full = recv(&mut stream).await;
    let mut again = q.clone();
    again.metadata.id = q.metadata.id.wrapping_add(1);
    send(&mut stream, &again).await;
    let hit = recv(&mut stream).await;
    assert_eq!(hit.metadata.id, again.metadata.id);
    assert_eq!(support::lines(&hit.answers), support::lines(&full.answers));
    assert_eq!(hit.metadata.authoritative, full.metadata.authoritative);
    // Over TCP, on a new connection: the answer kept is a hit there too.
    let plain: SocketAddr = format!("{IP}:8053").parse().expect("address");
    let over_tcp = support::tcp(plain, &q).await;
    assert_eq!(
        support::lines(&over_tcp.answers),
        support::lines(&full.answers)
    );

    assert_eq!(metric("tern_hit_path_answers_total"), 2.0);
    for (transport, n) in [("tls", 2.0), ("tcp", 1.0), ("udp", 0.0)] {
        let queries = format!("tern_queries_total{{transport=\"{transport}\",qtype=\"A\"}}");
        assert_eq!(metric(&queries), n, "{queries}");
        let answers =
            format!("tern_responses_total{{transport=\"{transport}\",rcode=\"NOERROR\"}}");
        assert_eq!(metric(&answers), n, "{answers}");
    }

    let lines = logged(&dir.0.join("queries.jsonl"), 3).await;
    let seen: Vec<(String, bool)> = lines
        .iter()
        .map(|l| {
            let transport = l["transport"].as_str().unwrap_or_default().to_string();
            (transport, l["hit_path"] == true)
        })
        .collect();
    let want = [("tls", false), ("tls", true), ("tcp", true)].map(|(t, h)| (t.to_string(), h));
    assert_eq!(seen, want, "{lines:?}");
}
