//! Review probes of the secondary (RFC 1996 NOTIFY, RFC 1982 serials, RFC 1995 IXFR), against
//! scripted primaries on 127.185.0.0/16.

use hickory_proto::rr::rdata::SOA;

use super::*;

fn name(text: &str) -> Name {
    Name::from_ascii(text).expect("name")
}

fn xfr_key() -> crate::tsig::Key {
    crate::tsig::Key::new(
        name("xfr-key."),
        crate::tsig::TsigAlgorithm::HmacSha256,
        vec![7; 32],
    )
    .expect("key")
}

/// NSD (`allow-notify: ADDR KEY`) and Knot (an acl with a key) refuse a NOTIFY that is not
/// signed with the key the zone is configured with, and README (Replicated zones) promises
/// the same: "on NOTIFY (taken only from its primaries' addresses, and with its key when it
/// has one)". An unsigned NOTIFY can be forged from the primary's address over UDP.
#[test]
fn a_keyed_zone_refuses_an_unsigned_notify() {
    let primary: SocketAddr = "127.185.0.1:53".parse().expect("addr");
    let mut config = super::tests::zone(primary, Path::new("unused.zone"));
    config.key = Some(xfr_key());
    let secondary = Secondary::new(vec![config], None);
    let zone = name("cluster.test.");
    let from = primary.ip();
    assert_eq!(
        secondary.notified(&zone, from, None),
        ResponseCode::Refused,
        "an unsigned NOTIFY to a zone with a transfer key"
    );
    assert_eq!(
        secondary.notified(&zone, from, Some(&name("xfr-key."))),
        ResponseCode::NoError
    );
    // Without a key, an unsigned NOTIFY from the primary's address still works.
    let keyless = Secondary::new(
        vec![super::tests::zone(primary, Path::new("unused.zone"))],
        None,
    );
    assert_eq!(keyless.notified(&zone, from, None), ResponseCode::NoError);
}
