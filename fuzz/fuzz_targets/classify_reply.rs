//! The resolver's only reader of upstream replies, fed anything that parses as a message: it
//! must never panic, and whatever it would cache must lie inside the zone of the server that
//! sent it (the bailiwick rule, RFC 5452 §6), with referrals leading strictly down towards the
//! name asked.

#![no_main]

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RecordType};
use libfuzzer_sys::fuzz_target;
use tern::{ReplyOutcome as Outcome, classify_reply as classify};

fuzz_target!(|data: &[u8]| {
    let Ok(reply) = Message::from_vec(data) else {
        return;
    };
    // The question as the reply states it, else a fixed one; asked of each of its zones.
    let (qname, qtype) = match reply.queries.first() {
        Some(q) => (q.name().clone(), q.query_type()),
        None => (
            Name::from_ascii("www.alpha.test.").expect("name"),
            RecordType::A,
        ),
    };
    let mut zones = vec![Name::root()];
    for labels in 1..=qname.num_labels() {
        zones.push(qname.trim_to(usize::from(labels)));
    }
    for zone in zones {
        let c = classify(&reply, &zone, &qname, qtype);
        for learn in &c.learned {
            let owner = learn.key.name();
            assert!(
                zone.zone_of(&owner),
                "{owner} learned from a server for {zone}"
            );
        }
        if let Outcome::Referral { cut, ns, .. } = &c.outcome {
            assert!(
                zone.zone_of(cut) && cut != &zone,
                "{cut} is not below {zone}"
            );
            assert!(cut.zone_of(&qname), "{cut} does not lead to {qname}");
            assert!(ns.iter().all(|r| &r.name == cut));
        }
    }
});
