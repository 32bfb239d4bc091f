//! Review tests of NSEC3 validation end to end: the example zone `signed.test.` as
//! `dnssec-signzone` signed it with NSEC3 opt-out (zones/signed/), delegated from the lab's
//! signed `test.` with its DS, so the chain runs from the root's anchor.

use std::path::Path;

use hickory_proto::op::ResponseCode::{NXDomain, NoError};
use hickory_proto::rr::RecordType::{A, DS, TXT};

use super::validate::{signed_net_with, validating};
use super::*;
use crate::cache::Trust;
use crate::dnssec::anchor::Anchors;

/// The DS `dnssec-signzone` wrote for `signed.test.`'s KSK.
const REAL_DS: &str = "signed 86400 IN DS 29186 13 2 \
                       5CB912A1DC62C705A9F4E085EFE086FAED2C3F6D14D95658BDA08008AEDEC12C\n";

/// `test.` delegates `signed.test.` to 127.0.0.1, with the DS records `ds`.
fn delegation(file: &str, text: String, ds: &str) -> String {
    match file {
        "test.zone" => {
            text + "signed 86400 IN NS ns1.signed.test.\n\
                    ns1.signed 86400 IN A 127.0.0.1\n"
                + ds
        }
        _ => text,
    }
}

/// With the real DS.
fn delegated(file: &str, text: String) -> String {
    delegation(file, text, REAL_DS)
}

fn zones_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("zones/signed")
}

/// The signed hierarchy with `signed.test.` served from `file` (a zone file in zones/signed
/// or an absolute path), and `insecure.signed.test.` unsigned at 127.0.0.54.
pub(super) fn nsec3_net(file: &Path) -> (Arc<FakeNet>, Anchors) {
    let text = std::fs::read_to_string(zones_dir().join(file)).expect("signed zone file");
    nsec3_net_text(&text, file)
}

/// [`nsec3_net`] with the text of `signed.test.`'s file given.
fn nsec3_net_text(text: &str, file: &Path) -> (Arc<FakeNet>, Anchors) {
    nsec3_net_edited(text, file, delegated)
}

/// [`nsec3_net_text`] with the lab's files edited by `edit` (which delegates `signed.test.`).
fn nsec3_net_edited(
    text: &str,
    file: &Path,
    edit: fn(&str, String) -> String,
) -> (Arc<FakeNet>, Anchors) {
    let (net, anchors) = signed_net_with(edit, &[]);
    let origin = name("signed.test.");
    let records =
        crate::zonefile::parse_zone_text(text, file, Some(&origin)).expect("signed zone parses");
    let zone = crate::authority::Zone::from_records(Some(&origin), records, file)
        .expect("signed zone is valid");
    net.add_host(ip("127.0.0.1"), vec![zone]);
    let child = name("insecure.signed.test.");
    let text = "@ 3600 IN SOA ns.insecure hostmaster 1 7200 900 1209600 60\n\
                @ 3600 IN NS ns.insecure\n\
                ns.insecure 3600 IN A 127.0.0.54\n\
                www 300 IN A 127.0.0.80\n";
    let records = crate::zonefile::parse_zone_text(text, Path::new("insecure"), Some(&child))
        .expect("child parses");
    let zone = crate::authority::Zone::from_records(Some(&child), records, Path::new("insecure"))
        .expect("child is valid");
    net.add_host(ip("127.0.0.54"), vec![zone]);
    (net, anchors)
}

/// RFC 5155 §8.5–8.6: a NODATA proven by a matching NSEC3 is secure; the DS of an
/// unsigned child in an opt-out span is an insecure NODATA, and its data insecure.
#[tokio::test(start_paused = true)]
async fn an_opt_out_zone_validates_its_data_and_its_insecure_child() {
    let (net, anchors) = nsec3_net(Path::new("signed.test.nsec3.zone.signed"));
    let r = validating(&net, anchors);
    let www = expect(&r, "www.signed.test.", A, NoError).await;
    assert_eq!(www.security, Trust::Secure, "{www:?}");
    let nodata = expect(&r, "www.signed.test.", TXT, NoError).await;
    assert!(nodata.answers.is_empty(), "{nodata:?}");
    assert_eq!(nodata.security, Trust::Secure, "{nodata:?}");
    let child = expect(&r, "www.insecure.signed.test.", A, NoError).await;
    assert!(!child.answers.is_empty(), "{child:?}");
    assert_eq!(child.security, Trust::Insecure, "{child:?}");
    let ds = expect(&r, "insecure.signed.test.", DS, NoError).await;
    assert!(ds.answers.is_empty(), "{ds:?}");
    assert_eq!(ds.security, Trust::Insecure, "{ds:?}");
}

