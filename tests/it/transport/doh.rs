//! DNS over HTTPS (RFC 8484) against `tern serve`, with stock clients only: curl over HTTP/2
//! (GET and POST) and HTTP/1.1 (POST), `kdig +https`, the refusals (404, 405, 415, 400, 413),
//! `Cache-Control` from the answer's TTLs, the `transport="https"` metrics row, and dnsperf
//! over DoH and DoT with no query lost. The certificate is the one `tern lab` would make (a CA
//! and a leaf for `localhost`), so the clients verify it.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::support::{self, Serve, TempDir};

/// Each test's server has its own address: the tests run at once.
const IP: Ipv4Addr = Ipv4Addr::new(127, 52, 0, 1);
const PERF_IP: Ipv4Addr = Ipv4Addr::new(127, 52, 0, 2);
const PLAIN_PORT: u16 = 8053;
const DOT_PORT: u16 = 8853;
const DOH_PORT: u16 = 8443;
const METRICS_PORT: u16 = 9153;

/// `www` answers with TTLs 120 and 300 (max-age is the lower); a missing name is negative for
/// the SOA's MINIMUM, 60, below its TTL of 300.
const ZONE: &str = "$TTL 300\n\
    @ IN SOA ns1 hostmaster 1 7200 3600 1209600 60\n\
    @ IN NS ns1\n\
    ns1 IN A 192.0.2.53\n\
    www 120 IN A 192.0.2.1\n\
    www 300 IN A 192.0.2.2\n";

/// A running `tern serve` with DoT, DoH and metrics, and the CA its certificate chains to.
struct Server {
    serve: Serve,
    ip: Ipv4Addr,
    ca: PathBuf,
    dir: PathBuf,
}

fn start(dir: &TempDir, ip: Ipv4Addr) -> Server {
    let files = tern::make_certificate(&dir.0, IpAddr::V4(ip)).expect("certificate");
    std::fs::write(dir.0.join("doh.test.zone"), ZONE).expect("zone");
    let config = dir.0.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{ip}:{PLAIN_PORT}\"]\nno_recursion = true\n\
             [[zone]]\norigin = \"doh.test.\"\nfile = \"doh.test.zone\"\n\
             [metrics]\nlisten = \"{ip}:{METRICS_PORT}\"\n\
             [tls]\ncertificate = \"{}\"\nkey = \"{}\"\nlisten = [\"{ip}:{DOT_PORT}\"]\n\
             https_listen = [\"{ip}:{DOH_PORT}\"]\n",
            files.certificate.display(),
            files.key.display()
        ),
    )
    .expect("config");
    Server {
        serve: Serve::start(&config, "info", &dir.0.join("tern.log")),
        ip,
        ca: files.ca,
        dir: dir.0.clone(),
    }
}

/// A query for `qname` with ID 0, as DoH clients send it, in wire form.
fn query(qname: &str) -> Vec<u8> {
    let mut q = support::query(qname, RecordType::A, false, None);
    q.metadata.id = 0;
    q.to_vec().expect("encode")
}

/// base64url without padding (RFC 8484 §4.1), by hand: the test must not trust tern's decoder.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
        }
    }
    out
}

/// What curl got: HTTP version and status, the response headers (lower case), the body.
struct Fetched {
    version_status: String,
    headers: String,
    body: Vec<u8>,
}

/// Runs curl against the DoH listener with `args`; `localhost` is pinned to the listener's
/// address so the certificate's name is checked as a browser would.
async fn curl(server: &Server, name: &str, args: &[&str]) -> Fetched {
    let headers = server.dir.join(format!("{name}.headers"));
    let body = server.dir.join(format!("{name}.body"));
    let out = tokio::process::Command::new(support::system_binary("curl", "DoH client"))
        .args(["-s", "--max-time", "10", "--cacert"])
        .arg(&server.ca)
        .arg("--resolve")
        .arg(format!("localhost:{DOH_PORT}:{}", server.ip))
        .arg("-D")
        .arg(&headers)
        .arg("-o")
        .arg(&body)
        .args(["-w", "%{http_version} %{http_code}"])
        .args(args)
        .output()
        .await
        .expect("curl runs");
    Fetched {
        version_status: String::from_utf8_lossy(&out.stdout).into_owned(),
        headers: std::fs::read_to_string(&headers)
            .unwrap_or_default()
            .to_ascii_lowercase(),
        body: std::fs::read(&body).unwrap_or_default(),
    }
}

fn url(query: &str) -> String {
    format!("https://localhost:{DOH_PORT}/dns-query{query}")
}

