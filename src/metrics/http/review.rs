//! Review: a HEAD request is answered with headers only, whatever the status (RFC 9110
//! §9.3.2: a server MUST NOT send content in the response to HEAD).

use super::*;

#[test]
fn head_of_a_missing_path_has_no_body() {
    let metrics = Arc::new(super::super::Metrics::default());
    let registry = super::super::prometheus::registry(metrics, Arc::new(Default::default));
    let endpoint = Endpoint {
        registry,
        dashboard: None,
        allow: None,
    };
    let reply = String::from_utf8(get(&endpoint, "/nowhere", "", true)).expect("utf-8");
    assert!(reply.starts_with("HTTP/1.1 404 "), "{reply}");
    let (head, body) = reply.split_once("\r\n\r\n").expect("a head");
    assert_eq!(body, "", "HEAD answered with a body");
    // The length is still the one a GET would get (RFC 9110 §8.6 allows it for HEAD).
    assert!(head.contains("Content-Length: 29"), "{head}");
}
