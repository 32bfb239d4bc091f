//! Multi-message TSIG (RFC 8945 §5.3.1): streams signed by `ResponseStream` (or by hand, with
//! unsigned messages between signed ones) checked by `RequestSigner`, and by hickory's
//! verifier where it can.

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::rdata::tsig::{TSIG, TsigError, make_tsig_record};
use hickory_proto::rr::{Name, RData, Record, RecordType, TSigVerifier};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder};

use super::*;

const T0: u64 = 1_700_000_000;

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("name")
}

fn transfer_key() -> Key {
    Key::new(
        name("transfer-key."),
        TsigAlgorithm::HmacSha256,
        b"0123456789abcdef0123456789abcdef".to_vec(),
    )
    .expect("key")
}

fn axfr_request() -> Message {
    let mut m = Message::new(0x5151, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(name("cluster.test."), RecordType::AXFR));
    m
}

/// The request as the client sends it, the server's check of it, and the client's signer.
fn signed_exchange(client_key: &Key, server_keys: &Keyring) -> (Verified, RequestSigner) {
    let (bytes, signer) = RequestSigner::sign(&axfr_request(), client_key, T0).expect("sign");
    let request = Message::from_vec(&bytes).expect("request parses");
    (verify(&bytes, &request, server_keys, T0), signer)
}

/// Message `n` of an AXFR answer: the question in the first only, one A record each.
fn part(n: u8) -> Vec<u8> {
    let mut m = Message::response(0x5151, OpCode::Query);
    m.metadata.authoritative = true;
    if n == 0 {
        m.add_query(Query::query(name("cluster.test."), RecordType::AXFR));
    }
    m.add_answer(Record::from_rdata(
        name(&format!("host{n}.cluster.test.")),
        300,
        RData::A(A::new(192, 0, 2, n)),
    ));
    m.to_vec().expect("encode")
}

/// `count` messages, each signed by one `ResponseStream`, one second apart.
fn signed_stream(verified: &Verified, count: u8) -> Vec<Vec<u8>> {
    let mut stream = ResponseStream::new(verified);
    (0..count)
        .map(|n| {
            let bytes = part(n);
            let signed = stream.sign(bytes.clone(), T0 + u64::from(n)).expect("sign");
            assert_eq!(signed.len(), bytes.len() + stream.tsig_len(), "message {n}");
            signed
        })
        .collect()
}

fn ok_exchange() -> (Verified, RequestSigner) {
    let key = transfer_key();
    signed_exchange(&key, &Keyring::new([key.clone()]))
}

#[test]
fn five_message_stream_verifies() {
    let (verified, mut client) = ok_exchange();
    assert!(matches!(verified, Verified::Signed { .. }), "{verified:?}");
    for (n, message) in signed_stream(&verified, 5).iter().enumerate() {
        let parsed = client.verify(message, T0 + 2).expect("message verifies");
        assert_eq!(parsed.answers.len(), 1, "message {n}");
        assert!(parsed.signature().is_some());
    }
    client.finish().expect("the stream ends signed");
}

#[test]
fn a_tampered_middle_message_fails() {
    let (verified, mut client) = ok_exchange();
    let mut stream = signed_stream(&verified, 5);
    // The last octet of the A record, just before the TSIG: data, not structure.
    let tsig_len = ResponseStream::new(&verified).tsig_len();
    let at = stream[2].len() - tsig_len - 1;
    stream[2][at] ^= 0x01;
    client.verify(&stream[0], T0).expect("first");
    client.verify(&stream[1], T0).expect("second");
    assert_eq!(client.verify(&stream[2], T0), Err(TsigClientError::BadSig));
}

#[test]
fn reordered_or_dropped_messages_fail() {
    let (verified, mut client) = ok_exchange();
    let stream = signed_stream(&verified, 4);
    client.verify(&stream[0], T0).expect("first");
    // Each MAC covers the previous one: skipping message 1 breaks the chain.
    assert_eq!(client.verify(&stream[2], T0), Err(TsigClientError::BadSig));

    // A later message cannot stand in for the first: that one covers the request MAC and
    // all TSIG variables.
    let (_, mut fresh) = ok_exchange();
    assert_eq!(fresh.verify(&stream[1], T0), Err(TsigClientError::BadSig));
}

