//! The recursive resolver over real sockets: a tern with recursion on, resolving through the
//! lab hierarchy (`zones/hierarchy/`) served on its own loopback subnet per test.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType::{self, A, AAAA, MX, TXT};
use tern::Metrics;
use tern::{Acl, Cidr};

use crate::support::{
    Recursive, addr, ede, lines, pass, query, start_recursive, start_recursive_on_test_clock, tcp,
    udp,
};

async fn resolver(n: u8) -> Recursive {
    start_recursive(n, SocketAddr::new(addr(n, 1), 0), Acl::loopback()).await
}

/// Asks `qname` `qtype` with RD=1 over UDP (EDNS 1232) and checks the recursive flags.
async fn ask(r: &Recursive, qname: &str, qtype: RecordType) -> Message {
    let m = udp(r.server.addr, &query(qname, qtype, true, Some(1232))).await;
    assert!(m.metadata.recursion_available, "RA=1");
    assert!(!m.metadata.authoritative, "AA=0 on recursive answers");
    m
}

/// The answer lines with the lab subnet moved back to 127.0.0.x, TTLs as given.
fn answer(m: &Message, n: u8) -> Vec<String> {
    lines(&m.answers)
        .into_iter()
        .map(|l| l.replace(&format!("127.{n}.0."), "127.0.0."))
        .collect()
}

#[tokio::test]
async fn plain_names() {
    let n = 160;
    let r = resolver(n).await;
    let cases: &[(&str, RecordType, &[&str])] = &[
        (
            "www.alpha.test.",
            A,
            &["www.alpha.test. 3600 IN A 127.0.0.100"],
        ),
        (
            "www.alpha.test.",
            AAAA,
            &["www.alpha.test. 3600 IN AAAA 2001:db8::100"],
        ),
        (
            "alpha.test.",
            MX,
            &["alpha.test. 3600 IN MX 10 mail.alpha.test."],
        ),
        (
            "www.beta.example.",
            A,
            &["www.beta.example. 3600 IN A 127.0.0.110"],
        ),
        (
            "host.deep.alpha.test.",
            A,
            &["host.deep.alpha.test. 3600 IN A 127.0.0.102"],
        ),
        (
            "x.y.wild.alpha.test.",
            A,
            &["x.y.wild.alpha.test. 3600 IN A 127.0.0.101"],
        ),
        (
            "small.big.test.",
            A,
            &["small.big.test. 3600 IN A 127.0.0.150"],
        ),
    ];
    for (qname, qtype, want) in cases {
        let m = ask(&r, qname, *qtype).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NoError, "{qname}");
        assert_eq!(answer(&m, n), *want, "{qname} {qtype}");
    }
}

#[tokio::test]
async fn cname_chains_across_zones() {
    let n = 161;
    let r = resolver(n).await;
    let m = ask(&r, "chain1.alpha.test.", A).await;
    assert_eq!(
        answer(&m, n),
        [
            "chain1.alpha.test. 3600 IN CNAME chain2.alpha.test.",
            "chain2.alpha.test. 3600 IN CNAME www.beta.example.",
            "www.beta.example. 3600 IN A 127.0.0.110",
        ]
    );
    let m = ask(&r, "alias.beta.example.", A).await;
    assert_eq!(
        answer(&m, n),
        [
            "alias.beta.example. 3600 IN CNAME www.alpha.test.",
            "www.alpha.test. 3600 IN A 127.0.0.100",
        ]
    );
    let m = ask(&r, "c3.alpha.test.", A).await;
    assert_eq!(m.answers.len(), 11, "ten CNAMEs and the address");
}

#[tokio::test]
async fn glueless_delegation() {
    let n = 162;
    let r = resolver(n).await;
    let m = ask(&r, "www.glueless.test.", A).await;
    assert_eq!(answer(&m, n), ["www.glueless.test. 3600 IN A 127.0.0.120"]);
}

#[tokio::test]
async fn lame_and_silent_servers_next_to_good_ones() {
    let n = 163;
    let r = resolver(n).await;
    for _ in 0..3 {
        let m = ask(&r, "www.lame.test.", A).await;
        assert!(answer(&m, n)[0].ends_with("IN A 127.0.0.130"), "{m:?}");
        let m = ask(&r, "www.silent.test.", A).await;
        assert!(answer(&m, n)[0].ends_with("IN A 127.0.0.140"), "{m:?}");
        // Cached answers would hide the servers: ask for names not asked before.
        let m = ask(&r, "nope.lame.test.", TXT).await;
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    }
}

