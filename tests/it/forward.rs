//! Forward zones over real sockets: a tern whose root hints lead nowhere forwards "." (RD=1)
//! to an Unbound that walks the lab, and must answer what that Unbound answers, over UDP and,
//! for an answer too big for a datagram, TCP; `forward_first` walks the lab itself when the
//! forwarder is down.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RecordType};
use tern::{Acl, Metrics};

use crate::support::{
    Serve, TempDir, TestServer, addr, dnssec_query, exchange, query, recursive, start_fixed,
    start_lab, udp_raw,
};
use crate::unbound_diff::{start_unbound, wait_ready};

/// The lab and Unbound live on this subnet; nothing ever listens on `DEAD`.
const SUBNET: u8 = 50;
const DEAD: u8 = 51;

/// A recursive tern on `bind` with these forward zones, whose root hints are `hints`.
async fn forwarding_tern(
    bind: SocketAddr,
    hints: &str,
    forwards: Vec<tern::Forward>,
) -> TestServer {
    let metrics = Arc::new(Metrics::default());
    let hints = tern::parse_root_hints(hints, Path::new("root.hints")).expect("hints parse");
    let resolver = tern::Resolver::new(
        Arc::new(tern::NetUpstream::default()),
        hints,
        Arc::new(tern::Cache::new(tern::CachePolicy::default())),
        tern::ResolverConfig {
            forwards,
            ..tern::ResolverConfig::default()
        },
        Arc::clone(&metrics),
    );
    start_fixed(
        bind,
        recursive(Vec::new(), resolver, Acl::loopback(), &metrics),
    )
    .await
}

