//! The secondary's side of a zone transfer: reading one AXFR or IXFR response stream.
//!
//! Every message is attacker-controlled (anyone who can reach the connection, or a broken
//! primary): nothing here panics on any input, and everything wrong is a [`TransferError`]
//! that names what was wrong.

use std::mem;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::{Delta, TransferError, later, soa_serial};

/// Where a response stream has got to.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per message of a transfer; the interface holds the Record inline"
)]
pub enum Progress {
    /// The transfer is not complete: feed the next message.
    More,
    /// The transfer is complete; any further message is an error.
    Done(Transfer),
}

/// What a complete transfer brought.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per transfer; the interface holds the Record inline"
)]
pub enum Transfer {
    /// IXFR answered with one SOA whose serial is not later than ours.
    UpToDate(Record),
    /// A whole zone (AXFR, or IXFR answered AXFR-style): every record, SOA included once.
    Full(Vec<Record>),
    /// IXFR increments, oldest first, starting at the serial we asked from.
    Incremental(Vec<Delta>),
}

/// The client side: fed the messages of one AXFR or IXFR response in order.
#[derive(Debug)]
pub struct Incoming {
    zone: Name,
    have: Option<u32>,
    /// The id of the first message; every later one must carry it too.
    id: Option<u16>,
    state: State,
}

#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "one per transfer, replaced in place record by record; boxing would allocate"
)]
enum State {
    /// No record yet.
    Start,
    /// IXFR: the opening SOA, later than ours; the next record tells an incremental answer (an
    /// SOA with our serial) from an AXFR-style one (anything else, RFC 1995 §4).
    Opened { soa: Record },
    /// AXFR, or IXFR answered AXFR-style: `records` starts with the opening SOA.
    Full { soa: Record, records: Vec<Record> },
    /// IXFR: inside the removals of an increment.
    Removing {
        end: Record,
        done: Vec<Delta>,
        from: Record,
        removed: Vec<Record>,
    },
    /// IXFR: inside the additions of the last increment of `done`.
    Adding { end: Record, done: Vec<Delta> },
    /// Complete, or failed: nothing more is taken.
    Finished,
}

/// What one record did to the stream.
enum Step {
    Continue,
    /// The transfer is complete with this record.
    Done(Transfer),
    /// The transfer is complete, and the rest of the message does not matter.
    DoneIgnoreRest(Transfer),
}

impl Incoming {
    /// `have`: our SOA serial for IXFR (None for AXFR).
    pub fn new(zone: Name, have: Option<u32>) -> Incoming {
        Incoming {
            zone,
            have,
            id: None,
            state: State::Start,
        }
    }

    /// Checks and takes one message: RCODE NOERROR, records inside the zone, the first the
    /// zone's SOA. Detects the end:
    /// * AXFR (RFC 5936 §2.2), and IXFR answered AXFR-style: the closing SOA equal to the
    ///   opening one;
    /// * IXFR (RFC 1995 §4): the sequence of increments closed by the new SOA again;
    /// * IXFR answered with one SOA not later than ours: up to date. As in BIND, that first
    ///   SOA alone decides, and whatever follows it is not read: a primary that is not ahead
    ///   of us has nothing to give;
    /// * IXFR answered with one SOA later than ours: [`TransferError::NeedAxfr`]. "One SOA" is
    ///   a first message holding only the SOA. A primary sending one record per message (BIND's
    ///   `transfer-format one-answer`) is read this way too; the AXFR the caller falls back to
    ///   then still works.
    ///
    /// After the end, or after an error, every message is an error.
    pub fn feed(&mut self, msg: &Message) -> Result<Progress, TransferError> {
        if matches!(self.state, State::Finished) {
            return Err(TransferError::Finished);
        }
        let result = self.take(msg);
        if !matches!(result, Ok(Progress::More)) {
            self.state = State::Finished;
        }
        result
    }

