//! Requests signed by hickory's client code, checked here; responses signed here, checked by
//! hickory's client code; and, where BIND's and Knot's tools are installed, their requests.

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

fn key(key_name: &str, algorithm: TsigAlgorithm, secret: &[u8]) -> Key {
    Key::new(name(key_name), algorithm, secret.to_vec()).expect("key")
}

fn cluster_key() -> Key {
    key(
        "cluster-key.",
        TsigAlgorithm::HmacSha256,
        b"0123456789abcdef0123456789abcdef",
    )
}

fn keyring() -> Keyring {
    Keyring::new([
        cluster_key(),
        key("big-key.", TsigAlgorithm::HmacSha512, b"another secret"),
    ])
}

/// RFC 2136 §2: zone section `cluster.test. SOA`, update section one A record to add.
fn update() -> Message {
    let mut m = Message::new(0x4242, MessageType::Query, OpCode::Update);
    m.add_query(Query::query(name("cluster.test."), RecordType::SOA));
    m.add_authority(Record::from_rdata(
        name("x.cluster.test."),
        300,
        RData::A(A::new(192, 0, 2, 1)),
    ));
    m
}

/// What a client sends: the request signed by hickory at `time`, and hickory's verifier for
/// the response.
fn signed_by(key: &Key, time: u64) -> (Vec<u8>, TSigVerifier) {
    let mut m = update();
    let verifier = m
        .finalize(key.signer(), time)
        .expect("sign")
        .expect("verifier");
    (m.to_vec().expect("encode"), verifier)
}

fn check(bytes: &[u8], now: u64) -> Verified {
    let request = Message::from_vec(bytes).expect("request parses");
    verify(bytes, &request, &keyring(), now)
}

fn failed_with(verified: &Verified) -> Option<TsigError> {
    match verified {
        Verified::Failed { error, .. } => Some(*error),
        _ => None,
    }
}

/// The encoded response the handler would build for `request`, with `rcode`.
fn response_to(request: &[u8], rcode: ResponseCode) -> Vec<u8> {
    let request = Message::from_vec(request).expect("request parses");
    let mut response = Message::response(request.id, OpCode::Update);
    response.queries = request.queries.clone();
    response.metadata.response_code = rcode;
    response.to_vec().expect("encode")
}

/// Replaces the MAC of a signed request (the MAC is not part of what it covers).
fn with_mac(bytes: &[u8], mac: impl FnOnce(&[u8]) -> Vec<u8>) -> Vec<u8> {
    let mut m = Message::from_vec(bytes).expect("parses");
    let mut sig = m.take_signature().expect("signed");
    sig.data.mac = mac(&sig.data.mac);
    m.set_signature(sig);
    m.to_vec().expect("encode")
}

#[test]
fn hickory_signed_update_verifies() {
    let (bytes, _) = signed_by(&cluster_key(), T0);
    let verified = check(&bytes, T0 + 5);
    assert!(matches!(verified, Verified::Signed { .. }), "{verified:?}");
    assert_eq!(verified.key(), Some(&name("cluster-key.")));
    assert_eq!(verified.rcode(), None);
}

#[test]
fn unsigned_request_is_unsigned() {
    let bytes = update().to_vec().expect("encode");
    let verified = check(&bytes, T0);
    assert!(matches!(verified, Verified::Unsigned), "{verified:?}");
    assert_eq!(verified.tsig_len(), 0);
    assert_eq!(
        sign_response(bytes.clone(), &verified, T0).expect("unchanged"),
        bytes
    );
}

