//! The dashboard's routes and JSON: escaping of names from the network, rates, percentiles.

use std::sync::atomic::Ordering;
use std::time::SystemTime;

use serde_json::Value;

use super::sample::{BUCKETS, Sample, quantile_ms};
use super::*;
use crate::metrics::counts::RCODE_SLOTS;
use crate::querylog::{Entry, Recent, line};

/// Sources with one service, one zone and the query-log lines given.
struct Fake {
    recent: Recent,
}

const HOSTILE: &str = "<script>alert(1)</script>&\"x.evil.";

impl Sources for Fake {
    fn cluster(&self) -> Vec<ServiceView> {
        vec![ServiceView {
            name: "web.cluster.test.".to_string(),
            balance: Some("round-robin"),
            failed_open: false,
            instances: vec![InstanceView {
                name: "web-<b>1</b>".to_string(),
                address: "127.158.0.11".to_string(),
                port: 8080,
                weight: 1,
                checked: true,
                health: "unhealthy",
                rtt_ms: None,
                last_error: Some("connection refused".to_string()),
                changes: 1,
            }],
        }]
    }
    fn zones(&self) -> Vec<ZoneView> {
        vec![ZoneView {
            origin: "example.".to_string(),
            serial: Some(7),
            source: "file /x".to_string(),
            records: Some(3),
            timers: Some([3600, 600, 86400]),
            signed: false,
            refresh: Some(RefreshView {
                checked_ago_s: Some(12.0),
                error: Some("<b>refused</b>".to_string()),
                failing_for_s: Some(40.0),
                primary: Some("127.166.0.53:53".to_string()),
                serial: Some(7),
                expires_in_s: Some(3600.0),
                ..RefreshView::default()
            }),
            secondaries: vec![SecondaryView {
                address: "127.166.0.2".to_string(),
                notified: true,
                transferred_ago_s: Some(5.0),
                serial: Some(7),
                kind: Some("IXFR"),
                current: true,
            }],
        }]
    }
    fn upstream(&self, _: SocketAddr) -> Option<UpstreamStanding> {
        Some(UpstreamStanding {
            srtt_ms: Some(1.5),
            rto_ms: 20.0,
            losses: 0,
            standing: "up",
        })
    }
    fn cache(&self) -> Option<(u64, u64)> {
        Some((3, 300))
    }
    fn queries(&self, since: u64, max: usize) -> Option<(Vec<String>, u64)> {
        Some(self.recent.since(since, max))
    }
}

fn entry(qname: &str) -> Entry {
    Entry {
        time: SystemTime::UNIX_EPOCH,
        client: "127.158.0.2:5300".parse().expect("addr"),
        transport: "udp",
        qname: qname.to_string(),
        qtype: 1,
        flags: [0x01, 0x80],
        rcode: 3,
        dnssec_ok: false,
        latency_us: 42,
        cache: false,
        hit_path: false,
        upstream: Some(1),
        ede: None,
    }
}

fn dashboard() -> Dashboard {
    let recent = Recent::new(100);
    recent.push(line(&entry("www.example.")));
    recent.push(line(&entry(HOSTILE)));
    Dashboard::new(Arc::new(Metrics::default()), Box::new(Fake { recent }))
}

fn json(d: &Dashboard, path: &str, query: &str) -> (String, Value) {
    let reply = d.get(path, query).expect("served");
    assert_eq!(reply.content_type, "application/json");
    let value = serde_json::from_str(&reply.body).expect("valid JSON");
    (reply.body, value)
}

#[test]
fn the_page_its_script_and_every_view_are_served_and_nothing_else() {
    let d = dashboard();
    let page = d.get("/", "").expect("page");
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.body.contains("<script src=\"/dashboard.js\">"));
    // Nothing is loaded from elsewhere: no scheme in any URL of the page or the script.
    let script = d.get("/dashboard.js", "").expect("script");
    for text in [&page.body, &script.body] {
        assert!(!text.contains("http://") && !text.contains("https://"));
        assert!(!text.contains("innerHTML"), "data goes in textContent only");
    }
    for path in [
        "/api/traffic",
        "/api/cluster",
        "/api/zones",
        "/api/upstreams",
        "/api/queries",
    ] {
        json(&d, path, "");
    }
    assert_eq!(d.get("/api/other", ""), None);
    assert_eq!(d.get("/../etc/passwd", ""), None);
}

