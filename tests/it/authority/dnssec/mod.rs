//! Zones signed offline, served as signed (RFC 4035 §3.1, RFC 5155 §7.2): each test signs its
//! zones at run time with BIND's `dnssec-keygen` and `dnssec-signzone` (Debian package
//! bind9-utils; tests/run.sh installs it) into a temporary folder, serves them with tern, and
//! compares with NSD serving the same files (`nsd.rs`) or resolves through a validating
//! Unbound (`unbound.rs`).
//!
//! Addresses: 127.232.0.1–30 only (NSD and Unbound on port 53, tern on a free port).

mod nsd;
mod unbound;

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, name};
use tern::Zone;

/// How a zone proves what does not exist.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Denial {
    Nsec,
    /// NSEC3 with opt-out (`dnssec-signzone -A`): the unsigned delegation has no NSEC3.
    Nsec3OptOut,
    Nsec3,
}

/// One zone signed at test time.
struct Signed {
    origin: String,
    /// The signed zone file, one record per line (`-O full`).
    file: PathBuf,
    /// The DS of its key-signing key, as a zone-file line: a validator's trust anchor.
    ds: String,
}

impl Signed {
    fn zone(&self) -> Zone {
        Zone::from_file(&self.file, Some(&name(&self.origin)))
            .unwrap_or_else(|e| panic!("{}: {e}", self.file.display()))
    }

    /// An owner name of the zone's NSEC3 chain (a hash directly below the apex).
    fn hashed_owner(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.file).expect("signed file");
        text.lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|w| w.len() > 4 && w[3] == "NSEC3")
            .map(|w| w[0].to_string())
    }
}

/// The zone every test signs: a wildcard with a TXT and an A, an empty non-terminal, a CNAME
/// chain, a signed child (DS) and an unsigned one. Addresses are data only: nothing is ever
/// sent to them.
fn source(origin: &str, child_ds: &str) -> String {
    format!(
        "$ORIGIN {origin}\n$TTL 300\n\
         @           3600 IN SOA   ns1 hostmaster 2024010101 7200 900 1209600 60\n\
         @           3600 IN NS    ns1\n\
         @           3600 IN NS    ns2\n\
         @                IN MX    10 mail\n\
         ns1         3600 IN A     127.232.0.21\n\
         ns2         3600 IN A     127.232.0.22\n\
         mail             IN A     127.232.0.23\n\
         www              IN A     127.232.0.24\n\
         www              IN AAAA  2001:db8::24\n\
         alias            IN CNAME www\n\
         chain            IN CNAME alias\n\
         *.wild           IN A     127.232.0.25\n\
         *.wild           IN TXT   \"wildcard\"\n\
         a.b.ent          IN TXT   \"leaf under empty non-terminals\"\n\
         secure     86400 IN NS    ns.secure\n\
         ns.secure  86400 IN A     127.232.0.26\n\
         {child_ds}\n\
         insecure   86400 IN NS    ns.insecure\n\
         ns.insecure 86400 IN A    127.232.0.27\n"
    )
}

/// Runs a bind9-utils tool in `dir` and returns its standard output, trimmed.
fn bind_tool(dir: &Path, tool: &str, args: &[&str]) -> String {
    let out = Command::new(support::system_binary(
        tool,
        "BIND's signing tools (Debian package bind9-utils) for the signed-zone tests",
    ))
    .args(args)
    .current_dir(dir)
    .output()
    .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A new key for `zone` in `dir`: its file name without `.key`/`.private`.
fn keygen(dir: &Path, zone: &str, algorithm: &str, ksk: bool) -> String {
    let mut args = vec!["-q", "-a", algorithm, "-n", "ZONE"];
    if algorithm.starts_with("RSA") {
        args.extend(["-b", "2048"]);
    }
    if ksk {
        args.extend(["-f", "KSK"]);
    }
    args.push(zone);
    bind_tool(dir, "dnssec-keygen", &args)
}

/// Signs the test zone `origin` in `dir` with a KSK and a ZSK of `algorithm`, proving
/// absence as `denial` says. The signed child's DS comes from a key made for it here.
fn sign(dir: &Path, origin: &str, algorithm: &str, denial: Denial) -> Signed {
    let child = keygen(dir, &format!("secure.{origin}"), "ECDSAP256SHA256", true);
    let child_ds = bind_tool(dir, "dnssec-dsfromkey", &["-2", &format!("{child}.key")]);
    let ksk = keygen(dir, origin, algorithm, true);
    let zsk = keygen(dir, origin, algorithm, false);
    let mut text = source(origin, &child_ds);
    text.push_str(&format!("$INCLUDE {ksk}.key\n$INCLUDE {zsk}.key\n"));
    let unsigned = format!("{origin}zone");
    std::fs::write(dir.join(&unsigned), text).expect("write zone source");
    let signed = format!("{origin}signed");
    let mut args = vec!["-q", "-O", "full", "-o", origin, "-f", &signed];
    match denial {
        Denial::Nsec => {}
        Denial::Nsec3 => args.extend(["-3", "aabbccdd", "-H", "0"]),
        Denial::Nsec3OptOut => args.extend(["-3", "aabbccdd", "-H", "0", "-A"]),
    }
    args.extend([unsigned.as_str(), &ksk, &zsk]);
    bind_tool(dir, "dnssec-signzone", &args);
    let ds = bind_tool(dir, "dnssec-dsfromkey", &["-2", &format!("{ksk}.key")]);
    Signed {
        origin: origin.to_string(),
        file: dir.join(signed),
        ds,
    }
}

/// Replaces `signed`'s RRSIG over `owner`'s `covered` RRset with one whose signature has
/// one character changed: the copy no longer validates there.
fn corrupt_signature(signed: &Signed, owner: &str, covered: &str) {
    let text = std::fs::read_to_string(&signed.file).expect("signed file");
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|line| {
            let w: Vec<&str> = line.split_whitespace().collect();
            if done || w.len() < 13 || w[0] != owner || w[3] != "RRSIG" || w[4] != covered {
                return line.to_string();
            }
            done = true;
            let sig = w[12];
            let flipped = if sig.starts_with('A') { "B" } else { "A" };
            line.replacen(sig, &format!("{flipped}{}", &sig[1..]), 1)
        })
        .collect();
    assert!(done, "no RRSIG {covered} at {owner} to corrupt");
    std::fs::write(&signed.file, lines.join("\n") + "\n").expect("write corrupted copy");
}