#[tokio::test]
async fn big_answer_needs_tcp_upstream_and_to_the_client() {
    let n = 164;
    let r = resolver(n).await;
    // Over UDP the 2.6 KB answer does not fit 1232 bytes: TC=1, so the client retries on TCP.
    let m = udp(
        r.server.addr,
        &query("big.big.test.", TXT, true, Some(1232)),
    )
    .await;
    assert!(m.metadata.truncation, "TC=1 over UDP");
    let m = tcp(
        r.server.addr,
        &query("big.big.test.", TXT, true, Some(1232)),
    )
    .await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.metadata.truncation);
    assert_eq!(m.answers.len(), 12);
    assert!(lines(&m.answers)[0].contains("big-01-of-12"));
}

#[tokio::test]
async fn negative_answers_carry_the_soa() {
    let n = 165;
    let r = resolver(n).await;
    let m = ask(&r, "nope.alpha.test.", A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    assert!(m.answers.is_empty());
    let soa = lines(&m.authorities);
    assert_eq!(soa.len(), 1);
    assert!(
        soa[0].starts_with("alpha.test. 300 IN SOA ns1.alpha.test."),
        "{soa:?}"
    );
    let m = ask(&r, "www.alpha.test.", MX).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty());
    assert!(lines(&m.authorities)[0].starts_with("alpha.test. 300 IN SOA"));
    let m = ask(&r, "wild.alpha.test.", A).await;
    assert_eq!(
        m.metadata.response_code,
        ResponseCode::NoError,
        "empty non-terminal"
    );
    assert!(m.answers.is_empty());
}

#[tokio::test]
async fn repeats_come_from_the_cache_until_the_ttl_runs_out() {
    let n = 166;
    // Time is moved, not waited for: the server's clock is this test's runtime's.
    let r = start_recursive_on_test_clock(n, SocketAddr::new(addr(n, 1), 0), Acl::loopback()).await;
    let first = ask(&r, "short-ttl.alpha.test.", A).await;
    assert_eq!(
        answer(&first, n),
        ["short-ttl.alpha.test. 5 IN A 127.0.0.104"]
    );
    let sent = Metrics::get(&r.metrics.upstream_queries);
    assert!(sent > 0);

    pass(Duration::from_secs(2)).await;
    let second = ask(&r, "short-ttl.alpha.test.", A).await;
    assert_eq!(
        Metrics::get(&r.metrics.upstream_queries),
        sent,
        "no upstream query"
    );
    let ttl = second.answers[0].ttl;
    assert!((1..=3).contains(&ttl), "TTL counts down by the 2 s: {ttl}");
    assert!(r.metrics.cache_hits() >= 1);

    // Past the TTL: asked upstream again, and the answer's TTL is whole again.
    pass(Duration::from_secs(3)).await;
    let third = ask(&r, "short-ttl.alpha.test.", A).await;
    assert!(
        Metrics::get(&r.metrics.upstream_queries) > sent,
        "expired: asked again"
    );
    assert_eq!(
        answer(&third, n),
        ["short-ttl.alpha.test. 5 IN A 127.0.0.104"]
    );
}

#[tokio::test]
async fn limit_trips_answer_servfail_with_an_extended_error() {
    let n = 167;
    let r = resolver(n).await;
    for qname in ["c1.alpha.test.", "loop1.alpha.test."] {
        let m = ask(&r, qname, A).await;
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail, "{qname}");
        let (code, text) = ede(&m).expect("EDE option");
        assert_eq!(code, 0, "{qname}: {text}");
        assert!(text.contains("CNAME chain"), "{text}");
    }
    // The failure is cached (RFC 9520): the repeat sends nothing upstream.
    let sent = Metrics::get(&r.metrics.upstream_queries);
    let m = ask(&r, "c1.alpha.test.", A).await;
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert!(ede(&m).is_some());
    assert_eq!(Metrics::get(&r.metrics.upstream_queries), sent);
}

#[tokio::test]
async fn clients_outside_the_acl_are_refused() {
    let n = 168;
    let only: Cidr = "10.0.0.0/8".parse().expect("cidr");
    let r = start_recursive(n, SocketAddr::new(addr(n, 1), 0), Acl::new(vec![only])).await;
    let m = udp(
        r.server.addr,
        &query("www.alpha.test.", A, true, Some(1232)),
    )
    .await;
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
    assert!(m.answers.is_empty());
    assert_eq!(ede(&m).map(|e| e.0), Some(18), "EDE Prohibited");
    assert_eq!(Metrics::get(&r.metrics.upstream_queries), 0);
}

