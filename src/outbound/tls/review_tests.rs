//! Review of the kept DoT connection: the silence timer must run from what the connection
//! did for the queries still waiting, not from before a query given up long ago.

use std::time::Duration;

use tokio::time::Instant;

use super::conn::Limits;
use super::tests::{ask, connection, read};
use crate::frame::write_frame;

const LIMITS: Limits = Limits {
    outstanding: 3,
    idle: Duration::from_secs(20),
};

/// A query given up by its exchange (its waiter gone, its reply never coming) stays on the
/// connection's books; a later query sent after a quiet spell must still get its whole
/// `idle` of patience, not be failed as "no response" a few seconds after it went out.
#[tokio::test(start_paused = true)]
async fn a_query_given_up_long_ago_does_not_cut_short_a_new_ones_wait() {
    let (jobs, mut server) = connection(LIMITS);
    let start = Instant::now();
    // A: never answered, and its exchange gives up on it.
    let abandoned = ask(&jobs, 1, 1).await;
    read(&mut server).await;
    drop(abandoned);
    // B: answered at once, one second in.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let b = ask(&jobs, 2, 2).await;
    let query = read(&mut server).await;
    write_frame(&mut server, &query).await.expect("answers");
    b.await.expect("told").expect("B answered");
    // C: fifteen seconds of quiet later; the server takes 10 s over it.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let c = ask(&jobs, 3, 3).await;
    let sent = Instant::now();
    let query = read(&mut server).await;
    let answer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let _ = write_frame(&mut server, &query).await;
        server
    });
    let got = c.await.expect("told");
    assert!(
        got.is_ok(),
        "C failed {:?} after it was sent ({:?} in), though the server answered B 15 s before \
         it was sent and C waited less than the idle time: {got:?}",
        Instant::now() - sent,
        Instant::now() - start,
    );
    drop(answer.await.expect("server task"));
}