/// Signs `messages[0]` with `ResponseStream`, leaves those at `unsigned` without a TSIG and
/// signs the rest by hand, from the RFC's list of digest components (§5.3.1): prior MAC with
/// its length, the unsigned messages since it, the message, Time Signed and Fudge.
fn stream_with_gaps(verified: &Verified, messages: &[Vec<u8>], unsigned: &[usize]) -> Vec<Vec<u8>> {
    let key = transfer_key();
    let mut first = ResponseStream::new(verified);
    let head = first.sign(messages[0].clone(), T0).expect("first");
    let mut prior = Message::from_vec(&head)
        .expect("parses")
        .signature()
        .expect("tsig")
        .data
        .mac
        .clone();
    let mut pending: Vec<u8> = Vec::new();
    let mut out = vec![head];
    for (n, message) in messages.iter().enumerate().skip(1) {
        if unsigned.contains(&n) {
            pending.extend_from_slice(message);
            out.push(message.clone());
            continue;
        }
        let stub = TSIG::new(
            key.algorithm().clone(),
            T0,
            FUDGE,
            Vec::new(),
            0x5151,
            None,
            Vec::new(),
        );
        let mut digest = (prior.len() as u16).to_be_bytes().to_vec();
        digest.extend_from_slice(&prior);
        digest.append(&mut pending);
        digest.extend_from_slice(message);
        digest.extend_from_slice(&T0.to_be_bytes()[2..]);
        digest.extend_from_slice(&FUDGE.to_be_bytes());
        prior = key.signer().sign(&digest).expect("mac");
        let record = make_tsig_record(key.name().clone(), stub.set_mac(prior.clone()));
        let mut signed = message.clone();
        signed[11] += 1;
        let mut rr = Vec::new();
        record.emit(&mut BinEncoder::new(&mut rr)).expect("rr");
        signed.extend_from_slice(&rr);
        out.push(signed);
    }
    out
}

#[test]
fn intermediate_unsigned_messages_are_accepted() {
    let (verified, mut client) = ok_exchange();
    let messages: Vec<Vec<u8>> = (0..6).map(part).collect();
    let stream = stream_with_gaps(&verified, &messages, &[1, 2, 4]);
    for (n, message) in stream.iter().enumerate() {
        client
            .verify(message, T0)
            .unwrap_or_else(|e| panic!("message {n}: {e}"));
    }
    client.finish().expect("ends signed");

    // The unsigned ones are covered by the next MAC: altering one is caught there.
    let (_, mut client) = ok_exchange();
    let mut altered = stream.clone();
    let last = altered[2].len() - 1;
    altered[2][last] ^= 0x01;
    for message in &altered[..3] {
        client
            .verify(message, T0)
            .expect("unsigned messages are only parsed");
    }
    assert_eq!(client.verify(&altered[3], T0), Err(TsigClientError::BadSig));
}

#[test]
fn a_stream_ending_unsigned_fails_finish() {
    let (verified, mut client) = ok_exchange();
    let messages: Vec<Vec<u8>> = (0..3).map(part).collect();
    let stream = stream_with_gaps(&verified, &messages, &[1, 2]);
    for message in &stream {
        client.verify(message, T0).expect("accepted so far");
    }
    assert_eq!(client.finish(), Err(TsigClientError::LastUnsigned(2)));
}

#[test]
fn at_most_99_unsigned_in_a_row() {
    let (verified, mut client) = ok_exchange();
    let messages: Vec<Vec<u8>> = (0..=100).map(|n| part(n as u8)).collect();
    let gaps: Vec<usize> = (1..=99).collect();
    let stream = stream_with_gaps(&verified, &messages, &gaps);
    for message in &stream {
        client
            .verify(message, T0)
            .expect("99 unsigned, then a signed one");
    }
    client.finish().expect("ends signed");

    let (_, mut client) = ok_exchange();
    let gaps: Vec<usize> = (1..=100).collect();
    let stream = stream_with_gaps(&verified, &messages, &gaps);
    for message in &stream[..100] {
        client.verify(message, T0).expect("up to 99 unsigned");
    }
    assert_eq!(
        client.verify(&stream[100], T0),
        Err(TsigClientError::TooManyUnsigned)
    );
}

#[test]
fn an_unsigned_first_response_fails() {
    let (_, mut client) = ok_exchange();
    let mut refused = Message::response(0x5151, OpCode::Query);
    refused.metadata.response_code = ResponseCode::Refused;
    let bytes = refused.to_vec().expect("encode");
    assert_eq!(
        client.verify(&bytes, T0),
        Err(TsigClientError::Unsigned {
            rcode: ResponseCode::Refused
        })
    );
    assert_eq!(client.finish(), Err(TsigClientError::NoResponse));
}

