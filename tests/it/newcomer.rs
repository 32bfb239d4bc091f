//! What a newcomer meets first (issue 22, point 4), against the `tern serve` binary on subnet
//! 238: an UPDATE whose CNAME RFC 2136 ignores is NOERROR yet counted and logged as changing
//! nothing; instances answered under fail-open show as served; and the start-up errors (a
//! missing zone file, a taken address) say what to do.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use crate::control::ok;
use crate::metrics::http_get;
use crate::support::{self, Serve, TempDir};

const SUBNET: u8 = 238;

const ZONE: &str = "$TTL 60\n@ SOA ns h 1 3600 600 86400 60\n@ NS ns\nns A 127.238.0.210\n\
www A 192.0.2.1\n";

/// `tern ARGS` run to its end.
fn tern(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(args)
        .output()
        .expect("run tern")
}

async fn wait_for(path: &Path) {
    for _ in 0..100 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} never appeared", path.display());
}

/// `series`'s value in a metrics text, if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_cnames_and_failed_open_instances_are_shown_as_they_are() {
    let dir = TempDir::new("newcomer");
    let dns = SocketAddr::new(support::addr(SUBNET, 210), 53);
    let scrape = SocketAddr::new(support::addr(SUBNET, 210), 9153);
    // Nothing listens on port 1: the one instance goes down and the service fails open.
    let closed = SocketAddr::new(support::addr(SUBNET, 210), 1);
    let key = tern(&["key", "generate", "k"]);
    assert!(key.status.success(), "{key:?}");
    std::fs::write(dir.0.join("k.key"), &key.stdout).expect("key file");
    std::fs::write(dir.0.join("svc.test.zone"), ZONE).expect("zone");
    let config = dir.0.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{dns}\"]\nno_recursion = true\n\
             [control]\nsocket = \"ctl.sock\"\n[metrics]\nlisten = \"{scrape}\"\n\
             [[tsig_key]]\nfile = \"k.key\"\n\
             [[zone]]\norigin = \"svc.test.\"\nfile = \"svc.test.zone\"\nupdate_keys = [\"k\"]\n\
             [[service]]\nzone = \"svc.test.\"\nname = \"web\"\n\
             [[service.instance]]\nname = \"web-1\"\naddress = \"127.238.0.220\"\nport = 8080\n\
             check = {{ tcp = \"{closed}\", interval_ms = 100, timeout_ms = 100, rise = 1, fall = 1 }}\n"
        ),
    )
    .expect("config");
    let log = dir.0.join("tern.log");
    let _serve = Serve::start(&config, "info", &log);
    let socket = dir.0.join("ctl.sock");
    wait_for(&socket).await;

    // Fail-open: down, and answered anyway; the metrics say both.
    let mut services = String::new();
    for _ in 0..50 {
        services = ok(&socket, &["services"]).await;
        if services.contains("unhealthy") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        services.contains("web.svc.test. web-1 127.238.0.220:8080 unhealthy failed_open"),
        "{services}"
    );
    let (_, metrics) = http_get(scrape, "/metrics").await;
    let series = |family: &str| {
        format!("tern_service_instance_{family}{{service=\"web.svc.test.\",instance=\"web-1\"}}")
    };
    assert_eq!(value(&metrics, &series("healthy")), Some(0.0), "{metrics}");
    assert_eq!(value(&metrics, &series("served")), Some(1.0), "{metrics}");

    // A CNAME beside www's A: RFC 2136 §3.4.2.2 ignores it, and the update is NOERROR.
    let out = support::update_client(
        "nsupdate",
        &["-k", &dir.0.join("k.key").display().to_string()],
        &format!(
            "server {} {}\nzone svc.test.\nupdate add www.svc.test. 60 CNAME ns.svc.test.\nsend\n",
            dns.ip(),
            dns.port()
        ),
    );
    assert!(
        out.status.success(),
        "nsupdate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats = ok(&socket, &["stats"]).await;
    assert!(stats.contains("\nupdates_applied 0\n"), "{stats}");
    assert!(stats.contains("\nupdates_unchanged 1\n"), "{stats}");
    let (_, metrics) = http_get(scrape, "/metrics").await;
    assert_eq!(
        value(&metrics, "tern_updates_unchanged_total"),
        Some(1.0),
        "{metrics}"
    );
    // The log says what happened, and to which record.
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        text.lines().any(|l| l.contains("UPDATE changed nothing")
            && l.contains("www.svc.test. CNAME: a CNAME cannot be added beside other data")),
        "{text}"
    );
}

#[test]
fn start_up_errors_say_what_to_do() {
    let dir = TempDir::new("newcomer-errors");
    // A missing zone file: "not found", and no line number (there is no line 0).
    let missing = dir.0.join("absent.zone");
    let out = tern(&["zone", "check", &missing.display().to_string()]);
    assert!(!out.status.success());
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains(&format!("{}: not found", missing.display())),
        "{said}"
    );

    // An address something else holds: what may hold it, and how to find out.
    let taken = std::net::UdpSocket::bind((support::addr(SUBNET, 211), 0)).expect("bind");
    let at = taken.local_addr().expect("addr");
    let config = dir.0.join("tern.toml");
    std::fs::write(
        &config,
        format!("[server]\nlisten = [\"{at}\"]\nno_recursion = true\n"),
    )
    .expect("config");
    // Were the bind to succeed, tern would serve on: the timeout ends the test either way.
    let out = std::process::Command::new("timeout")
        .args(["10", env!("CARGO_BIN_EXE_tern"), "serve", "--config"])
        .arg(&config)
        .output()
        .expect("run tern serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Address already in use"), "{err}");
    assert!(err.contains("another tern (`tern lab`"), "{err}");
    assert!(err.contains(&format!("sport = :{}", at.port())), "{err}");
}
