//! Interop with the update clients people actually use: BIND's `nsupdate -k KEYFILE` and Knot's
//! `knsupdate -y`. Each sends one signed UPDATE to a socket of ours; we verify it, answer with
//! a signed NOERROR, and the tool must accept the answer (it checks our TSIG, and exits
//! non-zero if it cannot). Skipped, with a note, where the tool is not installed.

use std::io::Write;
use std::net::UdpSocket;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, OpCode, ResponseCode};

use super::*;
use crate::testing::Scratch;

/// `tsig-keygen cluster-key` output (BIND 9.18), with a fixed secret.
const KEY_FILE: &str = "key \"cluster-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"rA0vYkUtMYbHyasRqZjFKV7wWJrYcXs2xJ0C9Rk0u0o=\";\n};\n";
/// The same key as `-y` takes it (Knot's tools and dig).
const KEY_ARG: &str = "hmac-sha256:cluster-key:rA0vYkUtMYbHyasRqZjFKV7wWJrYcXs2xJ0C9Rk0u0o=";

fn keyring() -> Keyring {
    Keyring::new(parse_keys(KEY_FILE, Path::new("cluster.key")).expect("key file"))
}

fn installed(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|out| out.status.success());
    if !found {
        println!("note: {tool} is not installed; skipping its TSIG interop test");
    }
    found
}

/// Runs `tool` with `args`, feeds it an update for cluster.test. aimed at a socket of ours,
/// answers its first datagram through `verify` and `sign_response`, and returns whether the
/// tool then exited successfully, and its stderr.
fn exchange(tool: &str, args: &[&str], keyring: &Keyring) -> (bool, String) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let port = socket.local_addr().expect("addr").port();
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let script = format!(
        "server 127.0.0.1 {port}\nzone cluster.test.\n\
         update add x.cluster.test. 300 A 192.0.2.1\nsend\nquit\n"
    );
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script");

    let mut buf = [0u8; 4096];
    // A receive with a timeout is not restarted after a signal handler ran (signal(7)); other
    // tests of this process install SIGCHLD handlers (tokio::process) and their children exit.
    let received = loop {
        match socket.recv_from(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    };
    let (len, client) = match received {
        Ok(got) => got,
        Err(e) => {
            let _ = child.kill();
            panic!("{tool} sent nothing: {e}");
        }
    };
    let bytes = &buf[..len];
    let request = Message::from_vec(bytes).expect("the tool's request parses");
    assert_eq!(request.op_code, OpCode::Update);
    let now = now_unix();
    let verified = verify(bytes, &request, keyring, now);
    let Verified::Signed { ref key, .. } = verified else {
        let _ = child.kill();
        panic!("{tool}'s request did not verify: {verified:?}");
    };
    assert_eq!(key, &Name::from_ascii("cluster-key.").expect("name"));

    let mut response = Message::response(request.id, OpCode::Update);
    response.queries = request.queries.clone();
    response.metadata.response_code = ResponseCode::NoError;
    let encoded = response.to_vec().expect("encode");
    let signed = sign_response(encoded, &verified, now).expect("sign");
    socket.send_to(&signed, client).expect("reply");
    finish(child)
}

/// Waits (bounded) for the tool to exit; kills it if it hangs.
fn finish(mut child: Child) -> (bool, String) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                break;
            }
        }
    }
    let out = child.wait_with_output().expect("output");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout);
    (out.status.success(), format!("{stderr}{stdout}"))
}

#[test]
fn nsupdate_request_verifies_and_it_accepts_our_signed_response() {
    if !installed("nsupdate") {
        return;
    }
    let dir = Scratch::new("tsig-nsupdate");
    let key_file = dir.join("cluster.key");
    std::fs::write(&key_file, KEY_FILE).expect("key file");
    let keyring = Keyring::new(read_key_file(&key_file).expect("our own key file reads"));
    let key_path = key_file.to_string_lossy().into_owned();
    // -t: overall timeout, -u: UDP retry interval (seconds); the answer comes at once anyway.
    let (ok, output) = exchange(
        "nsupdate",
        &["-k", &key_path, "-t", "5", "-u", "2"],
        &keyring,
    );
    assert!(ok, "nsupdate rejected our response:\n{output}");
}

#[test]
fn knsupdate_request_verifies_and_it_accepts_our_signed_response() {
    if !installed("knsupdate") {
        return;
    }
    let (ok, output) = exchange("knsupdate", &["-y", KEY_ARG, "-t", "5"], &keyring());
    assert!(ok, "knsupdate rejected our response:\n{output}");
}

/// The zone a transfer test serves: SOA, three A records, SOA again (RFC 5936 §2.2).
const AXFR_ZONE: [&str; 5] = [
    "cluster.test. 300 IN SOA ns.cluster.test. admin.cluster.test. 7 3600 600 86400 300",
    "a.cluster.test. 300 IN A 192.0.2.1",
    "b.cluster.test. 300 IN A 192.0.2.2",
    "c.cluster.test. 300 IN A 192.0.2.3",
    "cluster.test. 300 IN SOA ns.cluster.test. admin.cluster.test. 7 3600 600 86400 300",
];

