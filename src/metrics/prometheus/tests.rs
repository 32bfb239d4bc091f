//! The text exposition: families, labels, and what is left out.
use super::*;

fn instance(name: &str, healthy: bool, served: bool) -> InstanceHealth {
    InstanceHealth {
        service: "web.example.".to_string(),
        instance: name.to_string(),
        healthy,
        served,
    }
}

fn text(metrics: Arc<Metrics>, state: State) -> String {
    encode(&registry(metrics, Arc::new(move || state.clone())))
}

#[test]
fn counters_histograms_and_gauges_in_the_text_format() {
    let m = Arc::new(Metrics::default());
    m.count_query(0, Some(1));
    // Two hit-path answers, one from the cache, one from a local zone.
    m.hit_path.count(0, counts::qtype_slot(Some(1)), 0, false);
    m.hit_path.count(0, counts::qtype_slot(Some(1)), 0, true);
    // And one over TLS: in its own transport's row.
    m.hit_path.count(2, counts::qtype_slot(Some(1)), 0, false);
    m.count_query(1, Some(28));
    m.count_response(0, 2);
    m.servfail_reasons.inc(Some(22));
    m.answer_latency.observe_us(300);
    Metrics::inc(&m.cache_hits);
    m.count_cookie(1);
    m.hit_path.count_cookie(1);
    m.count_cookie(2);
    m.upstream
        .server("127.0.0.1:53".parse().expect("addr"))
        .rtt
        .observe_us(1_500);
    let out = text(
        Arc::clone(&m),
        State {
            cache: Some((3, 4096)),
            zone_serials: vec![("example.".to_string(), 7)],
            instances: vec![
                instance("web-1", true, true),
                // Its service failed open: down, yet answered.
                instance("db-1", false, true),
            ],
        },
    );
    for want in [
        "# TYPE tern_queries_total counter\n",
        "tern_queries_total{transport=\"udp\",qtype=\"A\"} 3\n",
        "tern_queries_total{transport=\"tcp\",qtype=\"AAAA\"} 1\n",
        "tern_responses_total{transport=\"udp\",rcode=\"SERVFAIL\"} 1\n",
        "tern_servfail_total{reason=\"22 No Reachable Authority\"} 1\n",
        "tern_answer_latency_seconds_bucket{le=\"0.0001\"} 3\n",
        "tern_answer_latency_seconds_bucket{le=\"0.0005\"} 4\n",
        "tern_answer_latency_seconds_bucket{le=\"+Inf\"} 4\n",
        "tern_answer_latency_seconds_count 4\n",
        "tern_cache_hits_total 3\n",
        "tern_authoritative_answers_total 1\n",
        "tern_hit_path_answers_total 3\n",
        "tern_queries_total{transport=\"tls\",qtype=\"A\"} 1\n",
        "tern_responses_total{transport=\"tls\",rcode=\"NOERROR\"} 1\n",
        "tern_cookies_total{result=\"valid\"} 2\n",
        "tern_cookies_total{result=\"invalid\"} 1\n",
        "tern_cookies_total{result=\"malformed\"} 0\n",
        "tern_upstream_rtt_seconds_bucket{server=\"127.0.0.1:53\",le=\"0.0025\"} 1\n",
        "tern_cache_entries 3\n",
        "tern_zone_serial{zone=\"example.\"} 7\n",
        "tern_service_instance_healthy{service=\"web.example.\",instance=\"web-1\"} 1\n",
        "tern_service_instance_served{service=\"web.example.\",instance=\"web-1\"} 1\n",
        "tern_service_instance_healthy{service=\"web.example.\",instance=\"db-1\"} 0\n",
        "tern_service_instance_served{service=\"web.example.\",instance=\"db-1\"} 1\n",
    ] {
        assert!(out.contains(want), "{want} missing from\n{out}");
    }
    assert!(!out.contains("tern_zone_serial{zone=\"\"}"));
}

#[test]
fn families_without_series_are_left_out() {
    let out = text(Arc::new(Metrics::default()), State::default());
    assert!(!out.contains("tern_queries_total"), "{out}");
    assert!(!out.contains("tern_cache_entries"), "{out}");
    assert!(out.contains("tern_cache_hits_total 0\n"), "{out}");
}
