//! Rate limits on a running `tern serve`: a client prefix over `[rate_limit]` gets REFUSED
//! (or nothing with `action = "drop"`) while another prefix is answered, and `[rrl]` turns a
//! flood of one authoritative answer into dropped and truncated (TC=1) replies by the slip,
//! while TCP still answers. Rates are low (1–2 per second) against bursts of back-to-back
//! queries, so the outcome does not depend on the machine's speed.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::{TcpSocket, UdpSocket};

use crate::support::{self, Serve, TempDir, query, tcp_recv, tcp_send};

const SUBNET: u8 = 62;

const ZONE: &str = "$ORIGIN limit.test.\n$TTL 300\n\
@ SOA ns1 hostmaster 1 3600 600 86400 60\n@ NS ns1\nns1 A 127.62.0.1\nwww A 192.0.2.80\n";

/// A client address on our subnet: `127.62.<net>.<host>`; /24s differ by `net`.
fn client(net: u8, host: u8) -> IpAddr {
    IpAddr::from([127, SUBNET, net, host])
}

/// Writes the zone, a root hints file pointing at an address where nothing listens (nothing
/// may leave the subnet), and `tern.toml`: `server_keys` in `[server]`, `extra` after.
fn config(dir: &Path, server: SocketAddr, server_keys: &str, extra: &str) -> PathBuf {
    std::fs::write(dir.join("limit.test.zone"), ZONE).expect("zone");
    std::fs::write(
        dir.join("root.hints"),
        ". 3600 NS a.root.\na.root. 3600 A 127.62.0.250\n",
    )
    .expect("hints");
    let text = format!(
        "[server]\nlisten = [\"{server}\"]\n{server_keys}\
         [[zone]]\norigin = \"limit.test.\"\nfile = \"limit.test.zone\"\n{extra}"
    );
    let path = dir.join("tern.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// One query over UDP from `from`, on a fresh socket (a late reply is never taken for the
/// next query's); `None` when nothing came within `wait`.
async fn ask(
    server: SocketAddr,
    from: IpAddr,
    qname: &str,
    rd: bool,
    wait: Duration,
) -> Option<Message> {
    let sock = UdpSocket::bind(SocketAddr::new(from, 0))
        .await
        .expect("client socket");
    let msg = query(qname, RecordType::A, rd, Some(1232));
    sock.send_to(&msg.to_vec().expect("encode"), server)
        .await
        .expect("send");
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(wait, sock.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    let m = Message::from_vec(&buf[..n]).expect("reply parses");
    assert_eq!(m.metadata.id, msg.metadata.id);
    Some(m)
}

/// One query over TCP from `from`.
async fn ask_tcp(server: SocketAddr, from: IpAddr, qname: &str, rd: bool) -> Message {
    let sock = TcpSocket::new_v4().expect("tcp socket");
    sock.bind(SocketAddr::new(from, 0)).expect("bind");
    let mut stream = sock.connect(server).await.expect("connect");
    let msg = query(qname, RecordType::A, rd, Some(1232));
    tcp_send(&mut stream, &msg.to_vec().expect("encode")).await;
    let reply = tcp_recv(&mut stream).await.expect("tcp reply");
    Message::from_vec(&reply).expect("reply parses")
}

/// Waits (at most 5 s) until the server answers; asks with RD=0 from a /24 of its own, which
/// neither limit counts against the clients under test.
async fn wait_ready(server: SocketAddr) {
    for _ in 0..50 {
        let probe = ask(
            server,
            client(9, 1),
            "www.limit.test.",
            false,
            Duration::from_millis(100),
        );
        if probe.await.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("tern serve did not answer on {server}");
}

fn start(dir: &TempDir, server: SocketAddr, server_keys: &str, extra: &str) -> Serve {
    let config = config(&dir.0, server, server_keys, extra);
    Serve::start(&config, "warn", &config.with_file_name("tern.log"))
}

const LIMIT: &str = "[recursion]\nallow = [\"127.62.0.0/16\"]\nroot_hints = \"root.hints\"\n\
     [rate_limit]\nqueries_per_second = 1\nburst = 3\n";

#[tokio::test]
async fn a_client_over_its_query_rate_is_refused_while_another_prefix_is_answered() {
    let dir = TempDir::new("rate-limit-refuse");
    let server = SocketAddr::new(support::addr(SUBNET, 1), 53);
    let _tern = start(&dir, server, "", &format!("{LIMIT}action = \"refuse\"\n"));
    wait_ready(server).await;

    let began = Instant::now();
    let mut rcodes = Vec::new();
    for _ in 0..10 {
        let wait = Duration::from_secs(2);
        let m = ask(server, client(1, 1), "www.limit.test.", true, wait).await;
        rcodes.push(
            m.expect("refused or answered, never silent")
                .metadata
                .response_code,
        );
    }
    let secs = began.elapsed().as_secs();
    let answered = rcodes
        .iter()
        .filter(|r| **r == ResponseCode::NoError)
        .count();
    assert_eq!(
        rcodes[..3],
        [ResponseCode::NoError; 3],
        "the burst: {rcodes:?}"
    );
    assert!(
        answered <= 3 + usize::try_from(secs).unwrap_or(usize::MAX) + 1,
        "no more than the burst and the rate over {secs} s: {rcodes:?}"
    );
    assert!(
        rcodes
            .iter()
            .all(|r| matches!(r, ResponseCode::NoError | ResponseCode::Refused)),
        "{rcodes:?}"
    );
    assert!(rcodes.contains(&ResponseCode::Refused), "{rcodes:?}");
    // The same /24 from another address is the same client; another /24 is not.
    let same = ask(
        server,
        client(1, 2),
        "www.limit.test.",
        true,
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(
        same.map(|m| m.metadata.response_code),
        Some(ResponseCode::Refused)
    );
    for _ in 0..3 {
        let m = ask(
            server,
            client(2, 1),
            "www.limit.test.",
            true,
            Duration::from_secs(2),
        )
        .await
        .expect("another prefix is answered");
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(m.answers.len(), 1);
    }
}

#[tokio::test]
async fn with_drop_a_client_over_its_rate_gets_nothing_over_udp_and_refused_over_tcp() {
    let dir = TempDir::new("rate-limit-drop");
    let server = SocketAddr::new(support::addr(SUBNET, 2), 53);
    let _tern = start(&dir, server, "", &format!("{LIMIT}action = \"drop\"\n"));
    wait_ready(server).await;

    let mut answered = Vec::new();
    for _ in 0..6 {
        let wait = Duration::from_millis(500);
        let m = ask(server, client(1, 1), "www.limit.test.", true, wait).await;
        answered.push(m.is_some_and(|m| m.metadata.response_code == ResponseCode::NoError));
    }
    assert_eq!(answered[..3], [true; 3], "the burst: {answered:?}");
    // Six queries take at most 1.5 s of waiting: one more token at most.
    let silent = answered.iter().filter(|a| !**a).count();
    assert!(silent >= 2, "{answered:?}");
    let tcp = ask_tcp(server, client(1, 1), "www.limit.test.", true).await;
    assert_eq!(tcp.metadata.response_code, ResponseCode::Refused);
    let other = ask(
        server,
        client(2, 1),
        "www.limit.test.",
        true,
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(other.map(|m| m.answers.len()), Some(1));
}

#[tokio::test]
async fn rrl_slips_truncated_replies_to_a_flood_and_tcp_still_answers() {
    let dir = TempDir::new("rate-limit-rrl");
    let server = SocketAddr::new(support::addr(SUBNET, 3), 53);
    let extra = "[rrl]\nresponses_per_second = 2\nwindow = 5\nslip = 2\n";
    // No recursion: an authoritative server, whose answers the hit path gives again.
    let _tern = start(&dir, server, "no_recursion = true\n", extra);
    wait_ready(server).await;

    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    enum Got {
        Answer,
        Truncated,
        Nothing,
    }
    let mut got = Vec::new();
    for _ in 0..10 {
        let m = ask(
            server,
            client(1, 1),
            "www.limit.test.",
            false,
            Duration::from_millis(500),
        );
        got.push(match m.await {
            None => Got::Nothing,
            Some(m) if m.metadata.truncation && m.answers.is_empty() => Got::Truncated,
            Some(m) => {
                assert_eq!(m.answers.len(), 1, "{m:?}");
                Got::Answer
            }
        });
    }
    // Two a second as burst; then every second limited reply slips (slip 2). The flood's
    // debt (window 5 s) keeps it limited however slowly the dropped ones time out.
    use Got::{Answer, Nothing, Truncated};
    assert_eq!(
        got,
        [
            Answer, Answer, Nothing, Truncated, Nothing, Truncated, Nothing, Truncated, Nothing,
            Truncated
        ]
    );
    let tcp = ask_tcp(server, client(1, 1), "www.limit.test.", false).await;
    assert!(!tcp.metadata.truncation);
    assert_eq!(tcp.answers.len(), 1, "TCP answers are never rate-limited");
    let other = ask(
        server,
        client(2, 1),
        "www.limit.test.",
        false,
        Duration::from_secs(2),
    )
    .await;
    assert_eq!(
        other.map(|m| m.answers.len()),
        Some(1),
        "another /24 is answered"
    );
}
