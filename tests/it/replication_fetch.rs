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
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::tsig::TsigError;
use hickory_proto::rr::{Record, RecordType};

use crate::support::{self, addr, name};
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

/// A running NSD; stopped by its PID (and its folder removed) when dropped, also on panic.
struct Nsd {
    child: Child,
    dir: PathBuf,
    server: SocketAddr,
}

impl Drop for Nsd {
    fn drop(&mut self) {
        // SIGTERM, so NSD stops its own children; SIGKILL only if it lingers.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Nsd {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nsd.log")).unwrap_or_default()
    }

    fn zone_file(&self, zone: &str) -> PathBuf {
        self.dir.join(format!("{zone}zone"))
    }
}

/// Starts NSD on `127.219.0.<host>:53` and waits until it answers.
async fn start_nsd(host: u8) -> Nsd {
    let binary = support::system_binary("nsd", "NSD (Debian package nsd), the primary");
    let ip: IpAddr = addr(SUBNET, host);
    let dir = std::env::temp_dir().join(format!("tern-repl-fetch-{}-{host}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("NSD state folder");
    std::fs::write(dir.join("open.test.zone"), OPEN_ZONE).expect("zone file");
    std::fs::write(dir.join("keyed.test.zone"), keyed_zone()).expect("zone file");
    let state = dir.display();
    let conf = format!(
        "server:\n  ip-address: {ip}\n  port: 53\n  do-ip6: no\n  server-count: 1\n  \
         username: \"\"\n  chroot: \"\"\n  zonesdir: \"{state}\"\n  pidfile: \"{state}/nsd.pid\"\n  \
         database: \"\"\n  zonelistfile: \"{state}/zone.list\"\n  xfrdfile: \"{state}/xfrd.state\"\n  \
         xfrdir: \"{state}\"\n  logfile: \"{state}/nsd.log\"\n  rrl-ratelimit: 0\n\
         remote-control:\n  control-enable: no\n\
         key:\n  name: \"transfer-key\"\n  algorithm: hmac-sha256\n  secret: \"{SECRET}\"\n\
         zone:\n  name: \"open.test\"\n  zonefile: \"open.test.zone\"\n  \
         provide-xfr: 127.0.0.0/8 NOKEY\n  allow-notify: 127.0.0.0/8 NOKEY\n\
         zone:\n  name: \"keyed.test\"\n  zonefile: \"keyed.test.zone\"\n  \
         provide-xfr: 127.0.0.0/8 transfer-key\n  allow-notify: 127.0.0.0/8 transfer-key\n"
    );
    let conf_path = dir.join("nsd.conf");
    std::fs::write(&conf_path, conf).expect("nsd.conf");
    let child = Command::new(binary)
        .arg("-d")
        .arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nsd");
    let mut nsd = Nsd {
        child,
        dir,
        server: SocketAddr::new(ip, 53),
    };
    let deadline = Instant::now() + WAIT;
    let open = name("open.test.");
    loop {
        if let Ok(Some(status)) = nsd.child.try_wait() {
            panic!("nsd exited during startup ({status}); log:\n{}", nsd.log());
        }
        let probe = query_soa(nsd.server, &open, None, Duration::from_millis(200));
        if probe.await.is_ok() {
            return nsd;
        }
        assert!(
            Instant::now() < deadline,
            "nsd did not answer on {} within {WAIT:?}; log:\n{}",
            nsd.server,
            nsd.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
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
    nsd: &Nsd,
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
