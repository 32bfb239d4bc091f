//! The hit path inline in a stream connection, over an in-memory stream whose writes are
//! counted: a repeated question is answered by it with the full path's bytes, in its own
//! transport's metrics row; a pipelined burst of hits goes out in one write; over TLS a padded
//! query is padded as the full path pads it; options the hit path does not speak, and a server
//! cookie not ours, take the full path; a client that stops reading is closed at the idle
//! timeout.

use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::EdnsOption;
use hickory_proto::rr::{Name, RecordType};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::*;
use crate::authority::{Catalog, Zone};
use crate::handler::{HandlerConfig, Reply};
use crate::lab::LabFiles;
use crate::metrics::{Metrics, counts};
use crate::server::shutdown::{self, ShutdownTrigger};

const IDLE: Duration = Duration::from_secs(10);

fn peer() -> SocketAddr {
    "127.78.0.2:40000".parse().expect("address")
}

/// An authoritative handler of the lab's `alpha.test.`.
pub(super) fn handler() -> Arc<Handler> {
    let files = LabFiles::embedded();
    let text = files.file("alpha.test.zone").expect("lab zone");
    let origin = Name::from_ascii("alpha.test.").expect("name");
    let zone = Zone::from_text(text, Path::new("alpha.test.zone"), Some(&origin))
        .expect("lab zone parses");
    let catalog = Catalog::new([zone]).expect("catalog");
    Arc::new(Handler::new(
        catalog,
        HandlerConfig::default(),
        Arc::new(Metrics::default()),
    ))
}

/// The server's end of an in-memory connection, counting the writes that took bytes.
struct Counted {
    inner: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let written = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.writes.fetch_add(1, Ordering::Relaxed);
        }
        written
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A client's end of a connection served by `handler` over `transport`.
struct Client {
    stream: DuplexStream,
    /// Writes the server made.
    writes: Arc<AtomicUsize>,
    done: JoinHandle<()>,
    _shutdown: ShutdownTrigger,
}

/// A connection of `transport` whose in-memory pipe holds `room` bytes each way.
fn open(handler: &Arc<Handler>, transport: Transport, room: usize) -> Client {
    let (client, server) = tokio::io::duplex(room);
    let limits = TcpLimits {
        idle_timeout: IDLE,
        max_connections: 8,
        pipeline_depth: 4,
        ..TcpLimits::default()
    };
    let guard = Registry::new(&limits)
        .admit(peer().ip())
        .expect("room for one");
    guard.established();
    let on = Connection {
        peer: peer(),
        transport,
        handler: Arc::clone(handler),
        limits,
        guard,
    };
    let writes = Arc::new(AtomicUsize::new(0));
    let server = Counted {
        inner: server,
        writes: Arc::clone(&writes),
    };
    let (trigger, signal) = shutdown::channel();
    Client {
        stream: client,
        writes,
        done: tokio::spawn(connection(server, on, signal)),
        _shutdown: trigger,
    }
}

/// `www.alpha.test. A` with ID `id`, RD=0, EDNS 1232 with `options`.
fn query(id: u16, options: &[EdnsOption]) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(
        Name::from_ascii("www.alpha.test.").expect("name"),
        RecordType::A,
    ));
    let mut e = Edns::new();
    e.set_max_payload(1232);
    for option in options {
        e.options_mut().insert(option.clone());
    }
    m.set_edns(e);
    m.to_vec().expect("encodes")
}

fn frame(message: &[u8]) -> Vec<u8> {
    let mut f = u16::try_from(message.len())
        .expect("short")
        .to_be_bytes()
        .to_vec();
    f.extend_from_slice(message);
    f
}

impl Client {
    async fn send(&mut self, message: &[u8]) {
        self.stream.write_all(&frame(message)).await.expect("write");
    }

    async fn recv(&mut self) -> Vec<u8> {
        let mut len = [0; 2];
        self.stream.read_exact(&mut len).await.expect("length");
        let mut body = vec![0; usize::from(u16::from_be_bytes(len))];
        self.stream.read_exact(&mut body).await.expect("body");
        body
    }

    /// Asks `message` and returns the reply.
    async fn ask(&mut self, message: &[u8]) -> Vec<u8> {
        self.send(message).await;
        self.recv().await
    }
}

fn a_slot() -> usize {
    counts::qtype_slot(Some(1))
}

/// What the full path says to `message` over `transport` now.
async fn full_path(h: &Handler, message: &[u8], transport: Transport) -> Vec<u8> {
    match h.handle_stream(message, peer(), transport, IDLE).await {
        Some(Reply::One(bytes)) => bytes,
        _ => panic!("one reply"),
    }
}