#[test]
fn flipping_any_covered_bit_gives_badsig() {
    let (bytes, _) = signed_by(&cluster_key(), T0);
    let request = Message::from_vec(&bytes).expect("parses");
    let tsig_len = {
        let mut rr = Vec::new();
        request
            .signature()
            .expect("signed")
            .emit(&mut BinEncoder::new(&mut rr))
            .expect("rr");
        rr.len()
    };
    let covered = 2..bytes.len() - tsig_len; // the header ID is not covered: the Original ID is
    let mut checked = 0;
    for at in covered {
        for bit in [0x01, 0x40] {
            let mut flipped = bytes.clone();
            flipped[at] ^= bit;
            let Ok(request) = Message::from_vec(&flipped) else {
                continue; // hickory's parser refuses it: FORMERR before TSIG is looked at
            };
            let verified = verify(&flipped, &request, &keyring(), T0);
            match verified {
                Verified::Failed {
                    error: TsigError::BadSig,
                    ..
                } => checked += 1,
                // A smaller count can leave the TSIG outside the counted records: the message
                // is then simply unsigned (and UPDATE policy refuses it).
                Verified::Unsigned if at < 12 => {}
                other => panic!("byte {at} bit {bit:#x}: {other:?}"),
            }
        }
    }
    assert!(checked > 40, "only {checked} flips reached the MAC check");

    let mut other_id = bytes.clone();
    other_id[0] ^= 0xff;
    assert!(matches!(check(&other_id, T0), Verified::Signed { .. }));
}

#[test]
fn a_wrong_secret_gives_badsig() {
    let impostor = key("cluster-key.", TsigAlgorithm::HmacSha256, b"not the secret");
    let (bytes, _) = signed_by(&impostor, T0);
    let verified = check(&bytes, T0);
    assert_eq!(failed_with(&verified), Some(TsigError::BadSig));
    assert_eq!(verified.rcode(), Some(ResponseCode::NotAuth));
}

#[test]
fn an_unknown_key_or_algorithm_gives_badkey() {
    let stranger = key("stranger.", TsigAlgorithm::HmacSha256, b"0123456789abcdef");
    let other_algorithm = key("cluster-key.", TsigAlgorithm::HmacSha384, b"whatever");
    for signer in [stranger, other_algorithm] {
        let (bytes, _) = signed_by(&signer, T0);
        let verified = check(&bytes, T0);
        assert_eq!(
            failed_with(&verified),
            Some(TsigError::BadKey),
            "{signer:?}"
        );
        assert_eq!(verified.rcode(), Some(ResponseCode::NotAuth));
    }
}

#[test]
fn time_outside_the_fudge_gives_badtime() {
    let (bytes, _) = signed_by(&cluster_key(), T0);
    let fudge = u64::from(FUDGE);
    for now in [T0 - fudge, T0, T0 + fudge] {
        assert!(
            matches!(check(&bytes, now), Verified::Signed { .. }),
            "now {now}"
        );
    }
    for now in [T0 - fudge - 1, T0 + fudge + 1, 0, u64::MAX] {
        assert_eq!(
            failed_with(&check(&bytes, now)),
            Some(TsigError::BadTime),
            "now {now}"
        );
    }
}

#[test]
fn mac_size_is_checked_before_the_mac() {
    let (bytes, _) = signed_by(&cluster_key(), T0);
    // §5.2.2.1: half the HMAC (16 of 32 octets) is the shortest allowed truncation.
    let truncated = with_mac(&bytes, |mac| mac[..16].to_vec());
    assert_eq!(
        failed_with(&check(&truncated, T0)),
        Some(TsigError::BadTrunc)
    );
    let truncated_wrong = with_mac(&bytes, |mac| {
        let mut short = mac[..16].to_vec();
        short[15] ^= 1;
        short
    });
    assert_eq!(
        failed_with(&check(&truncated_wrong, T0)),
        Some(TsigError::BadSig)
    );
    // A truncated MAC outside the fudge: the time is checked before the truncation.
    assert_eq!(
        failed_with(&check(&truncated, T0 + 1000)),
        Some(TsigError::BadTime)
    );

    for mac in [Vec::new(), vec![7; 15], vec![7; 33]] {
        let odd = with_mac(&bytes, |_| mac.clone());
        let verified = check(&odd, T0);
        assert!(
            matches!(verified, Verified::Malformed { .. }),
            "{} octets",
            mac.len()
        );
        assert_eq!(verified.rcode(), Some(ResponseCode::FormErr));
        assert_eq!(verified.tsig_len(), 0, "FORMERR carries no TSIG");
    }
}

