//! DNS cookies as the real tools see them (RFC 7873, RFC 9018): `dig +cookie` and `kdig
//! +cookie` learn tern's server cookie, return it and are answered, and a server cookie tern
//! did not make gets BADCOOKIE over UDP and an answer over TCP; `tern serve` processes sharing
//! `[server] cookie_secret` accept each other's cookies, and one rolled over to a new secret
//! still takes cookies of the previous one.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;

use crate::support::{self, Serve, TempDir, addr, zone};

const SUBNET: u8 = 44;
const FLEET_SUBNET: u8 = 45;

const ZONE: &str = "$ORIGIN cookie.test.\n$TTL 300\n\
@ SOA ns hostmaster 1 3600 600 86400 60\n@ NS ns\nns A 127.44.0.1\nwww A 192.0.2.1\n";

/// The client cookie every query here sends (dig and kdig would pick a random one).
const CLIENT: &str = "2464c4abcf10c957";

/// What one dig or kdig run printed that matters here.
#[derive(Debug)]
struct Seen {
    status: String,
    answers: usize,
    /// The COOKIE printed (client and server cookie, lowercase hex).
    cookie: Option<String>,
    /// dig's "(good)": the client cookie came back as sent.
    good: bool,
    out: String,
}

/// Runs `tool` (dig or kdig) for `www.cookie.test. A` at `server`, from `source`, with `flags`.
async fn run(tool: &'static str, server: SocketAddr, source: IpAddr, flags: &[&str]) -> Seen {
    let mut args: Vec<String> = ["+norec", "+time=2"].map(String::from).to_vec();
    args.push(
        if tool == "dig" {
            "+tries=1"
        } else {
            "+retry=0"
        }
        .into(),
    );
    args.extend(flags.iter().map(|f| f.to_string()));
    args.extend([
        "-b".into(),
        source.to_string(),
        format!("@{}", server.ip()),
        "-p".into(),
        server.port().to_string(),
        "www.cookie.test.".into(),
        "A".into(),
    ]);
    let out = tokio::task::spawn_blocking(move || {
        let out = Command::new(support::system_binary(tool, "the cookie interop tests"))
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
    .await
    .expect("join");
    seen(&out)
}

/// Reads dig's (`; COOKIE: hex (good)`, `status: X,`) and kdig's (`;; COOKIE: HEX`,
/// `status: X;`) printouts.
fn seen(out: &str) -> Seen {
    let mut s = Seen {
        status: String::new(),
        answers: 0,
        cookie: None,
        good: false,
        out: out.to_string(),
    };
    let mut in_answer = false;
    for line in out.lines() {
        let l = line.trim();
        if let Some(rest) = l.split("status: ").nth(1) {
            s.status = rest
                .split([',', ';'])
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
        }
        if let Some(rest) = l
            .strip_prefix("; COOKIE: ")
            .or(l.strip_prefix(";; COOKIE: "))
        {
            let hex = rest.split_whitespace().next().unwrap_or("");
            s.cookie = Some(hex.to_ascii_lowercase());
            s.good = rest.contains("(good)");
        }
        if l.starts_with(";; ANSWER SECTION") {
            in_answer = true;
            continue;
        }
        if in_answer {
            if l.is_empty() || l.starts_with(";;") {
                in_answer = false;
            } else {
                s.answers += 1;
            }
        }
    }
    s
}

/// The server cookie in what `seen` printed, checked to be ours for `CLIENT`: 16 bytes, RFC
/// 9018 version 1 with the reserved bytes zero.
fn server_cookie(seen: &Seen) -> String {
    let cookie = seen
        .cookie
        .as_deref()
        .unwrap_or_else(|| panic!("no COOKIE in\n{}", seen.out));
    assert_eq!(
        cookie.len(),
        48,
        "client + 16-byte server cookie:\n{}",
        seen.out
    );
    assert_eq!(
        &cookie[..16],
        CLIENT,
        "the client cookie echoed:\n{}",
        seen.out
    );
    assert_eq!(
        &cookie[16..24],
        "01000000",
        "version 1, reserved 0:\n{}",
        seen.out
    );
    cookie[16..].to_string()
}

/// A server cookie of the right form that tern never made.
const WRONG: &str = "0100000000000000aaaaaaaaaaaaaaaa";

#[tokio::test]
async fn dig_and_kdig_learn_tern_server_cookies_and_a_wrong_one_is_badcookie_over_udp() {
    let tern = support::start_authoritative(
        SocketAddr::new(addr(SUBNET, 1), 0),
        vec![zone("cookie.test.", ZONE)],
    )
    .await;
    let (server, me) = (tern.addr, addr(SUBNET, 100));
    let client_only = format!("+cookie={CLIENT}");

    let first = run("dig", server, me, &[&client_only]).await;
    assert_eq!(
        (first.status.as_str(), first.answers),
        ("NOERROR", 1),
        "{}",
        first.out
    );
    assert!(
        first.good,
        "dig recognises the reply's cookie:\n{}",
        first.out
    );
    let learned = server_cookie(&first);
    let returned = format!("+cookie={CLIENT}{learned}");
    let again = run("dig", server, me, &[&returned]).await;
    assert_eq!(
        (again.status.as_str(), again.answers),
        ("NOERROR", 1),
        "{}",
        again.out
    );
    assert!(again.good, "{}", again.out);
    assert_eq!(
        server_cookie(&again),
        learned,
        "fresh: sent back as it came"
    );

    // A wrong server cookie over UDP: BADCOOKIE with a new cookie, which dig retries with.
    let wrong = format!("+cookie={CLIENT}{WRONG}");
    let bad = run("dig", server, me, &[&wrong, "+nobadcookie"]).await;
    assert_eq!(
        (bad.status.as_str(), bad.answers),
        ("BADCOOKIE", 0),
        "{}",
        bad.out
    );
    assert_ne!(server_cookie(&bad), WRONG);
    let retried = run("dig", server, me, &[&wrong]).await;
    assert!(
        retried.out.contains("BADCOOKIE, retrying"),
        "{}",
        retried.out
    );
    assert_eq!(
        (retried.status.as_str(), retried.answers),
        ("NOERROR", 1),
        "{}",
        retried.out
    );
    // A cookie made for another address is wrong too.
    let elsewhere = run(
        "dig",
        server,
        addr(SUBNET, 101),
        &[&returned, "+nobadcookie"],
    )
    .await;
    assert_eq!(elsewhere.status, "BADCOOKIE", "{}", elsewhere.out);

    // kdig: learns one, returns it; a wrong one is BADCOOKIE over UDP, answered over TCP.
    let k = run("kdig", server, me, &[&client_only]).await;
    assert_eq!((k.status.as_str(), k.answers), ("NOERROR", 1), "{}", k.out);
    let k_learned = server_cookie(&k);
    let k_again = run(
        "kdig",
        server,
        me,
        &[&format!("+cookie={CLIENT}{k_learned}")],
    )
    .await;
    assert_eq!(
        (k_again.status.as_str(), k_again.answers),
        ("NOERROR", 1),
        "{}",
        k_again.out
    );
    let k_bad = run("kdig", server, me, &[&wrong, "+nobadcookie"]).await;
    assert_eq!(
        (k_bad.status.as_str(), k_bad.answers),
        ("BADCOOKIE", 0),
        "{}",
        k_bad.out
    );
    server_cookie(&k_bad);
    // By default kdig, too, repeats the query with the cookie BADCOOKIE carried.
    let k_retried = run("kdig", server, me, &[&wrong]).await;
    assert!(
        k_retried.out.contains("status: BADCOOKIE"),
        "{}",
        k_retried.out
    );
    assert_eq!(
        (k_retried.status.as_str(), k_retried.answers),
        ("NOERROR", 1),
        "{}",
        k_retried.out
    );
    let k_tcp = run("kdig", server, me, &[&wrong, "+tcp", "+nobadcookie"]).await;
    assert_eq!(
        (k_tcp.status.as_str(), k_tcp.answers),
        ("NOERROR", 1),
        "{}",
        k_tcp.out
    );
    assert_ne!(server_cookie(&k_tcp), WRONG);

    // Without +cookie neither tool sends one (dig +nocookie, kdig's default), and none comes
    // back.
    let none = run("dig", server, me, &["+nocookie"]).await;
    assert_eq!(
        (none.status.as_str(), none.cookie),
        ("NOERROR", None),
        "{}",
        none.out
    );
}

const SECRET_OLD: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";
const SECRET_NEW: &str = "445536bcd2513298075a5d379663c962";

/// `tern serve` on `127.45.0.<host>:53` serving the zone, with `secrets` in `[server]`.
fn serve(dir: &TempDir, host: u8, secrets: &str) -> (Serve, SocketAddr) {
    let server = SocketAddr::new(addr(FLEET_SUBNET, host), 53);
    let folder = dir.sub(&format!("tern{host}"));
    std::fs::write(folder.join("cookie.test.zone"), ZONE).expect("zone");
    let text = format!(
        "[server]\nlisten = [\"{server}\"]\nno_recursion = true\n{secrets}\n\
         [[zone]]\norigin = \"cookie.test.\"\nfile = \"cookie.test.zone\"\n"
    );
    let config = folder.join("tern.toml");
    std::fs::write(&config, text).expect("config");
    (Serve::start(&config, "warn", &log(&folder)), server)
}

fn log(folder: &Path) -> std::path::PathBuf {
    folder.join("tern.log")
}

/// Waits (at most 5 s) until `server` answers.
async fn wait_ready(server: SocketAddr) {
    let probe = support::query("www.cookie.test.", RecordType::A, false, None);
    let bytes = probe.to_vec().expect("encode");
    for _ in 0..50 {
        if let Some(reply) = support::udp_raw(server, &bytes, Duration::from_millis(100)).await {
            Message::from_vec(&reply).expect("reply parses");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("tern serve did not answer on {server}");
}

#[tokio::test]
async fn servers_sharing_cookie_secret_accept_each_others_cookies_and_roll_over() {
    let dir = TempDir::new("cookies-fleet");
    let (_a, a) = serve(&dir, 1, &format!("cookie_secret = \"{SECRET_OLD}\""));
    let (_b, b) = serve(&dir, 2, &format!("cookie_secret = \"{SECRET_OLD}\""));
    let rolled =
        format!("cookie_secret = \"{SECRET_NEW}\"\ncookie_secret_previous = \"{SECRET_OLD}\"");
    let (_c, c) = serve(&dir, 3, &rolled);
    for server in [a, b, c] {
        wait_ready(server).await;
    }
    let me = addr(FLEET_SUBNET, 100);
    let from_a = server_cookie(&run("dig", a, me, &[&format!("+cookie={CLIENT}")]).await);
    let returned = format!("+cookie={CLIENT}{from_a}");

    // The other server of the fleet takes it as its own: answered, the cookie sent back.
    let at_b = run("dig", b, me, &[&returned, "+nobadcookie"]).await;
    assert_eq!(
        (at_b.status.as_str(), at_b.answers),
        ("NOERROR", 1),
        "{}",
        at_b.out
    );
    assert_eq!(server_cookie(&at_b), from_a);
    // The server rolled over still takes it, and gives one of the new secret ...
    let at_c = run("dig", c, me, &[&returned, "+nobadcookie"]).await;
    assert_eq!(
        (at_c.status.as_str(), at_c.answers),
        ("NOERROR", 1),
        "{}",
        at_c.out
    );
    let renewed = server_cookie(&at_c);
    assert_ne!(renewed, from_a, "made with the new secret");
    let with_new = format!("+cookie={CLIENT}{renewed}");
    let again = run("dig", c, me, &[&with_new, "+nobadcookie"]).await;
    assert_eq!(again.status, "NOERROR", "{}", again.out);
    assert_eq!(server_cookie(&again), renewed);
    // ... which a server that never had the new secret does not know.
    let at_a = run("dig", a, me, &[&with_new, "+nobadcookie"]).await;
    assert_eq!(at_a.status, "BADCOOKIE", "{}", at_a.out);
}
