//! DNSSEC validation over real sockets (issue 18): a loopback hierarchy signed at test time
//! with BIND's `dnssec-keygen` and `dnssec-signzone` and served by NSD — the root (KSK+ZSK,
//! ECDSAP256SHA256) at 127.233.0.1, `test.` at .2, and at .3 `secure.test.` (NSEC),
//! `nsec3.test.` (NSEC3, RSASHA256), `insecure.test.` (an unsigned delegation: no DS) and
//! `bogus.test.` (one RRSIG corrupted after signing). tern (.10) and a validating Unbound
//! (.11) get the root's DS as their trust anchor; `dig` asks both the same questions, and
//! they must agree on RCODE and AD, besides what tern alone is checked for (RRSIGs and
//! proofs for DO=1 only, the EDE of a bogus answer, `+cd`).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, Serve, TempDir};

const NET: [u8; 3] = [127, 233, 0];

fn ip(host: u8) -> IpAddr {
    IpAddr::from([NET[0], NET[1], NET[2], host])
}

/// A process killed (by its PID) and reaped when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(tool: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(support::system_binary(
        tool,
        "BIND's DNSSEC tools (bind9-utils)",
    ))
    .args(args)
    .current_dir(dir)
    .output()
    .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Signs `text` as `zone` in `dir` with a new KSK and ZSK of `alg`; NSEC3 with `nsec3`.
/// Returns the signed file's name; the DS set is left in `dsset-<zone>.`.
fn sign(dir: &Path, zone: &str, text: &str, alg: &str, nsec3: bool) -> String {
    let file = format!("{}zone", zone.trim_end_matches('.').replace('.', "_") + "_");
    std::fs::write(dir.join(&file), text).expect("zone text");
    let mut keygen = vec!["-q", "-K", ".", "-a", alg, "-n", "ZONE"];
    if alg == "RSASHA256" {
        keygen.extend(["-b", "2048"]);
    }
    let zsk = run("dnssec-keygen", &[&keygen[..], &[zone]].concat(), dir);
    let ksk = run(
        "dnssec-keygen",
        &[&keygen[..], &["-f", "KSK", zone]].concat(),
        dir,
    );
    let signed = format!("{file}.signed");
    let mut args = vec!["-q", "-K", ".", "-O", "full", "-o", zone, "-f", &signed];
    if nsec3 {
        args.extend(["-3", "-", "-H", "0"]);
    }
    args.extend(["-k", &ksk, &file, &zsk]);
    // The keys go into the zone for dnssec-signzone to find: $INCLUDE them.
    let with_keys = format!("{text}\n$INCLUDE {ksk}.key\n$INCLUDE {zsk}.key\n");
    std::fs::write(dir.join(&file), with_keys).expect("zone text");
    run("dnssec-signzone", &args, dir);
    signed
}

fn soa(zone: &str) -> String {
    format!("$TTL 300\n{zone} IN SOA ns.{zone} hostmaster.{zone} 1 3600 600 86400 300\n")
        .replace("ns.. ", "ns1. ")
        .replace("hostmaster.. ", "hostmaster. ")
}

fn leaf(zone: &str) -> String {
    format!(
        "{}{zone} IN NS ns.{zone}\nns.{zone} IN A {}\nwww.{zone} IN A 192.0.2.1\n\
         www.{zone} IN TXT \"hello\"\n",
        soa(zone),
        ip(3)
    )
}

/// The signed hierarchy's zone files, by server, and the root's DS (the trust anchor).
struct Hierarchy {
    servers: Vec<(IpAddr, Vec<(String, PathBuf)>)>,
    anchor: PathBuf,
}

