//! The DNS-over-HTTPS request parser (`server::https::request`) and the reply walker of its
//! `Cache-Control` header (`server::https::response::max_age`), for
//! `fuzz/fuzz_targets/doh_request.rs`.
//!
//! Input: up to four fields separated by 0x00 bytes — the method, the request target (path,
//! then `?` and the query string), the `Content-Type` value (absent when the field is), and
//! the body (which may hold 0x00 bytes: it is the rest). Method and target are read as UTF-8,
//! invalid sequences replaced, as hyper hands over only valid text for them.

use crate::base64;
use crate::server::https::request::{self, Head, HttpError, MAX_MESSAGE, PATH};
use crate::server::https::response;

/// Parses one request and panics if a verdict contradicts what the request was: a DNS message
/// only for GET or POST of the one path, at least a header and at most 65,535 bytes, a query
/// (QR=0), the body itself for a POST, the `dns` parameter's bytes for a GET; otherwise the
/// status that names the first thing wrong. Returns the verdict as the message or the status.
pub fn doh_request(data: &[u8]) -> Result<Vec<u8>, u16> {
    let mut fields = data.splitn(4, |&b| b == 0);
    let method = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let target = String::from_utf8_lossy(fields.next().unwrap_or_default()).into_owned();
    let content_type = fields.next();
    let body = fields.next().unwrap_or_default();
    let (path, query) = match target.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (target.as_str(), None),
    };
    let head = Head {
        method: &method,
        path,
        query,
        content_type,
    };
    let verdict = request::parse(&head, body);
    // The walker behind Cache-Control reads replies; any bytes must walk or stop cleanly.
    let _ = response::max_age(body);
    match &verdict {
        Ok(message) => {
            assert_eq!(path, PATH, "answered off the DNS path");
            assert!(message.len() >= 12, "shorter than a header");
            assert!(message.len() <= MAX_MESSAGE, "{} bytes", message.len());
            assert_eq!(message[2] & 0x80, 0, "a response taken as a query");
            match method.as_str() {
                "POST" => assert_eq!(message.as_slice(), body, "POST: the body itself"),
                "GET" => {
                    // The message is what the parameter spells: re-encoded, it decodes the same.
                    let text = base64::encode(message)
                        .trim_end_matches('=')
                        .replace('+', "-")
                        .replace('/', "_");
                    assert_eq!(base64::decode_url(&text).as_deref(), Ok(message.as_slice()));
                    let given = query.unwrap_or_default();
                    assert!(
                        given
                            .split('&')
                            .any(|p| p.len() == text.len() + 4 && p.starts_with("dns=")),
                        "GET: the message is the dns parameter's"
                    );
                }
                other => panic!("answered method {other:?}"),
            }
        }
        Err(e) => {
            let status = e.status();
            assert!(
                [400, 404, 405, 413, 415].contains(&status),
                "status {status}"
            );
            assert_eq!(status == 404, path != PATH, "404 exactly off the path");
            if path == PATH {
                let known = method == "GET" || method == "POST";
                assert_eq!(*e == HttpError::MethodNotAllowed, !known, "405: {method:?}");
            }
        }
    }
    verdict.map_err(HttpError::status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_reach_the_parser() {
        let get = b"GET\0/dns-query?dns=AAABAAABAAAAAAAAA3d3dwdleGFtcGxlAAABAAE";
        assert_eq!(doh_request(get).map(|m| m.len()), Ok(29));
        let mut post = b"POST\0/dns-query\0application/dns-message\0".to_vec();
        post.extend_from_slice(&[0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(doh_request(&post).map(|m| m.len()), Ok(12));
        assert_eq!(doh_request(b"POST\0/dns-query\0text/plain\0x"), Err(415));
        assert_eq!(doh_request(b"GET\0/"), Err(404));
        assert_eq!(doh_request(b"PUT\0/dns-query"), Err(405));
        assert_eq!(doh_request(b""), Err(404));
    }
}