    fn take(&mut self, msg: &Message) -> Result<Progress, TransferError> {
        self.check_header(msg)?;
        let first_message = self.id.is_none();
        self.id = Some(msg.metadata.id);
        if first_message && msg.answers.is_empty() {
            return Err(TransferError::Empty(Box::new(self.zone.clone())));
        }
        let mut records = msg.answers.iter();
        while let Some(record) = records.next() {
            self.check_record(record)?;
            match self.step(record)? {
                Step::Continue => {}
                Step::DoneIgnoreRest(transfer) => return Ok(Progress::Done(transfer)),
                Step::Done(transfer) => {
                    return match records.next() {
                        Some(extra) => Err(TransferError::AfterEnd(Box::new(extra.clone()))),
                        None => Ok(Progress::Done(transfer)),
                    };
                }
            }
        }
        if let (true, State::Opened { soa }, Some(ours)) = (first_message, &self.state, self.have) {
            return Err(TransferError::NeedAxfr {
                ours,
                theirs: soa_serial(soa).unwrap_or_default(),
            });
        }
        Ok(Progress::More)
    }

    /// RFC 5936 §2.2.1: the header of a transfer response.
    fn check_header(&self, msg: &Message) -> Result<(), TransferError> {
        let head = &msg.metadata;
        if head.message_type != MessageType::Response {
            return Err(TransferError::Malformed("a query (QR=0), not a response"));
        }
        if head.response_code != ResponseCode::NoError {
            return Err(TransferError::Rcode(head.response_code));
        }
        if head.op_code != OpCode::Query {
            return Err(TransferError::Malformed("the opcode is not QUERY"));
        }
        // Over TCP a transfer is never truncated; over UDP, TC means "ask over TCP".
        if head.truncation {
            return Err(TransferError::Malformed("truncated (TC=1)"));
        }
        if let Some(expected) = self.id
            && expected != head.id
        {
            return Err(TransferError::IdChanged {
                expected,
                found: head.id,
            });
        }
        // §2.2.1: the question is in the first message and may be repeated in later ones.
        if let Some(q) = msg.queries.iter().find(|q| *q.name() != self.zone) {
            return Err(TransferError::WrongQuestion {
                zone: Box::new(self.zone.clone()),
                found: Box::new(q.name().clone()),
            });
        }
        Ok(())
    }

    /// What every record must be, wherever it is in the stream.
    fn check_record(&self, record: &Record) -> Result<(), TransferError> {
        if !self.zone.zone_of(&record.name) {
            return Err(TransferError::OutsideZone {
                zone: Box::new(self.zone.clone()),
                record: Box::new(record.clone()),
            });
        }
        let class = match &self.state {
            State::Opened { soa }
            | State::Full { soa, .. }
            | State::Removing { end: soa, .. }
            | State::Adding { end: soa, .. } => soa.dns_class,
            State::Start | State::Finished => record.dns_class,
        };
        let code = u16::from(record.record_type());
        let meta = (128..=255).contains(&code) || record.record_type() == RecordType::OPT;
        // hickory reads every RDLENGTH 0 record as `Update0`: no zone data has that form. An
        // SOA anywhere but the apex would be taken for a delimiter of the sequence (a first
        // record has its own error, `NoOpeningSoa`).
        let misplaced_soa = record.record_type() == RecordType::SOA
            && record.name != self.zone
            && !matches!(self.state, State::Start);
        if meta
            || misplaced_soa
            || record.dns_class != class
            || matches!(record.data, RData::Update0(_))
        {
            return Err(TransferError::NotZoneData(Box::new(record.clone())));
        }
        Ok(())
    }