fn build(dir: &Path) -> Hierarchy {
    let leaves = dir.join("leaves");
    std::fs::create_dir_all(&leaves).expect("dir");
    let secure = sign(
        &leaves,
        "secure.test.",
        &leaf("secure.test."),
        "ECDSAP256SHA256",
        false,
    );
    let nsec3 = sign(
        &leaves,
        "nsec3.test.",
        &leaf("nsec3.test."),
        "RSASHA256",
        true,
    );
    let bogus = sign(
        &leaves,
        "bogus.test.",
        &leaf("bogus.test."),
        "ECDSAP256SHA256",
        false,
    );
    std::fs::write(leaves.join("insecure.zone"), leaf("insecure.test.")).expect("zone");
    // Corrupt the signature over www.bogus.test. A: one character of its base64 changed.
    let path = leaves.join(&bogus);
    let text = std::fs::read_to_string(&path).expect("signed bogus zone");
    let corrupted: Vec<String> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.first() == Some(&"www.bogus.test.")
                && f.get(3) == Some(&"RRSIG")
                && f.get(4) == Some(&"A")
            {
                let last = f.last().copied().unwrap_or_default();
                let flipped = if last.starts_with('A') { "B" } else { "A" };
                format!("{} {flipped}{}", f[..f.len() - 1].join(" "), &last[1..])
            } else {
                l.to_string()
            }
        })
        .collect();
    assert_ne!(
        corrupted.join("\n"),
        text.trim_end(),
        "an RRSIG was corrupted"
    );
    std::fs::write(&path, corrupted.join("\n") + "\n").expect("write");

    let tld = dir.join("tld");
    std::fs::create_dir_all(&tld).expect("dir");
    let mut test = format!(
        "{}test. IN NS ns.test.\nns.test. IN A {}\n",
        soa("test."),
        ip(2)
    );
    for child in ["secure", "nsec3", "insecure", "bogus"] {
        test.push_str(&format!(
            "{child}.test. IN NS ns.{child}.test.\nns.{child}.test. IN A {}\n",
            ip(3)
        ));
    }
    for child in ["secure", "nsec3", "bogus"] {
        test.push_str(
            &std::fs::read_to_string(leaves.join(format!("dsset-{child}.test."))).expect("dsset"),
        );
    }
    let test = sign(&tld, "test.", &test, "ECDSAP256SHA256", false);

    let root = dir.join("root");
    std::fs::create_dir_all(&root).expect("dir");
    let mut text = format!(
        "{}. IN NS ns1.\nns1. IN A {}\ntest. IN NS ns.test.\nns.test. IN A {}\n",
        soa("."),
        ip(1),
        ip(2)
    );
    text.push_str(&std::fs::read_to_string(tld.join("dsset-test.")).expect("dsset"));
    let root_file = sign(&root, ".", &text, "ECDSAP256SHA256", false);
    let leaf_zones = [
        ("secure.test.", secure),
        ("nsec3.test.", nsec3),
        ("bogus.test.", bogus),
        ("insecure.test.", "insecure.zone".to_string()),
    ];
    Hierarchy {
        servers: vec![
            (ip(1), vec![(".".into(), root.join(root_file))]),
            (ip(2), vec![("test.".into(), tld.join(test))]),
            (
                ip(3),
                leaf_zones
                    .iter()
                    .map(|(z, f)| (z.to_string(), leaves.join(f)))
                    .collect(),
            ),
        ],
        anchor: root.join("dsset-."),
    }
}

