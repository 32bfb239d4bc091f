//! `zones/contrib/grafana-tern.json`, the Grafana dashboard over the Prometheus families: its
//! structure is what Grafana imports, and every name its queries use is one tern exports.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::metrics::Metrics;
use crate::metrics::prometheus::{InstanceHealth, State, encode, registry};

const DASHBOARD: &str = include_str!("../../../zones/contrib/grafana-tern.json");

/// Every sample name of an exposition where each family has at least one sample.
fn exported() -> HashSet<String> {
    let m = Arc::new(Metrics::default());
    // The labelled families print only the series that counted something.
    m.count_query(0, Some(1));
    m.count_response(0, 0);
    m.servfail_reasons.inc(Some(22));
    m.count_dnssec(2, Some(6));
    m.answer_latency.observe(Duration::from_millis(3));
    let server = m.upstream.server("127.158.0.53:53".parse().expect("addr"));
    server.rtt.observe(Duration::from_millis(3));
    let state = State {
        cache: Some((1, 100)),
        zone_serials: vec![("example.".to_string(), 1)],
        instances: vec![InstanceHealth {
            service: "web.example.".to_string(),
            instance: "web-1".to_string(),
            healthy: true,
            served: true,
        }],
    };
    let text = encode(&registry(m, Arc::new(move || state.clone())));
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

/// The `tern_…` names in a PromQL expression.
fn names(expr: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("tern_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push(&tail[..end]);
        rest = &tail[end..];
    }
    out
}

fn panels(v: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in v["panels"].as_array().into_iter().flatten() {
        out.push(p);
        out.extend(panels(p));
    }
    out
}

#[test]
fn every_query_of_the_grafana_dashboard_names_a_family_tern_exports() {
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("valid JSON");
    for key in ["uid", "title"] {
        assert!(dashboard[key].is_string(), "{key}");
    }
    assert!(dashboard["schemaVersion"].is_u64());
    let exported = exported();
    let mut ids = HashSet::new();
    let mut used = HashSet::new();
    let panels = panels(&dashboard);
    assert!(panels.len() > 10, "{} panels", panels.len());
    for p in panels {
        let title = p["title"].as_str().expect("a title");
        assert!(ids.insert(p["id"].as_u64().expect("an id")), "{title}: id");
        for key in ["x", "y", "w", "h"] {
            assert!(p["gridPos"][key].is_u64(), "{title}: gridPos.{key}");
        }
        if p["type"] == "row" {
            continue;
        }
        let targets = p["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets {
            let expr = t["expr"].as_str().expect("an expr");
            let found = names(expr);
            assert!(!found.is_empty(), "{title}: {expr} names no family");
            for name in found {
                assert!(exported.contains(name), "{title}: {name} is not exported");
                used.insert(name);
            }
        }
    }
    // The test can fail: a misspelt family is caught.
    assert!(!exported.contains("tern_querys_total"));
    assert!(used.contains("tern_queries_total") && used.contains("tern_service_instance_healthy"));
}