#[test]
fn a_zone_carries_its_refresh_state_and_its_secondaries() {
    let (body, v) = json(&dashboard(), "/api/zones", "");
    let zone = &v[0];
    let refresh = &zone["refresh"];
    assert_eq!(refresh["checked_ago_s"], 12.0);
    assert_eq!(refresh["failing_for_s"], 40.0);
    assert_eq!(refresh["error"], "<b>refused</b>");
    assert!(!body.contains("<b>"), "an error text is escaped: {body}");
    assert_eq!(refresh["primary"], "127.166.0.53:53");
    assert_eq!(refresh["expires_in_s"], 3600.0);
    assert_eq!(refresh["expired"], false);
    assert_eq!(refresh["next_in_s"], Value::Null);
    let secondary = &zone["secondaries"][0];
    assert_eq!(secondary["address"], "127.166.0.2");
    assert_eq!(secondary["kind"], "IXFR");
    assert_eq!(secondary["serial"], 7);
    assert_eq!(secondary["current"], true);
    assert_eq!(secondary["notified"], true);
}

#[test]
fn a_name_holding_markup_leaves_escaped_and_reads_back_the_same() {
    let d = dashboard();
    let (body, v) = json(&d, "/api/queries", "since=0");
    assert!(
        !body.contains('<') && !body.contains('>') && !body.contains('&'),
        "{body}"
    );
    assert!(body.contains("\\u003cscript\\u003e"), "{body}");
    assert_eq!(v["enabled"], true);
    assert_eq!(v["next"], 2);
    assert_eq!(v["lines"][1]["qname"], HOSTILE);
    assert_eq!(v["lines"][0]["rcode"], "NXDOMAIN");
    let (body, v) = json(&d, "/api/cluster", "");
    assert!(!body.contains('<'), "{body}");
    assert_eq!(v[0]["instances"][0]["name"], "web-<b>1</b>");
    assert_eq!(v[0]["instances"][0]["health"], "unhealthy");
}

#[test]
fn queries_are_handed_out_from_the_number_asked() {
    let d = dashboard();
    let (_, v) = json(&d, "/api/queries", "since=1");
    assert_eq!(v["lines"].as_array().map(Vec::len), Some(1));
    let (_, v) = json(&d, "/api/queries", "x=1&since=2");
    assert_eq!(v["lines"].as_array().map(Vec::len), Some(0));
    assert_eq!(since("since=abc"), 0);
    assert_eq!(since(""), 0);
}

#[test]
fn upstreams_join_the_counters_and_the_resolvers_standing() {
    let d = dashboard();
    let server = d
        .metrics
        .upstream
        .server("127.158.0.53:53".parse().expect("addr"));
    server.queries.store(5, Ordering::Relaxed);
    server.timeouts.store(1, Ordering::Relaxed);
    let (_, v) = json(&d, "/api/upstreams", "");
    assert_eq!(v[0]["server"], "127.158.0.53:53");
    assert_eq!(v[0]["queries"], 5);
    assert_eq!(v[0]["timeouts"], 1);
    assert_eq!(v[0]["standing"], "up");
    assert_eq!(v[0]["srtt_ms"], 1.5);
}

fn sample(t_ms: u64, queries: u64, noerror: u64, servfail: u64) -> Sample {
    let mut rcodes = [0; RCODE_SLOTS];
    rcodes[0] = noerror;
    rcodes[2] = servfail;
    Sample {
        t_ms,
        queries,
        rcodes,
        latency: [0; BUCKETS],
        cache_hits: 0,
        cache_misses: 0,
    }
}

