//! One request, one reply (RFC 1035 §4.2.1): over UDP, and asked again over TCP when the
//! reply is truncated and the caller wants the whole answer (RFC 7766 §5).

use std::time::Duration;

use hickory_proto::op::Message;

use super::tcp::TcpQuery;
use super::udp::UdpQuery;
use super::{ClientError, Deadline, Expected, Peer, Signed};
use crate::tsig::Key;

/// Sends `request` to `peer` over UDP, signed with `key` when given, and returns the reply,
/// TSIG-checked when signed. A forged or garbled datagram is ignored and the wait goes on.
/// With `tcp_on_truncation`, a truncated reply (TC=1) sends the request again over TCP.
/// `timeout` bounds both tries together.
pub(crate) async fn exchange(
    peer: Peer,
    request: &Message,
    key: Option<&Key>,
    tcp_on_truncation: bool,
    timeout: Duration,
) -> Result<Message, ClientError> {
    let deadline = Deadline::after(timeout);
    let expected = Expected::response(request)?;
    let mut signed = Signed::new(request, key)?;
    let (raw, reply) = Deadline::bound(Some(deadline), async {
        let query = UdpQuery::send(peer, signed.bytes())?;
        let (kept, _) = query
            .reply(&expected, |raw, reply| Some((raw.to_vec(), reply)))
            .await?;
        Ok(kept)
    })
    .await?;
    if !(tcp_on_truncation && reply.metadata.truncation) {
        return signed.check_single(&raw, reply);
    }
    // Signed afresh: a TSIG is bound to the time it was made, and the first try's signer has
    // seen a (truncated, unchecked) answer.
    let signed = Signed::new(request, key)?;
    let mut tcp = TcpQuery::open(peer, signed, expected, Some(deadline)).await?;
    let reply = tcp.next().await?;
    tcp.finish()?;
    Ok(reply)
}
