//! Names a resolver answers itself and never sends to the root, as Unbound's default local
//! zones do: `localhost.` (RFC 6761 §6.3) and its reverse names, `invalid.` (RFC 6761 §6.4),
//! the reverse zones of private and special address space (RFC 6303 §4), and `home.arpa.`
//! (RFC 8375). Each is an ordinary zone; a zone of the same origin in the configuration
//! replaces the built-in one, and `[recursion] default_local_zones = false` drops them all.

use std::path::Path;

use hickory_proto::rr::Name;

use super::Zone;
use crate::zonefile::ZoneErrors;

/// The SOA and NS every built-in zone starts with (RFC 6303 §3: the SOA and NS records of the
/// locally served zones; Unbound's are the same).
const APEX: &str = "@ 10800 IN SOA localhost. nobody.invalid. 1 3600 1200 604800 10800\n\
@ 10800 IN NS localhost.\n";

/// `localhost.` and every name below it are the loopback addresses (RFC 6761 §6.3).
const LOCALHOST: &str = "@ 10800 IN A 127.0.0.1\n@ 10800 IN AAAA ::1\n\
* 10800 IN A 127.0.0.1\n* 10800 IN AAAA ::1\n";

/// Empty zones: every name in them is NXDOMAIN, authoritatively. RFC 6303 §4.1–4.6 (IPv4
/// private, special and documentation ranges; IPv6 unspecified, ULA, link-local and
/// documentation), with `127.in-addr.arpa.` and the `::1` name served below with PTRs.
const EMPTY: &[&str] = &[
    "invalid.",
    "home.arpa.",
    "10.in-addr.arpa.",
    "16.172.in-addr.arpa.",
    "17.172.in-addr.arpa.",
    "18.172.in-addr.arpa.",
    "19.172.in-addr.arpa.",
    "20.172.in-addr.arpa.",
    "21.172.in-addr.arpa.",
    "22.172.in-addr.arpa.",
    "23.172.in-addr.arpa.",
    "24.172.in-addr.arpa.",
    "25.172.in-addr.arpa.",
    "26.172.in-addr.arpa.",
    "27.172.in-addr.arpa.",
    "28.172.in-addr.arpa.",
    "29.172.in-addr.arpa.",
    "30.172.in-addr.arpa.",
    "31.172.in-addr.arpa.",
    "168.192.in-addr.arpa.",
    "0.in-addr.arpa.",
    "254.169.in-addr.arpa.",
    "2.0.192.in-addr.arpa.",
    "100.51.198.in-addr.arpa.",
    "113.0.203.in-addr.arpa.",
    "255.255.255.255.in-addr.arpa.",
    "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
    "c.f.ip6.arpa.",
    "d.f.ip6.arpa.",
    "8.e.f.ip6.arpa.",
    "9.e.f.ip6.arpa.",
    "a.e.f.ip6.arpa.",
    "b.e.f.ip6.arpa.",
    "8.b.d.0.1.0.0.2.ip6.arpa.",
];

/// The built-in zones, minus those whose origin `skip` says is configured.
pub fn default_local_zones(skip: impl Fn(&Name) -> bool) -> Result<Vec<Zone>, ZoneErrors> {
    let file = Path::new("built-in local zones");
    let mut texts: Vec<(&str, String)> = vec![
        ("localhost.", format!("{APEX}{LOCALHOST}")),
        // 127.0.0.0/8 reverse (RFC 6761 §6.3): 127.0.0.1 is localhost, the rest NXDOMAIN.
        (
            "127.in-addr.arpa.",
            format!("{APEX}1.0.0 10800 IN PTR localhost.\n"),
        ),
        (
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
            format!("{APEX}@ 10800 IN PTR localhost.\n"),
        ),
    ];
    texts.extend(EMPTY.iter().map(|origin| (*origin, APEX.to_string())));
    let mut zones = Vec::with_capacity(texts.len());
    for (origin, text) in texts {
        let name = Name::from_ascii(origin).map_err(|e| {
            ZoneErrors(vec![crate::zonefile::ZoneError {
                at: crate::zonefile::Location {
                    file: file.to_path_buf(),
                    line: 0,
                },
                reason: format!("{origin}: {e}"),
            }])
        })?;
        if skip(&name) {
            continue;
        }
        zones.push(Zone::from_text(&text, file, Some(&name))?);
    }
    Ok(zones)
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::ResponseCode;
    use hickory_proto::rr::RecordType;

    use super::*;
    use crate::authority::Catalog;
    use crate::testing::name;

    #[test]
    fn loopback_invalid_and_private_reverse_names_are_answered_here() {
        let zones = default_local_zones(|_| false).expect("built-in zones build");
        let catalog = Catalog::new(zones).expect("no duplicates");
        let answer = |q: &str, t: RecordType| catalog.answer(&name(q), t).expect("ours");
        let text = |q: &str, t: RecordType| -> Vec<String> {
            answer(q, t)
                .answers
                .iter()
                .map(|r| r.data.to_string())
                .collect()
        };
        assert_eq!(text("localhost.", RecordType::A), ["127.0.0.1"]);
        assert_eq!(text("LocalHost.", RecordType::AAAA), ["::1"]);
        assert_eq!(text("www.localhost.", RecordType::A), ["127.0.0.1"]);
        assert_eq!(
            text("1.0.0.127.in-addr.arpa.", RecordType::PTR),
            ["localhost."]
        );
        assert_eq!(
            text(
                "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa.",
                RecordType::PTR
            ),
            ["localhost."]
        );
        for q in [
            "x.invalid.",
            "invalid.x.invalid.",
            "2.0.0.127.in-addr.arpa.",
            "1.1.168.192.in-addr.arpa.",
            "5.0.0.10.in-addr.arpa.",
            "9.9.20.172.in-addr.arpa.",
            "printer.home.arpa.",
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.d.f.ip6.arpa.",
        ] {
            let a = answer(q, RecordType::PTR);
            assert_eq!(a.rcode, ResponseCode::NXDomain, "{q}");
            assert!(a.authoritative, "{q}");
            assert_eq!(a.authorities.len(), 1, "{q}: the SOA");
        }
        // Public space is not ours.
        assert!(
            catalog
                .answer(&name("8.8.8.8.in-addr.arpa."), RecordType::PTR)
                .is_none()
        );
        assert!(
            catalog
                .answer(&name("1.32.172.in-addr.arpa."), RecordType::PTR)
                .is_none()
        );
        assert!(catalog.answer(&name("www.test."), RecordType::A).is_none());
    }

    #[test]
    fn a_configured_zone_replaces_the_built_in_one() {
        let all = default_local_zones(|_| false).expect("build").len();
        let without = default_local_zones(|o| *o == name("home.arpa.")).expect("build");
        assert_eq!(without.len(), all - 1);
        assert!(without.iter().all(|z| *z.origin() != name("home.arpa.")));
    }
}
