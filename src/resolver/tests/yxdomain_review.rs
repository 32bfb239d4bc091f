//! RFC 6672 §2.2: a DNAME substitution that would make a name longer than 255 octets is
//! answered YXDOMAIN, the DNAME in the answer section. The lab's own authority code (the fake
//! internet's servers) answers so; these tests follow that answer through the resolver, as
//! Unbound (`processQueryResponse`) and BIND pass it on: at the end of an alias chain, for a
//! CNAME question, and signed, where the DNAME's signature makes the answer secure.

use hickory_proto::op::ResponseCode::YXDomain;
use hickory_proto::rr::RecordType::{A, CNAME};

use super::validate::{signed_net_with, validating};
use super::*;
use crate::cache::Trust;
use crate::resolver::fake::zone;

/// A label of 63 `c`s, the longest there is.
fn label(c: char) -> String {
    std::iter::repeat_n(c, 63).collect()
}

/// A DNAME at `d.<origin>` to a name of 134 octets: a prefix of two full labels before it
/// makes 262.
fn dname_line() -> String {
    format!("\nd 86400 IN DNAME {}.{}.test.\n", label('b'), label('b'))
}

/// The name below `d.<origin>` whose substitution overflows.
fn overflowing(origin: &str) -> String {
    format!("{}.{}.d.{origin}", label('a'), label('a'))
}

/// The lab with `extra` appended to the `test.` zone.
fn lab(extra: &str) -> Arc<FakeNet> {
    let net = FakeNet::lab();
    let mut text = FakeNet::lab_file("test.zone");
    text.push_str(extra);
    net.replace_zone(zone("test.", &text));
    net
}

/// [`lines`], a DNAME's target shown as a name (hickory keeps its RDATA opaque).
pub(super) fn shown(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| match crate::rr::dname::target(r) {
            Some(to) => format!(
                "{} {} DNAME {}",
                r.name.to_ascii().to_lowercase(),
                r.ttl,
                to.to_ascii()
            ),
            None => lines(std::slice::from_ref(r)).concat(),
        })
        .collect()
}

/// The DNAME's line as [`shown`] shows it, with `ttl`.
fn dname_answer(origin: &str, ttl: u32) -> String {
    format!("d.{origin} {ttl} DNAME {}.{}.test.", label('b'), label('b'))
}

/// The server's YXDOMAIN reaches the client with the DNAME, its TTL capped as a negative
/// answer's (`negative_max_ttl`, 3600 by default): the message tier keeps the answer by it.
/// tern took the RCODE for lameness and answered SERVFAIL.
#[tokio::test(start_paused = true)]
async fn a_dname_overflow_is_yxdomain_with_the_dname() {
    let r = resolver(&lab(&dname_line()));
    let res = expect(&r, &overflowing("test."), A, YXDomain).await;
    assert_eq!(shown(&res.answers), [dname_answer("test.", 3600)]);
    assert!(res.authorities.is_empty(), "{:?}", res.authorities);
}

/// An alias into the DNAME's overflow: the server follows its CNAME to the DNAME and answers
/// YXDOMAIN with both (RFC 6604 §2.1: the RCODE is the last name's); so does the client.
#[tokio::test(start_paused = true)]
async fn an_alias_into_a_dname_overflow_ends_in_yxdomain() {
    let extra = format!("{}c 300 IN CNAME {}\n", dname_line(), overflowing("test."));
    let r = resolver(&lab(&extra));
    let res = expect(&r, "c.test.", A, YXDomain).await;
    assert_eq!(
        shown(&res.answers),
        [
            format!("c.test. 300 CNAME {}", overflowing("test.")),
            dname_answer("test.", 3600),
        ]
    );
}

/// A CNAME question is answered by the CNAME a DNAME synthesises (RFC 6672 §3.1), and when
/// it cannot be made, by YXDOMAIN too.
#[tokio::test(start_paused = true)]
async fn a_cname_question_into_a_dname_overflow_is_yxdomain() {
    let r = resolver(&lab(&dname_line()));
    let res = expect(&r, &overflowing("test."), CNAME, YXDomain).await;
    assert_eq!(shown(&res.answers), [dname_answer("test.", 3600)]);
}

/// A YXDOMAIN without a DNAME that redirects the name says nothing the resolver can use
/// (Unbound accepts YXDOMAIN only beside a DNAME): the server is not believed.
#[tokio::test(start_paused = true)]
async fn a_yxdomain_without_a_dname_is_not_an_answer() {
    let net = FakeNet::lab();
    net.set_modes(
        ip("127.0.0.41"),
        Mode::Rcode(YXDomain),
        Mode::Rcode(YXDomain),
    );
    net.set_modes(
        ip("127.0.0.42"),
        Mode::Rcode(YXDomain),
        Mode::Rcode(YXDomain),
    );
    let r = resolver(&net);
    let e = resolve(&r, "www.alpha.test.", A)
        .await
        .expect_err("no usable reply");
    assert!(matches!(e, ResolveError::NoReachableAuthority(_)), "{e}");
}

/// Signed: the DNAME and its RRSIG make the YXDOMAIN secure (RFC 6672 §5.3.1: the DNAME is
/// what is validated), not bogus or indeterminate.
#[tokio::test(start_paused = true)]
async fn a_signed_dname_overflow_is_a_secure_yxdomain() {
    fn with_dname(file: &str, text: String) -> String {
        if file == "secure.test.zone" {
            text + &dname_line()
        } else {
            text
        }
    }
    let (net, anchors) = signed_net_with(with_dname, &[]);
    let r = validating(&net, anchors);
    let res = expect(&r, &overflowing("secure.test."), A, YXDomain).await;
    assert_eq!(res.security, Trust::Secure, "{}", res.dnssec_state());
    assert_eq!(shown(&res.answers), [dname_answer("secure.test.", 3600)]);
    assert!(
        res.answer_sigs
            .iter()
            .any(|r| r.record_type() == RecordType::RRSIG),
        "the DNAME's RRSIG for DO clients: {:?}",
        res.answer_sigs
    );
}

/// A forwarder's YXDOMAIN with its DNAME is its answer, as a forwarder's NXDOMAIN is.
#[tokio::test(start_paused = true)]
async fn a_forwarders_yxdomain_is_the_answer() {
    let net = lab(&dname_line());
    let forwarder = ip("127.9.0.1");
    net.add_recursive_of_hosts(forwarder);
    let forward = crate::resolver::Forward {
        zone: name("test."),
        servers: vec![std::net::SocketAddr::new(forwarder, 53)],
        first: false,
        tls: None,
        no_cache: false,
    };
    let r = super::forward::with_forwards(&net, vec![forward]);
    let res = expect(&r, &overflowing("test."), A, YXDomain).await;
    assert_eq!(shown(&res.answers), [dname_answer("test.", 3600)]);
    assert!(net.sent().iter().all(|s| s.server == forwarder));
}