#[test]
fn rates_are_differences_of_samples_per_second() {
    let samples = [
        sample(1_000, 0, 0, 0),
        sample(2_000, 10, 8, 2),
        sample(2_500, 20, 16, 4),
        // The same millisecond twice (a stalled clock): no point, not a division by zero.
        sample(2_500, 20, 16, 4),
    ];
    let v = serde_json::to_value(api::series(&samples)).expect("json");
    assert_eq!(v["t"], serde_json::json!([2.0, 2.5]));
    assert_eq!(v["qps"], serde_json::json!([10.0, 20.0]));
    assert_eq!(
        v["rcodes"],
        serde_json::json!([["NOERROR", [8.0, 16.0]], ["SERVFAIL", [2.0, 4.0]]])
    );
}

#[test]
fn percentiles_are_bucket_bounds() {
    let mut b = [0; BUCKETS];
    assert_eq!(quantile_ms(&b, 0.5), None);
    b[0] = 90; // ≤ 100 µs
    b[3] = 9; // ≤ 1 ms
    b[BUCKETS - 1] = 1; // past 10 s
    assert_eq!(quantile_ms(&b, 0.5), Some(0.1));
    assert_eq!(quantile_ms(&b, 0.99), Some(1.0));
    assert_eq!(quantile_ms(&b, 1.0), None);
}

#[test]
fn traffic_reports_the_totals_the_cache_and_a_window() {
    let d = dashboard();
    d.metrics.servfails.store(3, Ordering::Relaxed);
    d.metrics.jostled_queries.store(2, Ordering::Relaxed);
    d.sample();
    let (_, v) = json(&d, "/api/traffic", "");
    assert_eq!(v["cache_entries"], 3);
    let totals = v["totals"].as_array().expect("totals");
    assert!(totals.contains(&serde_json::json!(["servfails", 3])));
    // The query cap's sheds, beside the drops they are part of.
    assert!(totals.contains(&serde_json::json!(["jostled_queries", 2])));
    assert!(totals.contains(&serde_json::json!(["over_limit_queries", 0])));
    // One sample: no rate yet.
    assert_eq!(v["series"]["t"].as_array().map(Vec::len), Some(0));
    assert!(v["window_s"].as_f64().is_some_and(|w| w >= 0.0));
}

#[tokio::test]
async fn the_listener_serves_the_page_with_its_policy_and_the_views_as_json() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.158.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let metrics = Arc::new(Metrics::default());
    let endpoint = crate::metrics::http::Endpoint {
        registry: crate::metrics::prometheus::registry(
            Arc::clone(&metrics),
            Arc::new(Default::default),
        ),
        dashboard: Some(Arc::new(dashboard())),
        allow: None,
    };
    let (trigger, stop) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::metrics::http::serve(
        listener,
        Arc::new(endpoint),
        async move {
            let _ = stop.await;
        },
    ));
    let get = |path: &'static str| async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        s.write_all(request.as_bytes()).await.expect("write");
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.expect("read");
        String::from_utf8_lossy(&out).into_owned()
    };
    let page = get("/").await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("Content-Type: text/html"), "{page}");
    assert!(
        page.contains("Content-Security-Policy: default-src 'none'; script-src 'self';"),
        "{page}"
    );
    let queries = get("/api/queries?since=0").await;
    assert!(
        queries.contains("Content-Type: application/json\r\n"),
        "{queries}"
    );
    assert!(
        queries.contains("X-Content-Type-Options: nosniff"),
        "{queries}"
    );
    assert!(queries.contains("\\u003cscript\\u003e"), "{queries}");
    assert!(!queries.contains("<script>"), "{queries}");
    // The scrape is where it was.
    assert!(get("/metrics").await.contains("tern_cache_hits_total 0\n"));
    assert!(get("/api/nothing").await.starts_with("HTTP/1.1 404 "));
    let _ = trigger.send(());
    server.await.expect("server stops");
}
