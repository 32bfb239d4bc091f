//! NSD and Knot as secondaries of tern, and tern as a secondary of NSD.

use super::*;

/// NSD as a secondary of tern: it loads the zone by AXFR at start, and after an UPDATE on tern
/// it takes tern's NOTIFY and follows by IXFR (tern's log names the client and the kind).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nsd_follows_a_tern_primary_by_notify_and_ixfr() {
    let dir = TempDir::new("xfr-interop-nsd-secondary");
    let origin = "cluster.test.";
    let tern_ip = addr(SUBNET, 11);
    let server = SocketAddr::new(tern_ip, 5322);
    let nsd_ip = addr(SUBNET, 12);
    let nsd_server = SocketAddr::new(nsd_ip, 53);
    let tern_dir = dir.sub("tern");
    let key = primary_files(&tern_dir, origin, tern_ip);
    let config = primary_config(
        server,
        origin,
        "[\"127.0.0.0/8\"]",
        &format!("[\"{nsd_server}\"]"),
    );
    let tern = start_tern(&tern_dir, server, &config, origin).await;

    // store-ixfr: NSD 4.6 keeps the IXFRs it receives (and could serve them on).
    let zones = format!(
        "zone:\n  name: \"{origin}\"\n  zonefile: \"{origin}zone\"\n  \
         request-xfr: {tern_ip}@{} NOKEY\n  allow-notify: {tern_ip} NOKEY\n  \
         outgoing-interface: {nsd_ip}\n  store-ixfr: yes\n",
        server.port()
    );
    let nsd = start_nsd(&dir.sub("nsd"), nsd_ip, &zones, origin).await;
    let nsd_client = format!("client={nsd_ip}:");

    // At start: the whole zone, by AXFR.
    eventually(|| serial_is(nsd_server, origin, 1))
        .await
        .unwrap_or_else(|e| panic!("{e}\nnsd log:\n{}\ntern log:\n{}", nsd.log(), tern.log()));
    serves(
        nsd_server,
        &format!("www.{origin}"),
        RecordType::AAAA,
        &["2001:db8::2"],
    )
    .await
    .expect("NSD serves the transferred zone");
    assert!(
        log_has(&tern.log(), &[&nsd_client, "kind=\"AXFR\"", "serial=1"]),
        "{}",
        tern.log()
    );

    // A change on tern: NOTIFY, then NSD asks for the increment.
    change(server, origin, &key);
    let new = format!("new.{origin}");
    let took = eventually(|| serves(nsd_server, &new, RecordType::A, &["192.0.2.9"]))
        .await
        .unwrap_or_else(|e| panic!("{e}\nnsd log:\n{}\ntern log:\n{}", nsd.log(), tern.log()));
    eprintln!("NSD served the change {took:?} after the UPDATE");
    serial_is(nsd_server, origin, 2).await.expect("serial 2");
    let gone = ask(nsd_server, &format!("old.{origin}"), RecordType::A)
        .await
        .expect("an answer");
    assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
    logged(&nsd, &[&format!("notify for {origin} from {tern_ip}")])
        .await
        .expect("NSD took tern's NOTIFY");
    logged(&tern, &[&nsd_client, "kind=\"IXFR\"", "serial=2"])
        .await
        .expect("NSD followed by IXFR");
}

