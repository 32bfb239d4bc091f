//! Review: an answer the message tier keeps, given again on the hit path, has every header
//! flag and its OPT as the full path would have made them for *this* client, whatever flags
//! the client it was first made for had (DO, CD, AD, EDNS or none): a differential test.

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

use crate::authority::Catalog;
use crate::handler::{Acl, Handler, HandlerConfig, Recursion, Transport};
use crate::metrics::Metrics;
use crate::resolver::tests::validate::{signed_net, validating};

/// A client's flags: EDNS (with DO), CD, AD.
#[derive(Debug, Clone, Copy)]
struct Flags {
    edns: bool,
    dnssec_ok: bool,
    checking_disabled: bool,
    authentic_data: bool,
}

fn every_flags() -> Vec<Flags> {
    let mut out = Vec::new();
    for bits in 0..16u8 {
        let f = Flags {
            edns: bits & 1 != 0,
            dnssec_ok: bits & 2 != 0,
            checking_disabled: bits & 4 != 0,
            authentic_data: bits & 8 != 0,
        };
        // DO lives in the OPT.
        if f.edns || !f.dnssec_ok {
            out.push(f);
        }
    }
    out
}

fn handler() -> Handler {
    let (net, anchors) = signed_net();
    let resolver = validating(&net, anchors);
    let metrics = Arc::new(Metrics::default());
    Handler::new(Catalog::default(), HandlerConfig::default(), metrics).with_recursion(Recursion {
        resolver,
        acl: Acl::loopback(),
        snoop: Acl::new(Vec::new()),
    })
}

fn query(qname: &str, f: Flags) -> Vec<u8> {
    let mut m = Message::new(0x7373, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.metadata.checking_disabled = f.checking_disabled;
    m.metadata.authentic_data = f.authentic_data;
    m.add_query(Query::query(
        Name::from_ascii(qname).expect("name"),
        RecordType::A,
    ));
    if f.edns {
        let mut e = Edns::new();
        e.set_max_payload(1232);
        e.set_dnssec_ok(f.dnssec_ok);
        m.set_edns(e);
    }
    m.to_vec().expect("encodes")
}

/// What must match: the flag bytes (RCODE included), the OPT's payload, version and DO, and
/// the records by owner and type.
/// An OPT's payload, version and DO.
type Opt = Option<(u16, u8, bool)>;

fn shape(wire: &[u8]) -> (u8, u8, Opt, Vec<String>) {
    let m = Message::from_vec(wire).expect("reply parses");
    let opt = m
        .edns
        .as_ref()
        .map(|e| (e.max_payload(), e.version(), e.flags().dnssec_ok));
    let records = [&m.answers, &m.authorities, &m.additionals]
        .iter()
        .flat_map(|s| s.iter())
        .map(|r| format!("{} {}", r.name.to_lowercase(), r.record_type()))
        .collect();
    (wire[2], wire[3], opt, records)
}

#[tokio::test(start_paused = true)]
async fn a_kept_answer_is_worded_for_each_client_as_the_full_path_words_it() {
    let client: SocketAddr = "127.0.0.1:40000".parse().expect("address");
    for qname in ["www.secure.test.", "www.bogus.test."] {
        // The full path's answer to each client, from a handler that keeps nothing yet.
        let mut full = Vec::new();
        for f in every_flags() {
            let h = handler();
            let wire = h
                .handle_bytes(&query(qname, f), client, Transport::Udp)
                .await
                .expect("answered");
            full.push((f, shape(&wire)));
        }
        // The data is validated: AD for some clients (secure), SERVFAIL for some (bogus).
        let flag_bytes: Vec<u8> = full.iter().map(|(_, (_, b, _, _))| *b).collect();
        let secure = qname.contains("secure");
        assert!(
            flag_bytes
                .iter()
                .any(|b| if secure { b & 0x20 != 0 } else { b & 0x0F == 2 })
        );
        let mut hits = 0;
        for first in every_flags() {
            let h = handler();
            h.handle_bytes(&query(qname, first), client, Transport::Udp)
                .await
                .expect("answered");
            for (f, want) in &full {
                let mut out = Vec::new();
                if h.answer_fast(&query(qname, *f), client, &mut out) {
                    hits += 1;
                    assert_eq!(
                        &shape(&out),
                        want,
                        "{qname}: kept for {first:?}, given to {f:?}"
                    );
                }
            }
        }
        // Each answer kept is given to every client of its DO and CD.
        assert!(hits >= 12, "{qname}: {hits} hits");
    }
}