#[test]
fn a_wrong_secret_or_key_or_clock_fails() {
    let key = transfer_key();
    let same_name = Key::new(
        key.name().clone(),
        TsigAlgorithm::HmacSha256,
        b"other".to_vec(),
    )
    .expect("key");
    let other_name = Key::new(
        name("other-key."),
        TsigAlgorithm::HmacSha256,
        b"other".to_vec(),
    )
    .expect("key");

    // The server knows the name but not our secret: BADSIG, unsigned (§5.3.2).
    let (verified, mut client) = signed_exchange(&key, &Keyring::new([same_name.clone()]));
    let answer = sign_response(part(0), &verified, T0).expect("sign");
    assert_eq!(
        client.verify(&answer, T0),
        Err(TsigClientError::Rejected(TsigError::BadSig))
    );

    // A response signed with a key of another name.
    let (_, mut client) = signed_exchange(&other_name, &Keyring::new([key.clone()]));
    let (verified, _) = signed_exchange(&key, &Keyring::new([key.clone()]));
    let answer = sign_response(part(0), &verified, T0).expect("sign");
    assert!(matches!(
        client.verify(&answer, T0),
        Err(TsigClientError::WrongKey { .. })
    ));

    // Our clock far from the server's: the response is stale (§5.2.3, as the client sees it).
    let (verified, mut client) = ok_exchange();
    let answer = sign_response(part(0), &verified, T0).expect("sign");
    let late = T0 + u64::from(FUDGE) + 1;
    assert!(matches!(
        client.verify(&answer, late),
        Err(TsigClientError::BadTime { .. })
    ));
    client
        .verify(&answer, T0 + u64::from(FUDGE))
        .expect("at the edge of the fudge");
}

#[test]
fn a_signed_badtime_is_a_rejection() {
    let key = transfer_key();
    let (bytes, mut client) = RequestSigner::sign(&axfr_request(), &key, T0).expect("sign");
    let request = Message::from_vec(&bytes).expect("parses");
    let verified = verify(&bytes, &request, &Keyring::new([key]), T0 + 3600);
    let answer = sign_response(part(0), &verified, T0 + 3600).expect("sign");
    assert_eq!(
        client.verify(&answer, T0),
        Err(TsigClientError::Rejected(TsigError::BadTime))
    );
}

#[test]
fn unsigned_requests_stream_unchanged_and_failed_ones_stop() {
    let mut plain = ResponseStream::new(&Verified::Unsigned);
    assert_eq!(plain.tsig_len(), 0);
    for n in 0..3 {
        assert_eq!(plain.sign(part(n), T0).expect("pass"), part(n));
    }

    let key = transfer_key();
    let other =
        Key::new(key.name().clone(), TsigAlgorithm::HmacSha256, b"x".to_vec()).expect("key");
    let (failed, _) = signed_exchange(&key, &Keyring::new([other]));
    let mut stream = ResponseStream::new(&failed);
    stream.sign(part(0), T0).expect("the error response");
    assert!(matches!(
        stream.sign(part(1), T0),
        Err(SignError::StreamNotSigned)
    ));
}

#[test]
fn a_signed_request_cannot_be_signed_again() {
    let key = transfer_key();
    let (bytes, _) = RequestSigner::sign(&axfr_request(), &key, T0).expect("sign");
    let signed = Message::from_vec(&bytes).expect("parses");
    assert!(matches!(
        RequestSigner::sign(&signed, &key, T0),
        Err(SignError::AlreadySigned)
    ));
}

/// An AXFR request signed by hickory's client at `T0`: its verifier, and our verdict on it.
fn hickory_signed_axfr() -> (TSigVerifier, Verified) {
    let key = transfer_key();
    let mut request = axfr_request();
    let hickory = request
        .finalize(key.signer(), T0)
        .expect("sign")
        .expect("verifier");
    let bytes = request.to_vec().expect("encode");
    let parsed = Message::from_vec(&bytes).expect("parses");
    let verified = verify(&bytes, &parsed, &Keyring::new([key]), T0);
    (hickory, verified)
}

/// hickory's own client verifier agrees with our signing when every message is signed; it
/// cannot take unsigned intermediate messages, which is why `RequestSigner` exists.
#[test]
fn hickory_verifier_takes_all_signed_streams_only() {
    let (mut hickory, verified) = hickory_signed_axfr();
    for message in signed_stream(&verified, 5) {
        hickory
            .verify(&message)
            .expect("hickory accepts our stream");
    }

    let (mut hickory, verified) = hickory_signed_axfr();
    let messages: Vec<Vec<u8>> = (0..3).map(part).collect();
    let stream = stream_with_gaps(&verified, &messages, &[1]);
    hickory.verify(&stream[0]).expect("first");
    assert!(
        hickory.verify(&stream[1]).is_err(),
        "hickory needs a TSIG on every message"
    );
}
