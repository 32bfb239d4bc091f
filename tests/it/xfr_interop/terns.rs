//! tern secondaries of a tern primary, with TSIG-keyed transfers.

use super::*;

/// Two terns, a transfer allowed only with a TSIG key (no address in the ACL): the secondary
/// with the key gets the zone; one without it is refused and answers SERVFAIL for the zone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tsig_keyed_transfer_between_two_terns() {
    let dir = TempDir::new("xfr-interop-keyed");
    let origin = "keyed.test.";
    let primary_ip = addr(SUBNET, 41);
    let primary = SocketAddr::new(primary_ip, 5326);
    let keyed = SocketAddr::new(addr(SUBNET, 42), 5327);
    let keyless = SocketAddr::new(addr(SUBNET, 43), 5328);
    let primary_dir = dir.sub("primary");
    primary_files(&primary_dir, origin, primary_ip);
    let config = primary_config(primary, origin, &format!("[\"key:{KEY_NAME}\"]"), "[]");
    let first = start_tern(&primary_dir, primary, &config, origin).await;

    let keyed_dir = dir.sub("keyed");
    std::fs::write(keyed_dir.join(format!("{KEY_NAME}.key")), key_file_text()).expect("key");
    let config = format!(
        "[server]\nlisten = [\"{keyed}\"]\nno_recursion = true\n\
         [[tsig_key]]\nfile = \"{KEY_NAME}.key\"\n\
         [[zone]]\norigin = \"{origin}\"\nfile = \"copy/{origin}zone\"\n\
         primaries = [\"{primary}\"]\ntransfer_key = \"{KEY_NAME}\"\n"
    );
    let with_key = start_tern(&keyed_dir, keyed, &config, origin).await;
    let keyless_dir = dir.sub("keyless");
    let config = format!(
        "[server]\nlisten = [\"{keyless}\"]\nno_recursion = true\n\
         [[zone]]\norigin = \"{origin}\"\nfile = \"copy/{origin}zone\"\n\
         primaries = [\"{primary}\"]\n"
    );
    let without_key = start_tern(&keyless_dir, keyless, &config, origin).await;

    eventually(|| serial_is(keyed, origin, 1))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}\nsecondary log:\n{}\nprimary log:\n{}",
                with_key.log(),
                first.log()
            )
        });
    serves(
        keyed,
        &format!("www.{origin}"),
        RecordType::A,
        &["192.0.2.2"],
    )
    .await
    .expect("the keyed secondary serves the zone");
    assert!(
        log_has(
            &with_key.log(),
            &[&format!("zone={origin}"), "kind=\"AXFR\""]
        ),
        "{}",
        with_key.log()
    );

    // Without the key: the primary refuses, and with no copy the zone is SERVFAIL.
    logged(
        &without_key,
        &["refresh failed", &format!("{primary}"), "Refused"],
    )
    .await
    .expect("the keyless secondary is refused");
    let m = ask(keyless, &format!("www.{origin}"), RecordType::A)
        .await
        .expect("an answer");
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(m.answers.is_empty());
    assert!(!keyless_dir.join(format!("copy/{origin}zone")).exists());
    assert!(
        !log_has(&without_key.log(), &["transfer applied"]),
        "{}",
        without_key.log()
    );
}

/// A tern secondary with `transfer_key` follows its tern primary's NOTIFY. The primary signs
/// it with `notify_key`; the secondary takes it from its primary's address (RFC 1996 §3.10)
/// signed with its key (an unsigned one it refuses, as NSD `allow-notify: ADDR KEY` does) and
/// then checks with signed queries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_tern_secondary_follows_notify() {
    let dir = TempDir::new("xfr-interop-keyed-notify");
    let origin = "keyed.test.";
    let primary_ip = addr(SUBNET, 51);
    let primary = SocketAddr::new(primary_ip, 5329);
    let keyed = SocketAddr::new(addr(SUBNET, 52), 5330);
    let primary_dir = dir.sub("primary");
    let key = primary_files(&primary_dir, origin, primary_ip);
    let mut config = primary_config(
        primary,
        origin,
        &format!("[\"key:{KEY_NAME}\"]"),
        &format!("[\"{keyed}\"]"),
    );
    config.push_str(&format!("notify_key = \"{KEY_NAME}\"\n"));
    let first = start_tern(&primary_dir, primary, &config, origin).await;
    let keyed_dir = dir.sub("keyed");
    std::fs::write(keyed_dir.join(format!("{KEY_NAME}.key")), key_file_text()).expect("key");
    let config = format!(
        "[server]\nlisten = [\"{keyed}\"]\nno_recursion = true\n\
         [[tsig_key]]\nfile = \"{KEY_NAME}.key\"\n\
         [[zone]]\norigin = \"{origin}\"\nfile = \"copy/{origin}zone\"\n\
         primaries = [\"{primary}\"]\ntransfer_key = \"{KEY_NAME}\"\n"
    );
    let second = start_tern(&keyed_dir, keyed, &config, origin).await;
    eventually(|| serial_is(keyed, origin, 1))
        .await
        .expect("the keyed secondary has serial 1");

    change(primary, origin, &key);
    let new = format!("new.{origin}");
    eventually(|| serves(keyed, &new, RecordType::A, &["192.0.2.9"]))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}\nprimary log:\n{}\nsecondary log:\n{}",
                first.log(),
                second.log()
            )
        });
}
