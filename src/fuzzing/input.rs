//! The fuzz input, read front to back. A byte past the end reads as zero, so every input means
//! something and a mutation anywhere changes only what follows it.
//!
//! | bytes | meaning |
//! | --- | --- |
//! | 1 | setup: bit 0 validate; bit 1 the trust anchor at `test.` instead of the root; bit 2 a negative trust anchor at `alpha.test.`; bit 3 no QNAME minimisation; bits 4–5 where walks below `test.` start (1 a stub zone, 2 a served zone's delegation, else the root hints); bit 6 serve-stale off; bit 7 tight limits |
//! | 1 | how many questions: 1 + n % 3 |
//! | 2–6 each | a question: bits 0–2 a name from [`NAMES`], bits 3–5 a prefix (0 none, 1 `www`, 2 `*`, 3 `x.y`, 4–7 one label of 1–4 bytes that follow); then a byte indexing [`TYPES`] |
//! | rest | one entry per upstream query, in the order they are sent (see [`Fate`]) |
//!
//! An entry is a control byte: bits 0–2 say what becomes of the query (0–2 a reply whose
//! question is set to the query's, 3 a reply with its question left as is, 4 a reply without a
//! question, 5 a reply with another question, 6 no reply at all, 7 a transport error: refused
//! when bit 6 is set, else a network error); bits 3–5 pick a delay from [`DELAYS`]. A reply
//! goes on with a 2-byte big-endian length and that many bytes of message. Bytes that do not
//! parse as a message are no reply (the outbound client drops what it cannot parse). Once the
//! input runs out, every further query goes unanswered.

use std::collections::VecDeque;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::{Name, RecordType};

/// The base names questions are made from: the lab's shape (a zone with a long name below it,
/// a sibling zone, a name server's name), one outside `test.` and the root.
pub const NAMES: [&str; 8] = [
    "www.alpha.test.",
    "alpha.test.",
    "test.",
    "www.beta.test.",
    "a.b.c.d.e.alpha.test.",
    "ns1.alpha.test.",
    "www.example.",
    ".",
];

/// The types questions ask for.
pub const TYPES: [RecordType; 16] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::NS,
    RecordType::CNAME,
    RecordType::DS,
    RecordType::DNSKEY,
    RecordType::TXT,
    RecordType::SOA,
    RecordType::ANY,
    RecordType::MX,
    RecordType::SRV,
    RecordType::PTR,
    RecordType::NSEC,
    RecordType::DNAME,
    RecordType::CAA,
    RecordType::HTTPS,
];

/// How long a reply or an error takes: none, then around the resolver's retransmission
/// timeouts, then past its whole time budget.
pub const DELAYS_MS: [u64; 8] = [0, 0, 1, 30, 300, 1_000, 3_000, 10_000];

/// Where a walk for a name below `test.` starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    /// The root hints, as for every other name.
    Root,
    /// A stub zone `test.` (`[[stub]]`): its fixed server, the hierarchy above it never asked.
    Stub,
    /// The delegation of `test.` in a zone served beside the resolver (`LocalCuts`).
    LocalCut,
}

/// The resolver to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Setup {
    pub(super) validate: bool,
    /// The trust anchor's zone: `test.` rather than the root.
    pub(super) anchor_at_test: bool,
    pub(super) negative_anchor: bool,
    pub(super) qname_minimisation: bool,
    pub(super) start: Start,
    pub(super) serve_stale: bool,
    /// Small limits, to reach every bound often.
    pub(super) tight: bool,
}

/// What the question section of a reply says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Question {
    /// The query's question, as every matching reply has.
    Query,
    /// Whatever the input's message says.
    AsIs,
    /// None (RFC 1035 allows it; Unbound accepts it when ID, address and port match).
    Empty,
    /// A question for another name.
    Other,
}

/// What becomes of one upstream query.
#[derive(Debug)]
pub(super) enum Fate {
    Reply {
        message: Box<Message>,
        question: Question,
        delay: Duration,
    },
    /// Never answered: the resolver's timers decide.
    Silent,
    Error {
        refused: bool,
        delay: Duration,
    },
}

/// The whole input, read.
#[derive(Debug)]
pub(super) struct Input {
    pub(super) setup: Setup,
    pub(super) questions: Vec<(Name, RecordType)>,
    pub(super) fates: VecDeque<Fate>,
}

/// Bytes read front to back; zero past the end.
struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.rest.split_first() {
            Some((&b, rest)) => {
                self.rest = rest;
                b
            }
            None => 0,
        }
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let (taken, rest) = self.rest.split_at(n.min(self.rest.len()));
        self.rest = rest;
        taken
    }
}