fn start_nsd(dir: &Path, ip: IpAddr, zones: &[(String, PathBuf)]) -> Proc {
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

fn start_unbound(dir: &Path, hints: &Path, anchor: &Path) -> Proc {
    let state = dir.join("unbound");
    std::fs::create_dir_all(&state).expect("unbound dir");
    let conf = format!(
        "server:\n  interface: {ip}\n  port: 53\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
         directory: \"{s}\"\n  pidfile: \"{s}/unbound.pid\"\n  logfile: \"{s}/unbound.log\"\n  \
         use-syslog: no\n  num-threads: 1\n  root-hints: \"{hints}\"\n  \
         module-config: \"validator iterator\"\n  trust-anchor-file: \"{anchor}\"\n  \
         do-not-query-localhost: no\n  access-control: 127.0.0.0/8 allow\n  \
         local-zone: \"test.\" nodefault\n  discard-timeout: 0\n  qname-minimisation: yes\n  \
         ede: yes\nremote-control:\n  control-enable: no\n",
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
struct Dig {
    status: String,
    flags: Vec<String>,
    text: String,
}

impl Dig {
    fn ad(&self) -> bool {
        self.flags.iter().any(|f| f == "ad")
    }
    /// Records of `rtype` in the answer (`ANSWER`) or authority (`AUTHORITY`) section.
    fn count(&self, section: &str, rtype: &str) -> usize {
        let mut inside = false;
        let mut n = 0;
        for l in self.text.lines() {
            if l.starts_with(";; ") && l.contains("SECTION:") {
                inside = l.contains(section);
                continue;
            }
            if inside && l.split_whitespace().nth(3) == Some(rtype) {
                n += 1;
            }
        }
        n
    }
}

fn dig(server: IpAddr, q: &str, opts: &[&str]) -> Dig {
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

fn wait_answering(server: IpAddr, q: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if dig(server, q, &["+time=1", "+norec"]).status != "none" {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{server} does not answer {q}");
}

#[test]
fn validates_a_signed_hierarchy_like_unbound() {
    let tmp = TempDir::new("dnssec-validate");
    let h = build(&tmp.0);
    let _nsd: Vec<Proc> = h
        .servers
        .iter()
        .map(|(ip, zones)| start_nsd(&tmp.0, *ip, zones))
        .collect();
    for (ip, zones) in &h.servers {
        wait_answering(*ip, &format!("{} SOA", zones[0].0));
    }
    let hints = tmp.0.join("root.hints");
    std::fs::write(
        &hints,
        format!(". 3600000 NS ns1.\nns1. 3600000 A {}\n", ip(1)),
    )
    .expect("hints");
    let tern = SocketAddr::new(ip(10), 53);
    let config = tmp.0.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{tern}\"]\n[recursion]\nroot_hints = \"{}\"\n[dnssec]\ntrust_anchor = \"{}\"\n",
            hints.display(),
            h.anchor.display()
        ),
    )
    .expect("tern.toml");
    let _tern = Serve::start(&config, "info", &tmp.0.join("tern.log"));
    let _unbound = start_unbound(&tmp.0, &hints, &h.anchor);
    wait_answering(ip(10), "test. SOA");
    wait_answering(ip(11), "test. SOA");

    // (question, dig options, rcode, AD)
    let cases: &[(&str, &[&str], &str, bool)] = &[
        ("www.secure.test. A", &["+dnssec"], "NOERROR", true),
        ("www.secure.test. A", &["+noadflag"], "NOERROR", false),
        ("www.secure.test. A", &[], "NOERROR", true),
        // the hit path: kept with AD, sent without it to a client that set neither DO nor AD
        ("www.secure.test. A", &["+noadflag"], "NOERROR", false),
        ("nope.secure.test. A", &["+dnssec"], "NXDOMAIN", true),
        ("www.secure.test. AAAA", &["+dnssec"], "NOERROR", true),
        ("www.nsec3.test. A", &["+dnssec"], "NOERROR", true),
        ("nope.nsec3.test. A", &["+dnssec"], "NXDOMAIN", true),
        ("www.nsec3.test. AAAA", &["+dnssec"], "NOERROR", true),
        ("www.insecure.test. A", &["+dnssec"], "NOERROR", false),
        ("nope.insecure.test. A", &["+dnssec"], "NXDOMAIN", false),
        ("www.bogus.test. A", &["+dnssec"], "SERVFAIL", false),
        ("www.bogus.test. A", &["+dnssec", "+cd"], "NOERROR", false),
        ("www.bogus.test. TXT", &["+dnssec"], "NOERROR", true),
    ];
    let mut wrong = Vec::new();
    for (q, opts, rcode, ad) in cases {
        let ours = dig(ip(10), q, opts);
        let theirs = dig(ip(11), q, opts);
        let what = format!("{q} {opts:?}");
        if (ours.status.as_str(), ours.ad()) != (*rcode, *ad) {
            wrong.push(format!(
                "{what}: tern {} ad={}, want {rcode} ad={ad}\n{}",
                ours.status,
                ours.ad(),
                ours.text
            ));
        }
        if (ours.status.as_str(), ours.ad()) != (theirs.status.as_str(), theirs.ad()) {
            wrong.push(format!(
                "{what}: tern {} ad={}, unbound {} ad={}",
                ours.status,
                ours.ad(),
                theirs.status,
                theirs.ad()
            ));
        }
    }
    // What tern alone is checked for: the DNSSEC records go to DO=1 clients only.
    let signed = dig(ip(10), "www.secure.test. A", &["+dnssec"]);
    assert_eq!(signed.count("ANSWER", "RRSIG"), 1, "{}", signed.text);
    let plain = dig(ip(10), "www.secure.test. A", &[]);
    assert_eq!(plain.count("ANSWER", "RRSIG"), 0, "{}", plain.text);
    let nx = dig(ip(10), "nope.secure.test. A", &["+dnssec"]);
    assert!(nx.count("AUTHORITY", "NSEC") >= 1, "{}", nx.text);
    assert!(nx.count("AUTHORITY", "RRSIG") >= 2, "{}", nx.text);
    let nx3 = dig(ip(10), "nope.nsec3.test. A", &["+dnssec"]);
    assert!(nx3.count("AUTHORITY", "NSEC3") >= 2, "{}", nx3.text);
    let nx_plain = dig(ip(10), "nope.nsec3.test. A", &[]);
    assert_eq!(nx_plain.count("AUTHORITY", "NSEC3"), 0, "{}", nx_plain.text);
    let bogus = dig(ip(10), "www.bogus.test. A", &["+dnssec"]);
    assert!(bogus.text.contains("EDE: 6"), "{}", bogus.text);
    assert!(
        bogus.text.contains("bogus.test."),
        "the EDE names the zone: {}",
        bogus.text
    );
    let cd = dig(ip(10), "www.bogus.test. A", &["+dnssec", "+cd"]);
    assert_eq!(cd.count("ANSWER", "A"), 1, "{}", cd.text);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