/// One message per record of `AXFR_ZONE`, the first with the question, as a stream of
/// response messages to `request`.
fn axfr_messages(request: &Message) -> Vec<Vec<u8>> {
    let zone = Name::from_ascii("cluster.test.").expect("name");
    let records = AXFR_ZONE.iter().map(|line| {
        let parsed = crate::zonefile::parse_zone_text(line, Path::new("axfr"), Some(&zone));
        parsed.expect("test record").remove(0).record
    });
    records
        .enumerate()
        .map(|(n, record)| {
            let mut m = Message::response(request.id, OpCode::Query);
            m.metadata.authoritative = true;
            if n == 0 {
                m.queries = request.queries.clone();
            }
            m.add_answer(record);
            m.to_vec().expect("encode")
        })
        .collect()
}

/// Runs `tool args` against a TCP socket of ours that answers one AXFR request with
/// `AXFR_ZONE` in five messages, each signed by one `ResponseStream`; `tamper` names a
/// message to alter after signing. Returns whether the tool exited successfully, and its
/// output.
async fn axfr_exchange(tool: &str, args: &[&str], tamper: Option<usize>) -> (bool, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let keyring = keyring();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port().to_string();
    let mut all_args: Vec<&str> = args.to_vec();
    all_args.extend(["-p", &port, "@127.0.0.1", "cluster.test.", "AXFR"]);
    let child = tokio::process::Command::new(tool)
        .args(&all_args)
        .kill_on_drop(true)
        .output();
    let serve = async {
        let (mut tcp, _) = listener.accept().await.expect("accept");
        let len = tcp.read_u16().await.expect("length");
        let mut bytes = vec![0; usize::from(len)];
        tcp.read_exact(&mut bytes).await.expect("request");
        let request = Message::from_vec(&bytes).expect("the tool's request parses");
        let verified = verify(&bytes, &request, &keyring, now_unix());
        assert!(matches!(verified, Verified::Signed { .. }), "{verified:?}");
        let mut stream = ResponseStream::new(&verified);
        for (n, message) in axfr_messages(&request).into_iter().enumerate() {
            let mut signed = stream.sign(message, now_unix()).expect("sign");
            if tamper == Some(n) {
                let last_rdata_octet = signed.len() - stream.tsig_len() - 1;
                signed[last_rdata_octet] ^= 0x01;
            }
            let len = u16::try_from(signed.len()).expect("fits");
            let mut frame = len.to_be_bytes().to_vec();
            frame.extend_from_slice(&signed);
            // A tool that rejects a message may close the connection before the rest is sent.
            if tcp.write_all(&frame).await.is_err() {
                break;
            }
        }
        tcp
    };
    let (output, _tcp) = tokio::time::timeout(Duration::from_secs(15), async {
        tokio::join!(child, serve)
    })
    .await
    .expect("the tool finished within 15 s");
    let output = output.expect("tool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The records of `AXFR_ZONE` found in a tool's output, and its TSIG lines.
fn transferred(output: &str) -> (usize, usize) {
    let records = output
        .lines()
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            AXFR_ZONE.iter().any(|want| {
                let want: Vec<&str> = want.split_whitespace().collect();
                fields.len() == want.len()
                    && fields
                        .iter()
                        .zip(&want)
                        .all(|(a, b)| a.eq_ignore_ascii_case(b))
            })
        })
        .count();
    let tsigs = output
        .lines()
        .filter(|l| l.contains("TSIG") && !l.starts_with(';'))
        .count();
    (records, tsigs)
}

/// dig checks every signed message of a transfer, each MAC chained to the one before
/// (BIND's `dns_tsig_verify` over TCP), and warns about any that fails.
#[tokio::test]
async fn dig_accepts_our_signed_axfr_stream_and_catches_a_tampered_message() {
    if !installed("dig") {
        return;
    }
    let args = ["-y", KEY_ARG, "+tries=1", "+time=5"];
    let failure = ["Couldn't verify signature", "could not be validated"];
    let (ok, output) = axfr_exchange("dig", &args, None).await;
    assert!(ok, "dig failed:\n{output}");
    assert_eq!(
        transferred(&output),
        (5, 5),
        "five records, five TSIGs:\n{output}"
    );
    assert!(!failure.iter().any(|f| output.contains(f)), "{output}");

    // The negative control: dig must notice an altered middle message.
    let (_, output) = axfr_exchange("dig", &args, Some(2)).await;
    assert!(
        failure.iter().all(|f| output.contains(f)),
        "dig accepted a tampered stream:\n{output}"
    );
}

/// kdig (Knot 3.2) checks only the first message of a transfer: seen here, it accepts a
/// stream whose later messages were altered. So it proves the first message's signature
/// (request MAC and all TSIG variables); dig above proves the chain.
#[tokio::test]
async fn kdig_accepts_our_signed_axfr_first_message() {
    if !installed("kdig") {
        return;
    }
    let args = ["-y", KEY_ARG, "+retry=0", "+time=5"];
    let (ok, output) = axfr_exchange("kdig", &args, None).await;
    assert!(ok, "kdig failed:\n{output}");
    assert_eq!(transferred(&output).0, 5, "five records:\n{output}");
    assert!(!output.contains(";; ERROR"), "{output}");

    let (_, output) = axfr_exchange("kdig", &args, Some(0)).await;
    assert!(
        output.contains("failed to verify TSIG"),
        "kdig accepted a tampered first message:\n{output}"
    );
}
