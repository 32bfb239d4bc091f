//! The client cookie's computation, the COOKIE option's form, what a reply's option says, and
//! the jar of server cookies.

use std::net::{IpAddr, SocketAddr};

use hickory_proto::op::{Edns, Message, MessageType, OpCode};
use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().expect("address")
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("address")
}

fn secret(first: u8) -> Secret {
    let mut key = [0; 16];
    for (i, k) in key.iter_mut().enumerate() {
        *k = first.wrapping_add(u8::try_from(i).expect("small"));
    }
    Secret::new(key)
}

#[test]
fn the_keyed_hash_is_siphash_2_4() {
    // The SipHash paper's test vector (Aumasson, Bernstein, appendix A): key 00..0f,
    // message 00..0e.
    let message: Vec<u8> = (0..15).collect();
    assert_eq!(siphash24(&secret(0), &[&message]), 0xa129_ca61_49be_45e5);
    // Fed in parts, the same stream.
    assert_eq!(
        siphash24(&secret(0), &[&message[..4], &message[4..]]),
        0xa129_ca61_49be_45e5
    );
}

#[test]
fn a_client_cookie_depends_on_both_addresses_and_the_secret() {
    let s = secret(7);
    let base = ClientCookie::compute(&s, ip("127.0.0.1"), ip("192.0.2.53"));
    assert_eq!(
        base,
        ClientCookie::compute(&s, ip("127.0.0.1"), ip("192.0.2.53")),
        "the same for the same pair: a server can keep recognising us"
    );
    let others = [
        ClientCookie::compute(&s, ip("127.0.0.2"), ip("192.0.2.53")),
        ClientCookie::compute(&s, ip("127.0.0.1"), ip("192.0.2.54")),
        ClientCookie::compute(&secret(8), ip("127.0.0.1"), ip("192.0.2.53")),
        ClientCookie::compute(&s, ip("::1"), ip("2001:db8::53")),
    ];
    for other in others {
        assert_ne!(base, other);
    }
    assert_eq!(
        Secret::process(),
        Secret::process(),
        "one secret per process"
    );
    assert_eq!(format!("{:?}", secret(1)), "Secret(..)", "never printed");
}

#[test]
fn a_server_cookie_is_8_to_32_octets() {
    for len in 0..=40 {
        let octets = vec![0xab; len];
        let cookie = ServerCookie::new(&octets);
        assert_eq!(cookie.is_some(), (8..=32).contains(&len), "{len} octets");
        if let Some(cookie) = cookie {
            assert_eq!(cookie.as_bytes(), &octets[..]);
        }
    }
}

/// A reply whose OPT carries `options` (none: no OPT at all).
fn reply_with(options: Option<Vec<EdnsOption>>) -> Message {
    let mut m = Message::new(1, MessageType::Response, OpCode::Query);
    if let Some(options) = options {
        let mut edns = Edns::new();
        for o in options {
            edns.options_mut().insert(o);
        }
        m.set_edns(edns);
    }
    // Through the wire, as a reply comes.
    Message::from_vec(&m.to_vec().expect("encodes")).expect("parses")
}

fn raw_cookie(bytes: Vec<u8>) -> EdnsOption {
    EdnsOption::Unknown(u16::from(EdnsCode::Cookie), bytes)
}

#[test]
fn the_option_carries_the_client_cookie_then_the_servers() {
    let client = ClientCookie::from_bytes(*b"tern-cc!");
    let server = ServerCookie::new(b"server-cookie-16").expect("16 octets");
    let EdnsOption::Unknown(code, alone) = option(&client, None) else {
        panic!("a raw option");
    };
    assert_eq!(code, 10, "COOKIE is EDNS option 10");
    assert_eq!(alone, b"tern-cc!");
    let EdnsOption::Unknown(_, both) = option(&client, Some(&server)) else {
        panic!("a raw option");
    };
    assert_eq!(both, b"tern-cc!server-cookie-16");
    // Echoed back by a server, it reads as ours with the server's cookie.
    let echoed = reply_with(Some(vec![option(&client, Some(&server))]));
    assert_eq!(Echo::of(&echoed, &client), Echo::Ours(server));
}

