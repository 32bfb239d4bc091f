//! The hand-written seeds of `fuzz/corpus/resolve_replies/`: each a short, realistic walk in
//! the input layout of [`super::input`], checked here to do what its name says. To write them
//! again after a change to the layout:
//!
//! ```sh
//! cargo test --lib fuzzing::seeds::write_seeds -- --ignored
//! ```

use std::path::{Path, PathBuf};

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::Name;

use super::{ANCHOR_KEY, Report, resolve_replies};

/// Setup byte: no QNAME minimisation, so each walk is one query per zone.
const PLAIN: u8 = 0x08;
/// Setup byte: the same, validating from the root's (unusable) anchor.
const VALIDATING: u8 = 0x09;
/// Setup byte: QNAME minimisation on (the default), from the root hints.
const MINIMISING: u8 = 0x00;
/// Setup byte: no QNAME minimisation, names below `test.` asked of the stub zone's server.
const STUB: u8 = 0x18;
/// Question bytes: a name of `NAMES` (no prefix) and a type of `TYPES`.
const WWW_ALPHA_A: [u8; 2] = [0, 0];
const WWW_ALPHA_TXT: [u8; 2] = [0, 6];
const WWW_ALPHA_AAAA: [u8; 2] = [0, 1];
const WWW_BETA_A: [u8; 2] = [3, 0];

const PRIMING: &str = "
    . 518400 NS a.root-servers.
    . 518400 NS b.root-servers.
    ; additional
    a.root-servers. 518400 A 127.0.0.11
    b.root-servers. 518400 A 127.0.0.12";
const TO_ALPHA: &str = "
    ; authority
    alpha.test. 86400 NS ns1.alpha.test.
    ; additional
    ns1.alpha.test. 86400 A 127.0.0.31";
const TO_BETA: &str = "
    ; authority
    beta.test. 86400 NS ns1.beta.test.
    ; additional
    ns1.beta.test. 86400 A 127.0.0.32";

/// One reply: its header bits and its records as zone text, the sections started by
/// `; authority` and `; additional` comment lines.
struct Reply {
    aa: bool,
    tc: bool,
    rcode: ResponseCode,
    text: &'static str,
}

fn answer(text: &'static str) -> Reply {
    Reply {
        aa: true,
        tc: false,
        rcode: ResponseCode::NoError,
        text,
    }
}

fn referral(text: &'static str) -> Reply {
    Reply {
        aa: false,
        ..answer(text)
    }
}

impl Reply {
    fn wire(&self) -> Vec<u8> {
        let mut m = Message::new(0, MessageType::Response, OpCode::Query);
        m.metadata.authoritative = self.aa;
        m.metadata.truncation = self.tc;
        m.metadata.response_code = self.rcode;
        let mut section = 0;
        for line in self.text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match line {
                "; authority" => section = 1,
                "; additional" => section = 2,
                _ => {
                    let parsed = crate::zonefile::parse_zone_text(
                        line,
                        Path::new("seed"),
                        Some(&Name::root()),
                    );
                    for r in parsed.expect("seed records parse") {
                        match section {
                            0 => m.answers.push(r.record),
                            1 => m.authorities.push(r.record),
                            _ => m.additionals.push(r.record),
                        }
                    }
                }
            }
        }
        m.to_vec().expect("seed reply encodes")
    }
}

/// A seed: the setup, its questions, then one entry per query.
fn seed(setup: u8, questions: &[[u8; 2]], replies: &[Reply]) -> Vec<u8> {
    let count = u8::try_from(questions.len() - 1).expect("few questions");
    let mut bytes = vec![setup, count];
    bytes.extend(questions.iter().flatten());
    for reply in replies {
        let wire = reply.wire();
        bytes.push(0);
        bytes.extend(u16::try_from(wire.len()).expect("short").to_be_bytes());
        bytes.extend(wire);
    }
    bytes
}

