//! `dig` and `kdig` against a tern primary: AXFR, IXFR, ACL, TSIG.

use super::*;

/// dig and kdig as transfer clients of a tern primary: AXFR prints the zone between two SOAs,
/// IXFR after an UPDATE prints exactly the increment, a TSIG-signed AXFR verifies, and the ACL
/// refuses an address it does not list (unless the request is signed with a listed key).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dig_and_kdig_transfer_from_a_tern_primary() {
    let dir = TempDir::new("xfr-interop-dig");
    let origin = "cluster.test.";
    let ip = addr(SUBNET, 1);
    let server = SocketAddr::new(ip, 5321);
    let (allowed, other) = (addr(SUBNET, 8).to_string(), addr(SUBNET, 9).to_string());
    let key = primary_files(&dir.0, origin, ip);
    let config = primary_config(
        server,
        origin,
        &format!("[\"{allowed}/32\", \"key:{KEY_NAME}\"]"),
        "[]",
    );
    let tern = start_tern(&dir.0, server, &config, origin).await;
    let port = server.port().to_string();
    let at = format!("@{ip}");
    let dig_axfr = |source: &str, extra: &[&str]| {
        let mut args = vec![
            at.as_str(),
            "-p",
            &port,
            "-b",
            source,
            "+tries=1",
            "+time=3",
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&[origin, "AXFR"]);
        run("dig", &args)
    };

    // AXFR from a listed address: the SOA, every record of the file once, the SOA again.
    let out = dig_axfr(&allowed, &[]);
    let printed = printed_records(&out);
    let soa1 = soa_line(origin, 1);
    assert!(printed.len() >= 2, "dig AXFR: {}", text(&out));
    assert_eq!(printed.first(), Some(&soa1), "opens with the SOA");
    assert_eq!(printed.last(), Some(&soa1), "closes with the SOA");
    let mut middle = printed[1..printed.len() - 1].to_vec();
    middle.sort();
    assert_eq!(middle, zone_lines(origin, ip), "dig AXFR: {}", text(&out));
    assert!(text(&out).contains("XFR size: 9 records"), "{}", text(&out));

    // One UPDATE: `old` deleted, `new` added, serial 1 → 2. kdig's IXFR=1 prints the
    // increment (RFC 1995 §4): new SOA, old SOA, what was deleted, new SOA, what was added,
    // new SOA.
    change(server, origin, &key);
    let out = run(
        "kdig",
        &[
            &at,
            "-p",
            &port,
            "-b",
            &allowed,
            "+timeout=3",
            "+retry=0",
            origin,
            "IXFR=1",
        ],
    );
    let soa2 = soa_line(origin, 2);
    assert_eq!(
        printed_records(&out),
        [
            soa2.clone(),
            soa1.clone(),
            format!("old.{origin} 300 IN A 192.0.2.1"),
            soa2.clone(),
            format!("new.{origin} 300 IN A 192.0.2.9"),
            soa2.clone(),
        ],
        "kdig IXFR=1: {}",
        text(&out)
    );
    // Already current: the SOA alone.
    let out = run(
        "kdig",
        &[
            &at,
            "-p",
            &port,
            "-b",
            &allowed,
            "+timeout=3",
            "+retry=0",
            origin,
            "IXFR=2",
        ],
    );
    assert_eq!(printed_records(&out), [soa2.as_str()], "{}", text(&out));

    // From an address the ACL does not list: refused (dig: "Transfer failed.", kdig: REFUSED).
    let out = dig_axfr(&other, &[]);
    assert!(printed_records(&out).is_empty(), "{}", text(&out));
    assert!(text(&out).contains("Transfer failed"), "{}", text(&out));
    let out = run(
        "kdig",
        &[
            &at,
            "-p",
            &port,
            "-b",
            &other,
            "+timeout=3",
            "+retry=0",
            origin,
            "AXFR",
        ],
    );
    assert!(text(&out).contains("REFUSED"), "kdig: {}", text(&out));

    // The same address signing with the listed key: allowed, and dig verifies every signed
    // message (it prints the TSIG, NOERROR, and no verification error).
    let secret = format!("hmac-sha256:{KEY_NAME}:{SECRET}");
    let out = dig_axfr(&other, &["-y", &secret]);
    let all = text(&out);
    let printed = printed_records(&out);
    let (tsig, zone): (Vec<String>, Vec<String>) =
        printed.into_iter().partition(|l| l.contains(" TSIG "));
    assert_eq!(zone.first(), Some(&soa2), "{all}");
    assert_eq!(zone.last(), Some(&soa2), "{all}");
    assert_eq!(zone.len(), 9, "{all}");
    assert!(
        !tsig.is_empty() && tsig.iter().all(|l| l.ends_with("NOERROR 0")),
        "{all}"
    );
    for bad in ["verify", "TSIG error", "BADSIG", "Transfer failed"] {
        assert!(!all.contains(bad), "{bad}: {all}");
    }
    // A wrong secret under the same name: BADSIG (RFC 8945 §5.2.2), no records.
    let wrong = format!("hmac-sha256:{KEY_NAME}:{WRONG_SECRET}");
    let out = dig_axfr(&other, &["-y", &wrong]);
    assert!(text(&out).contains("BADSIG"), "{}", text(&out));
    assert!(text(&out).contains("Transfer failed"), "{}", text(&out));

    // tern's own account: which transfers it served to whom.
    let log = tern.log();
    assert!(
        log_has(&log, &[&format!("client={allowed}:"), "kind=\"IXFR\""]),
        "{log}"
    );
    assert!(
        log_has(&log, &[&format!("client={other}:"), "kind=\"AXFR\""]),
        "the signed AXFR: {log}"
    );
}
