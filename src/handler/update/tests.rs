//! The edge of UPDATE through `Handler::handle_bytes`: TSIG, zone section and policy decide
//! whether the updater is asked; every answer to a validly signed request is signed.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Mutex;

use hickory_proto::op::{Message, MessageType, OpCode, Query};

use hickory_proto::op::DnsResponse;
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{RData, Record};

use super::*;
use crate::authority::Zone;
use crate::authority::store::{StoreError, Updated};
use crate::authority::update::UpdateError;
use crate::authority::update::{Ignored, Why};
use crate::handler::Transport::{self, Tcp, Udp};
use crate::handler::test_tsig::{key, name, signed};
use crate::handler::{Handler, HandlerConfig};
use crate::tsig::Key;

const ZONE: &str = "$ORIGIN cluster.test.\n$TTL 300\n\
@ SOA ns hostmaster 7 3600 600 86400 60\n@ NS ns\nns A 127.0.0.90\n";

fn cluster_key() -> Key {
    key("cluster-key.", b"0123456789abcdef0123456789abcdef")
}

fn other_key() -> Key {
    key("other-key.", b"fedcba9876543210fedcba9876543210")
}

/// Records every update it is asked for and answers with `result`.
struct Recorder {
    calls: Mutex<Vec<Name>>,
    result: fn() -> Result<Updated, StoreError>,
}

impl Updater for Recorder {
    fn update(&self, zone: &Name, _update: &Message) -> Result<Updated, StoreError> {
        self.calls.lock().expect("lock").push(zone.clone());
        (self.result)()
    }
}

fn handler(result: fn() -> Result<Updated, StoreError>) -> (Handler, Arc<Recorder>) {
    let zone = Zone::from_text(ZONE, Path::new("cluster.zone"), None).expect("zone");
    let catalog = Catalog::new([zone]).expect("catalog");
    let handler = Handler::new(
        catalog,
        HandlerConfig::default(),
        Arc::new(Metrics::default()),
    );
    let recorder = Arc::new(Recorder {
        calls: Mutex::new(Vec::new()),
        result,
    });
    let updates = Updates::new(
        Arc::clone(&recorder) as Arc<dyn Updater>,
        Keyring::new([cluster_key(), other_key()]),
    )
    .allow(&name("cluster.test."), [name("cluster-key.")]);
    (handler.with_updates(updates), recorder)
}

fn update(zone: &str) -> Message {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Update);
    m.add_query(Query::query(name(zone), RecordType::SOA));
    m.add_authority(Record::from_rdata(
        name("x.cluster.test."),
        300,
        RData::A(A::new(192, 0, 2, 1)),
    ));
    m
}

async fn reply(handler: &Handler, bytes: &[u8], transport: Transport) -> Vec<u8> {
    let src = SocketAddr::from(([127, 0, 0, 1], 5300));
    handler
        .handle_bytes(bytes, src, transport)
        .await
        .expect("a response")
}

/// Sends `message` signed with `key` as a client would, and reads the reply through that
/// client's verifier: the reply must carry a TSIG the client accepts.
async fn exchange(
    handler: &Handler,
    message: Message,
    key: &Key,
    transport: Transport,
) -> DnsResponse {
    let (bytes, mut verifier) = signed(message, key);
    let out = reply(handler, &bytes, transport).await;
    verifier.verify(&out).expect("the client accepts our TSIG")
}

async fn ask(handler: &Handler, bytes: &[u8]) -> Message {
    let out = reply(handler, bytes, Transport::Udp).await;
    Message::from_vec(&out).expect("response parses")
}

fn applied() -> Result<Updated, StoreError> {
    Ok(Updated {
        serial: 8,
        changed: true,
        ignored: Vec::new(),
    })
}

/// What the store answers to a CNAME added beside other data: accepted, nothing changed.
fn cname_ignored() -> Result<Updated, StoreError> {
    Ok(Updated {
        serial: 7,
        changed: false,
        ignored: vec![Ignored {
            name: name("ns.cluster.test."),
            rtype: RecordType::CNAME,
            why: Why::CnameBesideData,
        }],
    })
}

