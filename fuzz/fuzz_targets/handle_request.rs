//! Raw bytes → `Handler::handle_bytes` over UDP and TCP. Whatever arrives, the handler must not
//! panic, and every reply it sends must parse, be a response, and fit the transport's limit.
//! UPDATE is enabled, so TSIG records of every shape reach the verifier.

#![no_main]

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::Name;
use libfuzzer_sys::fuzz_target;
use tern::Metrics;
use tern::apply_update as apply;
use tern::{Catalog, Zone};
use tern::{Handler, HandlerConfig, Transport, Updates};
use tern::{Keyring, TsigAlgorithm, TsigKey as Key};
use tern::{StoreError, Updated, Updater};

/// A zone exercising every lookup path: wildcard, DNAME, CNAME chain (in and out of zone),
/// delegation with glue, an empty non-terminal and an RRset too big for 512 or 1232 bytes.
const ZONE: &str = r#"
$TTL 300
@        IN SOA  ns1 hostmaster 1 7200 3600 1209600 300
@        IN NS   ns1
ns1      IN A    192.0.2.53
ns1      IN AAAA 2001:db8::53
www      IN A    192.0.2.1
www      IN AAAA 2001:db8::1
*.apps   IN A    192.0.2.80
*.apps   IN TXT  "wildcard"
old      IN DNAME apps.fuzz.test.
loop     IN DNAME loop.fuzz.test.
c1       IN CNAME c2
c2       IN CNAME c3
c3       IN CNAME www
out      IN CNAME www.elsewhere.example.
self     IN CNAME self
sub      IN NS   ns.sub
ns.sub   IN A    192.0.2.54
a.b.ent  IN A    192.0.2.9
mx       IN MX   10 www
big      IN TXT  "0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "2aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "3aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "4aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "6aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "7aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "8aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "9aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "Aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "Baaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "Caaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "Daaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
big      IN TXT  "Eaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
"#;

/// The largest UDP reply we ever send: our EDNS payload (1232); without EDNS it is 512, but
/// the fuzzer checks the looser bound that holds for every request.
const UDP_LIMIT: usize = 1232;

/// Checks updates against the zone and keeps nothing (a signed update needs the key's MAC, so
/// the fuzzer reaches this only by luck; the point is the path up to it).
struct CheckOnly(Zone);

impl Updater for CheckOnly {
    fn update(&self, _zone: &Name, update: &Message) -> Result<Updated, StoreError> {
        let applied = apply(&self.0, update)?;
        Ok(Updated {
            serial: self.0.serial(),
            changed: false,
            ignored: applied.ignored,
        })
    }
}

fn fuzz_zone() -> Zone {
    let origin = Name::from_ascii("fuzz.test.").expect("origin");
    Zone::from_text(ZONE, Path::new("fuzz.test.zone"), Some(&origin)).expect("fuzz zone is valid")
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    handler: Handler,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let catalog = Catalog::new(vec![fuzz_zone()]).expect("one zone");
        let handler = Handler::new(
            catalog,
            HandlerConfig::default(),
            Arc::new(Metrics::default()),
        );
        let key_name = Name::from_ascii("fuzz-key.").expect("key name");
        let key = Key::new(key_name.clone(), TsigAlgorithm::HmacSha256, vec![7; 32]).expect("key");
        let updates = Updates::new(Arc::new(CheckOnly(fuzz_zone())), Keyring::new([key]))
            .allow(&Name::from_ascii("fuzz.test.").expect("zone"), [key_name]);
        let handler = handler.with_updates(updates);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        Fixture { rt, handler }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let src = SocketAddr::from(([127, 0, 0, 1], 5300));
    for transport in [Transport::Udp, Transport::Tcp] {
        let Some(reply) = f.rt.block_on(f.handler.handle_bytes(data, src, transport)) else {
            continue;
        };
        let msg = match Message::from_vec(&reply) {
            Ok(m) => m,
            Err(e) => panic!("reply does not parse: {e}; reply = {reply:02x?}"),
        };
        assert_eq!(msg.metadata.message_type, MessageType::Response, "QR=1");
        if data.len() >= 2 {
            assert_eq!(
                msg.metadata.id,
                u16::from_be_bytes([data[0], data[1]]),
                "id echoed"
            );
        }
        if transport == Transport::Udp {
            assert!(
                reply.len() <= UDP_LIMIT,
                "UDP reply of {} bytes",
                reply.len()
            );
        }
        assert!(reply.len() <= usize::from(u16::MAX), "TCP frame overflow");
        if transport == Transport::Udp {
            same_from_the_hit_path(f, data, src, &msg);
        }
    }
});

/// The full path has just answered `data` (and kept the answer when it could): the hit path,
/// asked the same bytes, must either decline or give the same answer (same ID, flags, RCODE,
/// question, and records, names compared without case).
fn same_from_the_hit_path(f: &Fixture, data: &[u8], src: SocketAddr, full: &Message) {
    let mut out = Vec::new();
    if !f.handler.answer_fast(data, src, &mut out) {
        return;
    }
    let fast = match Message::from_vec(&out) {
        Ok(m) => m,
        Err(e) => panic!("hit-path reply does not parse: {e}; reply = {out:02x?}"),
    };
    assert!(
        out.len() <= UDP_LIMIT,
        "hit-path reply of {} bytes",
        out.len()
    );
    assert_eq!(fast.metadata, full.metadata, "header");
    assert_eq!(fast.queries, full.queries, "question, as asked");
    let text = |m: &Message| -> Vec<String> {
        m.answers
            .iter()
            .chain(&m.authorities)
            .chain(&m.additionals)
            .map(|r| r.to_string().to_lowercase())
            .collect()
    };
    assert_eq!(text(&fast), text(full), "records");
    assert_eq!(
        fast.edns
            .as_ref()
            .map(|e| (e.max_payload(), e.flags().dnssec_ok)),
        full.edns
            .as_ref()
            .map(|e| (e.max_payload(), e.flags().dnssec_ok)),
        "OPT"
    );
}