/// tern as a secondary of NSD: a zone NSD loads from its file reaches tern by AXFR at start;
/// and a zone that tern primary → NSD → tern secondary replicate follows a change by IXFR on
/// both hops (NSD 4.6 serves IXFR only from increments it received itself, with store-ixfr).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tern_follows_nsd_by_axfr_and_by_ixfr_through_a_chain() {
    let dir = TempDir::new("xfr-interop-nsd-primary");
    let chain = "chain.test.";
    let own = "nsd.test.";
    let primary_ip = addr(SUBNET, 21);
    let primary = SocketAddr::new(primary_ip, 5323);
    let nsd_ip = addr(SUBNET, 22);
    let nsd_server = SocketAddr::new(nsd_ip, 53);
    let secondary_ip = addr(SUBNET, 23);
    let secondary = SocketAddr::new(secondary_ip, 5324);

    let primary_dir = dir.sub("primary");
    let key = primary_files(&primary_dir, chain, primary_ip);
    let config = primary_config(
        primary,
        chain,
        "[\"127.0.0.0/8\"]",
        &format!("[\"{nsd_server}\"]"),
    );
    let first = start_tern(&primary_dir, primary, &config, chain).await;

    let nsd_dir = dir.sub("nsd");
    std::fs::write(
        nsd_dir.join(format!("{own}zone")),
        zone_text(own, nsd_ip, 7),
    )
    .expect("NSD's zone file");
    let to_secondary = format!(
        "  provide-xfr: 127.0.0.0/8 NOKEY\n  notify: {secondary_ip}@{} NOKEY\n  \
         outgoing-interface: {nsd_ip}\n",
        secondary.port()
    );
    let zones = format!(
        "zone:\n  name: \"{own}\"\n  zonefile: \"{own}zone\"\n{to_secondary}\
         zone:\n  name: \"{chain}\"\n  zonefile: \"{chain}zone\"\n  \
         request-xfr: {primary_ip}@{} NOKEY\n  allow-notify: {primary_ip} NOKEY\n  \
         store-ixfr: yes\n{to_secondary}",
        primary.port()
    );
    let nsd = start_nsd(&nsd_dir, nsd_ip, &zones, own).await;
    // NSD has the chain's zone before the second tern asks for it.
    eventually(|| serial_is(nsd_server, chain, 1))
        .await
        .unwrap_or_else(|e| panic!("{e}\nnsd log:\n{}", nsd.log()));

    let secondary_dir = dir.sub("secondary");
    let config = format!(
        "[server]\nlisten = [\"{secondary}\"]\nno_recursion = true\n\
         [[zone]]\norigin = \"{own}\"\nfile = \"copy/{own}zone\"\nprimaries = [\"{nsd_server}\"]\n\
         [[zone]]\norigin = \"{chain}\"\nfile = \"copy/{chain}zone\"\nprimaries = [\"{nsd_server}\"]\n"
    );
    let second = start_tern(&secondary_dir, secondary, &config, own).await;

    // NSD's own zone: AXFR at start, served with AA, kept on disk.
    eventually(|| serial_is(secondary, own, 7))
        .await
        .unwrap_or_else(|e| panic!("{e}\ntern log:\n{}\nnsd log:\n{}", second.log(), nsd.log()));
    serves(
        secondary,
        &format!("www.{own}"),
        RecordType::A,
        &["192.0.2.2"],
    )
    .await
    .expect("tern serves NSD's zone");
    serves(secondary, own, RecordType::MX, &["10 www.nsd.test."])
        .await
        .expect("tern serves NSD's zone");
    // Polled: the secondary serves the new copy before it logs the transfer.
    logged(
        &second,
        &[&format!("zone={own}"), "serial=7", "kind=\"AXFR\""],
    )
    .await
    .expect("the secondary logged the AXFR");
    assert!(secondary_dir.join(format!("copy/{own}zone")).is_file());

    // The chain at serial 1 everywhere, then one UPDATE on the first tern.
    eventually(|| serial_is(secondary, chain, 1))
        .await
        .unwrap_or_else(|e| panic!("{e}\ntern log:\n{}\nnsd log:\n{}", second.log(), nsd.log()));
    change(primary, chain, &key);
    let new = format!("new.{chain}");
    let took = eventually(|| serves(secondary, &new, RecordType::A, &["192.0.2.9"]))
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{e}\nfirst tern log:\n{}\nnsd log:\n{}\nsecond tern log:\n{}",
                first.log(),
                nsd.log(),
                second.log()
            )
        });
    eprintln!("the change crossed tern → NSD → tern in {took:?}");
    serial_is(secondary, chain, 2).await.expect("serial 2");
    let gone = ask(secondary, &format!("old.{chain}"), RecordType::A)
        .await
        .expect("an answer");
    assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
    // First hop: NSD asked the first tern for IXFR. Second hop: NSD served IXFR, and the
    // second tern applied an increment, not a whole zone.
    logged(
        &first,
        &[&format!("client={nsd_ip}:"), "kind=\"IXFR\"", "serial=2"],
    )
    .await
    .expect("first hop by IXFR");
    logged(&nsd, &[&format!("ixfr for {chain} from {secondary_ip}")])
        .await
        .expect("NSD served IXFR");
    logged(
        &second,
        &[&format!("zone={chain}"), "serial=2", "kind=\"IXFR\""],
    )
    .await
    .expect("second hop applied as IXFR");
}

