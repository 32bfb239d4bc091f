//! The signed loopback hierarchy, made at test time with BIND's `dnssec-keygen`,
//! `dnssec-signzone` and `dnssec-dsfromkey`, and broken on purpose where a case needs it.
//!
//! ```text
//! .1  .             signed (ECDSAP256SHA256, NSEC); test. with DS, unsigned. without
//! .2  test.         signed; a DS for each signed child below, none for insecure.test.
//! .3  secure.test.  NSEC; wildcards, CNAMEs (into nsec3.test., insecure.test., bogus.test.,
//!                   nowhere), a DNAME to nsec3.test.
//!     nsec3.test.   NSEC3, RSASHA256; a wildcard
//!     insecure.test.  unsigned, delegated without DS; a CNAME into secure.test.
//!     bogus.test.   the RRSIG over www A corrupted after signing
//!     expired.test. signed with a validity window that ended in 2020
//!     nokey.test.   test. publishes a DS for a key the zone does not have
//!     stripped.test.  the RRSIG over www A removed after signing
//!     optout.test.  NSEC3 opt-out; sub.optout.test. delegated without DS (served on .5)
//!     child.unsigned.  signed, with its DS in the unsigned TLD unsigned.
//! .4  unsigned.     an unsigned TLD
//! .5  sub.optout.test.  unsigned
//! ```

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::ip;
use crate::support;

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

const PAST: &str = "20190101000000";

const NSEC3: &[&str] = &["-3", "-", "-H", "0"];

/// Signs `text` as `zone` in `dir` with a new KSK and ZSK of `alg`, passing `extra` to
/// `dnssec-signzone` (NSEC3, opt-out, the validity window). Returns the signed file's name;
/// the DS set is left in `dsset-<zone>.`.
fn sign(dir: &Path, zone: &str, text: &str, alg: &str, extra: &[&str]) -> String {
    let file = format!("{}zone", zone.trim_end_matches('.').replace('.', "_") + "_");
    // Published and active since 2019, so that a zone may be signed for a window in the past.
    let mut keygen = vec![
        "-q", "-K", ".", "-a", alg, "-n", "ZONE", "-P", PAST, "-A", PAST,
    ];
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
    args.extend(extra);
    args.extend(["-k", &ksk, &file, &zsk]);
    // The keys go into the zone for dnssec-signzone to find: $INCLUDE them.
    let with_keys = format!("{text}\n$INCLUDE {ksk}.key\n$INCLUDE {zsk}.key\n");
    std::fs::write(dir.join(&file), with_keys).expect("zone text");
    run("dnssec-signzone", &args, dir);
    signed
}

/// Rewrites the RRSIG line(s) over `owner`/`covered` of a signed zone file (`-O full`: one
/// record a line) with `edit`; `None` drops the line. Panics when no line matched.
fn edit_rrsig(path: &Path, owner: &str, covered: &str, edit: impl Fn(&[&str]) -> Option<String>) {
    let text = std::fs::read_to_string(path).expect("signed zone");
    let mut hits = 0;
    let out: Vec<String> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.first() == Some(&owner) && f.get(3) == Some(&"RRSIG") && f.get(4) == Some(&covered)
            {
                hits += 1;
                edit(&f)
            } else {
                Some(l.to_string())
            }
        })
        .collect();
    assert!(hits > 0, "no RRSIG {owner} {covered} in {}", path.display());
    std::fs::write(path, out.join("\n") + "\n").expect("write");
}

fn soa(zone: &str) -> String {
    format!("$TTL 300\n{zone} IN SOA ns.{zone} hostmaster.{zone} 1 3600 600 86400 300\n")
        .replace("ns.. ", "ns1. ")
        .replace("hostmaster.. ", "hostmaster. ")
}

/// A leaf zone served from `host`: its apex, www A and TXT, and `extra` lines.
fn leaf(zone: &str, host: u8, extra: &str) -> String {
    format!(
        "{}{zone} IN NS ns.{zone}\nns.{zone} IN A {}\nwww.{zone} IN A 192.0.2.1\n\
         www.{zone} IN TXT \"hello\"\n{extra}",
        soa(zone),
        ip(host)
    )
}

/// A delegation of `child` to `ns.<child>` at `host`.
fn delegation(child: &str, host: u8) -> String {
    format!("{child} IN NS ns.{child}\nns.{child} IN A {}\n", ip(host))
}

/// The signed hierarchy's zone files, by server, and the root's DS (the trust anchor).
pub(super) struct Hierarchy {
    pub(super) servers: Vec<(IpAddr, Vec<(String, PathBuf)>)>,
    pub(super) anchor: PathBuf,
}

const ECDSA: &str = "ECDSAP256SHA256";

