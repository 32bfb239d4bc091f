//! DNSSEC validation over real sockets (issue 18): a loopback hierarchy signed at test time
//! and served by NSD (see `hierarchy` for its zones, secure, insecure and broken on purpose).
//! tern (.10) and a validating Unbound (.11) get the root's DS as their trust anchor; `dig`
//! asks both the same questions, and they must agree on RCODE, AD, the answer section (as a
//! set, without TTLs; RRSIGs in it for DO=1 only), a negative answer's or a wildcard
//! expansion's authority section (see `authority`) and, where both send one, the Extended DNS
//! Error; besides, tern's RCODE, AD and EDE must be the ones each case expects, and what tern
//! alone is checked for (the proofs for DO=1 only, the EDE text, `+cd`).

mod authority;
mod hierarchy;
mod peers;

use std::net::{IpAddr, SocketAddr};

use crate::support::nsd::Nsd;
use crate::support::{Serve, TempDir};
use peers::{dig, start_unbound, wait_answering};

const NET: [u8; 3] = [127, 233, 0];

fn ip(host: u8) -> IpAddr {
    IpAddr::from([NET[0], NET[1], NET[2], host])
}

/// One question and what tern must answer: RCODE, AD, and for SERVFAIL the EDE code.
struct Case {
    q: &'static str,
    opts: &'static [&'static str],
    rcode: &'static str,
    ad: bool,
    ede: Option<u16>,
    /// Unbound's EDE is not compared: a second question into a zone whose keys Unbound 1.17
    /// already found bogus gets EDE 6 from its key cache, whatever the first one got.
    again: bool,
}

impl Case {
    const fn again(self) -> Case {
        Case {
            again: true,
            ..self
        }
    }
}

const fn case(
    q: &'static str,
    opts: &'static [&'static str],
    rcode: &'static str,
    ad: bool,
) -> Case {
    Case {
        q,
        opts,
        rcode,
        ad,
        ede: None,
        again: false,
    }
}

const fn bogus(q: &'static str, ede: u16) -> Case {
    Case {
        q,
        opts: &["+dnssec"],
        rcode: "SERVFAIL",
        ad: false,
        ede: Some(ede),
        again: false,
    }
}

const DO: &[&str] = &["+dnssec"];