#[test]
fn the_reserved_header_bit_is_covered_as_sent() {
    // hickory drops the Z bit when it rebuilds a header; the MAC covers it as sent.
    let key = cluster_key();
    let mut unsigned = update().to_vec().expect("encode");
    unsigned[3] |= 0x40;
    let bytes = sign_raw(&unsigned, &key, T0);
    assert!(matches!(check(&bytes, T0), Verified::Signed { .. }));
}

/// Signs raw request bytes the way a client does (RFC 8945 §4.3.1–4.3.3), for messages hickory
/// would not encode as they are.
fn sign_raw(message: &[u8], key: &Key, time: u64) -> Vec<u8> {
    let id = u16::from_be_bytes([message[0], message[1]]);
    let stub = TSIG::new(
        key.algorithm().clone(),
        time,
        FUDGE,
        Vec::new(),
        id,
        None,
        Vec::new(),
    );
    let mut tbs = message.to_vec();
    let end = u32::try_from(message.len()).expect("small");
    stub.emit_tsig_for_mac(&mut BinEncoder::with_offset(&mut tbs, end), key.name())
        .expect("tbs");
    let mac = key.signer().sign(&tbs).expect("mac");
    let record = make_tsig_record(key.name().clone(), stub.set_mac(mac));
    let mut out = message.to_vec();
    out[11] += 1;
    let mut rr = Vec::new();
    record.emit(&mut BinEncoder::new(&mut rr)).expect("rr");
    out.extend_from_slice(&rr);
    out
}

/// Our response to `request` with `rcode`, signed at `now`: longer than the unsigned one by
/// exactly `tsig_len`, the room the response sizing reserves for it.
fn signed_response(request: &[u8], verified: &Verified, rcode: ResponseCode, now: u64) -> Vec<u8> {
    let response = response_to(request, rcode);
    let signed = sign_response(response.clone(), verified, now).expect("sign");
    assert_eq!(signed.len(), response.len() + verified.tsig_len());
    signed
}

/// The TSIG of a signed response as hickory's client reads it, after it accepted the MAC and
/// found the `rcode` we sent.
fn client_reads(verifier: &mut TSigVerifier, signed: &[u8], rcode: ResponseCode) -> TSIG {
    let answer = verifier
        .verify(signed)
        .expect("client accepts the response");
    assert_eq!(answer.response_code, rcode);
    answer.signature().expect("signed").data.clone()
}

#[test]
fn signed_response_verifies_with_hickorys_client() {
    let (request, mut verifier) = signed_by(&cluster_key(), T0);
    let verified = check(&request, T0 + 2);
    let signed = signed_response(&request, &verified, ResponseCode::NoError, T0 + 2);
    let tsig = client_reads(&mut verifier, &signed, ResponseCode::NoError);
    assert_eq!((tsig.time, tsig.error, tsig.oid), (T0 + 2, None, 0x4242));

    // The request MAC is part of the response MAC: the same response signed for another request
    // of the same client does not verify.
    let (_, mut other_verifier) = signed_by(&cluster_key(), T0 + 1);
    assert!(other_verifier.verify(&signed).is_err());
    // And the response itself is covered.
    let mut tampered = signed.clone();
    tampered[3] ^= 0x0f;
    let (_, mut fresh) = signed_by(&cluster_key(), T0); // the same request, so the same MAC
    assert!(fresh.verify(&tampered).is_err());
    assert!(fresh.verify(&signed).is_ok());
}