/// The DNS answer in a 200 response, checked: media type, ID 0, and the max-age expected
/// (`None`: no Cache-Control at all).
fn answer(got: &Fetched, what: &str, max_age: Option<u32>) -> Message {
    assert!(
        got.version_status.ends_with(" 200"),
        "{what}: {}",
        got.version_status
    );
    assert!(
        got.headers
            .contains("content-type: application/dns-message"),
        "{what}: {}",
        got.headers
    );
    let cache = match max_age {
        Some(age) => got
            .headers
            .contains(&format!("cache-control: max-age={age}\r\n")),
        None => !got.headers.contains("cache-control"),
    };
    assert!(cache, "{what}: max-age {max_age:?}: {}", got.headers);
    let m = Message::from_vec(&got.body).unwrap_or_else(|e| panic!("{what}: reply parses: {e}"));
    assert_eq!(m.metadata.id, 0, "{what}: ID 0 echoed");
    m
}

/// Keeps asking until the DoH listener answers (or fails after 10 s).
async fn wait_up(server: &Server) {
    let get = url(&format!("?dns={}", base64url(&query("www.doh.test."))));
    for _ in 0..100 {
        if curl(server, "up", &[&get])
            .await
            .version_status
            .ends_with(" 200")
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = std::fs::read_to_string(server.dir.join("tern.log")).unwrap_or_default();
    panic!("DoH listener not up within 10 s: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_and_kdig_are_answered_over_http2_and_http1_and_bad_requests_refused() {
    let dir = TempDir::new("doh");
    let server = start(&dir, IP);
    wait_up(&server).await;
    let www = query("www.doh.test.");
    let post_file = server.dir.join("www.query");
    std::fs::write(&post_file, &www).expect("query file");
    let post_data = format!("@{}", post_file.display());
    let dns_message = "content-type: application/dns-message";

    let got = curl(
        &server,
        "get2",
        &["--http2", &url(&format!("?dns={}", base64url(&www)))],
    )
    .await;
    assert!(
        got.version_status.starts_with("2 "),
        "{}",
        got.version_status
    );
    let m = answer(&got, "HTTP/2 GET", Some(120));
    assert!(m.metadata.authoritative);
    assert_eq!(m.answers.len(), 2, "{:?}", m.answers);

    for (version, seen) in [("--http2", "2 "), ("--http1.1", "1.1 ")] {
        let args = ["-H", dns_message, "--data-binary", &post_data, &url("")];
        let got = curl(
            &server,
            &format!("post{version}"),
            &[&[version][..], &args].concat(),
        )
        .await;
        assert!(
            got.version_status.starts_with(seen),
            "{version}: {}",
            got.version_status
        );
        assert_eq!(
            answer(&got, &format!("{version} POST"), Some(120))
                .answers
                .len(),
            2
        );
    }

    // Negative: NXDOMAIN lives as long as the SOA's MINIMUM (60 < its TTL of 300).
    let nope = base64url(&query("nope.doh.test."));
    let got = curl(&server, "nx", &[&url(&format!("?dns={nope}"))]).await;
    let m = answer(&got, "NXDOMAIN", Some(60));
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    // Not ours: REFUSED, no records, nothing for an HTTP cache to keep.
    let other = base64url(&query("www.other.test."));
    let got = curl(&server, "refused", &[&url(&format!("?dns={other}"))]).await;
    let m = answer(&got, "REFUSED", None);
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);

    // kdig, HTTP/2 POST (its default) and GET, verifying the certificate for `localhost`.
    for mode in ["+https", "+https-get"] {
        let out = kdig(&server, mode).await;
        let mut short: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        short.sort();
        assert_eq!(short, ["192.0.2.1", "192.0.2.2"], "kdig {mode}: {out:?}");
    }

    let big = server.dir.join("big.body");
    std::fs::write(&big, vec![0u8; 70_000]).expect("big body");
    let big = format!("@{}", big.display());
    let text = "content-type: text/plain";
    for (name, args, status) in [
        ("404", vec![url("").replace("/dns-query", "/other")], "404"),
        ("405", vec!["-X".into(), "PUT".into(), url("")], "405"),
        (
            "415",
            vec![
                "-H".into(),
                text.into(),
                "--data-binary".into(),
                post_data.clone(),
                url(""),
            ],
            "415",
        ),
        ("400-missing", vec![url("?name=www.doh.test")], "400"),
        ("400-base64", vec![url("?dns=not*base64")], "400"),
        ("400-short", vec![url("?dns=AAABAAAB")], "400"),
        // Over HTTP/1.1: tern answers 413 before the body ends, which HTTP/2 follows with
        // RST_STREAM(NO_ERROR) (RFC 9113 §8.1), and curl 7.88 reports that as a stream error
        // (exit 92) without the response; HTTP/1.1 shows the status.
        (
            "413",
            vec![
                "--http1.1".into(),
                "-H".into(),
                dns_message.into(),
                "--data-binary".into(),
                big,
                url(""),
            ],
            "413",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let got = curl(&server, name, &args).await;
        assert!(
            got.version_status.ends_with(&format!(" {status}")),
            "{name}: {} {}",
            got.version_status,
            got.headers
        );
    }

    // Every DoH query above is counted as https, apart from TCP and TLS.
    let metrics = tokio::process::Command::new(support::system_binary("curl", "metrics scrape"))
        .args([
            "-s",
            "--max-time",
            "5",
            &format!("http://{IP}:{METRICS_PORT}/metrics"),
        ])
        .output()
        .await
        .expect("curl runs");
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    let https: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("tern_queries_total{") && l.contains("transport=\"https\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(https >= 7.0, "https queries counted: {https}\n{metrics}");
    // The same question asked again is a cache hit: answered by the hit path (nothing but DoH
    // asked this server, so every hit is one), with the answers checked above.
    let hits: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("tern_hit_path_answers_total ")?.parse().ok())
        .unwrap_or(0.0);
    assert!(hits >= 1.0, "DoH hits on the hit path: {hits}\n{metrics}");
    assert!(
        !metrics
            .lines()
            .any(|l| l.starts_with("tern_queries_total{") && !l.contains("transport=\"https\"")),
        "only DoH asked: {metrics}"
    );

    // Renewal: a new CA and leaf in the same files, SIGHUP; new connections get the new one.
    let first_ca = server.dir.join("first-ca.pem");
    std::fs::copy(&server.ca, &first_ca).expect("keep the first CA");
    tern::make_certificate(&server.dir, IpAddr::V4(IP)).expect("renewed certificate");
    support::signal(&server.serve.0, "HUP");
    let get = url(&format!("?dns={}", base64url(&www)));
    let mut renewed = None;
    for _ in 0..50 {
        let got = curl(&server, "renewed", &[&get]).await;
        if got.version_status.ends_with(" 200") {
            renewed = Some(got);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let renewed = renewed.expect("the renewed certificate is served within 5 s");
    assert_eq!(answer(&renewed, "after SIGHUP", Some(120)).answers.len(), 2);
    let old = Server {
        ca: first_ca,
        ..server
    };
    let got = curl(&old, "old-ca", &[&get]).await;
    assert!(
        got.version_status.ends_with(" 000"),
        "the old certificate is gone: {}",
        got.version_status
    );
}

async fn kdig(server: &Server, mode: &str) -> Output {
    tokio::process::Command::new(support::system_binary("kdig", "DoH interop"))
        .arg(format!("+tls-ca={}", server.ca.display()))
        .args([mode, "+tls-hostname=localhost", "+short", "+timeout=5"])
        .arg(format!("@{}", server.ip))
        .args(["-p", &DOH_PORT.to_string(), "www.doh.test.", "A"])
        .output()
        .await
        .expect("kdig runs")
}

/// dnsperf's summary line `Queries <what>: N …`, as a number.
fn dnsperf_count(out: &str, what: &str) -> Option<u64> {
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("Queries {what}:")))?;
    line.split(':')
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dnsperf_over_doh_and_dot_loses_nothing() {
    let dir = TempDir::new("doh-dnsperf");
    let server = start(&dir, PERF_IP);
    wait_up(&server).await;
    let queries = dir.0.join("queries.txt");
    std::fs::write(
        &queries,
        "www.doh.test A\nnope.doh.test A\nns1.doh.test A\n",
    )
    .expect("queries");
    // dnsperf's DoH client keeps one response buffer per connection, so two answers that
    // arrive in one TLS read (HTTP/2 lets a server send them together, and tern answers
    // concurrent streams as they complete) lose one (DNS-OARC/dnsperf#240): over DoH it keeps
    // one query outstanding (-q 1). Over DoT it pipelines freely.
    for (mode, port, outstanding) in [("doh", DOH_PORT, "1"), ("dot", DOT_PORT, "100")] {
        let out = tokio::process::Command::new(support::system_binary("dnsperf", "DoH/DoT load"))
            .args([
                "-m",
                mode,
                "-s",
                &PERF_IP.to_string(),
                "-p",
                &port.to_string(),
                "-d",
            ])
            .arg(&queries)
            // The query file twice, over two connections, for at most 10 s.
            .args([
                "-n",
                "2",
                "-c",
                "2",
                "-q",
                outstanding,
                "-l",
                "10",
                "-t",
                "5",
            ])
            .output()
            .await
            .expect("dnsperf runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "dnsperf -m {mode}: {out:?}");
        assert_eq!(dnsperf_count(&text, "sent"), Some(6), "-m {mode}: {text}");
        assert_eq!(
            dnsperf_count(&text, "completed"),
            Some(6),
            "-m {mode}: {text}"
        );
        assert_eq!(dnsperf_count(&text, "lost"), Some(0), "-m {mode}: {text}");
        assert!(
            !text.contains("Queries interrupted: 1"),
            "-m {mode}: {text}"
        );
    }
}
