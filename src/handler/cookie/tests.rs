//! Server cookies against the worked examples of RFC 9018 Appendix A, the validity windows of
//! §4.3 on a given clock, and both ways of rotating the secret.

use std::net::IpAddr;

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn secret(s: &str) -> CookieSecret {
    s.parse().expect("secret")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("address")
}

fn received(s: &str) -> Received {
    Received::parse(&hex(s)).expect("well-formed")
}

/// The option a client sends with the server cookie `reply` gave it.
fn returned(reply: &ReplyOption) -> Received {
    Received::parse(reply.data()).expect("our own option parses")
}

const SECRET_A: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";

#[test]
fn rfc9018_a1_a_client_learns_a_new_server_cookie() {
    let cookies = ServerCookies::fixed(secret(SECRET_A), None);
    let judged = cookies.judge(
        &received("2464c4abcf10c957"),
        ip("198.51.100.100"),
        1_559_731_985,
    );
    assert_eq!(judged.verdict, Verdict::ClientOnly);
    assert_eq!(
        judged.reply.data(),
        hex("2464c4abcf10c957010000005cf79f111f8130c3eee29480")
    );
    assert_eq!(&judged.reply.wire()[..4], &[0, 10, 0, 24]);
}

#[test]
fn rfc9018_a2_the_same_client_gets_a_renewed_cookie_after_half_an_hour() {
    let cookies = ServerCookies::fixed(secret(SECRET_A), None);
    let judged = cookies.judge(
        &received("2464c4abcf10c957010000005cf79f111f8130c3eee29480"),
        ip("198.51.100.100"),
        1_559_734_385,
    );
    assert_eq!(judged.verdict, Verdict::Valid);
    assert_eq!(
        judged.reply.data(),
        hex("2464c4abcf10c957010000005cf7a871d4a564a1442aca77")
    );
}

#[test]
fn rfc9018_a3_reserved_bytes_are_hashed_as_sent_and_replaced_by_zeros() {
    let cookies = ServerCookies::fixed(secret(SECRET_A), None);
    let sent = received("fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5");
    let client = ip("203.0.113.203");
    // Valid while in date (its hash covers the reserved bytes as they came) ...
    let soon = cookies.judge(&sent, client, 1_559_727_985 + 60);
    assert_eq!(soon.verdict, Verdict::Valid);
    assert_ne!(&soon.reply.server()[1..4], &[0xab, 0xcd, 0xef], "renewed");
    // ... and at the example's reply time, 1h52m on, out of date here (§4.3's hour); the new
    // cookie is the example's either way.
    let judged = cookies.judge(&sent, client, 1_559_734_700);
    assert_eq!(judged.verdict, Verdict::Invalid);
    assert_eq!(
        judged.reply.data(),
        hex("fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e")
    );
}

#[test]
fn rfc9018_a4_ipv6_client_with_a_cookie_of_the_previous_secret() {
    let cookies = ServerCookies::fixed(
        secret("445536bcd2513298075a5d379663c962"),
        Some(secret("dd3bdf9344b678b185a6f5cb60fca715")),
    );
    let sent = received("22681ab97d52c298010000005cf7c57926556bd0934c72f8");
    let client = ip("2001:db8:220:1:59de:d0f4:8769:82b8");
    let judged = cookies.judge(&sent, client, 1_559_741_961);
    assert_eq!(judged.verdict, Verdict::Valid);
    assert_eq!(
        judged.reply.data(),
        hex("22681ab97d52c298010000005cf7c609a6bb79d16625507a")
    );
    // Without the previous secret the old cookie is not ours.
    let rolled = ServerCookies::fixed(secret("445536bcd2513298075a5d379663c962"), None);
    assert_eq!(
        rolled.judge(&sent, client, 1_559_741_961).verdict,
        Verdict::Invalid
    );
    // The renewed cookie is the new secret's alone.
    assert_eq!(
        rolled
            .judge(&returned(&judged.reply), client, 1_559_741_961)
            .verdict,
        Verdict::Valid
    );
}

#[test]
fn an_ipv4_mapped_client_gets_the_cookie_of_its_ipv4_address() {
    let cookies = ServerCookies::fixed(secret(SECRET_A), None);
    let sent = received("2464c4abcf10c957");
    let mapped = cookies.judge(&sent, ip("::ffff:198.51.100.100"), 1_559_731_985);
    let plain = cookies.judge(&sent, ip("198.51.100.100"), 1_559_731_985);
    assert_eq!(mapped.reply, plain.reply);
}

#[test]
fn option_lengths_rfc7873_allows() {
    for len in 0..=48 {
        let ok = len == 8 || (16..=40).contains(&len);
        assert_eq!(
            Received::parse(&vec![7; len]).is_ok(),
            ok,
            "a COOKIE option of {len} bytes"
        );
    }
    assert_eq!(Received::parse(&[1; 9]), Err(Malformed(9)));
}

const T: u64 = 1_700_000_000;

/// A server cookie made at `made` by `cookies` for the client cookie 0102..08 at 192.0.2.1, as
/// that client sends it back.
fn learned(cookies: &ServerCookies, made: u64) -> Received {
    let first = cookies.judge(&received("0102030405060708"), ip("192.0.2.1"), made);
    returned(&first.reply)
}

