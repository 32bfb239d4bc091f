//! What a DNS-over-HTTPS request asks (RFC 8484 §4.1), decided from the request's parts alone:
//! no sockets, no hyper types, so the listener, the unit tests and the fuzz target
//! (`fuzz/fuzz_targets/doh_request.rs`) all run the same checks. The answer is the DNS message
//! to hand to the handler, or the HTTP status that refuses the request.

use crate::base64;
use crate::wire;

/// The one path served (RFC 8484 §3's example URI template, and what clients default to).
pub(crate) const PATH: &str = "/dns-query";

/// The media type of a DNS message in wire format (RFC 8484 §6).
pub(crate) const MEDIA_TYPE: &str = "application/dns-message";

/// The largest DNS message, as over TCP (RFC 1035 §4.2.2): the bound on a POST body and on a
/// decoded GET parameter.
pub(crate) const MAX_MESSAGE: usize = 65535;

/// Why a request gets no DNS answer, as the HTTP status that says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("not found: the DNS endpoint is {PATH}")]
    NotFound,
    #[error("method not allowed: GET or POST")]
    MethodNotAllowed,
    #[error("unsupported media type: POST a {MEDIA_TYPE} body")]
    UnsupportedMediaType,
    #[error("payload too large: a DNS message is at most {MAX_MESSAGE} bytes")]
    PayloadTooLarge,
    #[error("bad request: {0}")]
    BadRequest(&'static str),
}

impl HttpError {
    /// The status code (RFC 9110 §15.5; 415 and 413 as RFC 8484 §4.1 and §5.1 name them).
    pub(crate) fn status(self) -> u16 {
        match self {
            HttpError::BadRequest(_) => 400,
            HttpError::NotFound => 404,
            HttpError::MethodNotAllowed => 405,
            HttpError::PayloadTooLarge => 413,
            HttpError::UnsupportedMediaType => 415,
        }
    }
}

/// The parts of a request that decide it, before its body.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    /// The query string, without its `?`.
    pub(crate) query: Option<&'a str>,
    /// The `Content-Type` header's value, as bytes (a header need not be text).
    pub(crate) content_type: Option<&'a [u8]>,
}

/// What a request whose head is acceptable still needs.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Wants {
    /// A GET: its DNS message, decoded from the `dns` parameter and checked.
    Message(Vec<u8>),
    /// A POST: its body, to be read (at most [`MAX_MESSAGE`] bytes) and given to [`body`].
    Body,
}

/// Decides a request from its head: the path, then the method, then what that method needs.
pub(crate) fn head(head: &Head<'_>) -> Result<Wants, HttpError> {
    if head.path != PATH {
        return Err(HttpError::NotFound);
    }
    match head.method {
        "GET" => {
            let text = percent_decoded(dns_parameter(head.query.unwrap_or(""))?)?;
            // Four symbols carry three bytes: past this length the message cannot fit.
            if text.len() > MAX_MESSAGE.div_ceil(3) * 4 {
                return Err(HttpError::PayloadTooLarge);
            }
            let bytes = base64::decode_url(&text)
                .map_err(|_| HttpError::BadRequest("dns parameter is not base64url"))?;
            message(&bytes)?;
            Ok(Wants::Message(bytes))
        }
        "POST" => {
            if !is_dns_message(head.content_type) {
                return Err(HttpError::UnsupportedMediaType);
            }
            Ok(Wants::Body)
        }
        _ => Err(HttpError::MethodNotAllowed),
    }
}

/// Checks a POST body, read whole (the listener stops reading past [`MAX_MESSAGE`]).
pub(crate) fn body(body: &[u8]) -> Result<(), HttpError> {
    if body.len() > MAX_MESSAGE {
        return Err(HttpError::PayloadTooLarge);
    }
    message(body)
}

/// [`head`] then, for a POST, [`body`]: the whole decision for a request, as the fuzz target
/// and the tests make it.
pub(crate) fn parse(parts: &Head<'_>, post_body: &[u8]) -> Result<Vec<u8>, HttpError> {
    match head(parts)? {
        Wants::Message(bytes) => Ok(bytes),
        Wants::Body => {
            body(post_body)?;
            Ok(post_body.to_vec())
        }
    }
}