const CASES: &[Case] = &[
    // secure positive, both algorithms (secure.test. ECDSAP256SHA256, nsec3.test. RSASHA256)
    case("www.secure.test. A", DO, "NOERROR", true),
    case("www.secure.test. A", &["+noadflag"], "NOERROR", false),
    case("www.secure.test. A", &[], "NOERROR", true),
    // the hit path: kept with AD, sent without it to a client that set neither DO nor AD
    case("www.secure.test. A", &["+noadflag"], "NOERROR", false),
    case("www.nsec3.test. A", DO, "NOERROR", true),
    case("www.nsec3.test. TXT", &[], "NOERROR", true),
    // NSEC and NSEC3 NXDOMAIN and NODATA
    case("nope.secure.test. A", DO, "NXDOMAIN", true),
    case("www.secure.test. AAAA", DO, "NOERROR", true),
    case("nope.nsec3.test. A", DO, "NXDOMAIN", true),
    case("www.nsec3.test. AAAA", DO, "NOERROR", true),
    // without DO: the SOA alone
    case("nope.secure.test. A", &[], "NXDOMAIN", true),
    case("www.nsec3.test. AAAA", &[], "NOERROR", true),
    // names covered by the proofs cached above (RFC 8198 aggressive use, both resolvers)
    case("no.secure.test. A", DO, "NXDOMAIN", true),
    case("other.nsec3.test. A", DO, "NXDOMAIN", true),
    // DS: present, proven absent (insecure.test.), a name with no zone cut
    case("secure.test. DS", DO, "NOERROR", true),
    case("insecure.test. DS", DO, "NOERROR", true),
    case("www.secure.test. DS", DO, "NOERROR", true),
    // wildcards: an expansion, wildcard NODATA, the empty non-terminal above, in NSEC and NSEC3
    case("a.wild.secure.test. A", DO, "NOERROR", true),
    case("b.a.wild.secure.test. A", &[], "NOERROR", true),
    case("a.wild.secure.test. AAAA", DO, "NOERROR", true),
    case("wild.secure.test. A", DO, "NOERROR", true),
    case("a.wild.nsec3.test. A", DO, "NOERROR", true),
    case("a.wild.nsec3.test. AAAA", DO, "NOERROR", true),
    case("b.a.wild.nsec3.test. A", &[], "NOERROR", true),
    // CNAMEs: in-zone, secure into secure, a wildcard CNAME, secure into insecure, insecure
    // into secure
    case("in.secure.test. A", DO, "NOERROR", true),
    case("alias.secure.test. A", DO, "NOERROR", true),
    case("alias.secure.test. A", &[], "NOERROR", true),
    case("x.wc.secure.test. A", DO, "NOERROR", true),
    // again, from the cache: the wildcard CNAME's proof still with it
    case("x.wc.secure.test. A", DO, "NOERROR", true),
    case("toinsecure.secure.test. A", DO, "NOERROR", false),
    case("alias.insecure.test. A", DO, "NOERROR", false),
    case("dangling.secure.test. A", DO, "NXDOMAIN", true),
    // a CNAME synthesized from a signed DNAME (it has no RRSIG of its own)
    case("www.dn.secure.test. A", DO, "NOERROR", true),
    // again: the DNAME comes back with the CNAME from the cache
    case("www.dn.secure.test. A", DO, "NOERROR", true),
    case("nope.dn.secure.test. A", DO, "NXDOMAIN", true),
    // insecure delegation
    case("www.insecure.test. A", DO, "NOERROR", false),
    case("nope.insecure.test. A", DO, "NXDOMAIN", false),
    // opt-out: an unsigned delegation under an NSEC3 opt-out span is insecure, not bogus
    case("www.sub.optout.test. A", DO, "NOERROR", false),
    case("nope.sub.optout.test. A", DO, "NXDOMAIN", false),
    case("sub.optout.test. DS", DO, "NOERROR", false),
    case("www.optout.test. A", DO, "NOERROR", true),
    // an unsigned TLD under the signed root, and a signed child below it: insecure
    case("www.unsigned. A", DO, "NOERROR", false),
    case("nope.unsigned. A", DO, "NXDOMAIN", false),
    case("www.child.unsigned. A", DO, "NOERROR", false),
    case("unsigned. DS", DO, "NOERROR", true),
    // corrupted signature; the rest of the zone is fine; CD=1 gets the data
    bogus("www.bogus.test. A", 6),
    case("www.bogus.test. A", &["+dnssec", "+cd"], "NOERROR", false),
    case("www.bogus.test. TXT", DO, "NOERROR", true),
    bogus("tobogus.secure.test. A", 6),
    // expired signatures (the zone's DNSKEY RRset's among them)
    bogus("www.expired.test. A", 7),
    bogus("nope.expired.test. A", 7),
    case("www.expired.test. A", &["+dnssec", "+cd"], "NOERROR", false),
    case(
        "nope.expired.test. A",
        &["+dnssec", "+cd"],
        "NXDOMAIN",
        false,
    ),
    // the DS in test. matches no key of nokey.test.
    bogus("www.nokey.test. A", 9),
    bogus("nope.nokey.test. A", 9).again(),
    // one RRset's RRSIG stripped: that RRset is bogus, the others secure
    bogus("www.stripped.test. A", 10),
    case("www.stripped.test. TXT", DO, "NOERROR", true),
];