/// Every seed, by file name.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let www_alpha = answer("www.alpha.test. 300 A 127.0.0.131");
    vec![
        (
            "seed-referral-answer",
            seed(
                PLAIN,
                &[WWW_ALPHA_A],
                &[answer(PRIMING), referral(TO_ALPHA), www_alpha],
            ),
        ),
        (
            "seed-cname-cross-zone",
            seed(
                PLAIN,
                &[WWW_ALPHA_A],
                &[
                    answer(PRIMING),
                    referral(TO_ALPHA),
                    // The alias's target lies in another zone: its A here is out of bailiwick.
                    answer("www.alpha.test. 300 CNAME www.beta.test.\nwww.beta.test. 300 A 192.0.2.66"),
                    referral(TO_BETA),
                    answer("www.beta.test. 300 A 127.0.0.132"),
                ],
            ),
        ),
        (
            "seed-nxdomain-soa",
            seed(
                PLAIN,
                &[WWW_BETA_A],
                &[
                    answer(PRIMING),
                    referral(TO_BETA),
                    Reply {
                        rcode: ResponseCode::NXDomain,
                        ..answer(
                            "; authority
                            beta.test. 300 SOA ns1.beta.test. hostmaster.beta.test. 1 7200 3600 1209600 300",
                        )
                    },
                ],
            ),
        ),
        (
            "seed-truncated",
            seed(
                PLAIN,
                &[WWW_ALPHA_TXT],
                &[
                    answer(PRIMING),
                    referral(TO_ALPHA),
                    Reply {
                        tc: true,
                        ..answer("")
                    },
                    answer("www.alpha.test. 300 TXT \"over TCP\""),
                ],
            ),
        ),
        (
            "seed-glueless",
            seed(
                PLAIN,
                &[WWW_ALPHA_A],
                &[
                    answer(PRIMING),
                    referral("; authority\nalpha.test. 86400 NS ns1.beta.test."),
                    referral(TO_BETA),
                    answer("ns1.beta.test. 300 A 127.0.0.32"),
                    answer("www.alpha.test. 300 A 127.0.0.131"),
                ],
            ),
        ),
        (
            "seed-minimised-walk",
            seed(
                MINIMISING,
                &[WWW_ALPHA_A],
                &[
                    answer(PRIMING),
                    referral("; authority\ntest. 172800 NS ns1.test.\n; additional\nns1.test. 172800 A 127.0.0.22"),
                    referral(TO_ALPHA),
                    answer("www.alpha.test. 300 A 127.0.0.131"),
                ],
            ),
        ),
        (
            "seed-dname",
            seed(
                PLAIN,
                &[WWW_ALPHA_A],
                &[
                    answer(PRIMING),
                    referral(TO_ALPHA),
                    answer("alpha.test. 300 DNAME beta.test.\nwww.alpha.test. 300 CNAME www.beta.test."),
                    referral(TO_BETA),
                    answer("www.beta.test. 300 A 127.0.0.132"),
                ],
            ),
        ),
        (
            "seed-cname-loop",
            seed(
                PLAIN,
                &[WWW_ALPHA_A],
                &[
                    answer(PRIMING),
                    referral(TO_ALPHA),
                    answer("www.alpha.test. 300 CNAME www.alpha.test."),
                ],
            ),
        ),
        (
            "seed-stub-nodata",
            seed(
                STUB,
                &[WWW_ALPHA_AAAA],
                &[answer(
                    "; authority\ntest. 300 SOA ns1.test. hostmaster.test. 1 7200 3600 1209600 300",
                )],
            ),
        ),
        (
            "seed-validating",
            seed(
                VALIDATING,
                &[WWW_ALPHA_A],
                &[
                    answer(PRIMING),
                    referral(TO_ALPHA),
                    answer("www.alpha.test. 300 A 127.0.0.131"),
                    // The validator's fetches: alpha.test.'s DS (none, unproven), then the
                    // root's keys, the anchor among them, with a signature that does not verify.
                    answer("; authority\n. 86400 SOA a.root-servers. hostmaster.test. 1 1800 900 604800 86400"),
                    answer(DNSKEYS),
                ],
            ),
        ),
    ]
}

const DNSKEYS: &str = concat!(
    ". 86400 DNSKEY 257 3 15 OosCSFZ0+1NZClrZ3CE+mXdWaXOcABoe6kYzbNKM/00=\n",
    ". 86400 RRSIG DNSKEY 15 0 86400 20990101000000 20000101000000 1 . ",
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
);

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/resolve_replies")
}

#[test]
#[ignore = "writes fuzz/corpus/resolve_replies/seed-*; run by hand after a layout change"]
fn write_seeds() {
    std::fs::create_dir_all(corpus()).expect("corpus folder");
    for (file, bytes) in seeds() {
        std::fs::write(corpus().join(file), bytes).expect("seed written");
    }
}

#[test]
fn the_seeds_in_the_corpus_are_these() {
    assert!(DNSKEYS.contains(ANCHOR_KEY));
    for (file, bytes) in seeds() {
        let on_disk = std::fs::read(corpus().join(file)).expect("seed file (see the module doc)");
        assert!(on_disk == bytes, "{file} differs: write the seeds again");
    }
}