impl Input {
    pub(super) fn read(data: &[u8]) -> Input {
        let mut r = Reader { rest: data };
        let flags = r.byte();
        let bit = |n: u8| flags & (1 << n) != 0;
        let setup = Setup {
            validate: bit(0),
            anchor_at_test: bit(1),
            negative_anchor: bit(2),
            qname_minimisation: !bit(3),
            start: match (flags >> 4) & 3 {
                1 => Start::Stub,
                2 => Start::LocalCut,
                _ => Start::Root,
            },
            serve_stale: !bit(6),
            tight: bit(7),
        };
        let count = 1 + usize::from(r.byte() % 3);
        let questions = (0..count).map(|_| question(&mut r)).collect();
        let mut fates = VecDeque::new();
        while !r.rest.is_empty() {
            fates.push_back(fate(&mut r));
        }
        Input {
            setup,
            questions,
            fates,
        }
    }
}

fn question(r: &mut Reader<'_>) -> (Name, RecordType) {
    let b = r.byte();
    let base = NAMES[usize::from(b & 7)];
    let prefix: Vec<Vec<u8>> = match (b >> 3) & 7 {
        0 => Vec::new(),
        1 => vec![b"www".to_vec()],
        2 => vec![b"*".to_vec()],
        3 => vec![b"x".to_vec(), b"y".to_vec()],
        n => {
            // A label the input spells, kept to letters so it stays a plain host name.
            let len = usize::from(n - 3);
            vec![r.take(len).iter().map(|c| b'a' + c % 26).collect()]
        }
    };
    let qtype = TYPES[usize::from(r.byte()) % TYPES.len()];
    (qname(base, &prefix), qtype)
}

/// `prefix` labels put before `base`; `base` alone if that makes no valid name.
fn qname(base: &str, prefix: &[Vec<u8>]) -> Name {
    let base = Name::from_ascii(base).unwrap_or_else(|_| Name::root());
    let mut labels: Vec<&[u8]> = prefix.iter().map(Vec::as_slice).collect();
    labels.extend(base.iter());
    Name::from_labels(labels).unwrap_or(base)
}

fn fate(r: &mut Reader<'_>) -> Fate {
    let control = r.byte();
    let delay = Duration::from_millis(DELAYS_MS[usize::from((control >> 3) & 7)]);
    let question = match control & 7 {
        6 => return Fate::Silent,
        7 => {
            return Fate::Error {
                refused: control & 0x40 != 0,
                delay,
            };
        }
        3 => Question::AsIs,
        4 => Question::Empty,
        5 => Question::Other,
        _ => Question::Query,
    };
    let len = usize::from(u16::from_be_bytes([r.byte(), r.byte()]));
    match Message::from_vec(r.take(len)) {
        Ok(message) => Fate::Reply {
            message: Box::new(message),
            question,
            delay,
        },
        Err(_) => Fate::Silent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_input_asks_one_a_question_of_the_root_hints_and_answers_nothing() {
        let input = Input::read(&[]);
        assert_eq!(input.setup.start, Start::Root);
        assert!(input.setup.qname_minimisation && input.setup.serve_stale);
        assert!(!input.setup.validate && !input.setup.tight);
        let www = Name::from_ascii("www.alpha.test.").expect("name");
        assert_eq!(input.questions, [(www, RecordType::A)]);
        assert!(input.fates.is_empty());
    }

    #[test]
    fn a_spelled_label_is_put_before_the_base_name() {
        // Two questions; the second has a 2-byte label ("bc") before "test.", type AAAA.
        let input = Input::read(&[0, 1, 0, 0, (5 << 3) | 2, 1, 2, 1]);
        let spelled = Name::from_ascii("bc.test.").expect("name");
        assert_eq!(input.questions[1], (spelled, RecordType::AAAA));
    }

    #[test]
    fn entries_read_as_replies_silence_and_errors() {
        let reply = Message::query().to_vec().expect("encodes");
        let mut data = vec![0, 0, 0, 0, (4 << 3) | 4];
        data.extend(u16::try_from(reply.len()).expect("short").to_be_bytes());
        data.extend(&reply);
        data.extend([6, 7 | 0x40, 0, 0xff]);
        let fates: Vec<Fate> = Input::read(&data).fates.into();
        assert!(matches!(
            &fates[0],
            Fate::Reply { question: Question::Empty, delay, .. } if delay.as_millis() == 300
        ));
        assert!(matches!(fates[1], Fate::Silent));
        assert!(matches!(fates[2], Fate::Error { refused: true, .. }));
        // A reply whose bytes run out does not parse: no reply.
        assert!(matches!(fates[3], Fate::Silent));
    }
}
