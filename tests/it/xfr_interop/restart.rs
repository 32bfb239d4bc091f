//! A primary's serial across restarts: after every kind of change (UPDATE, a service's health
//! flap, a SIGHUP reload of a file edited without a new serial), the primary is killed
//! (`kill -9`) or stopped (SIGTERM) and started again; its serial never goes below the one it
//! served before, and its secondaries, NSD and tern, converge to its exact AXFR each time.

use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::*;

/// An instance that passes its TCP check while this runs: it accepts (and closes) every
/// connection, so the probes never fill the listen queue.
async fn instance(at: SocketAddr) -> JoinHandle<()> {
    let listener = TcpListener::bind(at).await.expect("the instance listens");
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            drop(conn);
        }
    })
}

/// Stops an instance: its listener is closed when this returns.
async fn stop_instance(instance: JoinHandle<()>) {
    instance.abort();
    let _ = instance.await;
}

/// The records `server` transfers by AXFR (dig's lines, sorted): what a secondary holds.
fn axfr(server: SocketAddr, origin: &str) -> Vec<String> {
    let port = server.port().to_string();
    let at = format!("@{}", server.ip());
    let out = run(
        "dig",
        &[&at, "-p", &port, "+tries=1", "+time=3", origin, "AXFR"],
    );
    let mut records = printed_records(&out);
    records.sort();
    records
}

/// How many SOA records `server` sends for an IXFR from `serial`: one when `serial` is
/// current, two for a whole zone sent AXFR-style (RFC 1995 §4, what a server sends when its
/// history does not reach back that far), more for increments.
fn ixfr_soas(server: SocketAddr, origin: &str, serial: u32) -> usize {
    let port = server.port().to_string();
    let at = format!("@{}", server.ip());
    let ixfr = format!("IXFR={serial}");
    let out = run(
        "dig",
        &[&at, "-p", &port, "+tries=1", "+time=3", origin, &ixfr],
    );
    printed_records(&out)
        .iter()
        .filter(|l| l.split_whitespace().nth(3) == Some("SOA"))
        .count()
}

fn serial_of(records: &[String]) -> Option<u32> {
    // `ORIGIN TTL IN SOA MNAME RNAME SERIAL ...`
    records
        .iter()
        .find(|l| l.split_whitespace().nth(3) == Some("SOA"))
        .and_then(|l| l.split_whitespace().nth(6)?.parse().ok())
}

