//! The edge through `Handler::handle_bytes` and `handle_stream`: one decode, one TSIG verdict for
//! every opcode, one dispatch, and the transport deciding whether a transfer may stream.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::rdata::{A, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use crate::acl::{Acl, TransferAcl};
use crate::authority::store::{StoreError, Updated, Updater};
use crate::authority::{Catalog, Zone};
use crate::handler::response;
use crate::handler::test_tsig::{key, name, signed};
use crate::handler::{
    Handler, HandlerConfig, NotifyReceiver, Reply, Transfers, Transport, Updates,
};
use crate::metrics::Metrics;
use crate::tsig::{self, Key, Keyring, Verified, now_unix};

const ZONE: &str = "$ORIGIN edge.test.\n$TTL 300\n\
@ SOA ns hostmaster 7 3600 600 86400 60\n@ NS ns\nns A 127.0.0.90\nwww A 192.0.2.1\n";

fn edge_key() -> Key {
    key("edge-key.", b"0123456789abcdef0123456789abcdef")
}

fn stranger() -> Key {
    key("stranger.", b"fedcba9876543210fedcba9876543210")
}

/// Never asked in these tests: the edge refuses first.
struct NoUpdates;

impl Updater for NoUpdates {
    fn update(&self, _zone: &Name, _update: &Message) -> Result<Updated, StoreError> {
        panic!("the updater must not be asked")
    }
}

/// Takes every NOTIFY and remembers the zone and key it came with.
#[derive(Default)]
struct Notified(Mutex<Vec<(Name, Option<Name>)>>);

impl NotifyReceiver for Notified {
    fn notified(&self, zone: &Name, _from: IpAddr, key: Option<&Name>) -> ResponseCode {
        self.0
            .lock()
            .expect("lock")
            .push((zone.clone(), key.cloned()));
        ResponseCode::NoError
    }
}

/// A handler with UPDATE and transfers on, one key known; `allow` may transfer `edge.test.`.
fn handler(allow: Acl) -> (Handler, Arc<Notified>) {
    let zone = Zone::from_text(ZONE, Path::new("edge.zone"), None).expect("zone");
    let handler = Handler::new(
        Catalog::new([zone]).expect("catalog"),
        HandlerConfig::default(),
        Arc::new(Metrics::default()),
    );
    let keyring = Keyring::new([edge_key()]);
    let updates = Updates::new(Arc::new(NoUpdates), keyring.clone())
        .allow(&name("edge.test."), [name("edge-key.")]);
    let notified = Arc::new(Notified::default());
    let acl = TransferAcl {
        cidrs: allow,
        keys: Vec::new(),
    };
    let transfers = Transfers::new(keyring)
        .allow(&name("edge.test."), acl)
        .notify_to(Arc::clone(&notified) as Arc<dyn NotifyReceiver>);
    (
        handler.with_updates(updates).with_transfers(transfers),
        notified,
    )
}

fn request(op_code: OpCode, qtype: RecordType) -> Message {
    let mut m = Message::new(0x2a2a, MessageType::Query, op_code);
    m.add_query(Query::query(name("edge.test."), qtype));
    m
}

fn src() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5300))
}

async fn tcp(handler: &Handler, bytes: &[u8]) -> Reply {
    handler
        .handle_stream(
            bytes,
            src(),
            Transport::Tcp,
            std::time::Duration::from_secs(10),
        )
        .await
        .expect("a reply")
}

async fn one(handler: &Handler, bytes: &[u8]) -> Message {
    match tcp(handler, bytes).await {
        Reply::One(out) => Message::from_vec(&out).expect("response parses"),
        Reply::Stream(_) => panic!("one message expected"),
    }
}

#[tokio::test]
async fn a_bad_tsig_is_notauth_for_every_opcode_before_its_service_looks() {
    let (handler, notified) = handler(Acl::loopback());
    for (op_code, qtype) in [
        (OpCode::Query, RecordType::SOA),
        (OpCode::Notify, RecordType::SOA),
        (OpCode::Update, RecordType::SOA),
        (OpCode::Query, RecordType::AXFR),
    ] {
        let (bytes, _) = signed(request(op_code, qtype), &stranger());
        let answer = one(&handler, &bytes).await;
        let what = format!("{op_code:?} {qtype}");
        assert_eq!(
            answer.metadata.response_code,
            ResponseCode::NotAuth,
            "{what}"
        );
        assert_eq!(answer.metadata.op_code, op_code, "{what}");
        assert_eq!(answer.metadata.id, 0x2a2a, "{what}");
        assert_eq!(answer.queries.len(), 1, "{what}: question echoed");
        assert!(answer.answers.is_empty(), "{what}: nothing answered");
        let tsig = &answer.signature().expect("the TSIG error").data;
        assert_eq!(tsig.error, Some(TsigError::BadKey), "{what}");
    }
    assert!(notified.0.lock().expect("lock").is_empty());
    let m = handler.metrics();
    assert_eq!(Metrics::get(&m.updates_refused), 1);
    assert_eq!(Metrics::get(&m.notifies_received), 1);
    assert_eq!(Metrics::get(&m.transfers_refused), 1);
    assert_eq!(Metrics::get(&m.transfers_out), 0);
}

