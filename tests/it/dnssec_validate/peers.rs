//! The peers of the DNSSEC comparison: NSD serving the signed hierarchy, a validating
//! Unbound, and `dig` reading what each resolver answers.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::ip;
use crate::support;

/// A process killed (by its PID) and reaped when dropped.
pub(super) struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(super) fn start_nsd(dir: &Path, ip: IpAddr, zones: &[(String, PathBuf)]) -> Proc {
    let state = dir.join(format!("nsd-{ip}"));
    std::fs::create_dir_all(&state).expect("nsd dir");
    let s = state.display();
    let mut conf = format!(
        "server:\n  ip-address: {ip}\n  port: 53\n  do-ip6: no\n  server-count: 1\n  \
         username: \"\"\n  chroot: \"\"\n  zonesdir: \"{s}\"\n  pidfile: \"{s}/nsd.pid\"\n  \
         database: \"\"\n  zonelistfile: \"{s}/zone.list\"\n  xfrdfile: \"{s}/xfrd.state\"\n  \
         xfrdir: \"{s}\"\n  logfile: \"{s}/nsd.log\"\n  refuse-any: no\n  rrl-ratelimit: 0\n\
         remote-control:\n  control-enable: no\n"
    );
    for (origin, file) in zones {
        conf.push_str(&format!(
            "zone:\n  name: \"{origin}\"\n  zonefile: \"{}\"\n",
            file.display()
        ));
    }
    std::fs::write(state.join("nsd.conf"), conf).expect("nsd.conf");
    let child = Command::new(support::system_binary(
        "nsd",
        "NSD serving the signed hierarchy",
    ))
    .args(["-d", "-c"])
    .arg(state.join("nsd.conf"))
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("start nsd");
    Proc(child)
}

pub(super) fn start_unbound(dir: &Path, hints: &Path, anchor: &Path) -> Proc {
    let state = dir.join("unbound");
    std::fs::create_dir_all(&state).expect("unbound dir");
    let conf = format!(
        "server:\n  interface: {ip}\n  port: 53\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
         directory: \"{s}\"\n  pidfile: \"{s}/unbound.pid\"\n  logfile: \"{s}/unbound.log\"\n  \
         use-syslog: no\n  num-threads: 1\n  root-hints: \"{hints}\"\n  \
         module-config: \"validator iterator\"\n  trust-anchor-file: \"{anchor}\"\n  \
         do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n  \
         local-zone: \"test.\" nodefault\n  discard-timeout: 0\n  qname-minimisation: yes\n  \
         ede: yes\n  val-log-level: 2\nremote-control:\n  control-enable: no\n",
        ip = ip(11),
        s = state.display(),
        hints = hints.display(),
        anchor = anchor.display()
    );
    std::fs::write(state.join("unbound.conf"), conf).expect("unbound.conf");
    let child = Command::new(support::system_binary(
        "unbound",
        "a validating Unbound to compare with",
    ))
    .args(["-d", "-c"])
    .arg(state.join("unbound.conf"))
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("start unbound");
    Proc(child)
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
    fn section(&self, section: &str) -> Vec<Vec<&str>> {
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
