//! RFC 2136 dynamic updates against the `tern serve` binary, sent by BIND's `nsupdate`: signed
//! changes are applied (one serial step per message), unsigned, wrongly signed and
//! prerequisite-failing ones change nothing, a service's names stay the registry's, and what was
//! accepted survives the process being killed and started again (the journal).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};

use crate::support::{self, Serve, TempDir, query, udp_raw};

const SUBNET: u8 = 218;

const ZONE: &str = "$ORIGIN cluster.test.\n$TTL 300\n\
@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.218.0.1\n";

/// `tsig-keygen cluster-key`, with a fixed secret; and the same name with another secret.
const KEY: &str = "key \"cluster-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"rA0vYkUtMYbHyasRqZjFKV7wWJrYcXs2xJ0C9Rk0u0o=\";\n};\n";
const FORGED: &str = "key \"cluster-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\";\n};\n";

fn config(dir: &Path, server: SocketAddr) -> PathBuf {
    std::fs::write(dir.join("cluster.test.zone"), ZONE).expect("zone");
    std::fs::write(dir.join("cluster-key.key"), KEY).expect("key");
    std::fs::write(dir.join("forged.key"), FORGED).expect("forged key");
    let text = format!(
        "[server]\nlisten = [\"{server}\"]\nno_recursion = true\n\
         [[tsig_key]]\nfile = \"cluster-key.key\"\n\
         [[zone]]\norigin = \"cluster.test.\"\nfile = \"cluster.test.zone\"\n\
         update_keys = [\"cluster-key\"]\n\
         [[service]]\nzone = \"cluster.test.\"\nname = \"web\"\n\
         [[service.instance]]\nname = \"web-1\"\naddress = \"127.218.0.80\"\nport = 8080\n"
    );
    let path = dir.join("tern.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// Each test has its own tern; the file names are the same, the directory and port differ.
/// Warnings and errors go to tern.log beside the config (appended across restarts).
fn start(config: &Path) -> Serve {
    Serve::start(config, "warn", &config.with_file_name("tern.log"))
}

async fn ask(server: SocketAddr, qname: &str, qtype: RecordType) -> Option<Message> {
    let msg = query(qname, qtype, false, Some(1232));
    let reply = udp_raw(
        server,
        &msg.to_vec().expect("encode"),
        Duration::from_millis(300),
    )
    .await?;
    Message::from_vec(&reply).ok()
}

/// The zone's serial, once the server answers (bounded: 5 s).
async fn serial(server: SocketAddr) -> Option<u32> {
    for _ in 0..50 {
        if let Some(m) = ask(server, "cluster.test.", RecordType::SOA).await
            && let Some(RData::SOA(soa)) = m.answers.first().map(|r| &r.data)
        {
            return Some(soa.serial);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// The RDATA of `qname`'s `qtype` RRset, as text (empty when there is none).
async fn rdata(server: SocketAddr, qname: &str, qtype: RecordType) -> Vec<String> {
    let m = ask(server, qname, qtype).await.expect("an answer");
    let mut out: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
    out.sort();
    out
}

fn nsupdate(args: &[&str], server: SocketAddr, commands: &str) -> Output {
    client("nsupdate", args, server, commands)
}

/// Runs BIND's `nsupdate` or Knot's `knsupdate` (same script language) on one update.
fn client(tool: &str, args: &[&str], server: SocketAddr, commands: &str) -> Output {
    let script = format!(
        "server {} {}\nzone cluster.test.\n{commands}send\nquit\n",
        server.ip(),
        server.port()
    );
    support::update_client(tool, args, &script)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn nsupdate_changes_are_signed_checked_and_durable() {
    let dir = TempDir::new("update");
    let server = SocketAddr::new(support::addr(SUBNET, 1), 5302);
    let config = config(&dir.0, server);
    let key = dir.0.join("cluster-key.key");
    let key = key.to_str().expect("utf-8 path");
    let forged = dir.0.join("forged.key");
    let forged = forged.to_str().expect("utf-8 path");

    let tern = start(&config);
    // The service's records count as a change to the file's zone: its serial is one past 1.
    let first = serial(server).await.expect("tern serves cluster.test.");

    // A signed update over UDP: two RRsets, one message, one serial step.
    let out = nsupdate(
        &["-k", key],
        server,
        "update add x.cluster.test. 300 A 192.0.2.7\n\
         update add _x._tcp.cluster.test. 300 SRV 0 1 8080 x.cluster.test.\n",
    );
    assert!(out.status.success(), "signed add: {}", stderr(&out));
    assert_eq!(
        rdata(server, "x.cluster.test.", RecordType::A).await,
        ["192.0.2.7"]
    );
    assert_eq!(
        rdata(server, "_x._tcp.cluster.test.", RecordType::SRV).await,
        ["0 1 8080 x.cluster.test."]
    );
    assert_eq!(serial(server).await, Some(first.wrapping_add(1)));

    // Refused, each for its own reason, and none of them changes anything.
    let add_y = "update add y.cluster.test. 300 A 192.0.2.8\n";
    let out = nsupdate(&[], server, add_y);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("REFUSED"),
        "unsigned: {}",
        stderr(&out)
    );
    let out = nsupdate(&["-k", forged], server, add_y);
    assert!(
        stderr(&out).contains("NOTAUTH(BADSIG)"),
        "forged: {}",
        stderr(&out)
    );
    let out = nsupdate(
        &["-k", key],
        server,
        &format!("prereq nxdomain x.cluster.test.\n{add_y}"),
    );
    assert!(
        stderr(&out).contains("YXDOMAIN"),
        "prereq: {}",
        stderr(&out)
    );
    let out = nsupdate(&["-k", key], server, "update delete web.cluster.test. A\n");
    assert!(
        stderr(&out).contains("REFUSED"),
        "service: {}",
        stderr(&out)
    );
    assert!(
        rdata(server, "y.cluster.test.", RecordType::A)
            .await
            .is_empty()
    );
    assert_eq!(
        rdata(server, "web.cluster.test.", RecordType::A).await,
        ["127.218.0.80"]
    );
    assert_eq!(serial(server).await, Some(first.wrapping_add(1)));

    // Over TCP (-v): a delete and an add.
    let out = nsupdate(
        &["-v", "-k", key],
        server,
        &format!("update delete x.cluster.test. A\n{add_y}"),
    );
    assert!(out.status.success(), "signed TCP update: {}", stderr(&out));
    assert_eq!(serial(server).await, Some(first.wrapping_add(2)));

    // Killed and started again: the journal brings the updates back.
    drop(tern);
    assert!(dir.0.join("cluster.test.zone.jnl").is_file());
    let _tern = start(&config);
    // Never lower than before (secondaries would stop following); registering the service
    // again at start may step it once more.
    let after = serial(server)
        .await
        .expect("tern serves cluster.test. again");
    assert!(
        (first.wrapping_add(2)..=first.wrapping_add(3)).contains(&after),
        "serial {after} after a restart, {} before",
        first.wrapping_add(2)
    );
    let gone = ask(server, "x.cluster.test.", RecordType::A)
        .await
        .expect("an answer");
    assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(
        rdata(server, "y.cluster.test.", RecordType::A).await,
        ["192.0.2.8"]
    );
    assert_eq!(
        rdata(server, "_x._tcp.cluster.test.", RecordType::SRV).await,
        ["0 1 8080 x.cluster.test."]
    );
    // And updates go on from the serial served now.
    let out = nsupdate(
        &["-k", key],
        server,
        "update delete _x._tcp.cluster.test. SRV\n",
    );
    assert!(out.status.success(), "after a restart: {}", stderr(&out));
    assert_eq!(serial(server).await, Some(after.wrapping_add(1)));
    assert!(
        rdata(server, "_x._tcp.cluster.test.", RecordType::SRV)
            .await
            .is_empty()
    );
}

/// Polls until `qname`'s `qtype` RRset reads `want` (bounded: 5 s); what it read last.
async fn eventually(
    server: SocketAddr,
    qname: &str,
    qtype: RecordType,
    want: &[&str],
) -> Vec<String> {
    let mut got = Vec::new();
    for _ in 0..50 {
        got = rdata(server, qname, qtype).await;
        if got == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    got
}

fn sighup(tern: &Serve) {
    support::signal(&tern.0, "HUP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knsupdate_interoperates_and_reload_keeps_dynamic_records() {
    let dir = TempDir::new("update-reload");
    let server = SocketAddr::new(support::addr(SUBNET, 2), 5303);
    let config = config(&dir.0, server);
    let tern = start(&config);
    let first = serial(server).await.expect("tern serves cluster.test.");

    // Knot's client, the key given inline, TXT and CNAME in one message.
    let secret = "hmac-sha256:cluster-key:rA0vYkUtMYbHyasRqZjFKV7wWJrYcXs2xJ0C9Rk0u0o=";
    let out = client(
        "knsupdate",
        &["-y", secret],
        server,
        "update add info.cluster.test. 60 TXT \"owner=lab\"\n\
         update add alias.cluster.test. 60 CNAME web.cluster.test.\n",
    );
    assert!(out.status.success(), "knsupdate: {}", stderr(&out));
    assert_eq!(
        rdata(server, "info.cluster.test.", RecordType::TXT).await,
        ["owner=lab"]
    );
    let alias = ask(server, "alias.cluster.test.", RecordType::A)
        .await
        .expect("an answer");
    let chain: Vec<String> = alias.answers.iter().map(|r| r.data.to_string()).collect();
    assert_eq!(
        chain,
        ["web.cluster.test.", "127.218.0.80"],
        "CNAME followed"
    );
    assert_eq!(serial(server).await, Some(first.wrapping_add(1)));

    // Without a `zone` line nsupdate finds the zone with a signed SOA query first, and
    // accepts only a signed answer to it.
    let key = dir.0.join("cluster-key.key");
    let key = key.to_str().expect("utf-8 path");
    let script = format!(
        "server {} {}\nupdate add found.cluster.test. 60 A 127.218.0.7\nsend\n",
        server.ip(),
        server.port()
    );
    let out = support::update_client("nsupdate", &["-k", key], &script);
    assert!(
        out.status.success(),
        "zone found by a signed query: {}",
        stderr(&out)
    );
    assert_eq!(
        rdata(server, "found.cluster.test.", RecordType::A).await,
        ["127.218.0.7"]
    );
    assert_eq!(serial(server).await, Some(first.wrapping_add(2)));

    // The file is edited (serial 100, one more record) and reloaded: the file's change and
    // the dynamic records are both served, at the file's later serial.
    let edited = format!(
        "{}extra A 127.218.0.9\n",
        ZONE.replace("hostmaster 1 ", "hostmaster 100 ")
    );
    std::fs::write(dir.0.join("cluster.test.zone"), edited).expect("edit zone");
    sighup(&tern);
    assert_eq!(
        eventually(
            server,
            "extra.cluster.test.",
            RecordType::A,
            &["127.218.0.9"]
        )
        .await,
        ["127.218.0.9"],
        "the reload is served"
    );
    assert_eq!(
        rdata(server, "info.cluster.test.", RecordType::TXT).await,
        ["owner=lab"],
        "a reload never erases dynamic records"
    );
    assert_eq!(serial(server).await, Some(100));

    // A broken file: the reload is refused and everything stays as it was.
    std::fs::write(
        dir.0.join("cluster.test.zone"),
        "$ORIGIN cluster.test.\n@ SOA broken\n",
    )
    .expect("break zone");
    sighup(&tern);
    let log = dir.0.join("tern.log");
    let mut refused = false;
    for _ in 0..50 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("reload failed") {
            assert!(
                text.contains("cluster.test.zone:2"),
                "names file:line: {text}"
            );
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "the broken reload is reported");
    // Updates still work and step on from the served serial.
    let out = nsupdate(
        &[
            "-k",
            dir.0.join("cluster-key.key").to_str().expect("utf-8 path"),
        ],
        server,
        "update delete alias.cluster.test. CNAME\n",
    );
    assert!(
        out.status.success(),
        "update after a failed reload: {}",
        stderr(&out)
    );
    assert_eq!(serial(server).await, Some(101));
    assert_eq!(
        rdata(server, "extra.cluster.test.", RecordType::A).await,
        ["127.218.0.9"]
    );
    assert_eq!(
        rdata(server, "info.cluster.test.", RecordType::TXT).await,
        ["owner=lab"]
    );
}

/// `tern key generate NAME` and `tern key knot FILE` on the command line, as the README says.
fn tern_key(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("key")
        .args(args)
        .output()
        .expect("run tern key");
    assert!(out.status.success(), "tern key {args:?}: {}", stderr(&out));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[tokio::test]
async fn a_key_tern_generates_signs_updates_from_nsupdate_and_knsupdate() {
    let dir = TempDir::new("update-keygen");
    let server = SocketAddr::new(support::addr(SUBNET, 3), 5304);
    let config = config(&dir.0, server);
    // The fixed key `config` wrote is replaced by a fresh one, in both tools' forms.
    let bind = dir.0.join("cluster-key.key");
    std::fs::write(&bind, tern_key(&["generate", "cluster-key"])).expect("key file");
    let bind = bind.to_str().expect("utf-8 path");
    let knot = dir.0.join("cluster-key.knot");
    std::fs::write(&knot, tern_key(&["knot", bind])).expect("knot key file");
    let knot = knot.to_str().expect("utf-8 path");
    let _tern = start(&config);
    let first = serial(server).await.expect("tern serves cluster.test.");

    let out = nsupdate(
        &["-k", bind],
        server,
        "update add b.cluster.test. 60 A 192.0.2.11\n",
    );
    assert!(out.status.success(), "nsupdate -k: {}", stderr(&out));
    let out = client(
        "knsupdate",
        &["-k", knot],
        server,
        "update add k.cluster.test. 60 A 192.0.2.12\n",
    );
    assert!(out.status.success(), "knsupdate -k: {}", stderr(&out));
    assert_eq!(
        rdata(server, "b.cluster.test.", RecordType::A).await,
        ["192.0.2.11"]
    );
    assert_eq!(
        rdata(server, "k.cluster.test.", RecordType::A).await,
        ["192.0.2.12"]
    );
    assert_eq!(serial(server).await, Some(first.wrapping_add(2)));
    // The old fixed key no longer signs anything tern accepts.
    std::fs::write(dir.0.join("old.key"), KEY).expect("old key");
    let old = dir.0.join("old.key");
    let out = nsupdate(
        &["-k", old.to_str().expect("utf-8 path")],
        server,
        "update add o.cluster.test. 60 A 192.0.2.13\n",
    );
    assert!(!out.status.success(), "an old secret is refused");
}
