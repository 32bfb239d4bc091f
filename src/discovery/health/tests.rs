//! The health state machine under the paused clock with a scripted prober, and the real
//! probes against loopback listeners on the normal clock.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::probe::parse_status_line;
use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::sleep_until;

const ID: &str = "web.cluster.test./web-1";
const INTERVAL: Duration = Duration::from_secs(1);
const TIMEOUT: Duration = Duration::from_millis(500);
/// When to look at the table after a probe: past the timeout, so even a hung probe is over.
const SETTLED: Duration = Duration::from_millis(750);

#[derive(Debug, Clone, Copy)]
enum Step {
    /// Passes after this many ms, which it reports as its RTT.
    Pass(u64),
    /// Fails at once, as a refused connection does.
    Fail,
    /// Never answers: `run_checks` must time it out.
    Hang,
}
use Step::{Fail, Hang, Pass};

/// Plays one step per probe (then repeats the last) on the paused clock.
struct Script {
    steps: Vec<Step>,
    probes: Arc<AtomicUsize>,
}

impl Prober for Script {
    fn probe(&self, _timeout: Duration) -> ProbeFuture<'_> {
        let i = self.probes.fetch_add(1, Ordering::SeqCst);
        let step = self.steps.get(i).or(self.steps.last()).copied();
        Box::pin(async move {
            match step {
                Some(Pass(ms)) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok(Duration::from_millis(ms))
                }
                Some(Hang) => std::future::pending().await,
                Some(Fail) | None => Err(ProbeError::Refused),
            }
        })
    }
}

/// `run_checks` on a script, probing at start + k × INTERVAL.
struct Run {
    table: Arc<HealthTable>,
    start: Instant,
    probes: Arc<AtomicUsize>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), SpecError>>,
}