pub(super) fn build(dir: &Path) -> Hierarchy {
    let leaves = dir.join("leaves");
    std::fs::create_dir_all(&leaves).expect("dir");
    let secure_extra = "alias.secure.test. IN CNAME www.nsec3.test.\n\
        in.secure.test. IN CNAME www.secure.test.\n\
        toinsecure.secure.test. IN CNAME www.insecure.test.\n\
        *.wild.secure.test. IN A 192.0.2.7\n\
        *.wc.secure.test. IN CNAME www.secure.test.\n\
        dangling.secure.test. IN CNAME nope.secure.test.\n\
        tobogus.secure.test. IN CNAME www.bogus.test.\n\
        dn.secure.test. IN DNAME nsec3.test.\n";
    let nsec3_extra = "*.wild.nsec3.test. IN A 192.0.2.8\n";
    let optout_extra = delegation("sub.optout.test.", 5);
    let signed: [(&str, String, &str, &[&str]); 8] = [
        (
            "secure.test.",
            leaf("secure.test.", 3, secure_extra),
            ECDSA,
            &[][..],
        ),
        (
            "nsec3.test.",
            leaf("nsec3.test.", 3, nsec3_extra),
            "RSASHA256",
            NSEC3,
        ),
        ("bogus.test.", leaf("bogus.test.", 3, ""), ECDSA, &[]),
        (
            "expired.test.",
            leaf("expired.test.", 3, ""),
            ECDSA,
            &["-P", "-s", "20200101000000", "-e", "20200201000000"],
        ),
        ("nokey.test.", leaf("nokey.test.", 3, ""), ECDSA, &[]),
        ("stripped.test.", leaf("stripped.test.", 3, ""), ECDSA, &[]),
        (
            "optout.test.",
            leaf("optout.test.", 3, &optout_extra),
            ECDSA,
            &["-3", "-", "-H", "0", "-A"],
        ),
        (
            "child.unsigned.",
            leaf("child.unsigned.", 3, ""),
            ECDSA,
            &[],
        ),
    ];
    let mut leaf_zones: Vec<(String, PathBuf)> = signed
        .iter()
        .map(|(zone, text, alg, extra)| {
            (
                zone.to_string(),
                leaves.join(sign(&leaves, zone, text, alg, extra)),
            )
        })
        .collect();
    let file = |zone: &str| {
        leaf_zones
            .iter()
            .find(|(z, _)| z == zone)
            .map(|(_, f)| f.clone())
            .expect("signed leaf")
    };
    // Corrupt the signature over www.bogus.test. A: one character of its base64 changed.
    edit_rrsig(&file("bogus.test."), "www.bogus.test.", "A", |f| {
        let last = f.last().copied().unwrap_or_default();
        let flipped = if last.starts_with('A') { "B" } else { "A" };
        Some(format!(
            "{} {flipped}{}",
            f[..f.len() - 1].join(" "),
            &last[1..]
        ))
    });
    // Strip the signature over www.stripped.test. A.
    edit_rrsig(&file("stripped.test."), "www.stripped.test.", "A", |_| None);
    let insecure = leaves.join("insecure.zone");
    let insecure_extra = "alias.insecure.test. IN CNAME www.secure.test.\n";
    std::fs::write(&insecure, leaf("insecure.test.", 3, insecure_extra)).expect("zone");
    leaf_zones.push(("insecure.test.".into(), insecure));

    // nokey.test.'s DS in test. is that of a key made apart and never published in the zone.
    let stray = dir.join("stray");
    std::fs::create_dir_all(&stray).expect("dir");
    let key = run(
        "dnssec-keygen",
        &[
            "-q",
            "-K",
            ".",
            "-a",
            ECDSA,
            "-n",
            "ZONE",
            "-f",
            "KSK",
            "nokey.test.",
        ],
        &stray,
    );
    let stray_ds = run("dnssec-dsfromkey", &["-2", &format!("{key}.key")], &stray);
    let dsset =
        |zone: &str| std::fs::read_to_string(leaves.join(format!("dsset-{zone}"))).expect("dsset");

    let tld = dir.join("tld");
    std::fs::create_dir_all(&tld).expect("dir");
    let mut test = format!("{}{}", soa("test."), delegation("test.", 2));
    for child in [
        "secure", "nsec3", "insecure", "bogus", "expired", "nokey", "stripped", "optout",
    ] {
        test.push_str(&delegation(&format!("{child}.test."), 3));
    }
    for child in ["secure", "nsec3", "bogus", "expired", "stripped", "optout"] {
        test.push_str(&dsset(&format!("{child}.test.")));
    }
    test.push_str(&format!("{stray_ds}\n"));
    let test = sign(&tld, "test.", &test, ECDSA, &[]);

    let unsigned = tld.join("unsigned.zone");
    let text = format!(
        "{}{}www.unsigned. IN A 192.0.2.9\n{}{}",
        soa("unsigned."),
        delegation("unsigned.", 4),
        delegation("child.unsigned.", 3),
        dsset("child.unsigned.")
    );
    std::fs::write(&unsigned, text).expect("zone");
    let sub = leaves.join("sub.zone");
    std::fs::write(&sub, leaf("sub.optout.test.", 5, "")).expect("zone");

    let root = dir.join("root");
    std::fs::create_dir_all(&root).expect("dir");
    let mut text = format!(
        "{}. IN NS ns1.\nns1. IN A {}\n{}{}",
        soa("."),
        ip(1),
        delegation("test.", 2),
        delegation("unsigned.", 4)
    );
    text.push_str(&std::fs::read_to_string(tld.join("dsset-test.")).expect("dsset"));
    let root_file = sign(&root, ".", &text, ECDSA, &[]);
    Hierarchy {
        servers: vec![
            (ip(1), vec![(".".into(), root.join(root_file))]),
            (ip(2), vec![("test.".into(), tld.join(test))]),
            (ip(3), leaf_zones),
            (ip(4), vec![("unsigned.".into(), unsigned)]),
            (ip(5), vec![("sub.optout.test.".into(), sub)]),
        ],
        anchor: root.join("dsset-."),
    }
}
