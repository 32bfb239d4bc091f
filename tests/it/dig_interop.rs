//! What a user sees: `dig` and `kdig` (the real tools, from Debian's bind9-dnsutils and
//! knot-dnsutils) print the same status, flags and records for NSD and for tern serving the
//! same zones. Lines that differ by nature (ids, timings, server address, cookies) are left
//! out; everything else is compared, records as sorted sets.

use std::net::SocketAddr;
use std::process::Command;

use crate::nsd_diff::{load, zone_files};
use crate::support::nsd::Nsd;
use crate::support::{self, TempDir, addr};

const SUBNET: u8 = 121;

const QUERIES: &[(&str, &str)] = &[
    ("www.cluster.test", "A"),
    ("cluster.test", "MX"),
    ("_http._tcp.cluster.test", "SRV"),
    ("x.apps.cluster.test", "A"),
    ("web.old.cluster.test", "A"),
    ("nope.cluster.test", "A"),
    ("b.svc.cluster.test", "A"),
    ("foo.lab.cluster.test", "A"),
    ("cluster.test", "TXT"),
    ("WWW.Alpha.TEST", "AAAA"),
    ("alpha.test", "NS"),
    ("big.big.test", "TXT"),
];

/// The parts of a dig/kdig printout both servers must agree on, normalised.
fn essentials(out: &str) -> (Vec<String>, Vec<String>) {
    let mut header = Vec::new();
    let mut records = Vec::new();
    for line in out.lines() {
        let l = line.trim();
        if l.is_empty() {
            continue;
        }
        if l.starts_with(";;") {
            let lower = l.to_ascii_lowercase();
            if lower.contains("status") {
                // dig: "opcode: QUERY, status: NOERROR, id: 1"; kdig uses ';' separators.
                let status = lower
                    .split("status:")
                    .nth(1)
                    .unwrap_or("")
                    .split([',', ';'])
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_string();
                header.push(format!("status {status}"));
            } else if lower.starts_with(";; flags:") {
                header.push(lower.split_whitespace().collect::<Vec<_>>().join(" "));
            }
            continue;
        }
        if l.starts_with(';') {
            continue; // question echo, OPT pseudo-section, cookies
        }
        records.push(
            l.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_ascii_lowercase(),
        );
    }
    records.sort();
    (header, records)
}

fn run(tool: &str, args: &[String]) -> String {
    let out = Command::new(tool).args(args).output().unwrap_or_else(|e| {
        panic!(
            "{tool} is not installed ({e}); tests/run.sh installs bind9-dnsutils and knot-dnsutils"
        )
    });
    assert!(out.status.success(), "{tool} {args:?} failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `tool`'s command line: its own `flags`, then server, port, name and type.
fn args(flags: &[&str], server: SocketAddr, qname: &str, qtype: &str) -> Vec<String> {
    flags
        .iter()
        .map(|s| s.to_string())
        .chain([
            format!("@{}", server.ip()),
            "-p".into(),
            server.port().to_string(),
            qname.into(),
            qtype.into(),
        ])
        .collect()
}

/// dig sends a cookie by default and kdig no EDNS: make both ask the same question.
const TOOLS: [(&str, &[&str]); 2] = [
    ("dig", &["+norec", "+nocookie", "+time=2", "+tries=1"]),
    ("kdig", &["+norec", "+edns", "+time=2", "+retry=0"]),
];

#[tokio::test]
async fn dig_and_kdig_show_the_same_answers_from_tern_and_nsd() {
    let zones = zone_files();
    let nsd_addr = SocketAddr::new(addr(SUBNET, 1), 53);
    let state = TempDir::new("dig-interop-nsd");
    let mut nsd = Nsd::start(&state.0, nsd_addr.ip(), &zones);
    let tern =
        support::start_authoritative(SocketAddr::new(addr(SUBNET, 2), 0), load(&zones)).await;
    nsd.wait_ready(nsd_addr, "cluster.test.").await;

    let mut differences = Vec::new();
    for (qname, qtype) in QUERIES {
        for (tool, flags) in TOOLS {
            let (nsd_out, tern_out) = tokio::task::spawn_blocking({
                let (a, b) = (
                    args(flags, nsd_addr, qname, qtype),
                    args(flags, tern.addr, qname, qtype),
                );
                move || (run(tool, &a), run(tool, &b))
            })
            .await
            .expect("join");
            let (theirs, ours) = (essentials(&nsd_out), essentials(&tern_out));
            assert!(
                !theirs.0.is_empty(),
                "{tool} printed no header for {qname} {qtype}:\n{nsd_out}"
            );
            if theirs != ours {
                differences.push(format!(
                    "{tool} {qname} {qtype}\n--- nsd:\n{nsd_out}\n--- tern:\n{tern_out}"
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} printouts differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}