#[tokio::test]
async fn an_update_that_changes_nothing_is_noerror_but_not_counted_applied() {
    let (handler, recorder) = handler(cname_ignored);
    let answer = exchange(&handler, update("cluster.test."), &cluster_key(), Udp).await;
    // RFC 2136 §3.4.2.2: the CNAME is ignored and the update still succeeds.
    assert_eq!(answer.response_code, ResponseCode::NoError);
    assert_eq!(recorder.calls.lock().expect("lock").len(), 1);
    let m = handler.metrics();
    assert_eq!(Metrics::get(&m.updates_applied), 0);
    assert_eq!(Metrics::get(&m.updates_unchanged), 1);
    assert_eq!(Metrics::get(&m.updates_refused), 0);
}

#[test]
fn the_log_names_each_ignored_record_and_why() {
    let Ok(done) = cname_ignored() else {
        unreachable!("cname_ignored is Ok")
    };
    assert_eq!(
        ignored_list(&done.ignored),
        "ns.cluster.test. CNAME: a CNAME cannot be added beside other data (RFC 2136 §3.4.2.2)"
    );
    assert_eq!(ignored_list(&[]), "none");
}

#[tokio::test]
async fn a_signed_update_is_applied_and_the_answer_signed() {
    let (handler, recorder) = handler(applied);
    let answer = exchange(&handler, update("cluster.test."), &cluster_key(), Udp).await;
    assert_eq!(answer.response_code, ResponseCode::NoError);
    assert_eq!(answer.metadata.op_code, OpCode::Update);
    assert_eq!(answer.metadata.message_type, MessageType::Response);
    assert_eq!(answer.queries.len(), 1, "zone section echoed");
    assert_eq!(
        *recorder.calls.lock().expect("lock"),
        vec![name("cluster.test.")]
    );
    assert_eq!(Metrics::get(&handler.metrics().updates_applied), 1);
}

#[tokio::test]
async fn unsigned_and_unlisted_keys_are_refused_without_asking_the_updater() {
    let (handler, recorder) = handler(applied);
    let unsigned = update("cluster.test.").to_vec().expect("encode");
    let answer = ask(&handler, &unsigned).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::Refused);
    assert!(answer.signature().is_none());

    // other-key is known (the answer is signed with it) but not allowed for this zone.
    let answer = exchange(&handler, update("cluster.test."), &other_key(), Tcp).await;
    assert_eq!(answer.response_code, ResponseCode::Refused);
    assert!(recorder.calls.lock().expect("lock").is_empty());
    assert_eq!(Metrics::get(&handler.metrics().updates_refused), 2);
}