/// Knot as a secondary of tern: it bootstraps the zone from tern, and after an UPDATE on tern
/// it takes the NOTIFY and follows (by IXFR: Knot's log and tern's say so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn knot_follows_a_tern_primary_by_notify() {
    let dir = TempDir::new("xfr-interop-knot-secondary");
    let origin = "cluster.test.";
    let tern_ip = addr(SUBNET, 31);
    let server = SocketAddr::new(tern_ip, 5325);
    let knot_ip = addr(SUBNET, 32);
    let knot_server = SocketAddr::new(knot_ip, 53);
    let tern_dir = dir.sub("tern");
    let key = primary_files(&tern_dir, origin, tern_ip);
    let config = primary_config(
        server,
        origin,
        "[\"127.0.0.0/8\"]",
        &format!("[\"{knot_server}\"]"),
    );
    let tern = start_tern(&tern_dir, server, &config, origin).await;

    let rest = format!(
        "remote:\n  - id: tern\n    address: {tern_ip}@{}\n    via: {knot_ip}\n\
         acl:\n  - id: tern-notify\n    address: {tern_ip}\n    action: notify\n\
         zone:\n  - domain: {origin}\n    master: tern\n    acl: tern-notify\n",
        server.port()
    );
    let knot = start_knot(&dir.sub("knot"), knot_ip, &rest, origin).await;
    let knot_client = format!("client={knot_ip}:");

    eventually(|| serial_is(knot_server, origin, 1))
        .await
        .unwrap_or_else(|e| panic!("{e}\nknot log:\n{}\ntern log:\n{}", knot.log(), tern.log()));
    serves(
        knot_server,
        &format!("www.{origin}"),
        RecordType::AAAA,
        &["2001:db8::2"],
    )
    .await
    .expect("Knot serves the transferred zone");
    assert!(
        log_has(&tern.log(), &[&knot_client, "kind=\"AXFR\"", "serial=1"]),
        "{}",
        tern.log()
    );

    change(server, origin, &key);
    let new = format!("new.{origin}");
    let took = eventually(|| serves(knot_server, &new, RecordType::A, &["192.0.2.9"]))
        .await
        .unwrap_or_else(|e| panic!("{e}\nknot log:\n{}\ntern log:\n{}", knot.log(), tern.log()));
    eprintln!("Knot served the change {took:?} after the UPDATE");
    serial_is(knot_server, origin, 2).await.expect("serial 2");
    let gone = ask(knot_server, &format!("old.{origin}"), RecordType::A)
        .await
        .expect("an answer");
    assert_eq!(gone.metadata.response_code, ResponseCode::NXDomain);
    logged(
        &knot,
        &[&format!("[{origin}] notify, incoming, remote {tern_ip}")],
    )
    .await
    .expect("Knot took tern's NOTIFY");
    logged(&knot, &[&format!("[{origin}] IXFR, incoming"), "finished"])
        .await
        .expect("Knot followed by IXFR");
    logged(&tern, &[&knot_client, "kind=\"IXFR\"", "serial=2"])
        .await
        .expect("tern served Knot an IXFR");
}
