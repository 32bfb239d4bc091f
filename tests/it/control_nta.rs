//! `tern ctl nta` against a running, validating `tern serve` over the signed lab (subnet 65):
//! a runtime negative trust anchor turns the lab's bogus zone from SERVFAIL into an insecure
//! answer at once (the cached verdict dropped, the hit path too), `list` shows it beside the
//! configured one, a configured one cannot be removed, and removing the runtime one brings the
//! SERVFAIL back.

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
    assert!(added.starts_with("bogus.test. added; removed "), "{added}");
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
    assert_eq!(
        ok(&socket, &["nta", "list"]).await,
        "insecure.test. configured\nbogus.test. runtime\n"
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
}