fn start(steps: &[Step], rise: u32, fall: u32) -> Run {
    let table = HealthTable::new();
    let probes = Arc::new(AtomicUsize::new(0));
    let spec = CheckSpec {
        interval: INTERVAL,
        timeout: TIMEOUT,
        rise,
        fall,
        ..CheckSpec::new(Script {
            steps: steps.to_vec(),
            probes: probes.clone(),
        })
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let task = tokio::spawn(run_checks(table.clone(), ID.into(), spec, shutdown));
    Run {
        table,
        start: Instant::now(),
        probes,
        stop: Some(stop),
        task,
    }
}

impl Run {
    /// The instance's health once probe `k` (from 0) is over.
    async fn after_probe(&self, k: u32) -> Health {
        self.settle(k).await;
        self.table
            .get(ID)
            .expect("run_checks registers the instance")
    }

    /// Waits until probe `k` (from 0) is over.
    async fn settle(&self, k: u32) {
        sleep_until(self.start + INTERVAL * k + SETTLED).await;
    }

    async fn healthy_after_each(&self, probes: usize) -> Vec<bool> {
        let mut states = Vec::new();
        for k in 0..probes as u32 {
            states.push(self.after_probe(k).await.healthy);
        }
        states
    }
}

#[tokio::test(start_paused = true)]
async fn leaves_after_exactly_fall_failures_and_returns_after_exactly_rise_passes() {
    // rise 2 and fall 3 differ, so a swap would show.
    let steps = [Pass(10), Fail, Fail, Fail, Pass(10), Pass(10), Pass(10)];
    let run = start(&steps, 2, 3);
    let states = run.healthy_after_each(steps.len()).await;
    assert_eq!(states, [true, true, true, false, false, true, true]);
    let health = run.table.get(ID).unwrap();
    assert_eq!(health.changes, 2);
    assert_eq!(health.last_error.as_deref(), Some("connection refused"));
}

#[tokio::test(start_paused = true)]
async fn a_dead_new_instance_answers_at_first_then_leaves_after_fall_probes() {
    let run = start(&[Fail], 2, 2);
    assert_eq!(run.healthy_after_each(3).await, [true, false, false]);
}

#[tokio::test(start_paused = true)]
async fn hung_probes_time_out_and_leave_within_interval_times_fall() {
    let run = start(&[Pass(10), Hang], 2, 2);
    let first_failure = run.start + INTERVAL;
    // The second hung probe starts at first_failure + INTERVAL and times out TIMEOUT later.
    let down_at = first_failure + INTERVAL + TIMEOUT;
    assert!(down_at <= first_failure + INTERVAL * 2);
    sleep_until(down_at - Duration::from_millis(1)).await;
    assert!(run.table.is_healthy(ID));
    sleep_until(down_at + Duration::from_millis(1)).await;
    let health = run.table.get(ID).unwrap();
    assert!(!health.healthy);
    assert_eq!(health.last_error.as_deref(), Some("no answer within 500ms"));
}

#[tokio::test(start_paused = true)]
async fn flapping_shorter_than_fall_or_rise_changes_nothing() {
    let steps = [
        Fail,
        Pass(5),
        Fail,
        Pass(5),
        Fail,
        Fail,
        Pass(5),
        Fail,
        Pass(5),
        Fail,
    ];
    let run = start(&steps, 2, 2);
    let states = run.healthy_after_each(steps.len()).await;
    let (up, down) = states.split_at(5);
    assert_eq!(up, [true; 5], "single failures keep it in");
    assert_eq!(down, [false; 5], "single passes do not bring it back");
    assert_eq!(run.table.get(ID).unwrap().changes, 1);
}

#[tokio::test(start_paused = true)]
async fn the_watch_channel_bumps_on_membership_changes_only() {
    let steps = [
        Pass(10),
        Pass(50),
        Pass(90),
        Fail,
        Fail,
        Fail,
        Pass(10),
        Pass(10),
    ];
    let run = start(&steps, 2, 2);
    let rx = run.table.subscribe();
    let mut generations = Vec::new();
    let mut rtts = Vec::new();
    for k in 0..steps.len() as u32 {
        rtts.push(run.after_probe(k).await.rtt);
        generations.push(*rx.borrow());
    }
    assert_eq!(generations, [0, 0, 0, 0, 1, 1, 1, 2]);
    assert!(
        rtts[0] != rtts[1] && rtts[1] != rtts[2],
        "RTT moved: {rtts:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn rtt_is_smoothed_with_gain_one_eighth_and_failures_leave_it() {
    let run = start(&[Pass(80), Pass(160), Fail, Pass(10)], 1, 2);
    let mut rtts = Vec::new();
    for k in 0..4 {
        rtts.push(
            run.after_probe(k)
                .await
                .rtt
                .map(|d| d.as_secs_f64() * 1000.0),
        );
    }
    // 80; 80 + (160 − 80)/8 = 90; unchanged; 90 + (10 − 90)/8 = 80.
    assert_eq!(rtts, [Some(80.0), Some(90.0), Some(90.0), Some(80.0)]);
}

#[tokio::test(start_paused = true)]
async fn an_operator_override_holds_until_the_checks_say_otherwise() {
    let run = start(&[Pass(10)], 2, 2);
    let rx = run.table.subscribe();
    run.after_probe(0).await;
    run.table.set_healthy(ID, true); // already healthy: nothing happens
    assert_eq!(*rx.borrow(), 0);
    run.table.set_healthy(ID, false);
    assert!(!run.table.is_healthy(ID));
    assert_eq!(*rx.borrow(), 1);
    assert!(!run.after_probe(1).await.healthy);
    assert!(run.after_probe(2).await.healthy, "back after rise passes");
    assert_eq!(*rx.borrow(), 2);

    let run = start(&[Fail], 2, 2);
    assert!(!run.after_probe(1).await.healthy);
    run.table.set_healthy(ID, true);
    assert!(run.after_probe(2).await.healthy, "one failure is not fall");
    assert!(!run.after_probe(3).await.healthy);
    assert_eq!(run.table.get(ID).unwrap().changes, 3);
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_the_probes_and_keeps_the_entry() {
    let mut run = start(&[Pass(10)], 2, 2);
    run.after_probe(1).await;
    run.stop.take().unwrap().send(()).unwrap();
    assert_eq!(run.task.await.unwrap(), Ok(()));
    assert_eq!(run.probes.load(Ordering::SeqCst), 2);
    tokio::time::sleep(INTERVAL * 5).await;
    assert_eq!(run.probes.load(Ordering::SeqCst), 2);
    assert!(run.table.get(ID).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_removed_instance_stays_removed_while_its_checker_winds_down() {
    let run = start(&[Fail], 2, 2);
    let rx = run.table.subscribe();
    run.after_probe(0).await;
    run.table.remove(ID); // healthy: answers do not change
    run.settle(1).await;
    assert_eq!(
        run.probes.load(Ordering::SeqCst),
        2,
        "the checker still runs"
    );
    assert_eq!(run.table.get(ID), None);
    assert!(run.table.is_healthy(ID), "unknown ids count as healthy");
    assert_eq!(*rx.borrow(), 0);

    run.table.set_healthy("other", false);
    run.table.remove("other"); // unhealthy: unknown counts as healthy, so it comes back
    assert_eq!(*rx.borrow(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_spec_out_of_bounds_is_refused_before_touching_the_table() {
    let ok = CheckSpec::new(Check::Tcp(([127, 0, 0, 1], 80).into()));
    assert_eq!(ok.validate(), Ok(()));
    let cases = [
        CheckSpec {
            interval: Duration::ZERO,
            ..ok.clone()
        },
        CheckSpec {
            timeout: Duration::from_millis(1),
            ..ok.clone()
        },
        CheckSpec {
            rise: 0,
            ..ok.clone()
        },
        CheckSpec {
            fall: 11,
            ..ok.clone()
        },
    ];
    for spec in cases {
        assert!(
            matches!(spec.validate(), Err(SpecError::OutOfRange(_))),
            "{spec:?}"
        );
    }
    let slow = CheckSpec {
        timeout: INTERVAL * 2,
        interval: INTERVAL,
        ..ok
    };
    let table = HealthTable::new();
    let outcome = run_checks(table.clone(), ID.into(), slow, std::future::pending()).await;
    assert!(matches!(
        outcome,
        Err(SpecError::TimeoutExceedsInterval { .. })
    ));
    assert_eq!(table.get(ID), None);
}

#[test]
fn http_check_urls() {
    let ok = [
        (
            "http://127.0.0.1:8080",
            "127.0.0.1:8080",
            "127.0.0.1:8080",
            "/",
        ),
        (
            "HTTP://127.0.0.1:80/healthz?full=1",
            "127.0.0.1:80",
            "127.0.0.1:80",
            "/healthz?full=1",
        ),
        ("http://[::1]:8080/h", "[::1]:8080", "[::1]:8080", "/h"),
    ];
    for (url, addr, host, path) in ok {
        let check: HttpCheck = url.parse().unwrap();
        assert_eq!(check.addr(), addr.parse::<SocketAddr>().unwrap(), "{url}");
        assert_eq!((check.host(), check.path()), (host, path), "{url}");
    }
    use HttpCheckError as E;
    type Variant = fn(String) -> E;
    let bad: [(&str, Variant); 10] = [
        ("https://127.0.0.1:443/", E::Scheme),
        ("127.0.0.1:80", E::Scheme),
        ("htt", E::Scheme),
        ("http://", E::Authority),
        ("http://localhost:80/", E::Authority),
        ("http://127.0.0.1/", E::Authority),
        ("http://user@127.0.0.1:80/", E::Authority),
        ("http://127.0.0.1:80/a b", E::Path),
        ("http://127.0.0.1:80/a#top", E::Path),
        ("http://127.0.0.1:80/a\r\nX-Injected: 1", E::Path),
    ];
    for (url, error) in bad {
        assert_eq!(url.parse::<HttpCheck>(), Err(error(url.into())), "{url}");
    }
    let addr = ([127, 0, 0, 1], 80).into();
    assert!(matches!(
        HttpCheck::new(addr, "a\r\nb", "/"),
        Err(E::Host(_))
    ));
    assert!(HttpCheck::new(addr, "web.cluster.test", "/").is_ok());
}

#[test]
fn http_status_lines() {
    let not_http = Err(ProbeError::Malformed("not an HTTP/1.x status line"));
    let cases = [
        ("HTTP/1.1 200 OK", Ok(200)),
        ("HTTP/1.0 204", Ok(204)),
        ("HTTP/1.1 503 Service Unavailable\r", Ok(503)),
        ("HTTP/2 200 OK", not_http.clone()),
        ("HTTP/1.1 20 OK", not_http.clone()),
        ("HTTP/1.1 2000 OK", not_http.clone()),
        ("HTTP/1.1  200 OK", not_http.clone()),
        ("SSH-2.0-OpenSSH_9.6", not_http.clone()),
        ("", not_http),
    ];
    for (line, expected) in cases {
        assert_eq!(parse_status_line(line.as_bytes()), expected, "{line:?}");
    }
}

// Real sockets from here on, on the normal clock: the paused clock would auto-advance
// while a task waits on I/O and fire the timeouts at once. Outcomes, not durations.
const REAL_TIMEOUT: Duration = Duration::from_secs(2);

async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Answers one connection with `reply` after reading the request head, which it returns.
async fn serve_once(reply: &'static [u8]) -> (SocketAddr, JoinHandle<String>) {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 512];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 4096 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = stream.write_all(reply).await; // the prober may hang up first
        String::from_utf8_lossy(&head).into_owned()
    });
    (addr, server)
}

#[tokio::test]
async fn tcp_probe_passes_against_a_listener() {
    let (_listener, addr) = listener().await;
    assert!(probe(&Check::Tcp(addr), REAL_TIMEOUT).await.is_ok());
}

#[tokio::test]
async fn tcp_probe_to_a_closed_port_is_refused_not_timed_out() {
    let (listener, addr) = listener().await;
    drop(listener);
    assert_eq!(
        probe(&Check::Tcp(addr), REAL_TIMEOUT).await,
        Err(ProbeError::Refused)
    );
}

#[tokio::test]
async fn http_probe_outcomes() {
    const TOO_LONG: &[u8] = &[b'x'; 2 * HTTP_STATUS_LINE_MAX];
    let cases: [(&[u8], Result<(), ProbeError>); 6] = [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Ok(())),
        (b"HTTP/1.0 204 No Content\r\n\r\n", Ok(())),
        (
            b"HTTP/1.1 503 Service Unavailable\r\n\r\n",
            Err(ProbeError::Status(503)),
        ),
        (
            b"HTTP/1.1 301 Moved Permanently\r\n\r\n",
            Err(ProbeError::Status(301)),
        ),
        (
            b"",
            Err(ProbeError::Malformed(
                "connection closed before the status line",
            )),
        ),
        (TOO_LONG, Err(ProbeError::Malformed("status line too long"))),
    ];
    for (reply, expected) in cases {
        let (addr, server) = serve_once(reply).await;
        let check = format!("http://{addr}/healthz").parse().unwrap();
        let outcome = probe(&Check::Http(check), REAL_TIMEOUT).await;
        let shown = String::from_utf8_lossy(&reply[..reply.len().min(40)]);
        assert_eq!(outcome.map(drop), expected, "{shown:?}");
        let head = server.await.unwrap();
        assert!(head.starts_with("GET /healthz HTTP/1.1\r\n"), "{head}");
        for header in [
            &format!("Host: {addr}"),
            "User-Agent: tern-health",
            "Connection: close",
        ] {
            assert!(
                head.contains(&format!("\r\n{header}\r\n")),
                "{header} in {head}"
            );
        }
    }
}

#[tokio::test]
async fn http_probe_of_a_silent_server_times_out() {
    let (listener, addr) = listener().await;
    let _server = tokio::spawn(async move {
        let (_stream, _) = listener.accept().await.unwrap();
        std::future::pending::<()>().await;
    });
    let timeout = Duration::from_millis(300);
    let check = Check::Http(format!("http://{addr}/").parse().unwrap());
    assert_eq!(
        probe(&check, timeout).await,
        Err(ProbeError::Timeout(timeout))
    );
}

#[tokio::test]
async fn run_checks_on_the_network_takes_a_dead_instance_out() {
    let (listener, addr) = listener().await;
    drop(listener);
    let table = HealthTable::new();
    let mut rx = table.subscribe();
    let spec = CheckSpec {
        interval: Duration::from_millis(100),
        timeout: Duration::from_millis(100),
        ..CheckSpec::new(Check::Tcp(addr))
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run_checks(table.clone(), ID.into(), spec, async move {
        let _ = stopped.await;
    }));
    tokio::time::timeout(REAL_TIMEOUT * 5, rx.changed())
        .await
        .unwrap()
        .unwrap();
    let health = table.get(ID).unwrap();
    assert!(!health.healthy);
    assert_eq!(health.last_error.as_deref(), Some("connection refused"));
    stop.send(()).unwrap();
    assert_eq!(task.await.unwrap(), Ok(()));
}