/// The value of the one `dns` parameter of a query string (RFC 8484 §4.1: other parameters
/// may be present and are ignored). Missing, empty or repeated is a bad request.
fn dns_parameter(query: &str) -> Result<&str, HttpError> {
    let mut found = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "dns" {
            continue;
        }
        if found.replace(value).is_some() {
            return Err(HttpError::BadRequest("more than one dns parameter"));
        }
    }
    match found {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(HttpError::BadRequest("no dns parameter")),
    }
}

/// A query string value with its `%XX` escapes decoded (RFC 3986 §2.1): a client may escape
/// any symbol, and an escaped unreserved character is the character itself (§6.2.2.2). The
/// value as it is when it has none. A bad escape is a bad request.
fn percent_decoded(value: &str) -> Result<std::borrow::Cow<'_, str>, HttpError> {
    if !value.contains('%') {
        return Ok(std::borrow::Cow::Borrowed(value));
    }
    let bad = HttpError::BadRequest("dns parameter has a bad percent-escape");
    let mut out = Vec::with_capacity(value.len());
    let mut bytes = value.bytes();
    while let Some(b) = bytes.next() {
        if b != b'%' {
            out.push(b);
            continue;
        }
        let (Some(hi), Some(lo)) = (bytes.next(), bytes.next()) else {
            return Err(bad);
        };
        let hex = |c: u8| char::from(c).to_digit(16);
        let (Some(hi), Some(lo)) = (hex(hi), hex(lo)) else {
            return Err(bad);
        };
        // Two hex digits: at most 255.
        out.push(u8::try_from(hi * 16 + lo).map_err(|_| bad)?);
    }
    // Anything not base64url is refused by the decoder; only text can reach it.
    String::from_utf8(out)
        .map(std::borrow::Cow::Owned)
        .map_err(|_| HttpError::BadRequest("dns parameter is not base64url"))
}

/// Whether a `Content-Type` value names `application/dns-message` (case-insensitive, any
/// parameters after `;` ignored, as RFC 9110 §8.3.1 allows).
fn is_dns_message(content_type: Option<&[u8]>) -> bool {
    let Some(value) = content_type.and_then(|v| std::str::from_utf8(v).ok()) else {
        return false;
    };
    let media = value.split(';').next().unwrap_or("").trim();
    media.eq_ignore_ascii_case(MEDIA_TYPE)
}

