//! tern's replication client (`tern::replication::fetch`) against NSD as a primary: the SOA
//! query, AXFR with and without TSIG (a multi-message signed stream), IXFR, and NOTIFY.
//!
//! Each test runs its own NSD on `127.219.0.<n>:53` from a generated config in a temporary
//! folder, serving `open.test.` (transfers and NOTIFY allowed without a key) and `keyed.test.`
//! (both only with `transfer-key`; large enough for a transfer of many messages). NSD must be
//! installed: without it these tests fail rather than silently pass. NSD is stopped by the
//! PID this test started, never by name.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{Record, RecordType};

use crate::support::nsd::Nsd;
use crate::support::{TempDir, addr, name};
use tern::{FetchError, query_soa, request_transfer as transfer, send_notify as notify};
use tern::{TsigClientError, TsigKey as Key, parse_tsig_keys as parse_keys};

const SUBNET: u8 = 219;
const WAIT: Duration = Duration::from_secs(10);

const SECRET: &str = "rA0vYkUtMYbHyasRqZjFKV7wWJrYcXs2xJ0C9Rk0u0o=";
const WRONG_SECRET: &str = "c2VjcmV0IHRoYXQgbnNkIGRvZXMgbm90IGtub3cgYXQgYWxs";

const OPEN_ZONE: &str = "$ORIGIN open.test.\n$TTL 300\n\
@    IN SOA ns1.open.test. admin.open.test. 7 3600 600 86400 300\n\
@    IN NS  ns1.open.test.\n\
ns1  IN A   192.0.2.53\n\
www  IN A   192.0.2.1\n\
www  IN AAAA 2001:db8::1\n\
mail IN MX  10 www.open.test.\n\
@    IN TXT \"v=spf1 -all\"\n";

/// TXT records in `keyed.test.`: about 30 NSD transfer messages, each signed and chained.
const KEYED_RECORDS: usize = 5000;

fn keyed_zone() -> String {
    let mut text = String::from(
        "$ORIGIN keyed.test.\n$TTL 300\n\
         @   IN SOA ns1.keyed.test. admin.keyed.test. 2024010101 3600 600 86400 300\n\
         @   IN NS  ns1.keyed.test.\n\
         ns1 IN A   192.0.2.53\n",
    );
    for i in 0..KEYED_RECORDS {
        text.push_str(&format!(
            "host{i} IN TXT \"replication record {i}, padded so the zone spans many messages\"\n"
        ));
    }
    text
}

fn key_named(key_name: &str, secret: &str) -> Key {
    let text = format!("key \"{key_name}\" {{ algorithm hmac-sha256; secret \"{secret}\"; }};\n");
    parse_keys(&text, Path::new("test.key"))
        .expect("key text")
        .remove(0)
}

/// NSD, the primary, and what the tests ask of it.
struct Primary {
    /// Held for its drop, which stops NSD (before `dir` goes).
    _nsd: Nsd,
    server: SocketAddr,
    dir: TempDir,
}

impl Primary {
    fn zone_file(&self, zone: &str) -> PathBuf {
        self.dir.0.join(format!("{zone}zone"))
    }
}

/// Starts NSD on `127.219.0.<host>:53` and waits until it answers.
async fn start_nsd(host: u8) -> Primary {
    let ip: IpAddr = addr(SUBNET, host);
    let dir = TempDir::new(&format!("repl-fetch-{host}"));
    std::fs::write(dir.0.join("open.test.zone"), OPEN_ZONE).expect("zone file");
    std::fs::write(dir.0.join("keyed.test.zone"), keyed_zone()).expect("zone file");
    let sections = format!(
        "key:\n  name: \"transfer-key\"\n  algorithm: hmac-sha256\n  secret: \"{SECRET}\"\n\
         zone:\n  name: \"open.test\"\n  zonefile: \"open.test.zone\"\n  \
         provide-xfr: 127.0.0.0/8 NOKEY\n  allow-notify: 127.0.0.0/8 NOKEY\n\
         zone:\n  name: \"keyed.test\"\n  zonefile: \"keyed.test.zone\"\n  \
         provide-xfr: 127.0.0.0/8 transfer-key\n  allow-notify: 127.0.0.0/8 transfer-key\n"
    );
    let mut nsd = Nsd::start_with(&dir.0, ip, &sections);
    let server = SocketAddr::new(ip, 53);
    nsd.wait_ready(server, "open.test.").await;
    Primary {
        _nsd: nsd,
        server,
        dir,
    }
}

/// Records as comparable text: owner lower-cased, TTL, class, type, RDATA.
fn texts<'r>(records: impl IntoIterator<Item = &'r Record>) -> Vec<String> {
    let mut v: Vec<String> = records
        .into_iter()
        .map(|r| r.to_string().to_lowercase())
        .collect();
    v.sort();
    v
}

/// The records of a zone file, as `texts`.
fn zone_file_records(path: &Path, origin: &str) -> Vec<String> {
    let located = tern::parse_zone_file(path, Some(&name(origin))).expect("zone file");
    texts(located.iter().map(|l| &l.record))
}