    /// Takes one record, moving the state machine.
    fn step(&mut self, record: &Record) -> Result<Step, TransferError> {
        let serial = soa_serial(record);
        let (next, step) = match (mem::replace(&mut self.state, State::Finished), serial) {
            (State::Start, _) => return self.open(record),
            (State::Finished, _) => return Err(TransferError::Finished),
            (State::Opened { soa }, None) => {
                let records = vec![soa.clone(), record.clone()];
                (State::Full { soa, records }, Step::Continue)
            }
            (State::Opened { soa }, Some(found)) => {
                if Some(found) == self.have {
                    let state = State::Removing {
                        end: soa,
                        done: Vec::new(),
                        from: record.clone(),
                        removed: Vec::new(),
                    };
                    (state, Step::Continue)
                } else if *record == soa {
                    // An AXFR-style answer of a zone holding nothing but its SOA.
                    (State::Finished, Step::Done(Transfer::Full(vec![soa])))
                } else {
                    let expected = self.have.unwrap_or_default();
                    return Err(TransferError::UnexpectedSoa { expected, found });
                }
            }
            (State::Full { soa, mut records }, None) => {
                records.push(record.clone());
                (State::Full { soa, records }, Step::Continue)
            }
            (State::Full { soa, records }, Some(found)) => {
                let expected = soa_serial(&soa).unwrap_or_default();
                if found != expected {
                    return Err(TransferError::UnexpectedSoa { expected, found });
                }
                // RFC 5936 §2.2: the closing SOA is the opening one; an SOA with its serial
                // but other fields is a second SOA at the apex (or the zone changed under
                // the primary without a new serial).
                if *record != soa {
                    return Err(TransferError::SoaChanged {
                        found: Box::new(record.clone()),
                    });
                }
                (State::Finished, Step::Done(Transfer::Full(records)))
            }
            (
                State::Removing {
                    end,
                    done,
                    from,
                    mut removed,
                },
                None,
            ) => {
                removed.push(record.clone());
                let state = State::Removing {
                    end,
                    done,
                    from,
                    removed,
                };
                (state, Step::Continue)
            }
            (
                State::Removing {
                    end,
                    mut done,
                    from,
                    removed,
                },
                Some(to),
            ) => {
                let start = soa_serial(&from).unwrap_or_default();
                if !later(to, start) {
                    return Err(TransferError::Backwards { from: start, to });
                }
                done.push(Delta {
                    from,
                    to: record.clone(),
                    removed,
                    added: Vec::new(),
                });
                (State::Adding { end, done }, Step::Continue)
            }
            (State::Adding { end, mut done }, None) => {
                if let Some(last) = done.last_mut() {
                    last.added.push(record.clone());
                }
                (State::Adding { end, done }, Step::Continue)
            }
            (State::Adding { end, done }, Some(found)) => {
                let reached = done.last().and_then(|d| soa_serial(&d.to));
                let end_serial = soa_serial(&end);
                // RFC 1995 §4: the increments end at the opening SOA's serial, and that SOA
                // closes the answer. An increment starting there would lead past the version
                // the answer announced, so the SOA can only be the end.
                if reached == end_serial && Some(found) == end_serial {
                    (State::Finished, Step::Done(Transfer::Incremental(done)))
                } else if Some(found) == reached {
                    let state = State::Removing {
                        end,
                        done,
                        from: record.clone(),
                        removed: Vec::new(),
                    };
                    (state, Step::Continue)
                } else {
                    let expected = reached.unwrap_or_default();
                    return Err(TransferError::UnexpectedSoa { expected, found });
                }
            }
        };
        self.state = next;
        Ok(step)
    }

    /// The first record: the zone's SOA (RFC 5936 §2.2, RFC 1995 §4).
    fn open(&mut self, record: &Record) -> Result<Step, TransferError> {
        let Some(serial) = soa_serial(record).filter(|_| record.name == self.zone) else {
            return Err(TransferError::NoOpeningSoa {
                zone: Box::new(self.zone.clone()),
                found: Box::new(record.clone()),
            });
        };
        match self.have {
            None => {
                self.state = State::Full {
                    soa: record.clone(),
                    records: vec![record.clone()],
                };
                Ok(Step::Continue)
            }
            Some(ours) if !later(serial, ours) => {
                Ok(Step::DoneIgnoreRest(Transfer::UpToDate(record.clone())))
            }
            Some(_) => {
                self.state = State::Opened {
                    soa: record.clone(),
                };
                Ok(Step::Continue)
            }
        }
    }
}
