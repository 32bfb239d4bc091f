//! `tern ctl nta` against a running, validating `tern serve` over the signed lab (subnet 65):
//! a runtime negative trust anchor turns the lab's bogus zone from SERVFAIL into an insecure
//! answer at once (the cached verdict dropped, the hit path too), `list` shows it beside the
//! configured one with its seconds left, a lifetime is read and checked (a bad or too long one
//! refused), a configured one cannot be removed, removing the runtime one brings the SERVFAIL
//! back, and so does a short-lived one's expiry.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::control::{ctl, ok};
use crate::support::{self, Serve, TempDir, dnssec_query, exchange};

const SUBNET: u8 = 65;

/// Asks with RD=1 and DO=1, over TCP when the UDP answer is truncated.
async fn ask(server: SocketAddr, qname: &str) -> Message {
    exchange(server, &dnssec_query(qname, RecordType::A, true, true)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tern_ctl_nta_adds_lists_and_removes_negative_trust_anchors() {
    let dir = TempDir::new("control-nta");
    let lab = support::start_lab(SUBNET).await;
    let at = SocketAddr::new(support::addr(SUBNET, 200), 53);
    std::fs::write(
        dir.0.join("root.hints"),
        lab.files.root_hints().expect("hints"),
    )
    .expect("hints");
    let anchor = lab.files.trust_anchor().expect("lab").expect("signed root");
    std::fs::write(dir.0.join("root.anchor"), anchor).expect("anchor");
    let config = dir.0.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{at}\"]\n\
             [recursion]\nroot_hints = \"root.hints\"\nallow = [\"127.0.0.0/8\"]\n\
             [dnssec]\ntrust_anchor = \"{}\"\nnegative_trust_anchors = [\"insecure.test.\"]\n\
             [control]\nsocket = \"run/control.sock\"\n",
            dir.0.join("root.anchor").display()
        ),
    )
    .expect("config");
    let socket = dir.0.join("run/control.sock");
    let _serve = Serve::start(&config, "info", &dir.0.join("tern.log"));
    for _ in 0..200 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The bogus zone is refused, and (asked again) refused from the cache.
    for _ in 0..2 {
        let m = ask(at, "www.bogus.test.").await;
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "{m:?}");
    }
    assert_eq!(
        ok(&socket, &["nta", "list"]).await,
        "insecure.test. configured\n"
    );

    // Added: answered at once, insecure (no AD).
    let added = ok(&socket, &["nta", "add", "Bogus.Test"]).await;
    assert!(
        added.starts_with("bogus.test. added for 3600s; removed "),
        "an hour unless told: {added}"
    );
    let m = ask(at, "www.bogus.test.").await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m:?}");
    assert!(!m.metadata.authentic_data, "insecure: no AD");
    assert_eq!(
        m.answers
            .iter()
            .filter(|r| r.record_type() == RecordType::A)
            .map(|r| r.data.to_string())
            .collect::<Vec<_>>(),
        [format!("127.{SUBNET}.0.183")]
    );
    // The secure zone beside it is still secure.
    let m = ask(at, "www.secure.test.").await;
    assert!(m.metadata.authentic_data, "{m:?}");
    let listed = ok(&socket, &["nta", "list"]).await;
    assert!(
        (3590..=3600).contains(&runtime_left(&listed, "bogus.test.")),
        "{listed}"
    );
    assert!(
        listed.starts_with("insecure.test. configured\n"),
        "{listed}"
    );

    // Again, with a lifetime: refreshed to it. A bad or too long one is refused.
    let again = ok(&socket, &["nta", "add", "bogus.test.", "15m"]).await;
    assert!(again.contains("expires in 900s now"), "{again}");
    let listed = ok(&socket, &["nta", "list"]).await;
    assert!(
        (890..=900).contains(&runtime_left(&listed, "bogus.test.")),
        "{listed}"
    );
    let (success, _, err) = ctl(&socket, &["nta", "add", "other.test.", "8d"]).await;
    assert!(!success && err.contains("longer than a week"), "{err}");
    let (success, _, err) = ctl(&socket, &["nta", "add", "other.test.", "soon"]).await;
    assert!(!success && err.contains("bad lifetime \"soon\""), "{err}");
    let (success, _, err) = ctl(&socket, &["nta", "add", "a.test.", "1h", "x"]).await;
    assert!(
        !success && err.contains("usage: nta add NAME [LIFETIME]"),
        "{err}"
    );
    assert_eq!(
        ok(&socket, &["nta", "list"]).await.lines().count(),
        2,
        "nothing added by a refused command"
    );

    // A configured one stays; an unknown one is said to be unknown.
    let (success, _, err) = ctl(&socket, &["nta", "remove", "insecure.test."]).await;
    assert!(!success && err.contains("configured"), "{err}");
    assert!(err.contains("remove it from the config"), "{err}");
    let (success, _, err) = ctl(&socket, &["nta", "remove", "alpha.test."]).await;
    assert!(
        !success && err.contains("not a negative trust anchor"),
        "{err}"
    );
    let (success, _, err) = ctl(&socket, &["nta", "frob"]).await;
    assert!(!success && err.contains("usage: nta add NAME"), "{err}");

    // Removed: validated again at once, SERVFAIL.
    let removed = ok(&socket, &["nta", "remove", "bogus.test."]).await;
    assert!(removed.starts_with("bogus.test. removed; "), "{removed}");
    let m = ask(at, "www.bogus.test.").await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "{m:?}");
    assert_eq!(
        ok(&socket, &["nta", "list"]).await,
        "insecure.test. configured\n"
    );

    // The daemon's own expiry: a one-second anchor ends by itself (the timers' logic is tested
    // on a paused clock in the unit tests; this waits for the wiring, up to 10 s), and with it
    // the insecure answer it let into the cache.
    ok(&socket, &["nta", "add", "bogus.test.", "1s"]).await;
    let m = ask(at, "www.bogus.test.").await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{m:?}");
    let started = std::time::Instant::now();
    while ok(&socket, &["nta", "list"]).await != "insecure.test. configured\n" {
        assert!(started.elapsed() < Duration::from_secs(10), "never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let m = ask(at, "www.bogus.test.").await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "{m:?}");
}

/// The seconds left of `name`'s line `NAME runtime Ns left` in `nta list`'s output.
fn runtime_left(listed: &str, name: &str) -> u64 {
    listed
        .lines()
        .find_map(|l| {
            l.strip_prefix(name)?
                .strip_prefix(" runtime ")?
                .strip_suffix("s left")
        })
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no runtime {name} in:\n{listed}"))
}
