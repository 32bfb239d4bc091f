//! The peers of the DNSSEC comparison: a validating Unbound, and `dig` reading what each
//! resolver answers (NSD serves the signed hierarchy: `support::nsd`).

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use super::ip;
use crate::support;
use crate::support::unbound::Unbound;

/// The validating Unbound the answers are compared with, on .11, its state in `dir`.
pub(super) fn start_unbound(dir: &Path, hints: &Path, anchor: &Path) -> Unbound {
    let server = format!(
        "  root-hints: \"{}\"\n  module-config: \"validator iterator\"\n  \
         trust-anchor-file: \"{}\"\n  ede: yes\n  val-log-level: 2\n",
        hints.display(),
        anchor.display()
    );
    Unbound::start(
        &dir.join("unbound"),
        SocketAddr::new(ip(11), 53),
        &server,
        "",
    )
}

/// What `dig` printed, in the parts compared.
#[derive(Debug)]
pub(super) struct Dig {
    pub(super) status: String,
    flags: Vec<String>,
    pub(super) text: String,
}

impl Dig {
    pub(super) fn ad(&self) -> bool {
        self.flags.iter().any(|f| f == "ad")
    }

    /// The records of a section (`ANSWER`, `AUTHORITY`), each as its fields.
    pub(super) fn section(&self, section: &str) -> Vec<Vec<&str>> {
        let mut inside = false;
        let mut out = Vec::new();
        for l in self.text.lines() {
            if l.starts_with(";; ") && l.contains("SECTION:") {
                inside = l.contains(section);
                continue;
            }
            if inside && !l.trim().is_empty() && !l.starts_with(';') {
                out.push(l.split_whitespace().collect());
            }
        }
        out
    }

    /// Records of `rtype` in the answer (`ANSWER`) or authority (`AUTHORITY`) section.
    pub(super) fn count(&self, section: &str, rtype: &str) -> usize {
        self.section(section)
            .iter()
            .filter(|f| f.get(3) == Some(&rtype))
            .count()
    }

    /// The answer section as a sorted set of records without their TTLs (owner names
    /// lowercased: a resolver may keep the case the question or the zone used).
    pub(super) fn answer_data(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .section("ANSWER")
            .iter()
            .map(|f| {
                let mut f: Vec<String> = f.iter().map(|s| s.to_string()).collect();
                if f.len() > 1 {
                    f.remove(1);
                }
                if let Some(owner) = f.first_mut() {
                    *owner = owner.to_lowercase();
                }
                f.join(" ")
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The Extended DNS Error's info code, if the reply carried one (`; EDE: 7 (…)`).
    pub(super) fn ede(&self) -> Option<u16> {
        self.text
            .split("; EDE: ")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
    }
}

pub(super) fn dig(server: IpAddr, q: &str, opts: &[&str]) -> Dig {
    let mut args = vec![format!("@{server}"), "+tries=1".into(), "+time=10".into()];
    args.extend(q.split_whitespace().map(String::from));
    args.extend(opts.iter().map(|s| s.to_string()));
    let out = Command::new(support::system_binary("dig", "dig (bind9-dnsutils)"))
        .args(&args)
        .output()
        .expect("dig");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("none")
        .to_string();
    let flags = text
        .split(";; flags: ")
        .nth(1)
        .and_then(|s| s.split(';').next())
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect();
    Dig {
        status,
        flags,
        text,
    }
}

pub(super) fn wait_answering(server: IpAddr, q: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if dig(server, q, &["+time=1", "+norec"]).status != "none" {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{server} does not answer {q}");
}
