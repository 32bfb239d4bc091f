//! Replies without a question section (Deckard's `iter_req_qname`): the outbound client takes
//! them when ID, address and port match, and the walk reads each as the answer to the
//! question it asked, as Unbound does, without a single extra query.

use hickory_proto::op::ResponseCode::{NXDomain, NoError};
use hickory_proto::rr::RecordType::{A, MX};

use super::*;

#[tokio::test(start_paused = true)]
async fn replies_without_question_are_answers_to_the_question_asked() {
    let cases: &[(&str, RecordType, ResponseCode)] = &[
        ("www.alpha.test.", A, NoError),
        ("cname-cross.alpha.test.", A, NoError),
        ("www.glueless.test.", A, NoError),
        ("nope.alpha.test.", A, NXDomain),
        ("www.alpha.test.", MX, NoError),
    ];
    for (qname, qtype, rcode) in cases {
        let plain = FakeNet::lab();
        let stripped = FakeNet::lab();
        stripped.strip_question_everywhere();
        let want = expect(&resolver(&plain), qname, *qtype, *rcode).await;
        let got = expect(&resolver(&stripped), qname, *qtype, *rcode).await;
        assert_eq!(lines(&got.answers), lines(&want.answers), "{qname} {qtype}");
        assert_eq!(
            stripped.total(),
            plain.total(),
            "{qname} {qtype}: no query asked again"
        );
    }
}