#[test]
fn badtime_response_is_signed_and_carries_the_server_time() {
    let (request, mut verifier) = signed_by(&cluster_key(), T0);
    let now = T0 + 3600;
    let verified = check(&request, now);
    assert_eq!(failed_with(&verified), Some(TsigError::BadTime));
    let signed = signed_response(&request, &verified, ResponseCode::NotAuth, now);
    // hickory's client checks the response's Time Signed against its own request time: the
    // request's time is echoed so that a client with a wrong clock can still read the answer.
    let tsig = client_reads(&mut verifier, &signed, ResponseCode::NotAuth);
    assert_eq!(tsig.error, Some(TsigError::BadTime));
    assert_eq!(tsig.time, T0);
    assert_eq!(
        tsig.other,
        now.to_be_bytes()[2..].to_vec(),
        "48-bit server time"
    );
}

#[test]
fn badsig_and_badkey_responses_are_unsigned() {
    let impostor = key("cluster-key.", TsigAlgorithm::HmacSha256, b"not the secret");
    let stranger = key("stranger.", TsigAlgorithm::HmacSha512, b"0123456789abcdef");
    for (signer, error) in [(impostor, TsigError::BadSig), (stranger, TsigError::BadKey)] {
        let (request, mut verifier) = signed_by(&signer, T0);
        let verified = check(&request, T0);
        assert_eq!(failed_with(&verified), Some(error));
        let signed = signed_response(&request, &verified, ResponseCode::NotAuth, T0);
        let answer = Message::from_vec(&signed).expect("parses");
        let record = answer.signature().expect("TSIG present");
        assert_eq!(
            record.name,
            *signer.name(),
            "the request's key name is echoed"
        );
        assert_eq!(record.data.algorithm, *signer.algorithm());
        assert_eq!(record.data.error, Some(error));
        assert!(record.data.mac.is_empty(), "§5.3.2: MUST NOT be signed");
        assert!(
            verifier.verify(&signed).is_err(),
            "a client cannot take it as signed"
        );
    }
}

#[test]
fn badtrunc_response_is_signed() {
    let (request, _) = signed_by(&cluster_key(), T0);
    let truncated = with_mac(&request, |mac| mac[..16].to_vec());
    let verified = check(&truncated, T0);
    assert_eq!(failed_with(&verified), Some(TsigError::BadTrunc));
    let response = response_to(&truncated, ResponseCode::NotAuth);
    let signed = sign_response(response.clone(), &verified, T0).expect("sign");
    let tsig = Message::from_vec(&signed)
        .expect("parses")
        .signature()
        .expect("tsig")
        .data
        .clone();
    assert_eq!(
        (tsig.error, tsig.mac.len()),
        (Some(TsigError::BadTrunc), 32)
    );
    // The MAC covers the truncated request MAC, as sent (§5.2.2.1).
    cluster_key()
        .signer()
        .verify_message_byte(&signed, Some(&request_mac(&truncated)), true)
        .expect("response MAC covers the truncated request MAC");
}

fn request_mac(bytes: &[u8]) -> Vec<u8> {
    Message::from_vec(bytes)
        .expect("parses")
        .signature()
        .expect("signed")
        .data
        .mac
        .clone()
}

#[test]
fn keyring_finds_keys_without_case_or_trailing_dot() {
    let ring = keyring();
    assert_eq!(ring.len(), 2);
    for spelling in ["cluster-key.", "CLUSTER-KEY.", "cluster-key"] {
        assert!(ring.get(&name(spelling)).is_some(), "{spelling}");
    }
    assert!(ring.get(&name("cluster.")).is_none());
}

#[test]
fn short_response_is_an_error_not_a_panic() {
    let (request, _) = signed_by(&cluster_key(), T0);
    let verified = check(&request, T0);
    assert!(matches!(
        sign_response(vec![0; 5], &verified, T0),
        Err(SignError::ShortResponse)
    ));
}
