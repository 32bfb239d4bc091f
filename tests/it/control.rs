//! `tern ctl` against a running `tern serve` (subnet 61): stats, zones, services, dump-cache,
//! flush (the next query fetched afresh, also after the hit path answered it), reload (good
//! and broken zone file), and the error when nothing listens. Also the system-resolver role:
//! READY=1 to NOTIFY_SOCKET once the listeners are up, exit 0 on SIGTERM with the socket
//! removed, a stub zone pointed at tern itself answered SERVFAIL without a packet sent, and the
//! unit file passing `systemd-analyze verify`.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;

use crate::support::{self, Serve, TempDir, query, udp_raw};

const SUBNET: u8 = 61;

/// Where tern listens: outside the lab's addresses (127.61.0.11..150).
fn tern_addr(host: u8) -> SocketAddr {
    SocketAddr::new(support::addr(SUBNET, host), 53)
}

const ZONE_V1: &str = "$ORIGIN local.test.\n$TTL 300\n\
@ SOA ns hostmaster 1 3600 600 86400 300\n@ NS ns\nns A 127.61.0.200\nhost A 192.0.2.1\n";
const ZONE_V2: &str = "$ORIGIN local.test.\n$TTL 300\n\
@ SOA ns hostmaster 2 3600 600 86400 300\n@ NS ns\nns A 127.61.0.200\nhost A 192.0.2.2\n";

