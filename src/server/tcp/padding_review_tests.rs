//! Review finding: over DoT a padded query gets a padded reply (RFC 7830 §4: responders MUST
//! pad the response to a padded query; RFC 8467 §4.1: to a multiple of 468), the query rate
//! limit's REFUSED included, on either path: its size would otherwise tell the name asked.

use hickory_proto::op::{Edns, Message, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;

use super::review_tests::{open_as, query_with, read_reply, recursive, send};
use super::*;
use crate::ratelimit::{Action, ClientPrefix, Exempt, Limits, QueryLimitSettings, QueryLimiter};

/// A resolver over the fake lab whose clients may ask one query a second, two at once.
fn limited() -> Arc<Handler> {
    let limits = Limits {
        queries: Some(QueryLimiter::new(&QueryLimitSettings {
            queries_per_second: 1,
            burst: 2,
            prefix: ClientPrefix::default(),
            action: Action::Refuse,
            exempt: Exempt::default(),
            table_size: 1024,
        })),
        rrl: None,
    };
    Arc::new(recursive(Duration::ZERO).with_rate_limits(limits))
}

#[tokio::test(start_paused = true)]
async fn a_refused_reply_to_a_padded_query_over_tls_is_padded() {
    let (mut client, _trigger) = open_as(&limited(), Transport::Tls);
    let mut padded = Edns::new();
    padded
        .options_mut()
        .insert(EdnsOption::Unknown(12, Vec::new()));
    let mut rcodes = Vec::new();
    // The full path, the hit path, then over the rate on the hit path and on the full path.
    for qname in [
        "www.alpha.test.",
        "www.alpha.test.",
        "www.alpha.test.",
        "nx.alpha.test.",
    ] {
        assert!(send(&mut client, &query_with(0, qname, Some(padded.clone()))).await);
        let bytes = read_reply(&mut client).await.expect("answered");
        let rcode = Message::from_vec(&bytes)
            .expect("parses")
            .metadata
            .response_code;
        rcodes.push((rcode, bytes.len()));
    }
    assert_eq!(
        rcodes.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
        [
            ResponseCode::NoError,
            ResponseCode::NoError,
            ResponseCode::Refused,
            ResponseCode::Refused
        ]
    );
    for (rcode, len) in rcodes {
        assert_eq!(len % 468, 0, "{rcode:?} of {len} bytes is not padded");
    }
}