/// Waits until both secondaries transfer exactly what the primary transfers, and returns the
/// primary's serial; panics (with every log) when they do not within `WAIT`.
async fn converged(
    primary: SocketAddr,
    secondaries: &[SocketAddr],
    origin: &str,
    logs: &str,
) -> u32 {
    let mut last = String::new();
    let start = Instant::now();
    while start.elapsed() < WAIT {
        let want = axfr(primary, origin);
        let apart: Vec<(&SocketAddr, Vec<String>)> = secondaries
            .iter()
            .map(|s| (s, axfr(*s, origin)))
            .filter(|(_, held)| *held != want)
            .collect();
        if !want.is_empty() && apart.is_empty() {
            return serial_of(&want).expect("the AXFR has a SOA");
        }
        last = format!("the primary's AXFR {want:#?}\ndiffers from {apart:#?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("not converged after {WAIT:?}: {last}\n{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_primary_never_serves_an_older_serial_and_its_secondaries_converge() {
    let dir = TempDir::new("xfr-interop-restart");
    let origin = "flap.test.";
    let tern_ip = addr(SUBNET, 61);
    let primary = SocketAddr::new(tern_ip, 5341);
    let nsd_ip = addr(SUBNET, 62);
    let nsd_server = SocketAddr::new(nsd_ip, 53);
    let secondary_ip = addr(SUBNET, 63);
    let secondary = SocketAddr::new(secondary_ip, 5342);
    // The one checked instance of the service: healthy while this port listens.
    let health = SocketAddr::new(addr(SUBNET, 64), 18064);

    let primary_dir = dir.sub("primary");
    let key = primary_files(&primary_dir, origin, tern_ip);
    let zone_file = primary_dir.join(format!("{origin}zone"));
    let config = primary_config(
        primary,
        origin,
        "[\"127.0.0.0/8\"]",
        &format!("[\"{nsd_server}\", \"{secondary}\"]"),
    ) + &format!(
        "[[service]]\nzone = \"{origin}\"\nname = \"web\"\nprotocol = \"tcp\"\nttl = 30\n\
         [[service.instance]]\nname = \"web-1\"\naddress = \"{}\"\nport = 8080\n\
         [[service.instance]]\nname = \"web-2\"\naddress = \"{}\"\nport = 8080\n\
         check = {{ tcp = \"{health}\", interval_ms = 100, timeout_ms = 100, rise = 1, fall = 1 }}\n",
        addr(SUBNET, 65),
        health.ip(),
    );
    let mut listener = Some(instance(health).await);
    let mut tern = start_tern(&primary_dir, primary, &config, origin).await;

    let nsd_zones = format!(
        "zone:\n  name: \"{origin}\"\n  zonefile: \"{origin}zone\"\n  \
         request-xfr: {tern_ip}@{} NOKEY\n  allow-notify: {tern_ip} NOKEY\n  \
         outgoing-interface: {nsd_ip}\n  provide-xfr: 127.0.0.0/8 NOKEY\n",
        primary.port()
    );
    let nsd = start_nsd(&dir.sub("nsd"), nsd_ip, &nsd_zones, origin).await;
    let secondary_dir = dir.sub("secondary");
    let secondary_config = format!(
        "[server]\nlisten = [\"{secondary}\"]\nno_recursion = true\n\
         [[zone]]\norigin = \"{origin}\"\nfile = \"copy/{origin}zone\"\nprimaries = [\"{primary}\"]\n\
         allow_transfer = [\"127.0.0.0/8\"]\n"
    );
    let second = start_tern(&secondary_dir, secondary, &secondary_config, origin).await;
    let secondaries = [nsd_server, secondary];
    let logs = |tern: &Daemon| {
        format!(
            "primary log:\n{}\nnsd log:\n{}\nsecondary log:\n{}",
            tern.log(),
            nsd.log(),
            second.log()
        )
    };
    let mut highest = converged(primary, &secondaries, origin, &logs(&tern)).await;
    let first = highest;

    // Each change, then a restart of the primary in one of the two ways.
    #[derive(Debug, Clone, Copy)]
    enum Change {
        Update,
        Flap,
        Reload,
    }
    let steps = [
        (Change::Update, "KILL"),
        (Change::Flap, "TERM"),
        (Change::Reload, "KILL"),
        (Change::Flap, "KILL"),
        (Change::Update, "TERM"),
        (Change::Reload, "TERM"),
    ];
    for (round, (what, how)) in steps.into_iter().enumerate() {
        match what {
            Change::Update => {
                let script = format!(
                    "server {} {}\nzone {origin}\nupdate add u{round}.{origin} 300 A 192.0.2.{round}\nsend\nquit\n",
                    primary.ip(),
                    primary.port()
                );
                let key = key.to_str().expect("utf-8 path");
                let out = support::update_client("nsupdate", &["-k", key], &script);
                assert!(out.status.success(), "nsupdate: {}", text(&out));
            }
            Change::Flap => {
                // Down if it was up, up if it was down.
                listener = match listener.take() {
                    Some(up) => {
                        stop_instance(up).await;
                        None
                    }
                    None => Some(instance(health).await),
                };
            }
            Change::Reload => {
                // Edited without raising the file's serial, as people do.
                let extra = format!("r{round} A 192.0.2.{}\n", 100 + round);
                let text = std::fs::read_to_string(&zone_file).expect("zone file");
                let edited = format!("{text}{extra}");
                std::fs::write(&zone_file, edited).expect("edit the zone file");
                support::signal(&tern.child, "HUP");
            }
        }
        // The primary serves the change at a later serial, and the secondaries follow.
        let before = highest;
        let start = Instant::now();
        let changed = loop {
            let serial = serial_of(&axfr(primary, origin)).expect("a SOA");
            if serial != before {
                break serial;
            }
            assert!(
                start.elapsed() < WAIT,
                "round {round} {what:?}: serial still {serial}\n{}",
                logs(&tern)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(
            later(changed, before),
            "round {round} {what:?}: {changed} is not after {before}"
        );
        highest = converged(primary, &secondaries, origin, &logs(&tern)).await;

        // Restart, then: never an older serial, and the secondaries hold the primary's zone.
        support::signal(&tern.child, how);
        let _ = tern.child.wait();
        drop(tern);
        tern = start_tern(&primary_dir, primary, &config, origin).await;
        let served = serial_of(&axfr(primary, origin)).expect("a SOA");
        assert!(
            served == highest || later(served, highest),
            "round {round} {what:?} then SIG{how}: serving {served} after {highest}\n{}",
            logs(&tern)
        );
        let now = converged(primary, &secondaries, origin, &logs(&tern)).await;
        assert!(
            now == highest || later(now, highest),
            "round {round}: {now} after {highest}"
        );
        highest = now;
        // The restarted primary still answers IXFR from the first serial with increments
        // (its journal kept them), not with the whole zone.
        let soas = ixfr_soas(primary, origin, first);
        assert!(
            soas > 2,
            "round {round}: IXFR from {first} after a restart sent {soas} SOAs\n{}",
            logs(&tern)
        );
    }
    // The tern secondary, killed and started again, serves its copy from its journal at the
    // serial it had, and answers IXFR from there too.
    let mut second = second;
    support::signal(&second.child, "KILL");
    let _ = second.child.wait();
    drop(second);
    let second = start_tern(&secondary_dir, secondary, &secondary_config, origin).await;
    assert_eq!(
        axfr(secondary, origin),
        axfr(primary, origin),
        "{}",
        second.log()
    );
    let soas = ixfr_soas(secondary, origin, first);
    assert!(
        soas > 2,
        "the restarted secondary sent {soas} SOAs for IXFR from {first}\n{}",
        second.log()
    );
    if let Some(up) = listener {
        stop_instance(up).await;
    }
}

/// RFC 1982: `a` is later than `b`.
fn later(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 0x8000_0000
}