/// An AXFR through `transfer`: every answer record, and the messages (signed or not) they
/// came in. Complete at the SOA that closes the zone (RFC 5936 §2.2).
async fn axfr(
    nsd: &Primary,
    zone: &str,
    key: Option<&Key>,
) -> Result<(Vec<Record>, usize, usize), FetchError> {
    let mut records: Vec<Record> = Vec::new();
    let (mut messages, mut signed) = (0, 0);
    transfer(nsd.server, &name(zone), None, key, WAIT, |m: &Message| {
        messages += 1;
        signed += usize::from(m.signature().is_some());
        records.extend(m.answers.iter().cloned());
        let closed =
            records.len() > 1 && records.last().map(Record::record_type) == Some(RecordType::SOA);
        Ok::<bool, String>(closed)
    })
    .await?;
    Ok((records, messages, signed))
}

#[tokio::test]
async fn nsd_soa_and_unsigned_axfr_and_ixfr() {
    let nsd = start_nsd(1).await;
    let zone = name("open.test.");

    let soa = query_soa(nsd.server, &zone, None, WAIT)
        .await
        .expect("NSD's SOA");
    let file = zone_file_records(&nsd.zone_file("open.test."), "open.test.");
    let file_soa = file.iter().find(|l| l.contains(" soa ")).expect("SOA");
    assert_eq!(&texts([&soa])[0], file_soa);

    let (records, messages, signed) = axfr(&nsd, "open.test.", None).await.expect("AXFR");
    assert_eq!(
        (messages, signed),
        (1, 0),
        "a small zone fits one unsigned message"
    );
    // The SOA opens and closes the transfer; in between, every record of the file once.
    assert_eq!(records.len(), file.len() + 1);
    assert_eq!(texts(&records[..records.len() - 1]), file);

    // IXFR from the current serial: NSD (which keeps no history here) answers with the zone
    // or with the SOA alone; either way the request must have been understood.
    let mut answers = Vec::new();
    transfer(nsd.server, &zone, Some(&soa), None, WAIT, |m: &Message| {
        answers.extend(m.answers.iter().cloned());
        Ok::<bool, String>(
            answers.len() == 1 || answers.last().map(Record::record_type) == Some(RecordType::SOA),
        )
    })
    .await
    .expect("IXFR");
    assert_eq!(
        texts([&answers[0]]),
        texts([&soa]),
        "IXFR starts with the SOA"
    );

    // The keyed zone without the key: NSD refuses, and the error says who and what.
    let err = axfr(&nsd, "keyed.test.", None).await.expect_err("no key");
    assert!(
        matches!(
            err,
            FetchError::Rcode {
                rcode: ResponseCode::Refused | ResponseCode::NotAuth,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("127.219.0.1:53"), "{err}");
}

#[tokio::test]
async fn nsd_signed_axfr_verifies_and_a_wrong_key_fails_clearly() {
    let nsd = start_nsd(2).await;
    let key = key_named("transfer-key", SECRET);

    let soa = query_soa(nsd.server, &name("keyed.test."), Some(&key), WAIT)
        .await
        .expect("signed SOA query");
    assert!(soa.to_string().contains("2024010101"), "{soa}");

    let (records, messages, signed) = axfr(&nsd, "keyed.test.", Some(&key))
        .await
        .expect("signed AXFR");
    assert!(messages > 10, "a multi-message stream: {messages} messages");
    assert!(
        signed >= 2,
        "first and last signed at least: {signed} of {messages}"
    );
    let file = zone_file_records(&nsd.zone_file("keyed.test."), "keyed.test.");
    assert_eq!(file.len(), KEYED_RECORDS + 3);
    assert_eq!(records.len(), file.len() + 1);
    assert_eq!(texts(&records[..records.len() - 1]), file);

    // The right name with the wrong secret: NSD answers BADSIG (RFC 8945 §5.2.2).
    let impostor = key_named("transfer-key", WRONG_SECRET);
    let err = axfr(&nsd, "keyed.test.", Some(&impostor))
        .await
        .expect_err("wrong secret");
    assert!(
        matches!(
            err,
            FetchError::Tsig {
                error: TsigClientError::Rejected(TsigError::BadSig),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("rejected our TSIG"), "{err}");

    // A key NSD does not know: BADKEY (§5.2.1).
    let stranger = key_named("stranger-key", SECRET);
    let err = axfr(&nsd, "keyed.test.", Some(&stranger))
        .await
        .expect_err("unknown key");
    assert!(
        matches!(
            err,
            FetchError::Tsig {
                error: TsigClientError::Rejected(TsigError::BadKey),
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test]
async fn nsd_accepts_our_notify() {
    let nsd = start_nsd(3).await;
    let open = name("open.test.");
    let soa = query_soa(nsd.server, &open, None, WAIT).await.expect("SOA");
    notify(nsd.server, &open, &soa, None, WAIT)
        .await
        .expect("NOTIFY answered NOERROR");

    let keyed = name("keyed.test.");
    let key = key_named("transfer-key", SECRET);
    let soa = query_soa(nsd.server, &keyed, Some(&key), WAIT)
        .await
        .expect("SOA");
    notify(nsd.server, &keyed, &soa, Some(&key), WAIT)
        .await
        .expect("signed NOTIFY answered NOERROR, response verified");
    let err = notify(nsd.server, &keyed, &soa, None, WAIT)
        .await
        .expect_err("unsigned NOTIFY for a keyed zone");
    assert!(matches!(err, FetchError::Rcode { .. }), "{err}");
}