/// RFC 5155 §8.4: an NXDOMAIN whose next closer is covered by an opt-out NSEC3 may hide an
/// unsigned delegation: insecure (Unbound: "nc has optout"), and never used aggressively.
#[tokio::test(start_paused = true)]
async fn an_nxdomain_under_opt_out_is_insecure_and_not_reused() {
    let (net, anchors) = nsec3_net(Path::new("signed.test.nsec3.zone.signed"));
    let r = validating(&net, anchors);
    let nx = expect(&r, "nope.signed.test.", A, NXDomain).await;
    assert_eq!(nx.security, Trust::Insecure, "{nx:?}");
    let before = net.sent().len();
    let other = expect(&r, "nope2.signed.test.", A, NXDomain).await;
    assert_eq!(other.security, Trust::Insecure, "{other:?}");
    assert!(net.sent().len() > before, "answered from an opt-out proof");
}

/// The wildcard and the empty non-terminals of the NSEC3 zone.
#[tokio::test(start_paused = true)]
async fn nsec3_wildcards_and_empty_non_terminals_validate() {
    let (net, anchors) = nsec3_net(Path::new("signed.test.nsec3.zone.signed"));
    let r = validating(&net, anchors);
    let wc = expect(&r, "x.wild.signed.test.", A, NoError).await;
    assert!(!wc.answers.is_empty(), "{wc:?}");
    // every span of this zone is opt-out: the next closer's cover makes it insecure
    assert!(
        matches!(wc.security, Trust::Secure | Trust::Insecure),
        "{wc:?}"
    );
    let ent = expect(&r, "ent.signed.test.", A, NoError).await;
    assert_eq!(ent.security, Trust::Secure, "{ent:?}");
    let chain = expect(&r, "chain.signed.test.", A, NoError).await;
    assert_eq!(chain.security, Trust::Secure, "{chain:?}");
}

/// A copy signed by `ldns-signzone -n -t <iterations> -s aabbccdd` (no opt-out).
fn iterations_file(iterations: u16) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "src/resolver/tests/nsec3_review/it{iterations}.signed"
    ))
}

/// RFC 9276 §3.2: up to 150 iterations (Unbound's limit) the proofs are secure; above it
/// nothing is hashed and the denial is insecure, not bogus; the data stays secure.
#[tokio::test(start_paused = true)]
async fn nsec3_iterations_above_the_limit_make_denials_insecure() {
    let (net, anchors) = nsec3_net(&iterations_file(150));
    let r = validating(&net, anchors);
    let nx = expect(&r, "nope.signed.test.", A, NXDomain).await;
    assert_eq!(nx.security, Trust::Secure, "{nx:?}");
    let nodata = expect(&r, "www.signed.test.", TXT, NoError).await;
    assert_eq!(nodata.security, Trust::Secure, "{nodata:?}");

    let (net, anchors) = nsec3_net(&iterations_file(151));
    let r = validating(&net, anchors);
    let www = expect(&r, "www.signed.test.", A, NoError).await;
    assert_eq!(www.security, Trust::Secure, "{www:?}");
    let nx = expect(&r, "nope.signed.test.", A, NXDomain).await;
    assert_eq!(nx.security, Trust::Insecure, "{nx:?}");
    let nodata = expect(&r, "www.signed.test.", TXT, NoError).await;
    assert_eq!(nodata.security, Trust::Insecure, "{nodata:?}");
    let child = expect(&r, "www.insecure.signed.test.", A, NoError).await;
    assert_eq!(child.security, Trust::Insecure, "{child:?}");
    // not kept for RFC 8198 either
    let before = net.sent().len();
    expect(&r, "nope2.signed.test.", A, NXDomain).await;
    assert!(
        net.sent().len() > before,
        "answered from a proof it could not check"
    );
}

/// RFC 4035 §5.3.3: an RRset served with a TTL above its RRSIG's Original TTL is cached and
/// answered with the Original TTL at most (Unbound and BIND cap it so).
#[tokio::test(start_paused = true)]
async fn a_ttl_above_the_original_ttl_is_capped() {
    let file = Path::new("signed.test.nsec3.zone.signed");
    let text = std::fs::read_to_string(zones_dir().join(file)).expect("signed zone file");
    let raised = text
        .replace(
            "www.signed.test.\t300\tIN A",
            "www.signed.test.\t86400\tIN A",
        )
        .replace(
            "\t\t\t300\tRRSIG\tA 13 3 300",
            "\t\t\t86400\tRRSIG\tA 13 3 300",
        );
    assert_ne!(raised, text);
    let (net, anchors) = nsec3_net_text(&raised, file);
    let r = validating(&net, anchors);
    let www = expect(&r, "www.signed.test.", A, NoError).await;
    assert_eq!(www.security, Trust::Secure, "{www:?}");
    let ttls: Vec<u32> = www
        .answers
        .iter()
        .chain(&www.answer_sigs)
        .map(|r| r.ttl)
        .collect();
    assert!(ttls.iter().all(|t| *t <= 300), "{ttls:?}");
    // and from the cache, ten minutes on: asked again, not kept past the Original TTL
    tokio::time::advance(std::time::Duration::from_secs(600)).await;
    let before = net.sent().len();
    let again = expect(&r, "www.signed.test.", A, NoError).await;
    let ttls: Vec<u32> = again.answers.iter().map(|r| r.ttl).collect();
    assert!(ttls.iter().all(|t| *t <= 300), "{ttls:?}");
    assert!(
        net.sent().len() > before,
        "served from the cache past its Original TTL: {again:?}"
    );
}

