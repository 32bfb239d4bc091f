//! The lab's signed zones as a validating Unbound sees them: with the lab's root DS as its
//! only trust anchor, secure.test. validates (AD=1, also for NXDOMAIN and NODATA),
//! bogus.test.'s corrupted signature is refused (SERVFAIL), and insecure.test. and the other
//! unsigned zones below the signed test. are provably insecure (NOERROR, AD=0). This checks
//! what the lab signs at start with a validator that is not ours.

use std::net::SocketAddr;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::support::{TempDir, addr, dnssec_query, exchange, start_lab};
use crate::unbound_diff::{start_unbound, wait_ready};

const SUBNET: u8 = 185;

/// Asks with RD=1 and DO=1 (RFC 6840 §5.7: AD only for a client that shows it understands
/// it), over TCP when the UDP answer is truncated.
async fn ask(server: SocketAddr, qname: &str, qtype: RecordType) -> Message {
    exchange(server, &dnssec_query(qname, qtype, true, true)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_validating_unbound_accepts_the_signed_lab() {
    let lab = start_lab(SUBNET).await;
    let anchor = lab
        .files
        .trust_anchor()
        .expect("the lab signs")
        .expect("the lab's root is signed");
    let listen = SocketAddr::new(addr(SUBNET, 53), 53);
    let server = format!(
        "  module-config: \"validator iterator\"\n  trust-anchor: \"{}\"\n",
        anchor.trim()
    );
    let state = TempDir::new("lab-dnssec-unbound");
    let mut unbound = start_unbound(&lab, &state.0, listen, &server);
    wait_ready(listen, &mut unbound).await;

    // (question, RCODE, AD)
    let cases = [
        (
            "www.secure.test.",
            RecordType::A,
            ResponseCode::NoError,
            true,
        ),
        (
            "x.wild.secure.test.",
            RecordType::A,
            ResponseCode::NoError,
            true,
        ),
        (
            "nope.secure.test.",
            RecordType::A,
            ResponseCode::NXDomain,
            true,
        ),
        (
            "www.secure.test.",
            RecordType::TXT,
            ResponseCode::NoError,
            true,
        ),
        ("test.", RecordType::SOA, ResponseCode::NoError, true),
        ("nope.test.", RecordType::A, ResponseCode::NXDomain, true),
        (
            "www.bogus.test.",
            RecordType::A,
            ResponseCode::ServFail,
            false,
        ),
        (
            "txt.bogus.test.",
            RecordType::TXT,
            ResponseCode::NoError,
            true,
        ),
        (
            "www.insecure.test.",
            RecordType::A,
            ResponseCode::NoError,
            false,
        ),
        (
            "www.alpha.test.",
            RecordType::A,
            ResponseCode::NoError,
            false,
        ),
        (
            "www.beta.example.",
            RecordType::A,
            ResponseCode::NoError,
            false,
        ),
    ];
    let mut wrong = Vec::new();
    for (qname, qtype, rcode, ad) in cases {
        let m = ask(listen, qname, qtype).await;
        let got = (m.metadata.response_code, m.metadata.authentic_data);
        if got != (rcode, ad) {
            wrong.push(format!(
                "{qname} {qtype}: (rcode, AD) {got:?}, want {:?}",
                (rcode, ad)
            ));
        }
    }
    let log = unbound.log();
    assert!(
        wrong.is_empty(),
        "{}\nunbound log:\n{log}",
        wrong.join("\n")
    );
}

/// `tern resolve --lab` validates with the lab's own root DS (never the IANA anchors its
/// hints are not for): the signed, bogus and unsigned names each get their verdict, and
/// `--trace` shows the chain it walked.
#[test]
fn resolve_lab_validates_with_the_labs_anchor() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tern"))
            .arg("resolve")
            .arg("--lab")
            .args(args)
            .env_remove("RUST_LOG")
            .output()
            .expect("tern resolve runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let secure = run(&["--trace", "www.secure.test", "A"]);
    assert!(secure.contains("dnssec: secure"), "{secure}");
    assert!(
        secure.contains("DS      zone test.") && secure.contains("VERDICT"),
        "{secure}"
    );
    let bogus = run(&["www.bogus.test", "A"]);
    assert!(bogus.contains("dnssec: bogus"), "{bogus}");
    let insecure = run(&["www.insecure.test", "A"]);
    assert!(insecure.contains("dnssec: insecure"), "{insecure}");
}