async fn run(file: &str) -> Report {
    let (_, bytes) = seeds().into_iter().find(|(f, _)| *f == file).expect("seed");
    resolve_replies(&bytes).await
}

fn noerror(records: &str) -> String {
    format!("{} (unchecked): {records}", ResponseCode::NoError)
}

#[tokio::test(start_paused = true)]
async fn a_referral_then_an_answer_and_the_same_from_the_cache() {
    let report = run("seed-referral-answer").await;
    let a = noerror("www.alpha.test. 300 IN A 127.0.0.131");
    assert_eq!(report.outcomes, [a.clone(), a], "{report:?}");
    assert_eq!(report.sent.len(), 3, "{report:?}");
}

#[tokio::test(start_paused = true)]
async fn an_alias_into_another_zone_is_followed_there_and_the_stray_address_ignored() {
    let report = run("seed-cname-cross-zone").await;
    let first = &report.outcomes[0];
    assert!(first.contains("CNAME www.beta.test."), "{report:?}");
    assert!(first.contains("127.0.0.132") && !first.contains("192.0.2.66"));
    assert_eq!(report.sent.len(), 5, "{report:?}");
    assert!(report.sent[4].starts_with("127.0.0.32:53 www.beta.test. A"));
}

#[tokio::test(start_paused = true)]
async fn nxdomain_with_its_soa_is_cached() {
    let report = run("seed-nxdomain-soa").await;
    let nx = format!("{} (unchecked): ", ResponseCode::NXDomain);
    assert_eq!(report.outcomes, [nx.clone(), nx], "{report:?}");
    assert_eq!(report.sent.len(), 3, "{report:?}");
}

#[tokio::test(start_paused = true)]
async fn a_truncated_reply_is_asked_again_over_tcp() {
    let report = run("seed-truncated").await;
    assert!(report.outcomes[0].contains("over TCP"), "{report:?}");
    assert!(report.sent[3].ends_with("TXT TCP"), "{report:?}");
}

#[tokio::test(start_paused = true)]
async fn a_glueless_name_server_is_looked_up_on_the_side() {
    let report = run("seed-glueless").await;
    let a = noerror("www.alpha.test. 300 IN A 127.0.0.131");
    assert_eq!(report.outcomes[0], a, "{report:?}");
    assert!(report.sent[2].contains("ns1.beta.test. A"), "{report:?}");
    assert!(report.sent[4].starts_with("127.0.0.32:53 www.alpha.test. A"));
}

#[tokio::test(start_paused = true)]
async fn a_validating_walk_asks_for_keys_and_never_calls_anything_secure() {
    let report = run("seed-validating").await;
    assert!(report.sent[4].contains(". DNSKEY"), "{report:?}");
    // Bogus: the anchor's key signed nothing. Served (a CD=1 client may have it), briefly.
    assert!(report.outcomes[0].contains("(bogus ("), "{report:?}");
    assert!(
        report.outcomes[1].contains("60 IN A 127.0.0.131"),
        "{report:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_minimised_walk_shows_each_zone_one_label_more() {
    let report = run("seed-minimised-walk").await;
    let a = noerror("www.alpha.test. 300 IN A 127.0.0.131");
    assert_eq!(report.outcomes[0], a, "{report:?}");
    assert!(report.sent[1].contains(" test. A"), "{report:?}");
    assert!(
        report.sent[2].starts_with("127.0.0.22:53 alpha.test. A"),
        "{report:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dname_goes_before_the_cname_it_made() {
    let report = run("seed-dname").await;
    let first = &report.outcomes[0];
    // hickory prints a DNAME's RDATA as opaque bytes.
    assert!(first.starts_with(&noerror("alpha.test. 300 IN DNAME ")));
    assert!(
        first.contains(" | www.alpha.test. 300 IN CNAME www.beta.test. | "),
        "{report:?}"
    );
    assert!(
        first.ends_with("www.beta.test. 300 IN A 127.0.0.132"),
        "{report:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_alias_to_itself_fails_as_a_chain_too_long() {
    let report = run("seed-cname-loop").await;
    assert!(
        report.outcomes[0].contains("CNAME chain longer"),
        "{report:?}"
    );
    assert_eq!(report.sent.len(), 3, "{report:?}");
}

#[tokio::test(start_paused = true)]
async fn a_stub_zone_is_asked_directly_and_its_nodata_cached() {
    let report = run("seed-stub-nodata").await;
    assert_eq!(report.outcomes, [noerror(""), noerror("")], "{report:?}");
    assert_eq!(report.sent, ["127.0.0.21:53 www.alpha.test. AAAA UDP"]);
}