fn answer_set(m: &Message) -> BTreeSet<String> {
    m.answers
        .iter()
        .filter(|r| r.record_type() != RecordType::RRSIG)
        .map(|r| {
            format!(
                "{} {} {}",
                r.name.to_ascii().to_lowercase(),
                r.record_type(),
                r.data
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_the_root_to_unbound_answers_like_unbound() {
    let lab = start_lab(SUBNET).await;
    let unbound_addr = SocketAddr::new(addr(SUBNET, 53), 53);
    let state = TempDir::new("forward-unbound");
    let mut unbound = start_unbound(
        &lab,
        &state.0,
        unbound_addr,
        "  module-config: \"iterator\"\n",
    );
    wait_ready(unbound_addr, &mut unbound).await;
    // Hints into an empty subnet: only the forwarder can answer.
    let dead = tern::LabFiles::embedded().on_subnet(DEAD);
    let tern = forwarding_tern(
        SocketAddr::new(addr(SUBNET, 54), 53),
        dead.root_hints().expect("hints"),
        vec![tern::Forward {
            zone: Name::root(),
            servers: vec![unbound_addr],
            first: false,
            tls: None,
            no_cache: false,
        }],
    )
    .await;
    let questions = [
        ("www.alpha.test.", RecordType::A, ResponseCode::NoError),
        ("nope.alpha.test.", RecordType::A, ResponseCode::NXDomain),
        ("mail.alpha.test.", RecordType::MX, ResponseCode::NoError),
        (
            "cname-cross.alpha.test.",
            RecordType::A,
            ResponseCode::NoError,
        ),
        ("www.beta.example.", RecordType::AAAA, ResponseCode::NoError),
        // Too big for our 1232-byte datagrams: the forwarder is asked again over TCP.
        ("big.big.test.", RecordType::TXT, ResponseCode::NoError),
    ];
    for (qname, qtype, rcode) in questions {
        let ours = exchange(tern.addr, &query(qname, qtype, true, Some(1232))).await;
        let theirs = exchange(unbound_addr, &query(qname, qtype, true, Some(1232))).await;
        assert_eq!(
            ours.metadata.response_code, rcode,
            "{qname} {qtype}: {ours:?}"
        );
        assert_eq!(
            theirs.metadata.response_code, rcode,
            "{qname} {qtype}: Unbound"
        );
        assert_eq!(answer_set(&ours), answer_set(&theirs), "{qname} {qtype}");
        if rcode == ResponseCode::NoError && qtype != RecordType::MX {
            assert!(!ours.answers.is_empty(), "{qname} {qtype}");
        }
    }
    tern.stopped().await;
    served_with_validation(&lab, &state, unbound_addr).await;
}

/// `tern serve` with `[[forward]]` in its config file, validating from the lab's trust anchor:
/// the forwarder's DO=1 data is validated like a walk's (AD for the signed zone, SERVFAIL for
/// the bogus one), with dead root hints so nothing but the forwarder is asked.
async fn served_with_validation(lab: &crate::support::Lab, state: &TempDir, forwarder: SocketAddr) {
    let at = SocketAddr::new(addr(SUBNET, 55), 53);
    let dead = tern::LabFiles::embedded().on_subnet(DEAD);
    std::fs::write(
        state.0.join("dead.hints"),
        dead.root_hints().expect("hints"),
    )
    .expect("hints");
    let anchor = lab.files.trust_anchor().expect("lab").expect("signed root");
    std::fs::write(state.0.join("root.anchor"), anchor).expect("anchor");
    let config = state.0.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{at}\"]\n\
             [recursion]\nroot_hints = \"{}\"\nallow = [\"127.0.0.0/8\"]\n\
             [dnssec]\ntrust_anchor = \"{}\"\n\
             [[forward]]\nzone = \".\"\nservers = [\"{forwarder}\"]\n",
            state.0.join("dead.hints").display(),
            state.0.join("root.anchor").display(),
        ),
    )
    .expect("config");
    let _serve = Serve::start(&config, "info", &state.0.join("tern.log"));
    let probe = dnssec_query("www.secure.test.", RecordType::A, true, true);
    let mut secure = None;
    for _ in 0..100 {
        if let Some(bytes) = udp_raw(
            at,
            &probe.to_vec().expect("encode"),
            Duration::from_millis(200),
        )
        .await
        {
            secure = Message::from_vec(&bytes).ok();
            break;
        }
    }
    let secure = secure.unwrap_or_else(|| {
        panic!(
            "tern serve did not answer: {}",
            std::fs::read_to_string(state.0.join("tern.log")).unwrap_or_default()
        )
    });
    assert_eq!(
        secure.metadata.response_code,
        ResponseCode::NoError,
        "{secure:?}"
    );
    assert!(secure.metadata.authentic_data, "validated: AD=1 {secure:?}");
    let bogus = exchange(
        at,
        &dnssec_query("www.bogus.test.", RecordType::A, true, true),
    )
    .await;
    assert_eq!(
        bogus.metadata.response_code,
        ResponseCode::ServFail,
        "{bogus:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_first_walks_the_lab_when_the_forwarder_is_down() {
    let lab = start_lab(DEAD).await;
    let hints = lab.files.root_hints().expect("hints").to_string();
    // Nobody listens here: the port is unreachable at once.
    let down = vec![SocketAddr::new(addr(SUBNET, 99), 53)];
    let forward = |first| {
        vec![tern::Forward {
            zone: Name::from_ascii("alpha.test.").expect("name"),
            servers: down.clone(),
            first,
            tls: None,
            no_cache: false,
        }]
    };
    let only = forwarding_tern(SocketAddr::new(addr(DEAD, 54), 53), &hints, forward(false)).await;
    let first = forwarding_tern(SocketAddr::new(addr(DEAD, 55), 53), &hints, forward(true)).await;
    let q = query("www.alpha.test.", RecordType::A, true, Some(1232));
    let failed = exchange(only.addr, &q).await;
    assert_eq!(failed.metadata.response_code, ResponseCode::ServFail);
    let walked = exchange(first.addr, &q).await;
    assert_eq!(walked.metadata.response_code, ResponseCode::NoError);
    assert_eq!(walked.answers.len(), 1, "{walked:?}");
    // Names outside the forward zone were never forwarded.
    let other = exchange(
        only.addr,
        &query("www.beta.example.", RecordType::A, true, Some(1232)),
    )
    .await;
    assert_eq!(other.metadata.response_code, ResponseCode::NoError);
    only.stopped().await;
    first.stopped().await;
}