#[test]
fn what_a_replys_cookie_option_says() {
    let ours = ClientCookie::from_bytes(*b"tern-cc!");
    let with = |tail: &[u8]| {
        let mut b = b"tern-cc!".to_vec();
        b.extend_from_slice(tail);
        b
    };
    let server = ServerCookie::new(&[5; 16]).expect("16 octets");
    let cases: Vec<(&str, Option<Vec<EdnsOption>>, Echo)> = vec![
        ("no OPT", None, Echo::Absent),
        ("OPT without COOKIE", Some(vec![]), Echo::Absent),
        (
            "ours, 16-octet server cookie",
            Some(vec![raw_cookie(with(&[5; 16]))]),
            Echo::Ours(server),
        ),
        (
            "ours, 8-octet server cookie",
            Some(vec![raw_cookie(with(&[6; 8]))]),
            Echo::Ours(ServerCookie::new(&[6; 8]).expect("8 octets")),
        ),
        (
            "ours, 32-octet server cookie",
            Some(vec![raw_cookie(with(&[7; 32]))]),
            Echo::Ours(ServerCookie::new(&[7; 32]).expect("32 octets")),
        ),
        (
            "another client cookie",
            Some(vec![raw_cookie(b"forged!!0123456789abcdef".to_vec())]),
            Echo::Foreign,
        ),
        (
            "another client cookie, alone",
            Some(vec![raw_cookie(b"forged!!".to_vec())]),
            Echo::Foreign,
        ),
        (
            "ours without a server cookie",
            Some(vec![raw_cookie(with(&[]))]),
            Echo::Malformed,
        ),
        (
            "server cookie of 7",
            Some(vec![raw_cookie(with(&[1; 7]))]),
            Echo::Malformed,
        ),
        (
            "server cookie of 33",
            Some(vec![raw_cookie(with(&[1; 33]))]),
            Echo::Malformed,
        ),
        (
            "shorter than a client cookie",
            Some(vec![raw_cookie(b"tern".to_vec())]),
            Echo::Malformed,
        ),
    ];
    for (what, options, echo) in cases {
        assert_eq!(Echo::of(&reply_with(options), &ours), echo, "{what}");
    }
    // Two COOKIE options: hickory keeps both, and we take neither.
    let mut twice = Message::new(1, MessageType::Response, OpCode::Query);
    let mut edns = Edns::new();
    let code = EdnsCode::Cookie;
    edns.options_mut()
        .as_mut()
        .push((code, raw_cookie(with(&[5; 16]))));
    edns.options_mut()
        .as_mut()
        .push((code, raw_cookie(with(&[5; 16]))));
    twice.set_edns(edns);
    assert_eq!(Echo::of(&twice, &ours), Echo::Malformed);
}

#[test]
fn the_jar_sends_a_server_cookie_only_with_the_client_cookie_it_answered() {
    let jar = CookieJar::new(secret(3), 16);
    let server = addr("192.0.2.53:53");
    let here = ip("127.0.0.1");
    let (client, none) = jar.to_send(here, server).expect("cookies");
    assert_eq!(none, None, "nothing learned yet");
    assert_eq!(client, ClientCookie::compute(&secret(3), here, server.ip()));
    let cookie = ServerCookie::new(&[9; 16]).expect("16 octets");
    jar.learn(server, client, cookie);
    assert_eq!(jar.to_send(here, server), Some((client, Some(cookie))));
    assert_eq!(jar.server_cookie(server), Some(cookie));
    // From another of our addresses the client cookie differs, and the server's is no good.
    let (other, none) = jar.to_send(ip("127.0.0.2"), server).expect("cookies");
    assert_ne!(other, client);
    assert_eq!(none, None);
    // Another port is another server.
    assert_eq!(jar.server_cookie(addr("192.0.2.53:5353")), None);
    // A fresh cookie replaces the old one.
    let fresh = ServerCookie::new(&[10; 24]).expect("24 octets");
    jar.learn(server, client, fresh);
    assert_eq!(jar.to_send(here, server), Some((client, Some(fresh))));
    // A server that refuses the option is asked without.
    jar.refused(server);
    assert_eq!(jar.to_send(here, server), None);
    assert_eq!(jar.server_cookie(server), None);
}

#[test]
fn the_jar_is_bounded_and_forgets_the_least_recently_used_server() {
    let jar = CookieJar::new(secret(4), 2);
    let here = ip("127.0.0.1");
    let cookie = ServerCookie::new(&[1; 8]).expect("8 octets");
    let servers = [
        addr("192.0.2.1:53"),
        addr("192.0.2.2:53"),
        addr("192.0.2.3:53"),
    ];
    for s in &servers[..2] {
        let (client, _) = jar.to_send(here, *s).expect("cookies");
        jar.learn(*s, client, cookie);
    }
    // The first is used again, so the second is the one to go.
    assert!(
        jar.to_send(here, servers[0])
            .is_some_and(|(_, s)| s.is_some())
    );
    let (client, _) = jar.to_send(here, servers[2]).expect("cookies");
    jar.learn(servers[2], client, cookie);
    assert!(jar.server_cookie(servers[0]).is_some());
    assert!(jar.server_cookie(servers[1]).is_none(), "evicted");
    assert!(jar.server_cookie(servers[2]).is_some());
    assert_eq!(jar.discarded(), 0);
    jar.count_discarded();
    assert_eq!(jar.discarded(), 1);
}

#[test]
fn the_source_address_is_read_off_the_socket_once_per_recheck() {
    let jar = CookieJar::new(secret(3), 8);
    let server = addr("192.0.2.53:53");
    let reads = std::cell::Cell::new(0);
    let read = |ip: &'static str| {
        let reads = &reads;
        move || {
            reads.set(reads.get() + 1);
            Ok(self::ip(ip))
        }
    };
    assert_eq!(
        jar.source(server, read("127.0.0.1")).ok(),
        Some(ip("127.0.0.1"))
    );
    assert_eq!(reads.get(), 1, "a server not seen yet: read");
    for _ in 0..32 {
        assert_eq!(
            jar.source(server, read("127.0.0.9")).ok(),
            Some(ip("127.0.0.1"))
        );
    }
    assert_eq!(reads.get(), 1, "remembered for 32 queries");
    // Then read again: a route that changed is noticed.
    assert_eq!(
        jar.source(server, read("127.0.0.2")).ok(),
        Some(ip("127.0.0.2"))
    );
    assert_eq!(reads.get(), 2);
    // Another server is its own entry; a failed read is the query's error.
    let other = addr("192.0.2.54:53");
    let failed = jar.source(other, || Err(std::io::Error::other("no socket")));
    assert!(failed.is_err());
    assert_eq!(
        jar.source(server, read("127.0.0.3")).ok(),
        Some(ip("127.0.0.2"))
    );
}