#[tokio::test]
async fn a_tcp_cache_hit_is_answered_inline_with_the_full_paths_bytes() {
    let h = handler();
    let mut c = open(&h, Transport::Tcp, 64 * 1024);
    let m = Arc::clone(h.metrics());
    let first = c.ask(&query(1, &[])).await;
    assert_eq!(m.fast_hits(), 0, "the first answer is the full path's");
    let hit = c.ask(&query(2, &[])).await;
    assert_eq!(m.fast_hits(), 1, "the second is the hit path's");
    assert_eq!(hit[..2], [0, 2], "the asker's ID");
    assert_eq!(hit[2..], first[2..], "the full path's bytes");
    assert_eq!(hit, full_path(&h, &query(2, &[]), Transport::Tcp).await);
    let (tcp, udp) = (Transport::Tcp.slot(), Transport::Udp.slot());
    assert_eq!(m.hit_path.qtype(tcp, a_slot()), 1, "a hit in the tcp row");
    assert_eq!(m.queries_in_slot(tcp, a_slot()), 3);
    assert_eq!(m.responses_in_slot(tcp, counts::rcode_slot(0)), 3);
    assert_eq!(
        m.queries_in_slot(udp, a_slot()),
        0,
        "nothing in the udp row"
    );
    assert_eq!((m.queries(), m.authoritative_answers()), (3, 3));
}

#[tokio::test]
async fn a_pipelined_burst_of_hits_is_written_at_once() {
    let h = handler();
    let mut c = open(&h, Transport::Tcp, 64 * 1024);
    c.ask(&query(1, &[])).await;
    assert_eq!(c.writes.load(Ordering::Relaxed), 1);
    let burst: Vec<u8> = (10..15).flat_map(|id| frame(&query(id, &[]))).collect();
    c.stream.write_all(&burst).await.expect("burst");
    for id in 10..15u16 {
        let reply = c.recv().await;
        assert_eq!(reply[..2], id.to_be_bytes(), "in the order asked");
    }
    assert_eq!(h.metrics().fast_hits(), 5);
    assert_eq!(
        c.writes.load(Ordering::Relaxed),
        2,
        "one write for the burst"
    );
}

#[tokio::test]
async fn over_tls_a_padded_hit_is_padded_as_the_full_path_pads_it() {
    let h = handler();
    let mut c = open(&h, Transport::Tls, 64 * 1024);
    let padded = |id| query(id, &[EdnsOption::Unknown(12, vec![0; 20])]);
    let first = c.ask(&padded(1)).await;
    let hit = c.ask(&padded(2)).await;
    let m = h.metrics();
    assert_eq!(m.hit_path.qtype(Transport::Tls.slot(), a_slot()), 1);
    assert_eq!(first.len() % 468, 0, "padded to a block (RFC 8467)");
    assert_eq!(hit[2..], first[2..], "the full path's padded bytes");
    // Unpadded, over TLS too: unpadded, as the full path answers it.
    let plain = c.ask(&query(3, &[])).await;
    assert_eq!(plain, full_path(&h, &query(3, &[]), Transport::Tls).await);
    assert!(plain.len() < first.len());
    assert_eq!(m.fast_hits(), 2);
}

#[tokio::test]
async fn keepalive_and_a_server_cookie_not_ours_take_the_full_path() {
    let h = handler();
    let mut c = open(&h, Transport::Tcp, 64 * 1024);
    c.ask(&query(1, &[])).await;
    // edns-tcp-keepalive (RFC 7828): the full path tells the idle timeout.
    let keepalive = c
        .ask(&query(2, &[EdnsOption::Unknown(11, Vec::new())]))
        .await;
    let reply = Message::from_vec(&keepalive).expect("parses");
    let told = reply.edns.as_ref().and_then(|e| {
        e.options()
            .as_ref()
            .iter()
            .find(|(code, _)| u16::from(*code) == 11)
            .map(|(_, option)| option.clone())
    });
    assert_eq!(told, Some(EdnsOption::Unknown(11, vec![0, 100])), "10 s");
    // A client cookie and a server cookie we never made: over a stream no BADCOOKIE
    // (RFC 7873 §5.2.3), the query is answered.
    let cookie: Vec<u8> = (1..=24).collect();
    let bad = c.ask(&query(3, &[EdnsOption::Unknown(10, cookie)])).await;
    let reply = Message::from_vec(&bad).expect("parses");
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(reply.answers.len(), 1);
    assert_eq!(h.metrics().fast_hits(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_client_that_stops_reading_is_closed_at_the_idle_timeout() {
    let h = handler();
    // Room for a few replies only: the server's writes stall once they are not read.
    let c = open(&h, Transport::Tcp, 256);
    let Client {
        stream,
        done,
        _shutdown,
        ..
    } = c;
    let (_reader, mut writer) = tokio::io::split(stream);
    let from = Instant::now();
    tokio::spawn(async move {
        for id in 0..200 {
            if writer.write_all(&frame(&query(id, &[]))).await.is_err() {
                return;
            }
        }
    });
    tokio::time::timeout(IDLE * 3, done)
        .await
        .expect("the connection ends")
        .expect("cleanly");
    let after = from.elapsed();
    assert!(
        after >= IDLE && after < IDLE + Duration::from_secs(1),
        "closed after {after:?}"
    );
}