#[tokio::test]
async fn a_bad_signature_is_notauth_before_anything_else() {
    let (handler, recorder) = handler(applied);
    // An unknown key, on a zone we do not even serve: the TSIG is judged first (BADKEY, not
    // signed). The right name with the wrong secret: BADSIG.
    let stranger = key("stranger.", b"0123456789abcdef0123456789abcdef");
    let forged = key("cluster-key.", b"not the secret, not the secret!!");
    for (client_key, zone, error) in [
        (&stranger, "elsewhere.test.", TsigError::BadKey),
        (&forged, "cluster.test.", TsigError::BadSig),
    ] {
        let (bytes, _) = signed(update(zone), client_key);
        let answer = ask(&handler, &bytes).await;
        assert_eq!(answer.metadata.response_code, ResponseCode::NotAuth);
        let tsig = &answer.signature().expect("the TSIG error").data;
        assert_eq!(tsig.error, Some(error));
        if error == TsigError::BadKey {
            assert!(tsig.mac.is_empty(), "BADKEY is not signed");
        }
    }
    assert!(recorder.calls.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn the_zone_section_is_checked_before_the_policy() {
    let (handler, recorder) = handler(applied);
    let answer = exchange(&handler, update("elsewhere.test."), &cluster_key(), Udp).await;
    assert_eq!(answer.response_code, ResponseCode::NotAuth);

    let mut two = update("cluster.test.");
    two.add_query(Query::query(name("cluster.test."), RecordType::SOA));
    let answer = exchange(&handler, two, &cluster_key(), Udp).await;
    assert_eq!(answer.response_code, ResponseCode::FormErr);
    assert!(recorder.calls.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn the_updaters_refusal_becomes_the_rcode() {
    fn nxrrset() -> Result<Updated, StoreError> {
        Err(StoreError::Update(UpdateError::RrsetMissing {
            name: Box::new(Name::root()),
            rtype: RecordType::A,
        }))
    }
    let (handler, recorder) = handler(nxrrset);
    let answer = exchange(&handler, update("cluster.test."), &cluster_key(), Udp).await;
    assert_eq!(answer.response_code, ResponseCode::NXRRSet);
    assert_eq!(recorder.calls.lock().expect("lock").len(), 1);
}

#[tokio::test]
async fn garbage_with_the_update_opcode_is_formerr_and_no_panic() {
    let (handler, _) = handler(applied);
    let mut bytes = update("cluster.test.").to_vec().expect("encode");
    bytes.truncate(bytes.len() - 5);
    let answer = ask(&handler, &bytes).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::FormErr);
    assert_eq!(answer.metadata.id, 0x4242);
    // Twelve bytes of header claiming records that are not there, and less than a header.
    let mut header_only = bytes[..12].to_vec();
    header_only[5] = 3;
    assert_eq!(
        ask(&handler, &header_only).await.metadata.response_code,
        ResponseCode::FormErr
    );
    let src = SocketAddr::from(([127, 0, 0, 1], 5300));
    assert!(
        handler
            .handle_bytes(&bytes[..3], src, Transport::Udp)
            .await
            .is_none()
    );
}

#[tokio::test]
async fn without_updates_enabled_update_is_notimp() {
    let zone = Zone::from_text(ZONE, Path::new("cluster.zone"), None).expect("zone");
    let handler = Handler::new(
        Catalog::new([zone]).expect("catalog"),
        HandlerConfig::default(),
        Arc::new(Metrics::default()),
    );
    let (bytes, _) = signed(update("cluster.test."), &cluster_key());
    assert_eq!(
        ask(&handler, &bytes).await.metadata.response_code,
        ResponseCode::NotImp
    );
}

fn soa_query() -> Message {
    let mut m = Message::new(0x5151, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(name("cluster.test."), RecordType::SOA));
    m
}

/// `nsupdate -k` without a `zone` line first sends a signed SOA query and refuses an unsigned
/// answer: a signed query is answered, and signed, with the same key.
#[tokio::test]
async fn a_signed_query_gets_a_signed_answer() {
    let (handler, recorder) = handler(applied);
    let (bytes, mut verifier) = signed(soa_query(), &other_key());
    let out = reply(&handler, &bytes, Transport::Udp).await;
    let answer = verifier.verify(&out).expect("the client accepts our TSIG");
    assert_eq!(answer.response_code, ResponseCode::NoError);
    let answer = Message::from_vec(&out).expect("parses");
    assert!(matches!(
        answer.answers.first().map(|r| &r.data),
        Some(RData::SOA(_))
    ));
    assert!(answer.metadata.authoritative);
    assert!(recorder.calls.lock().expect("lock").is_empty());
}

#[tokio::test]
async fn a_badly_signed_query_is_notauth_and_not_answered() {
    let (handler, _) = handler(applied);
    let forged = key("cluster-key.", b"not the secret, not the secret!!");
    let (bytes, _) = signed(soa_query(), &forged);
    let answer = ask(&handler, &bytes).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::NotAuth);
    assert!(answer.answers.is_empty());
    let tsig = &answer.signature().expect("the TSIG error").data;
    assert_eq!(tsig.error, Some(TsigError::BadSig));

    // A server without any key: every signature names an unknown key.
    let zone = Zone::from_text(ZONE, Path::new("cluster.zone"), None).expect("zone");
    let keyless = Handler::new(
        Catalog::new([zone]).expect("catalog"),
        HandlerConfig::default(),
        Arc::new(Metrics::default()),
    );
    let (bytes, _) = signed(soa_query(), &cluster_key());
    let answer = ask(&keyless, &bytes).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::NotAuth);
    assert!(answer.answers.is_empty());
    let tsig = &answer.signature().expect("the TSIG error").data;
    assert_eq!(tsig.error, Some(TsigError::BadKey));
}