/// A DNS query the handler can answer or refuse in DNS terms: at least a header (without one
/// there is no ID to answer with), and not a response (QR=0). Anything past the header the
/// handler judges, with FORMERR where a header allows a reply.
fn message(bytes: &[u8]) -> Result<(), HttpError> {
    if bytes.len() > MAX_MESSAGE {
        return Err(HttpError::PayloadTooLarge);
    }
    let Some(flags) = bytes.get(2).filter(|_| bytes.len() >= wire::HEADER) else {
        return Err(HttpError::BadRequest(
            "not a DNS message: shorter than its header",
        ));
    };
    if flags & wire::QR != 0 {
        return Err(HttpError::BadRequest("not a DNS query: QR is set"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `www.example. A`, ID 0, RD=1, in wire form and in base64url.
    const QUERY: &[u8] =
        b"\x00\x00\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x00\x00\x01\x00\x01";
    const QUERY_URL: &str = "AAABAAABAAAAAAAAA3d3dwdleGFtcGxlAAABAAE";

    fn get(path: &str, query: Option<&str>) -> Head<'static> {
        let leak = |s: &str| -> &'static str { Box::leak(s.to_string().into_boxed_str()) };
        Head {
            method: "GET",
            path: leak(path),
            query: query.map(leak),
            content_type: None,
        }
    }

    fn post(content_type: Option<&'static [u8]>) -> Head<'static> {
        Head {
            method: "POST",
            path: PATH,
            query: None,
            content_type,
        }
    }

    #[test]
    fn get_decodes_the_dns_parameter_among_others() {
        let q = format!("dns={QUERY_URL}");
        assert_eq!(parse(&get(PATH, Some(&q)), b""), Ok(QUERY.to_vec()));
        let q = format!("ct=x&dns={QUERY_URL}&x");
        assert_eq!(parse(&get(PATH, Some(&q)), b"ignored"), Ok(QUERY.to_vec()));
    }

    #[test]
    fn get_without_a_usable_dns_parameter_is_400() {
        let bad = |q: Option<&str>| parse(&get(PATH, q), b"").map_err(HttpError::status);
        assert_eq!(bad(None), Err(400), "no query string");
        assert_eq!(bad(Some("dns=")), Err(400), "empty");
        assert_eq!(bad(Some("name=www.example")), Err(400), "no dns parameter");
        let twice = format!("dns={QUERY_URL}&dns={QUERY_URL}");
        assert_eq!(bad(Some(&twice)), Err(400), "twice");
        assert_eq!(bad(Some(&format!("dns={QUERY_URL}=="))), Err(400), "padded");
        assert_eq!(bad(Some("dns=AAAB+AAB")), Err(400), "standard alphabet");
        assert_eq!(bad(Some("dns=AAABAAAB")), Err(400), "shorter than a header");
        // QR=1: a response is not a query.
        assert_eq!(bad(Some("dns=AACBAAABAAAAAAAA")), Err(400), "QR=1");
    }

    #[test]
    fn get_of_a_message_too_big_to_exist_is_413() {
        let q = format!("dns={}", "A".repeat(MAX_MESSAGE / 3 * 4 + 8));
        assert_eq!(
            parse(&get(PATH, Some(&q)), b""),
            Err(HttpError::PayloadTooLarge)
        );
    }

    #[test]
    fn post_needs_the_dns_media_type() {
        let ok = |ct: &'static [u8]| parse(&post(Some(ct)), QUERY);
        assert_eq!(ok(b"application/dns-message"), Ok(QUERY.to_vec()));
        assert_eq!(
            ok(b"Application/DNS-Message; charset=x"),
            Ok(QUERY.to_vec())
        );
        for ct in [&b"application/json"[..], b"text/plain", b"\xff\xfe", b""] {
            assert_eq!(
                parse(&post(Some(ct)), QUERY),
                Err(HttpError::UnsupportedMediaType)
            );
        }
        assert_eq!(
            parse(&post(None), QUERY),
            Err(HttpError::UnsupportedMediaType)
        );
    }

    #[test]
    fn post_bodies_are_bounded_and_must_be_queries() {
        let ct = Some(&b"application/dns-message"[..]);
        let mut big = QUERY.to_vec();
        big.resize(MAX_MESSAGE, 0);
        assert_eq!(parse(&post(ct), &big), Ok(big.clone()), "65535 bytes fit");
        big.push(0);
        assert_eq!(parse(&post(ct), &big), Err(HttpError::PayloadTooLarge));
        assert_eq!(
            parse(&post(ct), b""),
            Err(HttpError::BadRequest(
                "not a DNS message: shorter than its header"
            ))
        );
        assert_eq!(
            parse(&post(ct), &QUERY[..11]).map_err(HttpError::status),
            Err(400)
        );
        // A header and garbage after it: the handler's to answer (FORMERR), not HTTP's.
        let mut garbage = QUERY[..12].to_vec();
        garbage.extend_from_slice(b"\xff\xff\xff");
        assert_eq!(parse(&post(ct), &garbage), Ok(garbage.clone()));
    }

    #[test]
    fn other_paths_are_404_before_other_methods_are_405() {
        assert_eq!(parse(&get("/", None), b""), Err(HttpError::NotFound));
        assert_eq!(
            parse(&get("/dns-query/", None), b""),
            Err(HttpError::NotFound)
        );
        for method in ["PUT", "HEAD", "DELETE", "get"] {
            let h = Head {
                method,
                ..get(PATH, Some(&format!("dns={QUERY_URL}")))
            };
            assert_eq!(
                parse(&h, QUERY),
                Err(HttpError::MethodNotAllowed),
                "{method}"
            );
        }
    }
}
