//! `transfer`: AXFR and IXFR streams, signed and not, and every way one can stop early.

use super::*;

/// A zone in three messages: SOA and a; b; c and the closing SOA (RFC 5936 §2.2).
fn three_messages(request: &Message) -> Vec<Message> {
    let mut first = reply(request, vec![soa(3), a("a", 1)]);
    first.metadata.authoritative = true;
    let mut second = reply(request, vec![a("b", 2)]);
    second.queries.clear(); // RFC 5936 §2.2.2: later messages may omit the question
    let third = reply(request, vec![a("c", 3), soa(3)]);
    vec![first, second, third]
}

/// An `on_message` that collects the records and ends at the second SOA.
fn collect(records: &mut Vec<Record>) -> impl FnMut(&Message) -> Result<bool, String> + '_ {
    move |m: &Message| {
        records.extend(m.answers.iter().cloned());
        let soas = records
            .iter()
            .filter(|r| r.record_type() == RecordType::SOA)
            .count();
        Ok(soas == 2)
    }
}

#[tokio::test]
async fn an_axfr_of_three_messages_arrives_whole() {
    let server = tcp_server(any_port(), true, |raw| {
        let request = parse(raw);
        assert_eq!(request.queries[0].query_type(), RecordType::AXFR);
        assert!(request.authorities.is_empty());
        three_messages(&request).iter().map(encode).collect()
    })
    .await;
    let mut records = Vec::new();
    transfer(server, &zone(), None, None, WAIT, collect(&mut records))
        .await
        .expect("axfr");
    assert_eq!(records.len(), 5);
}

/// Serves three messages signed by one `ResponseStream`; `tamper` alters the second.
async fn signed_axfr_server(tamper: bool) -> SocketAddr {
    tcp_server(any_port(), true, move |raw| {
        let request = parse(raw);
        let verified = verify(raw, &request, &keyring(), now_unix());
        assert!(matches!(verified, Verified::Signed { .. }), "{verified:?}");
        let mut stream = ResponseStream::new(&verified);
        three_messages(&request)
            .iter()
            .enumerate()
            .map(|(n, m)| {
                let mut signed = stream.sign(encode(m), now_unix()).expect("sign");
                if tamper && n == 1 {
                    let at = signed.len() - stream.tsig_len() - 1;
                    signed[at] ^= 1;
                }
                signed
            })
            .collect()
    })
    .await
}

/// A signed AXFR from `signed_axfr_server(tamper)`, and the records handed over.
async fn signed_axfr(tamper: bool) -> (Result<(), FetchError>, Vec<Record>) {
    let server = signed_axfr_server(tamper).await;
    let good = key(b"the shared secret");
    let mut records = Vec::new();
    let result = transfer(
        server,
        &zone(),
        None,
        Some(&good),
        WAIT,
        collect(&mut records),
    )
    .await;
    (result, records)
}

#[tokio::test]
async fn a_signed_axfr_stream_verifies_and_a_tampered_one_fails() {
    let (result, records) = signed_axfr(false).await;
    result.expect("axfr");
    assert_eq!(records.len(), 5);

    let (result, records) = signed_axfr(true).await;
    let err = result.expect_err("tampered");
    assert!(
        matches!(
            err,
            FetchError::Tsig {
                error: TsigClientError::BadSig,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        records.len(),
        2,
        "the first message was handed over, the altered one not"
    );
}

#[tokio::test]
async fn an_ixfr_request_carries_our_soa_in_the_authority_section() {
    let server = tcp_server(any_port(), false, |raw| {
        let request = parse(raw);
        assert_eq!(request.queries[0].query_type(), RecordType::IXFR);
        assert_eq!(request.authorities, vec![soa(3)], "RFC 1995 §3");
        vec![encode(&reply(&request, vec![soa(3)]))] // up to date: the SOA alone
    })
    .await;
    let mut seen = Vec::new();
    transfer(server, &zone(), Some(&soa(3)), None, WAIT, |m: &Message| {
        seen.extend(m.answers.iter().cloned());
        Ok::<bool, String>(true)
    })
    .await
    .expect("ixfr");
    assert_eq!(seen, vec![soa(3)]);
}

#[tokio::test]
async fn a_transfer_stops_on_mismatch_garbage_closing_refusal_or_the_callers_word() {
    let addr = any_port();
    let run = |server| async move {
        let mut records = Vec::new();
        transfer(server, &zone(), None, None, WAIT, collect(&mut records))
            .await
            .expect_err("fails")
    };

    let wrong_id = tcp_server(addr, true, |raw| {
        let mut m = three_messages(&parse(raw)).remove(0);
        m.metadata.id = m.metadata.id.wrapping_add(1);
        vec![encode(&m)]
    })
    .await;
    assert!(matches!(run(wrong_id).await, FetchError::Malformed { .. }));

    let garbage = tcp_server(addr, true, |_| vec![Vec::new(), vec![1, 2, 3]]).await;
    assert!(matches!(run(garbage).await, FetchError::Malformed { .. }));

    let closing = tcp_server(addr, false, |raw| {
        vec![encode(&three_messages(&parse(raw))[0])]
    })
    .await;
    let err = run(closing).await;
    assert!(
        matches!(err, FetchError::Incomplete { messages: 1, .. }),
        "{err}"
    );

    let refusing = tcp_server(addr, false, |raw| {
        let mut m = reply(&parse(raw), Vec::new());
        m.metadata.response_code = ResponseCode::NotAuth;
        vec![encode(&m)]
    })
    .await;
    let err = run(refusing).await;
    assert!(
        matches!(
            err,
            FetchError::Rcode {
                rcode: ResponseCode::NotAuth,
                ..
            }
        ),
        "{err}"
    );

    let normal = tcp_server(addr, true, |raw| {
        three_messages(&parse(raw)).iter().map(encode).collect()
    })
    .await;
    let err = transfer(normal, &zone(), None, None, WAIT, |_: &Message| {
        Err::<bool, _>("zone too big")
    })
    .await
    .expect_err("rejected");
    assert!(
        matches!(err, FetchError::Rejected { messages: 1, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("zone too big"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_stalled_transfer_times_out() {
    let server = tcp_server(any_port(), true, |raw| {
        vec![encode(&three_messages(&parse(raw))[0])]
    })
    .await;
    let mut records = Vec::new();
    let err = transfer(
        server,
        &zone(),
        None,
        None,
        Duration::from_secs(30),
        collect(&mut records),
    )
    .await
    .expect_err("stalls");
    assert!(matches!(err, FetchError::Timeout { .. }), "{err}");
    assert_eq!(records.len(), 2, "the message that came was handed over");
}