/// Whether any interface holds an IPv4 address outside 127/8: without one, glibc's
/// getaddrinfo with AI_ADDRCONFIG (as `getent ahostsv4` asks) returns no IPv4 address at all.
fn has_non_loopback_ipv4() -> bool {
    nix::ifaddrs::getifaddrs().is_ok_and(|mut all| {
        all.any(|i| {
            i.address
                .as_ref()
                .and_then(|a| a.as_sockaddr_in())
                .is_some_and(|v4| !v4.ip().is_loopback())
        })
    })
}

/// What most likely made the getent test fail, for its message: the test needs root, glibc
/// reading /etc/resolv.conf (nsswitch's `dns`, as Debian has it) and a non-loopback interface.
fn getent_cause(status: Option<i32>, stderr: &str, hosts_ok: bool, ahosts_ok: bool) -> String {
    if status == Some(MOUNT_FAILED) || stderr.contains("unshare:") {
        return "unshare -m and mount --bind need root (CAP_SYS_ADMIN): run the tests as root, \
                as tests/run.sh does"
            .to_string();
    }
    let nsswitch = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
    let hosts = nsswitch
        .lines()
        .find(|l| l.trim_start().starts_with("hosts:"))
        .unwrap_or("hosts: (none)");
    if !hosts.split_whitespace().any(|w| w == "dns") {
        return format!(
            "/etc/nsswitch.conf has `{hosts}`: without `dns` glibc never reads \
             /etc/resolv.conf (Debian's default is `files dns`)"
        );
    }
    if hosts_ok && !ahosts_ok && !has_non_loopback_ipv4() {
        return "no interface has a non-loopback IPv4 address, so getaddrinfo's AI_ADDRCONFIG \
                (getent ahostsv4) returns no IPv4 at all; give the machine one, e.g. `ip link \
                add dummy0 type dummy && ip addr add 192.0.2.1/24 dev dummy0 && ip link set \
                dummy0 up`"
            .to_string();
    }
    format!("glibc got no answer through tern; nsswitch.conf has `{hosts}`")
}

/// The exit status of the test's script when the bind mount over /etc/resolv.conf fails.
const MOUNT_FAILED: i32 = 90;

#[tokio::test]
async fn glibc_resolves_through_tern() {
    let n = 169;
    let r = start_recursive(n, SocketAddr::new(addr(n, 53), 53), Acl::loopback()).await;
    let dir = std::env::temp_dir().join(format!("tern-getent-{n}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let conf = dir.join("resolv.conf");
    std::fs::write(
        &conf,
        format!("nameserver 127.{n}.0.53\noptions attempts:1 timeout:5\n"),
    )
    .expect("write resolv.conf");
    // Each lookup's status is printed, so a failure can say which one failed.
    let script = format!(
        "mount --bind {} /etc/resolv.conf || exit {MOUNT_FAILED}; \
         getent hosts www.alpha.test; echo \"hosts=$?\"; echo ---; \
         getent ahostsv4 www.alpha.test; echo \"ahostsv4=$?\"",
        conf.display()
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("unshare")
            .args(["-m", "sh", "-c", &script])
            .output()
    })
    .await
    .expect("join")
    .expect("unshare runs (needs root)");
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ran_ok = |step: &str| stdout.lines().any(|l| l == format!("{step}=0"));
    let (hosts_ok, ahosts_ok) = (ran_ok("hosts"), ran_ok("ahostsv4"));
    assert!(
        out.status.success() && hosts_ok && ahosts_ok,
        "getent failed; likely cause: {}\n{stdout}{stderr}",
        getent_cause(out.status.code(), &stderr, hosts_ok, ahosts_ok)
    );
    let (hosts, ahostsv4) = stdout.split_once("---").expect("both lookups ran");
    // `getent hosts` asks for AAAA first (gethostbyname2 with AF_INET6), then A.
    assert!(
        hosts.contains("2001:db8::100") || hosts.contains(&format!("127.{n}.0.100")),
        "getent hosts: {hosts}"
    );
    assert!(ahostsv4.contains(&format!("127.{n}.0.100")), "{ahostsv4}");
    assert!(Metrics::get(&r.metrics.upstream_queries) > 0);
}