/// `tern ctl --socket SOCKET ARGS...`: exit success, stdout, stderr.
pub(crate) async fn ctl(socket: &Path, args: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_tern"))
        .arg("ctl")
        .arg("--socket")
        .arg(socket)
        .args(args)
        .output()
        .await
        .expect("run tern ctl");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `tern ctl ARGS` that must succeed; its output.
pub(crate) async fn ok(socket: &Path, args: &[&str]) -> String {
    let (success, out, err) = ctl(socket, args).await;
    assert!(success, "tern ctl {args:?} failed: {err}");
    out
}

/// One counter of `tern ctl stats`.
async fn stat(socket: &Path, name: &str) -> u64 {
    let out = ok(socket, &["stats"]).await;
    out.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in stats:\n{out}"))
}

/// local.test.'s serial in `tern ctl zones` output.
fn serial(zones: &str) -> u32 {
    zones
        .lines()
        .find_map(|l| {
            l.strip_prefix("local.test. ")?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no local.test. in {zones}"))
}

async fn ask(server: SocketAddr, qname: &str, qtype: RecordType) -> Message {
    let msg = query(qname, qtype, true, Some(1232));
    let reply = udp_raw(
        server,
        &msg.to_vec().expect("encode"),
        support::REPLY_TIMEOUT,
    )
    .await
    .unwrap_or_else(|| panic!("no reply to {qname}"));
    Message::from_vec(&reply).expect("reply parses")
}

async fn wait_for(path: &Path, what: &str) {
    for _ in 0..200 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what} never appeared at {}", path.display());
}

/// A config serving local.test. and a service, recursing through the lab's root hints.
fn write_config(dir: &Path, listen: SocketAddr, hints: &str, extra: &str) -> (PathBuf, PathBuf) {
    std::fs::write(dir.join("root.hints"), hints).expect("hints");
    std::fs::write(dir.join("local.test.zone"), ZONE_V1).expect("zone");
    let socket = dir.join("run/control.sock");
    let config = dir.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{listen}\"]\n\
             [recursion]\nroot_hints = \"root.hints\"\nallow = [\"127.0.0.0/8\"]\n\
             [control]\nsocket = \"run/control.sock\"\n\
             [[zone]]\norigin = \"local.test.\"\nfile = \"local.test.zone\"\n\
             [[service]]\nzone = \"local.test.\"\nname = \"web\"\n\
             [[service.instance]]\nname = \"web-1\"\naddress = \"127.61.0.91\"\nport = 8080\n\
             {extra}"
        ),
    )
    .expect("config");
    (config, socket)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tern_ctl_steers_a_running_server() {
    let dir = TempDir::new("control");
    let lab = support::start_lab(SUBNET).await;
    let at = tern_addr(200);
    let hints = lab.files.root_hints().expect("lab hints");
    let (config, socket) = write_config(&dir.0, at, hints, "");
    let _serve = Serve::start(&config, "info", &dir.0.join("tern.log"));
    wait_for(&socket, "the control socket").await;
    let mode = std::fs::metadata(&socket)
        .expect("socket")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "root-only");

    // zones: the configured one with its file (its serial moved on by the service's
    // records); the built-in ones only with --all, after it.
    let zones = ok(&socket, &["zones"]).await;
    assert!(!zones.contains(" builtin"), "{zones}");
    let all = ok(&socket, &["zones", "--all"]).await;
    assert!(all.starts_with(&zones), "configured first:\n{all}");
    assert!(
        zones.lines().any(|l| l.starts_with("local.test. ")
            && l.contains(" file ")
            && l.ends_with("local.test.zone")),
        "{zones}"
    );
    assert!(
        all.lines()
            .any(|l| l.starts_with("localhost. ") && l.ends_with(" builtin")),
        "{all}"
    );
    // --config: the socket that config names (relative to the config's folder).
    let by_config = tokio::process::Command::new(env!("CARGO_BIN_EXE_tern"))
        .args(["ctl", "--config"])
        .arg(&config)
        .arg("zones")
        .output()
        .await
        .expect("run tern ctl --config");
    assert!(by_config.status.success(), "{by_config:?}");
    assert_eq!(String::from_utf8_lossy(&by_config.stdout), zones);
    // services: the instance, healthy (no check).
    let services = ok(&socket, &["services"]).await;
    assert!(
        services.contains("web.local.test. web-1 127.61.0.91:8080 healthy unchecked"),
        "{services}"
    );

    // A resolved name, asked twice: the second answer comes from the hit path.
    let first = ask(at, "www.alpha.test.", RecordType::A).await;
    assert_eq!(first.metadata.response_code, ResponseCode::NoError);
    assert!(!first.answers.is_empty());
    ask(at, "www.alpha.test.", RecordType::A).await;
    assert!(
        stat(&socket, "fast_hits").await >= 1,
        "the hit path answered"
    );
    let upstream = stat(&socket, "upstream_queries").await;
    assert!(upstream > 0);
    assert!(stat(&socket, "cache_entries").await > 0);
    assert!(stat(&socket, "cache_bytes").await > 0);

    // dump-cache: zone-file lines with the remaining TTL.
    let dump = ok(&socket, &["dump-cache"]).await;
    assert!(
        dump.lines()
            .any(|l| l.starts_with("www.alpha.test. ") && l.contains(" IN A ")),
        "{dump}"
    );

    // Negative answers are dumped as comments.
    let nx = ask(at, "nope.alpha.test.", RecordType::A).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    let dump = ok(&socket, &["dump-cache"]).await;
    assert!(
        dump.lines()
            .any(|l| l.starts_with("; nope.alpha.test. ") && l.contains(" NXDOMAIN")),
        "{dump}"
    );

    // Without a flush the hit path answers: nothing goes upstream.
    let upstream = stat(&socket, "upstream_queries").await;
    ask(at, "www.alpha.test.", RecordType::A).await;
    assert_eq!(stat(&socket, "upstream_queries").await, upstream);
    // Flushed, the same question is fetched afresh.
    let flushed = ok(&socket, &["flush", "WWW.Alpha.test"]).await;
    assert!(flushed.starts_with("removed "), "{flushed}");
    let again = ask(at, "www.alpha.test.", RecordType::A).await;
    assert_eq!(again.metadata.response_code, ResponseCode::NoError);
    let after = stat(&socket, "upstream_queries").await;
    assert!(after > upstream, "fetched afresh: {upstream} -> {after}");
    let dump = ok(&socket, &["dump-cache"]).await;
    assert!(dump.contains("www.alpha.test. "), "cached again:\n{dump}");
    // flush-zone takes the subtree, flush-all the rest.
    ok(&socket, &["flush-zone", "alpha.test."]).await;
    let dump = ok(&socket, &["dump-cache"]).await;
    assert!(!dump.lines().any(|l| l.contains("alpha.test. ")), "{dump}");
    ok(&socket, &["flush-all"]).await;
    assert_eq!(stat(&socket, "cache_entries").await, 0);

    // reload after editing the zone file.
    let host = |m: &Message| {
        m.answers
            .iter()
            .map(|r| r.data.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        host(&ask(at, "host.local.test.", RecordType::A).await),
        ["192.0.2.1"]
    );
    std::fs::write(dir.0.join("local.test.zone"), ZONE_V2).expect("zone v2");
    assert!(ok(&socket, &["reload"]).await.contains("reloaded"));
    assert_eq!(
        host(&ask(at, "host.local.test.", RecordType::A).await),
        ["192.0.2.2"]
    );
    let serial_before = serial(&zones);
    let serial_after = serial(&ok(&socket, &["zones"]).await);
    assert!(
        serial_after > serial_before,
        "{serial_before} -> {serial_after}"
    );
    // A broken file: the error names file and line, the zones in service stay.
    std::fs::write(
        dir.0.join("local.test.zone"),
        format!("{ZONE_V2}bad A not-an-address\n"),
    )
    .expect("broken zone");
    let (success, _, err) = ctl(&socket, &["reload"]).await;
    assert!(!success);
    assert!(err.contains("reload failed"), "{err}");
    assert!(err.contains("local.test.zone:7"), "file:line in {err}");
    assert_eq!(
        host(&ask(at, "host.local.test.", RecordType::A).await),
        ["192.0.2.2"]
    );

    // Errors: an unknown command, a missing argument.
    let (success, _, err) = ctl(&socket, &["frobnicate"]).await;
    assert!(!success && err.contains("unknown command"), "{err}");
    let (success, _, err) = ctl(&socket, &["flush"]).await;
    assert!(!success && err.contains("usage: flush NAME"), "{err}");
}

#[tokio::test]
async fn tern_ctl_says_clearly_when_nothing_listens() {
    let dir = TempDir::new("control-missing");
    let socket = dir.0.join("control.sock");
    let (success, out, err) = ctl(&socket, &["stats"]).await;
    assert!(!success, "exit status 1");
    assert!(out.is_empty());
    assert!(
        err.contains(&format!("cannot reach tern at {}", socket.display()))
            && err.contains("is `[control] socket` set and tern running?"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_loops_and_a_clean_stop_as_the_system_resolver() {
    use std::os::unix::net::UnixDatagram;
    let dir = TempDir::new("control-notify");
    let at = tern_addr(201);
    // No internet needed: a local zone, and a stub zone whose server is tern itself (a
    // forwarding loop). The root hint leads nowhere.
    let (config, socket) = write_config(
        &dir.0,
        at,
        ". 3600000 NS a.root.test.\na.root.test. 3600000 A 127.61.1.1\n",
        &format!("[[stub]]\nzone = \"loop.test.\"\nservers = [\"{at}\"]\n"),
    );
    let notify_path = dir.0.join("notify.sock");
    let notify = UnixDatagram::bind(&notify_path).expect("notify socket");
    notify
        .set_read_timeout(Some(Duration::from_secs(15)))
        .expect("timeout");
    let log = std::fs::File::create(dir.0.join("tern.log")).expect("log");
    let serve = Serve(
        std::process::Command::new(env!("CARGO_BIN_EXE_tern"))
            .args(["serve", "--config"])
            .arg(&config)
            .env("NOTIFY_SOCKET", &notify_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start tern serve"),
    );
    let mut buf = [0; 256];
    // Not restarted after a signal handler ran (a receive with a timeout, signal(7)).
    let n = loop {
        match notify.recv(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other.expect("READY=1 within 15 s"),
        }
    };
    assert_eq!(&buf[..n], b"READY=1");
    // `systemctl reload` at once: SIGHUP's handler is in place before READY=1 (its default
    // action is death, which systemd would not restart).
    support::signal(&serve.0, "HUP");
    // Ready means listening: the first query is answered.
    let local = ask(at, "host.local.test.", RecordType::A).await;
    assert_eq!(local.metadata.response_code, ResponseCode::NoError);
    assert!(socket.exists(), "the control socket is up before READY=1");

    // The loop: SERVFAIL with the reason, and not one packet sent anywhere.
    let before = stat(&socket, "upstream_queries").await;
    let looped = ask(at, "x.loop.test.", RecordType::A).await;
    assert_eq!(looped.metadata.response_code, ResponseCode::ServFail);
    let (code, text) = support::ede(&looped).expect("an EDE");
    assert_eq!(code, 22, "No Reachable Authority");
    assert!(text.contains("forwarding loop"), "{text}");
    assert_eq!(stat(&socket, "upstream_queries").await, before);
    let logged = std::fs::read_to_string(dir.0.join("tern.log")).expect("log");
    assert_eq!(
        logged.matches("tern's own listener; skipping it").count(),
        1,
        "warned once:\n{logged}"
    );
    ask(at, "y.loop.test.", RecordType::A).await;
    let logged = std::fs::read_to_string(dir.0.join("tern.log")).expect("log");
    assert_eq!(
        logged.matches("tern's own listener; skipping it").count(),
        1,
        "once per address:\n{logged}"
    );

    // SIGTERM: STOPPING=1, exit 0, the control socket removed.
    let mut serve = serve;
    support::signal(&serve.0, "TERM");
    let n = notify.recv(&mut buf).expect("STOPPING=1");
    assert_eq!(&buf[..n], b"STOPPING=1");
    let status = serve.0.wait().expect("tern exits");
    assert_eq!(status.code(), Some(0), "exit 0 on SIGTERM");
    assert!(!socket.exists(), "socket removed at shutdown");
}

#[test]
fn the_unit_file_passes_systemd_analyze_verify() {
    let Some(tool) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .into_iter()
        .map(Path::new)
        .find(|p| p.is_file())
    else {
        panic!(
            "systemd-analyze is not installed (Debian package systemd); tests/run.sh installs it"
        );
    };
    let dir = TempDir::new("control-unit");
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/zones/contrib/tern.service"
    ))
    .expect("unit file");
    assert!(unit.contains("Type=notify"));
    assert!(unit.contains("ExecStart=/usr/local/bin/tern serve "));
    // verify checks that ExecStart names an executable: point it at the one just built.
    let unit = unit.replace("/usr/local/bin/tern", env!("CARGO_BIN_EXE_tern"));
    let path = dir.0.join("tern.service");
    std::fs::write(&path, unit).expect("unit copy");
    let out = std::process::Command::new(tool)
        .arg("verify")
        .arg(&path)
        .output()
        .expect("run systemd-analyze");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    assert!(
        !stderr.contains("tern.service"),
        "warnings about the unit: {stderr}"
    );
}

#[tokio::test]
async fn a_live_socket_or_a_plain_file_is_never_replaced_a_stale_socket_is() {
    let dir = TempDir::new("control-stale");
    let at = tern_addr(202);
    let (config, socket) = write_config(
        &dir.0,
        at,
        ". 3600000 NS a.root.test.\na.root.test. 3600000 A 127.61.1.1\n",
        "",
    );
    std::fs::create_dir_all(socket.parent().expect("folder")).expect("run folder");
    let serve_output = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_tern"))
            .args(["serve", "--config"])
            .arg(&config)
            .output()
            .expect("run tern serve")
    };
    // Someone answers there: tern refuses to start rather than steal the path.
    let live = std::os::unix::net::UnixListener::bind(&socket).expect("a live socket");
    let out = serve_output();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another process answers on it"), "{err}");
    drop(live);
    // A plain file is not ours to remove.
    std::fs::remove_file(&socket).expect("remove");
    std::fs::write(&socket, "not a socket").expect("plain file");
    let out = serve_output();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a socket"), "{err}");
    // A socket nobody answers on (a killed tern's) is replaced.
    std::fs::remove_file(&socket).expect("remove");
    drop(std::os::unix::net::UnixListener::bind(&socket).expect("a stale socket"));
    assert!(socket.exists());
    let mut serve = Serve::start(&config, "info", &dir.0.join("tern.log"));
    let mut answered = false;
    for _ in 0..200 {
        if ctl(&socket, &["stats"]).await.0 {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(answered, "tern never answered on the replaced socket");
    // Someone else's socket put at the path meanwhile is not removed when tern stops.
    std::fs::remove_file(&socket).expect("remove");
    let theirs = std::os::unix::net::UnixListener::bind(&socket).expect("another socket");
    support::signal(&serve.0, "TERM");
    let status = serve.0.wait().expect("tern exits");
    assert_eq!(status.code(), Some(0));
    assert!(socket.exists(), "a socket tern did not bind is left alone");
    std::os::unix::net::UnixStream::connect(&socket).expect("theirs still answers");
    drop(theirs);
}