#[tokio::test]
async fn a_notify_reaches_the_receiver_with_the_key_that_signed_it() {
    let (handler, notified) = handler(Acl::loopback());
    let (bytes, mut verifier) = signed(request(OpCode::Notify, RecordType::SOA), &edge_key());
    let out = match tcp(&handler, &bytes).await {
        Reply::One(out) => out,
        Reply::Stream(_) => panic!("one message expected"),
    };
    let answer = verifier
        .verify(&out)
        .expect("the answer is signed with edge-key");
    assert_eq!(answer.response_code, ResponseCode::NoError);
    assert!(answer.metadata.authoritative, "RFC 1996 §4.7");
    assert_eq!(
        *notified.0.lock().expect("lock"),
        vec![(name("edge.test."), Some(name("edge-key.")))]
    );
}

#[tokio::test]
async fn a_transfer_streams_only_where_the_transport_can_send_many_messages() {
    let (handler, _) = handler(Acl::loopback());
    let axfr = request(OpCode::Query, RecordType::AXFR)
        .to_vec()
        .expect("encode");
    let Reply::Stream(messages) = tcp(&handler, &axfr).await else {
        panic!("an AXFR over TCP is a stream");
    };
    let records: Vec<Record> = messages
        .flat_map(|m| Message::from_vec(&m).expect("parses").answers)
        .collect();
    assert_eq!(
        records.first().map(Record::record_type),
        Some(RecordType::SOA)
    );
    assert_eq!(
        records.last().map(Record::record_type),
        Some(RecordType::SOA)
    );
    assert_eq!(records.len(), 5, "SOA, NS, two A, SOA");
    assert_eq!(Metrics::get(&handler.metrics().transfers_out), 1);

    // One message only (UDP, or a caller that cannot stream): NOTIMP, as for any meta type.
    let out = handler
        .handle_bytes(&axfr, src(), Transport::Tcp)
        .await
        .expect("a reply");
    let answer = Message::from_vec(&out).expect("parses");
    assert_eq!(answer.metadata.response_code, ResponseCode::NotImp);
}

#[tokio::test]
async fn a_refused_transfer_echoes_the_question_and_the_opt() {
    let (handler, _) = handler(Acl::new(Vec::new()));
    let mut m = request(OpCode::Query, RecordType::AXFR);
    m.set_edns(Edns::new());
    let answer = one(&handler, &m.to_vec().expect("encode")).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::Refused);
    assert_eq!(answer.queries, m.queries);
    assert!(answer.edns.is_some(), "RFC 6891 §6.1.1");
    assert_eq!(Metrics::get(&handler.metrics().transfers_refused), 1);
}

#[test]
fn a_signed_answer_keeps_room_for_its_tsig_under_the_limit() {
    let (bytes, mut verifier) = signed(request(OpCode::Query, RecordType::TXT), &edge_key());
    let query = Message::from_vec(&bytes).expect("parses");
    let now = now_unix();
    let verified = tsig::verify(&bytes, &query, &Keyring::new([edge_key()]), now);
    assert!(matches!(verified, Verified::Signed { .. }));
    let mut answer = Message::new(0x2a2a, MessageType::Response, OpCode::Query);
    answer.add_query(query.queries[0].clone());
    for i in 0..3 {
        let txt = RData::TXT(TXT::new(vec![format!("{i}{}", "x".repeat(120))]));
        answer.add_answer(Record::from_rdata(name("edge.test."), 60, txt));
    }
    answer.add_additional(Record::from_rdata(
        name("ns.edge.test."),
        60,
        RData::A(A::new(127, 0, 0, 90)),
    ));
    // The answer alone fits 512 bytes; with its TSIG it would not.
    let bare = answer.to_vec().expect("encode").len();
    assert!(bare <= 512 && bare + verified.tsig_len() > 512, "{bare}");
    let shape = response::Shape {
        limit: 512,
        optional_authority: false,
        pad: false,
    };
    let out = response::finish(answer, None, shape, &verified, now).expect("signed");
    assert!(out.len() <= 512, "{}", out.len());
    let back = verifier.verify(&out).expect("the client accepts our TSIG");
    assert_eq!(back.answers.len(), 3);
    assert!(
        back.additionals.is_empty(),
        "the optional address dropped to make room, not the TSIG"
    );
}
