//! The health state machine under the paused clock with a scripted prober (the probes
//! themselves: `probe_tests.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

use super::probe::ProbeFuture;
use super::*;

pub(super) const ID: &str = "web.cluster.test./web-1";
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
