//! What a stream connection tells and hides, against `tern serve` with stock kdig: EDNS
//! padding to 468-byte blocks over TLS only (RFC 8467 §4.1), the idle timeout in an
//! edns-tcp-keepalive option over TCP and TLS but never UDP (RFC 7828), and the per-prefix
//! connection cap read from the config, which closes the prefix's idle-longest DoT connection
//! for a newcomer.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use hickory_proto::rr::RecordType;
use rustls_pki_types::ServerName;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::tls::{connector, make_pair, recv, send};
use crate::support::{self, Serve, TempDir};

const ZONE: &str = "$TTL 300\n\
    @ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n\
    @ IN NS ns1\n\
    ns1 IN A 192.0.2.53\n\
    www IN A 192.0.2.1\n";

/// The server's idle timeout: 7 s, told as 70 units of 100 ms.
const IDLE_MS: u64 = 7000;

/// `tern serve` with a DoT listener on `ip`:8853 and plain UDP/TCP on `ip`:8053, at most
/// `per_prefix` connections from one /24.
fn serve(dir: &Path, ip: &str, per_prefix: usize) -> Serve {
    let (crt, key) = make_pair(dir, "server");
    std::fs::write(dir.join("s.test.zone"), ZONE).expect("zone");
    let config = dir.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{ip}:8053\"]\nno_recursion = true\n\
             tcp_idle_timeout_ms = {IDLE_MS}\ntcp_max_connections_per_prefix = {per_prefix}\n\
             [[zone]]\norigin = \"s.test.\"\nfile = \"s.test.zone\"\n\
             [tls]\ncertificate = \"{}\"\nkey = \"{}\"\nlisten = [\"{ip}:8853\"]\n",
            crt.display(),
            key.display()
        ),
    )
    .expect("config");
    Serve::start(&config, "debug", &dir.join("tern.log"))
}

/// kdig's text for `www.s.test. A` at `ip` with `args`, once the server answers (10 s).
async fn kdig(ip: &str, args: &[&str]) -> String {
    let mut last = String::new();
    for _ in 0..50 {
        let out = tokio::process::Command::new(support::system_binary("kdig", "DoT interop"))
            .args(args)
            .args(["+timeout=2", "+retry=0"])
            .arg(format!("@{ip}"))
            .args(["www.s.test.", "A"])
            .output()
            .await
            .expect("kdig runs");
        last = String::from_utf8_lossy(&out.stdout).into_owned();
        if last.contains("status: NOERROR") {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("kdig {args:?}: no answer: {last}");
}

/// The size kdig says the response had.
fn received(text: &str) -> usize {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(";; Received ")?
                .strip_suffix(" B")?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no size in {text}"))
}

#[tokio::test]
async fn padding_over_tls_only_and_keepalive_over_streams_only() {
    let ip = "127.56.0.1";
    let dir = TempDir::new("stream-options");
    let _serve = serve(&dir.0, ip, 64);

    // TLS with padding asked: a whole 468-byte block, the answer intact.
    let tls = kdig(ip, &["-p", "8853", "+tls", "+padding"]).await;
    assert_eq!(received(&tls), 468, "{tls}");
    assert!(tls.contains(";; PADDING:"), "{tls}");
    assert!(tls.contains("192.0.2.1"), "{tls}");
    // Padding not asked: none given.
    let tls = kdig(ip, &["-p", "8853", "+tls", "+nopadding"]).await;
    assert!(received(&tls) < 468 && !tls.contains("PADDING"), "{tls}");
    // Plain TCP and UDP: padding asked, none given (it would hide nothing there).
    for transport in ["+tcp", "+notcp"] {
        let plain = kdig(ip, &["-p", "8053", transport, "+padding"]).await;
        assert!(!plain.contains("PADDING"), "{transport}: {plain}");
        assert!(received(&plain) < 468, "{transport}: {plain}");
    }

    // edns-tcp-keepalive (option 11, empty in the query): 7 s is 0x0046 over TCP and TLS.
    let keepalive = ";; Option (11): 0046";
    for (port, transport) in [("8853", "+tls"), ("8053", "+tcp")] {
        let text = kdig(ip, &["-p", port, transport, "+ednsopt=11"]).await;
        assert!(text.contains(keepalive), "{transport}: {text}");
    }
    // Over UDP the option is ignored (RFC 7828 §3.3.1), and without it nothing is told.
    let udp = kdig(ip, &["-p", "8053", "+notcp", "+ednsopt=11"]).await;
    assert!(!udp.contains("Option (11)"), "{udp}");
    let unasked = kdig(ip, &["-p", "8853", "+tls"]).await;
    assert!(!unasked.contains("Option (11)"), "{unasked}");
}

/// A DoT connection to `addr` trusting `ca`, once the server accepts one (10 s).
pub(super) async fn dot(addr: SocketAddr, ca: &Path) -> TlsStream<TcpStream> {
    for _ in 0..100 {
        if let Ok(tcp) = TcpStream::connect(addr).await {
            let name = ServerName::try_from("tern.test").expect("name");
            if let Ok(Ok(s)) =
                tokio::time::timeout(support::REPLY_TIMEOUT, connector(ca).connect(name, tcp)).await
            {
                return s;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no DoT connection to {addr}");
}

async fn answered(stream: &mut TlsStream<TcpStream>) {
    let q = support::query("www.s.test.", RecordType::A, false, None);
    send(stream, &q).await;
    let r = recv(stream).await;
    assert_eq!(r.metadata.id, q.metadata.id);
    assert_eq!(r.answers.len(), 1);
}

#[tokio::test]
async fn a_prefix_at_its_cap_gives_up_its_idle_longest_dot_connection() {
    let ip = "127.56.1.1";
    let dir = TempDir::new("stream-prefix-cap");
    let _serve = serve(&dir.0, ip, 2);
    let addr: SocketAddr = format!("{ip}:8853").parse().expect("addr");
    let ca = dir.0.join("server.crt");

    // Every client here is 127.0.0.1: one /24, capped at two connections.
    let mut first = dot(addr, &ca).await;
    answered(&mut first).await;
    let mut second = dot(addr, &ca).await;
    answered(&mut second).await;
    let mut third = dot(addr, &ca).await;
    answered(&mut third).await;

    // The prefix's idle-longest connection made room: closed (EOF or reset), not answered.
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(3), first.read(&mut buf))
        .await
        .expect("the idle-longest connection is closed");
    assert!(matches!(read, Ok(0) | Err(_)), "closed, got {read:?}");
    answered(&mut second).await;
    answered(&mut third).await;
}