#[test]
fn a_cookie_is_valid_from_five_minutes_ahead_to_an_hour_old() {
    let cookies = ServerCookies::fixed(secret(SECRET_A), None);
    let client = ip("192.0.2.1");
    let sent = learned(&cookies, T);
    let at = |now: u64| cookies.judge(&sent, client, now);
    for (now, verdict) in [
        (T, Verdict::Valid),
        (T + 3600, Verdict::Valid),
        (T + 3601, Verdict::Invalid),
        (T - 300, Verdict::Valid),
        (T - 301, Verdict::Invalid),
    ] {
        assert_eq!(at(now).verdict, verdict, "{now} vs {T}");
    }
    // Sent back as it came for half an hour, then replaced by one stamped now.
    assert_eq!(returned(&at(T + 1800).reply), sent);
    let renewed = returned(&at(T + 1801).reply);
    assert_ne!(renewed, sent);
    assert_eq!(
        cookies.judge(&renewed, client, T + 1801 + 3600).verdict,
        Verdict::Valid
    );
    // The timestamp is a serial number: a cookie made just before 2^32 is fine just after.
    let wrapping = learned(&cookies, u64::from(u32::MAX) - 10);
    assert_eq!(
        cookies
            .judge(&wrapping, client, u64::from(u32::MAX) + 100)
            .verdict,
        Verdict::Valid
    );
}

#[test]
fn a_cookie_made_for_someone_else_or_tampered_with_is_invalid() {
    let cookies = ServerCookies::fixed(secret(SECRET_A), None);
    let sent = learned(&cookies, T);
    let judge = |r: &Received, client: &str| cookies.judge(r, ip(client), T + 1).verdict;
    assert_eq!(judge(&sent, "192.0.2.1"), Verdict::Valid);
    assert_eq!(
        judge(&sent, "192.0.2.2"),
        Verdict::Invalid,
        "another address"
    );
    let mut data = sent.client.to_vec();
    data.extend_from_slice(sent.server());
    let with = |edit: &dyn Fn(&mut Vec<u8>)| {
        let mut d = data.clone();
        edit(&mut d);
        Received::parse(&d).expect("well-formed")
    };
    let cases: [(&str, Received); 5] = [
        ("another client cookie", with(&|d| d[0] ^= 1)),
        ("another version", with(&|d| d[8] = 2)),
        ("another timestamp", with(&|d| d[15] ^= 1)),
        ("another hash", with(&|d| d[23] ^= 1)),
        ("an 8-byte server cookie", with(&|d| d.truncate(16))),
    ];
    for (why, r) in cases {
        assert_eq!(judge(&r, "192.0.2.1"), Verdict::Invalid, "{why}");
    }
    // Another server's secret.
    let other = ServerCookies::fixed(secret("00112233445566778899aabbccddeeff"), None);
    assert_eq!(
        other.judge(&sent, ip("192.0.2.1"), T + 1).verdict,
        Verdict::Invalid
    );
}

#[test]
fn the_random_secret_rotates_daily_and_accepts_yesterdays_cookies_for_their_hour() {
    let cookies = ServerCookies::random();
    let client = ip("192.0.2.1");
    let midnight = (T / 86_400 + 1) * 86_400;
    let sent = learned(&cookies, midnight - 60);
    // Just after midnight: valid, and replaced by one of today's key although it is young.
    let after = cookies.judge(&sent, client, midnight + 60);
    assert_eq!(after.verdict, Verdict::Valid);
    let today = returned(&after.reply);
    assert_ne!(today, sent);
    assert_eq!(
        cookies.judge(&today, client, midnight + 120).reply,
        after.reply,
        "today's cookie is sent back as it came"
    );
    // Yesterday's key made it: a cookie stamped today with the same hash is not valid.
    let mut forged = sent.client.to_vec();
    forged.extend_from_slice(&today.server()[..8]);
    forged.extend_from_slice(&sent.server()[8..]);
    let forged = Received::parse(&forged).expect("well-formed");
    assert_eq!(
        cookies.judge(&forged, client, midnight + 60).verdict,
        Verdict::Invalid
    );
    // An hour after it was made it is out of date like any other.
    assert_eq!(
        cookies.judge(&sent, client, midnight + 3541).verdict,
        Verdict::Invalid
    );
    // Another start, another secret.
    assert_eq!(
        ServerCookies::random()
            .judge(&sent, client, midnight - 59)
            .verdict,
        Verdict::Invalid
    );
}

#[test]
fn secrets_are_32_hex_digits_and_never_printed() {
    assert!(
        "e5e973e5a6b2a43f48e7dc849e37bfcf"
            .parse::<CookieSecret>()
            .is_ok()
    );
    assert!(
        "E5E973E5A6B2A43F48E7DC849E37BFCF"
            .parse::<CookieSecret>()
            .is_ok()
    );
    for bad in [
        "",
        "e5e973",
        "e5e973e5a6b2a43f48e7dc849e37bfcg",
        "e5e973e5a6b2a43f48e7dc849e37bfcf00",
        "é5e973e5a6b2a43f48e7dc849e37bfc",
    ] {
        assert!(bad.parse::<CookieSecret>().is_err(), "{bad:?}");
    }
    let s = secret(SECRET_A);
    assert!(!format!("{s:?}").contains("e5e9"));
    let fixed = ServerCookies::fixed(s, None);
    assert!(!format!("{fixed:?}").contains("e5e9"));
}

#[test]
fn the_hit_paths_clock_is_the_wall_clock_in_seconds() {
    let coarse = now_unix();
    let exact = crate::tsig::now_unix();
    assert!(coarse.abs_diff(exact) <= 1, "{coarse} vs {exact}");
}
