//! Review of `tern ctl` against a running `tern serve` (subnet 110): `tern ctl reload` is
//! documented as the same as SIGHUP (`systemctl reload tern`), which also reopens the query
//! log after logrotate renamed it.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use hickory_proto::rr::RecordType;

use crate::control::ok;
use crate::support::{self, Serve, TempDir, query, udp_raw};

const SUBNET: u8 = 110;

const ZONE: &str = "$ORIGIN rv.test.\n$TTL 300\n\
@ SOA ns hostmaster 1 3600 600 86400 300\n@ NS ns\nns A 127.110.0.1\nhost A 192.0.2.1\n";

async fn ask(server: SocketAddr, qname: &str) {
    let msg = query(qname, RecordType::A, false, Some(1232));
    udp_raw(
        server,
        &msg.to_vec().expect("encode"),
        support::REPLY_TIMEOUT,
    )
    .await
    .unwrap_or_else(|| panic!("no reply to {qname}"));
}

/// Waits until `path` holds a line naming `qname`.
async fn logged(path: &Path, qname: &str) -> bool {
    for _ in 0..60 {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(&format!("\"qname\":\"{qname}\"")) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tern_ctl_reload_reopens_the_query_log_as_sighup_does() {
    let dir = TempDir::new("control-review");
    let at = SocketAddr::new(support::addr(SUBNET, 1), 53);
    std::fs::write(dir.0.join("rv.test.zone"), ZONE).expect("zone");
    let config = dir.0.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{at}\"]\nno_recursion = true\n\
             [control]\nsocket = \"run/control.sock\"\n\
             [log]\nqueries = \"queries.jsonl\"\n\
             [[zone]]\norigin = \"rv.test.\"\nfile = \"rv.test.zone\"\n"
        ),
    )
    .expect("config");
    let socket = dir.0.join("run/control.sock");
    let _serve = Serve::start(&config, "info", &dir.0.join("tern.log"));
    for _ in 0..200 {
        if socket.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (log, rotated) = (dir.0.join("queries.jsonl"), dir.0.join("queries.jsonl.1"));
    ask(at, "first.rv.test.").await;
    assert!(logged(&log, "first.rv.test.").await, "first line logged");
    // logrotate: rename, then the postrotate command.
    std::fs::rename(&log, &rotated).expect("rename");
    let reloaded = ok(&socket, &["reload"]).await;
    assert!(reloaded.contains("zones reloaded"), "{reloaded}");
    ask(at, "second.rv.test.").await;
    assert!(
        logged(&log, "second.rv.test.").await,
        "after tern ctl reload the lines go to a new file at the log's path; they went to {}:\n{}",
        rotated.display(),
        std::fs::read_to_string(&rotated).unwrap_or_default()
    );
}

/// The shipped unit runs tern under `ProtectSystem=strict`: it may write only the folders the
/// unit names. The README's query log (`[log] queries`, and its logrotate stanza) lives under
/// /var/log/tern, which the unit must then grant (`LogsDirectory=tern`), or `tern serve`
/// stops at start with "Read-only file system".
#[test]
fn the_unit_lets_tern_write_the_query_log_where_the_readme_puts_it() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README");
    let unit = std::fs::read_to_string(format!("{root}/zones/contrib/tern.service")).expect("unit");
    let example = readme
        .lines()
        .find_map(|l| l.trim().strip_prefix("queries = \"")?.split('"').next())
        .expect("the README's [log] queries example");
    let folder = Path::new(example).parent().expect("a folder");
    assert!(unit.contains("ProtectSystem=strict"), "{unit}");
    let setting = |key: &str| -> Vec<String> {
        unit.lines()
            .filter_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
            .flat_map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
            .collect()
    };
    let mut writable: Vec<std::path::PathBuf> = Vec::new();
    for (key, base) in [
        ("LogsDirectory", "/var/log"),
        ("StateDirectory", "/var/lib"),
        ("RuntimeDirectory", "/run"),
    ] {
        writable.extend(setting(key).iter().map(|d| Path::new(base).join(d)));
    }
    writable.extend(
        setting("ReadWritePaths")
            .iter()
            .map(std::path::PathBuf::from),
    );
    assert!(
        writable.iter().any(|w| folder.starts_with(w)),
        "{} (the README's query log) is not writable under the unit; it grants {writable:?}",
        folder.display()
    );
}
