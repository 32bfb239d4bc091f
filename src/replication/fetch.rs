//! The outbound exchanges of zone replication, each with one server and each optionally
//! TSIG-signed (RFC 8945): the SOA query a secondary polls its primary with (RFC 1034 §4.3.5),
//! the zone transfer itself over TCP (AXFR, RFC 5936; IXFR, RFC 1995), and the NOTIFY a
//! primary sends its secondaries (RFC 1996).
//!
//! The wire work is the one outbound client's ([`crate::outbound`]): random ID and source
//! port, reply matching (RFC 5452 §3: over UDP a forged datagram is dropped and the wait goes
//! on; over TCP a mismatch ends the exchange with an error), framing, TSIG and timeouts. What
//! is left here is replication's judgement of the replies (RCODE, AA, the SOA record) and
//! errors that name the server, zone and request.

use std::fmt::Display;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, Record, RecordType};

use crate::outbound::tcp::TcpQuery;
use crate::outbound::{self, ClientError, Deadline, Expected, Signed};
use crate::tsig::Key;

mod error;

pub use self::error::FetchError;
pub(crate) use self::error::Request;
pub(crate) use crate::outbound::Peer;

/// The zone's SOA record at `primary` (RFC 1034 §4.3.5: a secondary compares serials before
/// transferring). Asked over UDP with EDNS; asked again over TCP when the answer is truncated
/// (RFC 7766 §5). The answer must be authoritative (AA=1), NOERROR, and signed with `key`
/// when one is given. `timeout` bounds both tries together.
pub async fn query_soa(
    primary: impl Into<Peer>,
    zone: &Name,
    key: Option<&Key>,
    timeout: Duration,
) -> Result<Record, FetchError> {
    let about = About::new(primary.into(), zone, Request::Soa);
    let request = about.message(true);
    let message = outbound::exchange(about.peer, &request, key, true, timeout)
        .await
        .map_err(|e| about.error(e))?;
    about.expect_noerror(&message)?;
    if !message.metadata.authoritative {
        return Err(FetchError::NotAuthoritative {
            server: about.peer.server,
            zone: Box::new(zone.clone()),
        });
    }
    message
        .answers
        .into_iter()
        .find(|r| r.record_type() == RecordType::SOA && r.name == *zone)
        .ok_or_else(|| FetchError::NoSoa {
            server: about.peer.server,
            zone: Box::new(zone.clone()),
        })
}

/// Sends an AXFR (`ixfr_from: None`, RFC 5936) or IXFR (`Some(our current SOA record)`, placed
/// in the authority section as RFC 1995 §3 requires) request over TCP and hands each response
/// message, TSIG-verified when `key` is set, to `on_message`, which returns `Ok(true)` once the
/// transfer is complete (it knows the zone's shape: SOA, records, SOA). Every message must
/// carry the request's ID and NOERROR; the first must repeat the question, later ones may
/// leave it out (RFC 5936 §2.2.2). With TSIG, the last message must be signed (RFC 8945
/// §5.3.1). The whole transfer is bounded by `timeout`.
pub async fn transfer<E: Display>(
    primary: impl Into<Peer>,
    zone: &Name,
    ixfr_from: Option<&Record>,
    key: Option<&Key>,
    timeout: Duration,
    mut on_message: impl FnMut(&Message) -> Result<bool, E>,
) -> Result<(), FetchError> {
    let kind = match ixfr_from {
        Some(_) => Request::Ixfr,
        None => Request::Axfr,
    };
    let about = About::new(primary.into(), zone, kind);
    let deadline = Deadline::after(timeout);
    let mut request = about.message(false);
    if let Some(soa) = ixfr_from {
        request.add_authority(soa.clone());
    }
    let stream = async {
        let expected = Expected::response(&request)?;
        let signed = Signed::new(&request, key)?;
        TcpQuery::open(about.peer, signed, expected, Some(deadline)).await
    };
    let mut stream = stream.await.map_err(|e| about.error(e))?;
    loop {
        let message = stream.next().await.map_err(|e| about.error(e))?;
        about.expect_noerror(&message)?;
        match on_message(&message) {
            Ok(true) => break,
            Ok(false) => {}
            Err(reason) => {
                return Err(FetchError::Rejected {
                    server: about.peer.server,
                    zone: Box::new(zone.clone()),
                    messages: stream.messages(),
                    reason: reason.to_string(),
                });
            }
        }
    }
    stream.finish().map_err(|e| about.error(e))
}

/// RFC 1996 §3: sends NOTIFY (opcode NOTIFY, AA=1, question `zone` SOA, `soa` in the answer
/// section as §3.7 allows) over UDP and waits for the matching response (same ID, opcode
/// NOTIFY, QR=1), which must be NOERROR and, with `key`, signed. One attempt: the caller
/// retries (§3.6).
pub async fn notify(
    target: impl Into<Peer>,
    zone: &Name,
    soa: &Record,
    key: Option<&Key>,
    timeout: Duration,
) -> Result<(), FetchError> {
    let about = About::new(target.into(), zone, Request::Notify);
    let mut request = about.message(false);
    request.metadata.authoritative = true;
    request.add_answer(soa.clone());
    let message = outbound::exchange(about.peer, &request, key, false, timeout)
        .await
        .map_err(|e| about.error(e))?;
    about.expect_noerror(&message)
}

/// Which exchange with whom: the context every error carries.
struct About<'z> {
    peer: Peer,
    zone: &'z Name,
    request: Request,
}

impl<'z> About<'z> {
    fn new(peer: Peer, zone: &'z Name, request: Request) -> Self {
        About {
            peer,
            zone,
            request,
        }
    }

    /// The request without its payload: header and question (RFC 1035 §4.1), with EDNS when
    /// `edns`.
    fn message(&self, edns: bool) -> Message {
        outbound::request(
            self.request.op_code(),
            self.zone,
            self.request.qtype(),
            edns,
        )
    }

    fn error(&self, error: ClientError) -> FetchError {
        FetchError::from_client(self.peer.server, self.zone, self.request, error)
    }

    fn expect_noerror(&self, message: &Message) -> Result<(), FetchError> {
        match message.metadata.response_code {
            ResponseCode::NoError => Ok(()),
            rcode => Err(FetchError::Rcode {
                server: self.peer.server,
                zone: Box::new(self.zone.clone()),
                request: self.request,
                rcode,
            }),
        }
    }
}

#[cfg(test)]
mod tests;
