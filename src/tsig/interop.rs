//! Interop with the update clients people actually use: BIND's `nsupdate -k KEYFILE` and Knot's
//! `knsupdate -y`. Each sends one signed UPDATE to a socket of ours; we verify it, answer with
//! a signed NOERROR, and the tool must accept the answer (it checks our TSIG, and exits
//! non-zero if it cannot). Skipped, with a note, where the tool is not installed.

use std::io::Write;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_proto::op::{Message, OpCode, ResponseCode};

use super::*;

/// `tsig-keygen cluster-key` output (BIND 9.18), with a fixed secret.
const KEY_FILE: &str = "key \"cluster-key\" {\n\talgorithm hmac-sha256;\n\tsecret \"rA0vYkUtMYbHyasRqZjFKV7wWJrYcXs2xJ0C9Rk0u0o=\";\n};\n";
const SECRET: &str = "rA0vYkUtMYbHyasRqZjFKV7wWJrYcXs2xJ0C9Rk0u0o=";

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

/// The wall clock: these tools sign with it, so the server side must use it too.
fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tern-tsig-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
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
    let (len, client) = match socket.recv_from(&mut buf) {
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
    let dir = scratch_dir("nsupdate");
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
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "nsupdate rejected our response:\n{output}");
}

#[test]
fn knsupdate_request_verifies_and_it_accepts_our_signed_response() {
    if !installed("knsupdate") {
        return;
    }
    let keyring =
        Keyring::new(parse_keys(KEY_FILE, std::path::Path::new("cluster.key")).expect("key file"));
    let key = format!("hmac-sha256:cluster-key:{SECRET}");
    let (ok, output) = exchange("knsupdate", &["-y", &key, "-t", "5"], &keyring);
    assert!(ok, "knsupdate rejected our response:\n{output}");
}
