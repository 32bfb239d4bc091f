//! The infrastructure cache: ranking, timeouts, losses and probes.

use hickory_proto::rr::Name;

use super::*;

fn addrs() -> (IpAddr, IpAddr, IpAddr) {
    (
        [127, 0, 0, 1].into(),
        [127, 0, 0, 2].into(),
        [127, 0, 0, 3].into(),
    )
}

#[tokio::test(start_paused = true)]
async fn fast_servers_first_marked_ones_last() {
    let infra = Infra::default();
    let zone = LowerName::new(&Name::from_ascii("test.").expect("name"));
    let (a, b, c) = addrs();
    let d: IpAddr = [127, 0, 0, 4].into();
    let now = Instant::now();
    infra.record_reply(a, Some(Duration::from_millis(50)), now);
    infra.record_reply(b, Some(Duration::from_millis(5)), now);
    infra.record_reply(c, Some(Duration::from_millis(1)), now);
    infra.record_reply(d, Some(Duration::from_millis(1)), now);
    infra.mark(c, zone.clone(), Mark::Lame, now);
    infra.mark(d, zone.clone(), Mark::NonAuthoritative, now);
    let order: Vec<IpAddr> = infra
        .order(&[a, b, c, d], &zone, now)
        .iter()
        .map(|r| r.addr)
        .collect();
    assert_eq!(order, [b, a, d, c]);
    // A milder mark does not wash out lameness.
    infra.mark(c, zone.clone(), Mark::NonAuthoritative, now);
    assert_eq!(infra.marked(c, &zone, now), Some(Mark::Lame));
    tokio::time::advance(HOST_TTL).await;
    assert_ne!(
        infra.marked(c, &zone, Instant::now()),
        Some(Mark::Lame),
        "lameness expires"
    );
    assert_eq!(
        infra.host(a, Instant::now()).and_then(|h| h.srtt),
        None,
        "so do measurements"
    );
}

#[test]
fn first_sample_follows_rfc_6298() {
    let infra = Infra::default();
    let now = Instant::now();
    let (a, ..) = addrs();
    infra.record_reply(a, Some(Duration::from_millis(100)), now);
    // SRTT = R, RTTVAR = R/2, RTO = SRTT + 4·RTTVAR = 300 ms.
    assert_eq!(infra.timeout(a, now), Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn a_loss_after_a_later_reply_is_not_counted() {
    let infra = Infra::default();
    let (a, ..) = addrs();
    let sent = Instant::now();
    tokio::time::advance(Duration::from_millis(10)).await;
    infra.record_reply(a, Some(Duration::from_millis(1)), Instant::now());
    tokio::time::advance(Duration::from_millis(400)).await;
    let base = infra.timeout(a, Instant::now());
    for _ in 0..10 {
        infra.record_loss(a, sent, Instant::now());
    }
    assert_eq!(infra.timeout(a, Instant::now()), base);
    assert_eq!(infra.standing(a, Instant::now()), Standing::Up);
}

#[tokio::test(start_paused = true)]
async fn losses_back_off_then_take_a_server_out_until_its_probe_answers() {
    let infra = Infra::default();
    let (a, b, _) = addrs();
    let zone = LowerName::new(&Name::root());
    infra.record_reply(a, Some(Duration::from_millis(1)), Instant::now());
    infra.record_reply(b, Some(Duration::from_millis(30)), Instant::now());
    assert_eq!(infra.timeout(a, Instant::now()), MIN_RTO);
    tokio::time::advance(Duration::from_millis(1)).await;
    infra.record_loss(a, Instant::now(), Instant::now());
    let first = infra.order(&[a, b], &zone, Instant::now())[0].addr;
    assert_eq!(
        first, b,
        "a server with a loss sorts after one that answers"
    );
    for _ in 1..DOWN_AFTER {
        assert_eq!(infra.standing(a, Instant::now()), Standing::Up);
        infra.record_loss(a, Instant::now(), Instant::now());
    }
    assert_eq!(infra.standing(a, Instant::now()), Standing::Down);
    tokio::time::advance(PROBE_INTERVAL).await;
    assert_eq!(infra.standing(a, Instant::now()), Standing::Probe);
    assert!(infra.take_probe(a, Instant::now()));
    assert!(!infra.take_probe(a, Instant::now()), "one probe at a time");
    assert_eq!(infra.standing(a, Instant::now()), Standing::Down);
    infra.record_reply(a, None, Instant::now());
    assert_eq!(infra.standing(a, Instant::now()), Standing::Up, "back");
    assert_eq!(infra.timeout(a, Instant::now()), MIN_RTO);
}

#[test]
fn our_own_delay_is_smoothed_and_bounded() {
    let infra = Infra::default();
    assert_eq!(infra.lag(), Duration::ZERO);
    for _ in 0..100 {
        infra.record_lag(Duration::from_millis(80));
    }
    let busy = infra.lag();
    assert!(busy > Duration::from_millis(79) && busy <= Duration::from_millis(80));
    infra.record_lag(Duration::from_secs(60));
    assert!(
        infra.lag() <= busy + MAX_LAG / 8,
        "one outlier moves it by 1/8 at most"
    );
    for _ in 0..100 {
        infra.record_lag(Duration::ZERO);
    }
    assert!(
        infra.lag() < Duration::from_millis(1),
        "and it decays when idle again"
    );
}

#[test]
fn unknown_servers_get_the_default_timeout() {
    let infra = Infra::default();
    let (a, ..) = addrs();
    assert_eq!(infra.timeout(a, Instant::now()), UNKNOWN_RTO);
    assert!(!infra.no_edns(a, Instant::now()));
    infra.set_no_edns(a, Instant::now());
    assert!(infra.no_edns(a, Instant::now()));
    // The ranking carries it, so a question looks each server up once.
    let ranked = infra.order(&[a], &Name::root(), Instant::now());
    assert!(ranked[0].no_edns);
}
