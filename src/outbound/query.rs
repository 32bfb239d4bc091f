//! A resolver's query over UDP (RFC 1035 §4.2.1), with DNS Cookies when a jar is given
//! (RFC 7873 §5.1, §5.3): our cookie in the query, the reply's COOKIE option checked and the
//! server's cookie learned, BADCOOKIE answered at once with the fresh server cookie, and TCP
//! after a second one. A server that does not do cookies sees only an option it ignores.

use hickory_proto::op::{Message, ResponseCode};

use super::cookie::{ClientCookie, CookieJar, Echo};
use super::lazy::Rest;
use super::message::Ask;
use super::udp::{Connected, Timing};
use super::{ClientError, Expected, Peer};

/// How a UDP query ended.
#[derive(Debug)]
// Made once per query and taken apart at once: boxing the reply would cost an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum UdpAnswer {
    /// The reply (its authority and additional sections in wire form when it has any, see
    /// [`lazy`](super::lazy)), and how long it took (the last try's, after a cookie retry).
    Reply(Message, Option<Rest>, Timing),
    /// Ask over TCP instead: the server answered BADCOOKIE to the fresh cookie it had just
    /// given us (an anycast cluster whose secrets differ, say), or BADCOOKIE without a cookie
    /// we can use. RFC 7873 §5.3: over TCP it will likely answer normally.
    Tcp,
}

/// Sends `ask` (with a fresh ID each time) to `peer` over UDP and waits, without a time
/// limit, for the reply that answers it. With `jar`, a query with an OPT record carries our
/// cookie, and a reply whose COOKIE option is not ours is discarded like any forgery: the
/// wait goes on.
///
/// One query may become two at once, both answered before this returns: after BADCOOKIE
/// with a server cookie (the retry carries it), and after a FORMERR to the COOKIE option
/// itself (the retry goes without; the server is remembered as one that refuses cookies).
pub(crate) async fn over_udp(
    peer: Peer,
    jar: Option<&CookieJar>,
    ask: Ask<'_>,
) -> Result<UdpAnswer, ClientError> {
    let mut retried = false;
    loop {
        let socket = Connected::open(peer)?;
        let to_send = match jar {
            Some(jar) if ask.edns => {
                let local = match peer.source {
                    Some(ip) => ip,
                    None => jar.source(peer.server, || socket.local_ip())?,
                };
                jar.to_send(local, peer.server)
            }
            _ => None,
        };
        let sent_cookie = to_send.as_ref().map(|(client, _)| *client);
        // A fresh random ID (RFC 5452 §9.2). Only the bytes are made, and only until sent.
        let id: u16 = rand::random();
        let sent = {
            let bytes = match &to_send {
                Some((client, Some(server))) => {
                    ask.write(id, &[client.as_bytes(), server.as_bytes()])
                }
                Some((client, None)) => ask.write(id, &[client.as_bytes()]),
                None => ask.write(id, &[]),
            };
            socket.send(&bytes)?
        };
        let expected = Expected::answer(id, ask.qname, ask.qtype);
        let ((reply, rest, echo), timing) = sent
            .reply_partial(&expected, |_, m, rest| {
                checked(jar, sent_cookie, peer, m).map(|(m, echo)| (m, rest, echo))
            })
            .await?;
        let (Some(jar), Some(client)) = (jar, sent_cookie) else {
            return Ok(UdpAnswer::Reply(reply, rest, timing));
        };
        if let Echo::Ours(server) = echo {
            jar.learn(peer.server, client, server);
        }
        match reply.metadata.response_code {
            ResponseCode::BADCOOKIE => {
                if matches!(echo, Echo::Ours(_)) && !retried {
                    tracing::debug!(server = %peer.server, "BADCOOKIE: asking again with the server's fresh cookie");
                    retried = true;
                    continue;
                }
                tracing::debug!(server = %peer.server, "BADCOOKIE again, or without a cookie to retry with: asking over TCP");
                return Ok(UdpAnswer::Tcp);
            }
            // With OPT, so the server knows EDNS: it is the option it does not like.
            ResponseCode::FormErr if reply.edns.is_some() && echo == Echo::Absent && !retried => {
                tracing::debug!(server = %peer.server, "FORMERR to a COOKIE option: asking without");
                jar.refused(peer.server);
                retried = true;
            }
            _ => return Ok(UdpAnswer::Reply(reply, rest, timing)),
        }
    }
}

/// `reply` and what its COOKIE option says, unless that is a reason to discard it
/// (RFC 7873 §5.3: not our client cookie, or malformed).
fn checked(
    jar: Option<&CookieJar>,
    sent: Option<ClientCookie>,
    peer: Peer,
    reply: Message,
) -> Option<(Message, Echo)> {
    let (Some(jar), Some(client)) = (jar, sent) else {
        return Some((reply, Echo::Absent));
    };
    match Echo::of(&reply, &client) {
        echo @ (Echo::Absent | Echo::Ours(_)) => Some((reply, echo)),
        echo => {
            jar.count_discarded();
            tracing::debug!(server = %peer.server, id = reply.metadata.id, ?echo, "reply discarded: its COOKIE option is not ours");
            None
        }
    }
}
