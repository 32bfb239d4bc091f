//! Review probes of the secondary (RFC 1996 NOTIFY, RFC 1982 serials, RFC 1995 IXFR), against
//! scripted primaries on 127.185.0.0/16.

use super::review_tests::{Holder, name, primary_without_ixfr};
use super::*;

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

/// RFC 1982 §3.2: a serial exactly 2^31 away from ours is undefined, neither later nor earlier.
/// BIND (`isc_serial_gt`) does not transfer then, and tern's own IXFR reading
/// (`transfer::later`) calls it not later; but the SOA check and the AXFR fallback used
/// `<=`, which is false for an undefined pair, so a primary without IXFR got the zone taken.
#[tokio::test]
async fn a_serial_exactly_half_the_space_away_is_not_transferred() {
    let ours = 7u32;
    let theirs = ours.wrapping_add(1 << 31);
    let primary = primary_without_ixfr([127, 185, 0, 2], theirs, theirs).await;
    let config = super::tests::zone(primary, Path::new("unused.zone"));
    let holder = Holder::at(ours);
    let outcome = from_primary(&config, Peer::new(primary, None), &holder).await;
    assert!(
        holder.transfers().is_empty(),
        "took serial {theirs} over {ours} ({:?})",
        outcome.map_err(|e| e.to_string())
    );
}

/// The same primary one step ahead is transferred (AXFR after IXFR's NOTIMP).
#[tokio::test]
async fn a_later_serial_is_transferred_by_axfr_when_ixfr_is_not_implemented() {
    let ours = u32::MAX;
    let primary = primary_without_ixfr([127, 185, 0, 3], 1, 1).await;
    let config = super::tests::zone(primary, Path::new("unused.zone"));
    let holder = Holder::at(ours);
    let outcome = from_primary(&config, Peer::new(primary, None), &holder).await;
    assert_eq!(
        holder.transfers(),
        vec![1],
        "{:?}",
        outcome.map_err(|e| e.to_string())
    );
}

/// Two primaries, the first one lagging at our serial, the second ahead (a NOTIFY from it is
/// what woke us). BIND's refresh asks each primary in turn until one is ahead (`next_primary`
/// after an equal or older serial), NSD starts with the one that notified; tern stopped at the
/// first answer and stayed behind the second until the first caught up.
#[tokio::test]
async fn a_lagging_first_primary_does_not_hide_a_later_second_one() {
    let lagging = primary_without_ixfr([127, 185, 0, 4], 7, 7).await;
    let ahead = primary_without_ixfr([127, 185, 0, 5], 8, 8).await;
    let mut config = super::tests::zone(lagging, Path::new("unused.zone"));
    config.primaries = vec![lagging, ahead];
    let holder = Holder::at(7);
    let outcome = refresh(&config, None, &holder).await;
    assert_eq!(
        holder.transfers(),
        vec![8],
        "{:?}",
        outcome.map_err(|e| e.to_string())
    );
}