fn nsec3_zone() -> (String, &'static Path) {
    let file = Path::new("signed.test.nsec3.zone.signed");
    let text = std::fs::read_to_string(zones_dir().join(file)).expect("signed zone file");
    (text, file)
}

/// A KSK rollover: the parent already lists the DS of a key the child does not publish yet,
/// beside the DS of the key in use: the link holds by the latter (RFC 6781 §4.1.2).
#[tokio::test(start_paused = true)]
async fn a_ds_for_a_key_not_yet_published_beside_the_current_one_is_secure() {
    fn edit(file: &str, text: String) -> String {
        let ds = format!(
            "{REAL_DS}signed 86400 IN DS 4711 13 2 \
             0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF\n"
        );
        delegation(file, text, &ds)
    }
    let (text, file) = nsec3_zone();
    let (net, anchors) = nsec3_net_edited(&text, file, edit);
    let r = validating(&net, anchors);
    let www = expect(&r, "www.signed.test.", A, NoError).await;
    assert_eq!(www.security, Trust::Secure, "{www:?}");
}

/// RFC 4035 §5.2, RFC 6840 §5.2: a DS of only an unknown algorithm (253, PRIVATEDNS) or of
/// only an unknown digest type leaves no authentication path: insecure, not bogus.
#[tokio::test(start_paused = true)]
async fn a_ds_of_only_unsupported_algorithms_or_digests_is_insecure() {
    fn alg(file: &str, text: String) -> String {
        let ds = "signed 86400 IN DS 29186 253 2 \
                  5CB912A1DC62C705A9F4E085EFE086FAED2C3F6D14D95658BDA08008AEDEC12C\n";
        delegation(file, text, ds)
    }
    fn digest(file: &str, text: String) -> String {
        let ds = "signed 86400 IN DS 29186 13 99 \
                  5CB912A1DC62C705A9F4E085EFE086FAED2C3F6D14D95658BDA08008AEDEC12C\n";
        delegation(file, text, ds)
    }
    fn md5(file: &str, text: String) -> String {
        let ds = "signed 86400 IN DS 29186 1 2 \
                  5CB912A1DC62C705A9F4E085EFE086FAED2C3F6D14D95658BDA08008AEDEC12C\n";
        delegation(file, text, ds)
    }
    for edit in [alg as fn(&str, String) -> String, digest, md5] {
        let (text, file) = nsec3_zone();
        let (net, anchors) = nsec3_net_edited(&text, file, edit);
        let r = validating(&net, anchors);
        let www = expect(&r, "www.signed.test.", A, NoError).await;
        assert_eq!(www.security, Trust::Insecure, "{www:?}");
        let nx = expect(&r, "nope.signed.test.", A, NXDomain).await;
        assert_eq!(nx.security, Trust::Insecure, "{nx:?}");
    }
}

/// A secondary still serving a copy whose signatures expired (the zone's ns2).
const STALE: &str = "127.0.0.2";

/// `signed.test.` delegated to both its servers; ns2 serves the expired copy.
fn two_servers(file: &str, text: String) -> String {
    let ns2 =
        format!("signed 86400 IN NS ns2.signed.test.\nns2.signed 86400 IN A {STALE}\n{REAL_DS}");
    delegation(file, text, &ns2)
}

/// RFC 4035 §5: a bogus DNSKEY RRset from one server (a stale secondary whose signatures
/// expired) is one server's fault. Unbound blacklists the server and primes the keys again
/// from another (its validator's restarts); the zone's good server has valid keys, so the
/// answer is secure, not bogus for the key cache's BOGUS_TTL.
#[tokio::test(start_paused = true)]
async fn keys_from_a_stale_secondary_are_fetched_again_from_another_server() {
    let (text, file) = nsec3_zone();
    let (net, anchors) = nsec3_net_edited(&text, file, two_servers);
    let stale = std::fs::read_to_string(iterations_file(0).with_file_name("stale.signed"))
        .expect("stale copy");
    let origin = name("signed.test.");
    let records = crate::zonefile::parse_zone_text(&stale, Path::new("stale"), Some(&origin))
        .expect("stale copy parses");
    let zone = crate::authority::Zone::from_records(Some(&origin), records, Path::new("stale"))
        .expect("stale copy is valid");
    net.add_host(ip(STALE), vec![zone]);
    let r = validating(&net, anchors);
    // The stale copy looks fastest, so it is asked first.
    let now = tokio::time::Instant::now();
    let fast = std::time::Duration::from_millis(1);
    r.infra.record_reply(ip(STALE), Some(fast), now);
    let slow = std::time::Duration::from_millis(50);
    r.infra.record_reply(ip("127.0.0.1"), Some(slow), now);
    let www = expect(&r, "www.signed.test.", A, NoError).await;
    assert_eq!(www.security, Trust::Secure, "{www:?}");
}