#[test]
fn validates_a_signed_hierarchy_like_unbound() {
    let tmp = TempDir::new("dnssec-validate");
    let h = hierarchy::build(&tmp.0);
    let _nsd: Vec<Nsd> = h
        .servers
        .iter()
        .map(|(ip, zones)| Nsd::start(&tmp.0.join(format!("nsd-{ip}")), *ip, zones))
        .collect();
    for (ip, zones) in &h.servers {
        wait_answering(*ip, &format!("{} SOA", zones[0].0));
    }
    let hints = tmp.0.join("root.hints");
    std::fs::write(
        &hints,
        format!(". 3600000 NS ns1.\nns1. 3600000 A {}\n", ip(1)),
    )
    .expect("hints");
    let tern = SocketAddr::new(ip(10), 53);
    let config = tmp.0.join("tern.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{tern}\"]\n[recursion]\nroot_hints = \"{}\"\n[dnssec]\ntrust_anchor = \"{}\"\n",
            hints.display(),
            h.anchor.display()
        ),
    )
    .expect("tern.toml");
    let _tern = Serve::start(&config, "info", &tmp.0.join("tern.log"));
    let _unbound = start_unbound(&tmp.0, &hints, &h.anchor);
    wait_answering(ip(10), "test. SOA");
    wait_answering(ip(11), "test. SOA");

    let mut wrong = Vec::new();
    for c in CASES {
        let ours = dig(ip(10), c.q, c.opts);
        let theirs = dig(ip(11), c.q, c.opts);
        let what = format!("{} {:?}", c.q, c.opts);
        let (rcode, ad) = (ours.status.as_str(), ours.ad());
        if (rcode, ad) != (c.rcode, c.ad) {
            wrong.push(format!(
                "{what}: tern {rcode} ad={ad}, want {} ad={}\n{}",
                c.rcode, c.ad, ours.text
            ));
        }
        if (rcode, ad) != (theirs.status.as_str(), theirs.ad()) {
            wrong.push(format!(
                "{what}: tern {rcode} ad={ad}, unbound {} ad={}",
                theirs.status,
                theirs.ad()
            ));
        }
        if ours.answer_data() != theirs.answer_data() {
            wrong.push(format!(
                "{what}: answers differ\ntern:    {:?}\nunbound: {:?}",
                ours.answer_data(),
                theirs.answer_data()
            ));
        }
        wrong.extend(authority::compare(c, &ours, &theirs));
        if c.ede.is_some() && ours.ede() != c.ede {
            wrong.push(format!(
                "{what}: tern EDE {:?}, want {:?}\n{}",
                ours.ede(),
                c.ede,
                ours.text
            ));
        }
        if let (Some(a), Some(b)) = (ours.ede(), theirs.ede())
            && a != b
            && !c.again
        {
            wrong.push(format!("{what}: tern EDE {a}, unbound EDE {b}"));
        }
    }
    // What tern alone is checked for: the DNSSEC records go to DO=1 clients only.
    let signed = dig(ip(10), "www.secure.test. A", &["+dnssec"]);
    assert_eq!(signed.count("ANSWER", "RRSIG"), 1, "{}", signed.text);
    let plain = dig(ip(10), "www.secure.test. A", &[]);
    assert_eq!(plain.count("ANSWER", "RRSIG"), 0, "{}", plain.text);
    let nx = dig(ip(10), "nope.secure.test. A", &["+dnssec"]);
    assert!(nx.count("AUTHORITY", "NSEC") >= 1, "{}", nx.text);
    assert!(nx.count("AUTHORITY", "RRSIG") >= 2, "{}", nx.text);
    let nx3 = dig(ip(10), "nope.nsec3.test. A", &["+dnssec"]);
    assert!(nx3.count("AUTHORITY", "NSEC3") >= 2, "{}", nx3.text);
    let nx_plain = dig(ip(10), "nope.nsec3.test. A", &[]);
    assert_eq!(nx_plain.count("AUTHORITY", "NSEC3"), 0, "{}", nx_plain.text);
    let bogus = dig(ip(10), "www.bogus.test. A", &["+dnssec"]);
    assert!(
        bogus.text.contains("bogus.test."),
        "the EDE names the zone: {}",
        bogus.text
    );
    let cd = dig(ip(10), "www.bogus.test. A", &["+dnssec", "+cd"]);
    assert_eq!(cd.count("ANSWER", "A"), 1, "{}", cd.text);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
