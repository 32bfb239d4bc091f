//! The HTTP side of a DNS-over-HTTPS answer: status, media type and how long HTTP caches may
//! keep it (RFC 8484 §5.1).

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Response, StatusCode};

use super::request::{HttpError, MEDIA_TYPE};
use crate::wire;

/// `200 OK` with the DNS reply, `Content-Type: application/dns-message` and, when the reply
/// has records, `Cache-Control: max-age=` [`max_age`] of it.
pub(crate) fn answer(reply: Vec<u8>) -> Response<Full<Bytes>> {
    let age = max_age(&reply);
    let mut response = Response::new(Full::new(Bytes::from(reply)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    if let Some(age) = age {
        // Digits only: always a valid header value.
        if let Ok(value) = HeaderValue::try_from(format!("max-age={age}")) {
            headers.insert(CACHE_CONTROL, value);
        }
    }
    response
}

/// The refusal of a request: its status and a line of text saying why.
pub(crate) fn refusal(error: HttpError) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(format!("{error}\n"))));
    *response.status_mut() =
        StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    if error == HttpError::MethodNotAllowed {
        // RFC 9110 §15.5.6: a 405 lists the methods that would work.
        headers.insert(ALLOW, HeaderValue::from_static("GET, POST"));
    }
    response
}

/// How long an HTTP cache may keep a reply, in seconds (RFC 8484 §5.1: no longer than the
/// records in it live). The lowest TTL of the answer section; for a negative answer (NXDOMAIN,
/// NODATA, after a CNAME chain or not) no more than the negative-caching TTL, the lower of the
/// SOA's TTL and its MINIMUM (RFC 2308 §5). `None` for a reply with neither (SERVFAIL, REFUSED, FORMERR) or bytes that
/// do not walk: no header, as dnsdist does for such replies (Unbound 1.17 never sends one).
pub(crate) fn max_age(reply: &[u8]) -> Option<u32> {
    lowest_ttl(reply)
}

fn lowest_ttl(reply: &[u8]) -> Option<u32> {
    const SOA: u16 = 6;
    let [qd, an, ns, _] = wire::counts(reply)?;
    const NXDOMAIN: u8 = 3;
    const ANY: u16 = 255;
    let mut at = wire::HEADER;
    let mut qtype = None;
    for _ in 0..qd {
        let fixed = wire::skip_name(reply, at)?;
        qtype = qtype.or(wire::be16(reply, fixed));
        at = fixed + 4;
    }
    // Negative: the name does not exist, or the answer holds no record of the type asked (a
    // CNAME chain at most). A positive answer is the answer section's alone.
    let mut negative = reply.get(3)? & 0x0f == NXDOMAIN;
    let mut has_qtype = false;
    let u32_at = |at: usize| -> Option<u32> {
        let b = reply.get(at..at + 4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut lowest = None::<u32>;
    for _ in 0..an {
        let fixed = wire::skip_name(reply, at)?;
        let ttl = u32_at(fixed + 4)?;
        lowest = Some(lowest.map_or(ttl, |l| l.min(ttl)));
        let rtype = wire::be16(reply, fixed)?;
        has_qtype |= qtype.is_none_or(|q| q == rtype || q == ANY);
        at = wire::skip_record(reply, at)?;
    }
    negative |= !has_qtype;
    if !negative {
        return lowest;
    }
    // A negative answer may follow a CNAME chain: the reply as a whole, which an HTTP cache
    // keeps, lives no longer than its negative part.
    for _ in 0..ns {
        let fixed = wire::skip_name(reply, at)?;
        let end = wire::skip_record(reply, at)?;
        if wire::be16(reply, fixed)? == SOA {
            // MINIMUM is the RDATA's last field.
            let minimum = u32_at(end.checked_sub(4)?)?;
            let negative = u32_at(fixed + 4)?.min(minimum);
            return Some(lowest.map_or(negative, |l| l.min(negative)));
        }
        at = end;
    }
    lowest
}

#[cfg(test)]
pub(super) mod tests {
    use hickory_proto::op::{Message, MessageType, Query, ResponseCode};
    use hickory_proto::rr::rdata::{A, SOA};
    use hickory_proto::rr::{Name, RData, Record, RecordType};

    use super::*;

    pub(in crate::server::https) fn name(text: &str) -> Name {
        Name::from_ascii(text).expect("name")
    }

    fn reply(answers: &[(u32, RData)], authority: &[(u32, RData)]) -> Vec<u8> {
        let mut m = Message::new(0, MessageType::Response, hickory_proto::op::OpCode::Query);
        m.add_query(Query::query(name("www.example."), RecordType::A));
        for (ttl, data) in answers {
            m.add_answer(Record::from_rdata(name("www.example."), *ttl, data.clone()));
        }
        for (ttl, data) in authority {
            m.add_authority(Record::from_rdata(name("example."), *ttl, data.clone()));
        }
        m.to_vec().expect("encodes")
    }

    pub(in crate::server::https) fn soa(minimum: u32) -> RData {
        RData::SOA(SOA::new(
            name("ns1.example."),
            name("hostmaster.example."),
            1,
            7200,
            3600,
            1_209_600,
            minimum,
        ))
    }

    #[test]
    fn the_lowest_answer_ttl() {
        let a = |last| RData::A(A::new(192, 0, 2, last));
        let r = reply(&[(300, a(1)), (60, a(2)), (3600, a(3))], &[(10, soa(5))]);
        assert_eq!(
            max_age(&r),
            Some(60),
            "the answer section decides, not the authority"
        );
    }

    #[test]
    fn a_negative_answer_lives_as_its_soa_says() {
        assert_eq!(
            max_age(&reply(&[], &[(900, soa(300))])),
            Some(300),
            "MINIMUM lower"
        );
        assert_eq!(
            max_age(&reply(&[], &[(120, soa(300))])),
            Some(120),
            "TTL lower"
        );
    }

    #[test]
    fn no_records_or_bytes_that_do_not_walk_get_no_header() {
        let mut m = Message::new(7, MessageType::Response, hickory_proto::op::OpCode::Query);
        m.metadata.response_code = ResponseCode::ServFail;
        m.add_query(Query::query(name("www.example."), RecordType::A));
        let servfail = answer(m.to_vec().expect("encodes"));
        assert!(servfail.headers().get(CACHE_CONTROL).is_none());
        assert_eq!(max_age(b""), None);
        let r = reply(&[(300, RData::A(A::new(192, 0, 2, 1)))], &[]);
        assert_eq!(max_age(&r[..r.len() - 8]), None, "cut inside the TTL");
    }

    #[test]
    fn answers_and_refusals_carry_their_headers() {
        let r = answer(reply(&[(42, RData::A(A::new(192, 0, 2, 1)))], &[]));
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[CONTENT_TYPE], "application/dns-message");
        assert_eq!(r.headers()[CACHE_CONTROL], "max-age=42");
        let r = refusal(HttpError::MethodNotAllowed);
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(r.headers()[ALLOW], "GET, POST");
        let r = refusal(HttpError::UnsupportedMediaType);
        assert_eq!(r.status().as_u16(), 415);
        assert!(r.headers().get(ALLOW).is_none());
    }
}
