//! TSIG over a multi-message response, RFC 8945 §5.3.1: a zone transfer (AXFR, IXFR) answers
//! one request with many messages on one TCP connection. The first is signed like any response
//! (its MAC covers the request MAC); each later MAC covers the previous MAC, every message
//! since it, and only the timer variables (Time Signed, Fudge).
//!
//! hickory-proto builds the to-be-verified bytes of one message (`signed_bitmessage_to_buf`,
//! with a timers-only mode for later messages) and computes MACs; what it lacks is here. Its
//! `TSigVerifier` rejects the unsigned intermediate messages §5.3.1 allows, checks times
//! against the request's instead of the clock, ignores the TSIG Error field, and cannot tell
//! whether a stream ended on a signed message; and nothing in it signs a later message.

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::Name;
use hickory_proto::rr::rdata::tsig::{
    TSIG, TsigAlgorithm, TsigError, make_tsig_record, signed_bitmessage_to_buf,
};
use hickory_proto::serialize::binary::BinEncoder;

use super::sign::{HEADER_LEN, SignError, TIME_48_BITS, append_record, sign_first};
use super::verify::Verified;
use super::{FUDGE, Key};

/// RFC 8945 §5.3.1: a client must accept up to 99 intermediary messages without a TSIG.
pub(crate) const MAX_UNSIGNED_IN_A_ROW: usize = 99;

/// Byte offsets of the DNS header's ID and flag octets (RFC 1035 §4.1.1).
const HEADER_ID: std::ops::Range<usize> = 0..2;
const HEADER_FLAGS: std::ops::Range<usize> = 2..4;

/// Signs the messages of one multi-message response in order (RFC 8945 §5.3.1). Every message
/// is signed: the RFC requires the first and the last and allows all, and signing all means
/// no message needs to know whether it is the last.
#[derive(Debug, Clone)]
pub(crate) struct ResponseStream {
    verified: Verified,
    /// The MAC of the last message signed; `None` until the first message is.
    previous_mac: Option<Vec<u8>>,
    sent: usize,
}

impl ResponseStream {
    /// A stream answering a request whose TSIG check gave `verified`. For `Unsigned` and
    /// `Malformed` requests the messages pass through unchanged.
    pub(crate) fn new(verified: &Verified) -> ResponseStream {
        ResponseStream {
            verified: verified.clone(),
            previous_mac: None,
            sent: 0,
        }
    }

    /// Appends the TSIG of the next message. The first is `sign_response`'s (the request MAC,
    /// all TSIG variables, and a failed check's error); each later one covers the previous
    /// MAC, the message with the Original ID in its header, and Time Signed and Fudge. A
    /// failed check answers with one message (§5.3.2), so a second one is an error.
    pub(crate) fn sign(&mut self, response: Vec<u8>, now_unix: u64) -> Result<Vec<u8>, SignError> {
        let first = self.sent == 0;
        self.sent += 1;
        if first {
            let (signed, mac) = sign_first(response, &self.verified, now_unix)?;
            self.previous_mac = mac;
            return Ok(signed);
        }
        let context = match &self.verified {
            Verified::Unsigned | Verified::Malformed { .. } => return Ok(response),
            Verified::Signed { context, .. } => context,
            Verified::Failed { .. } => return Err(SignError::StreamNotSigned),
        };
        let (Some(key), Some(previous)) = (&context.key, &self.previous_mac) else {
            return Err(SignError::StreamNotSigned);
        };
        if response.len() < HEADER_LEN {
            return Err(SignError::ShortResponse);
        }
        let stub = TSIG::new(
            context.algorithm.clone(),
            now_unix & TIME_48_BITS,
            FUDGE,
            Vec::new(),
            context.original_id,
            None,
            Vec::new(),
        );
        let mut tbs = with_previous_mac(previous, response.len())?;
        let at = tbs.len();
        tbs.extend_from_slice(&response);
        // §4.3.1: the header as covered carries the Original ID.
        tbs[at + HEADER_ID.start..at + HEADER_ID.end]
            .copy_from_slice(&context.original_id.to_be_bytes());
        push_timers(&mut tbs, &stub);
        let mac = key.signer().sign(&tbs)?;
        let record = make_tsig_record(context.key_name.clone(), stub.set_mac(mac.clone()));
        let mut response = response;
        append_record(&mut response, &record, self.tsig_len())?;
        self.previous_mac = Some(mac);
        Ok(response)
    }

    /// Octets each message's TSIG takes: the room to keep under the 64 KiB message limit.
    pub(crate) fn tsig_len(&self) -> usize {
        self.verified.tsig_len()
    }
}

/// §5.3.1 digest, first component: the previous MAC with its length (MAC Size, 2 octets).
fn with_previous_mac(previous: &[u8], room: usize) -> Result<Vec<u8>, SignError> {
    let len = u16::try_from(previous.len()).map_err(|_| SignError::TooManyRecords)?;
    let mut tbs = Vec::with_capacity(2 + previous.len() + room + 8);
    tbs.extend_from_slice(&len.to_be_bytes());
    tbs.extend_from_slice(previous);
    Ok(tbs)
}

/// §5.3.1 digest, last component: the TSIG timers, Time Signed (48 bits) and Fudge.
fn push_timers(tbs: &mut Vec<u8>, tsig: &TSIG) {
    tbs.extend_from_slice(&tsig.time.to_be_bytes()[2..]);
    tbs.extend_from_slice(&tsig.fudge.to_be_bytes());
}

/// Why a response to a signed request is not accepted (RFC 8945 §5.4: the client checks a
/// response as a server checks a request, §5.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TsigClientError {
    #[error("response cannot be parsed: {0}")]
    Malformed(String),
    #[error("response ({rcode}) carries no TSIG, but the request was signed (RFC 8945 §5.4)")]
    Unsigned { rcode: ResponseCode },
    #[error("more than {MAX_UNSIGNED_IN_A_ROW} unsigned messages in a row (RFC 8945 §5.3.1)")]
    TooManyUnsigned,
    #[error("response is signed with key {name} ({algorithm}), not ours")]
    WrongKey {
        name: Box<Name>,
        algorithm: Box<TsigAlgorithm>,
    },
    #[error("the server rejected our TSIG: {0:?}")]
    Rejected(TsigError),
    #[error("MAC of {len} octets: only the full {full} are accepted (RFC 8945 §5.2.2.1)")]
    MacSize { len: usize, full: usize },
    #[error("MAC does not verify: wrong key secret, or the message was altered")]
    BadSig,
    #[error("signed at {signed}, more than {fudge} s from our clock {now} (RFC 8945 §5.2.3)")]
    BadTime { signed: u64, fudge: u16, now: u64 },
    #[error("no response was received")]
    NoResponse,
    #[error("the last {0} messages are unsigned: the last one must be (RFC 8945 §5.3.1)")]
    LastUnsigned(usize),
}

/// Signs a request with `key` and checks the responses to it: one, or a stream (§5.3.1:
/// intermediate messages may be unsigned, at most 99 in a row; the last must be signed).
#[derive(Debug)]
pub(crate) struct RequestSigner {
    key: Key,
    /// The request's MAC, then the MAC of the last signed response.
    previous_mac: Vec<u8>,
    signed: usize,
    /// The unsigned messages since the last signed one, as received: the next MAC covers them.
    unsigned: Vec<u8>,
    unsigned_count: usize,
}

impl RequestSigner {
    /// Encodes `request` and appends its TSIG (§4.3.1–4.3.3, §5.1): Original ID is the
    /// message ID, Time Signed `now_unix`, Fudge 300. Returns the bytes to send and the
    /// signer that checks the responses.
    pub(crate) fn sign(
        request: &Message,
        key: &Key,
        now_unix: u64,
    ) -> Result<(Vec<u8>, RequestSigner), SignError> {
        if request.signature().is_some() {
            return Err(SignError::AlreadySigned);
        }
        let mut bytes = request.to_vec()?;
        let stub = TSIG::new(
            key.algorithm().clone(),
            now_unix & TIME_48_BITS,
            FUDGE,
            Vec::new(),
            request.metadata.id,
            None,
            Vec::new(),
        );
        let mut tbs = bytes.clone();
        let offset = u32::try_from(bytes.len()).map_err(|_| SignError::TooManyRecords)?;
        let mut encoder = BinEncoder::with_offset(&mut tbs, offset);
        stub.emit_tsig_for_mac(&mut encoder, key.name())?;
        let mac = key.signer().sign(&tbs)?;
        let record = make_tsig_record(key.name().clone(), stub.set_mac(mac.clone()));
        append_record(&mut bytes, &record, 0)?;
        let signer = RequestSigner {
            key: key.clone(),
            previous_mac: mac,
            signed: 0,
            unsigned: Vec::new(),
            unsigned_count: 0,
        };
        Ok((bytes, signer))
    }

    /// Checks the next response message of this request and returns it parsed. The first
    /// must be signed; later ones may be unsigned, up to 99 in a row, and are covered by the
    /// next signed one. `now_unix` is our clock: every signed message must be within its
    /// fudge (§5.2.3).
    pub(crate) fn verify(
        &mut self,
        response_bytes: &[u8],
        now_unix: u64,
    ) -> Result<Message, TsigClientError> {
        let message = Message::from_vec(response_bytes)
            .map_err(|e| TsigClientError::Malformed(e.to_string()))?;
        if message.signature().is_none() {
            if self.signed == 0 {
                return Err(TsigClientError::Unsigned {
                    rcode: message.metadata.response_code,
                });
            }
            if self.unsigned_count == MAX_UNSIGNED_IN_A_ROW {
                return Err(TsigClientError::TooManyUnsigned);
            }
            self.unsigned.extend_from_slice(response_bytes);
            self.unsigned_count += 1;
            return Ok(message);
        }

        // hickory rebuilds the message as covered by the MAC: header with the Original ID and
        // ARCOUNT less one, the records before the TSIG as sent, then all TSIG variables
        // (first message) or only the timers (later ones).
        let (tbv, record) = signed_bitmessage_to_buf(response_bytes, None, self.signed == 0)
            .map_err(|e| TsigClientError::Malformed(e.to_string()))?;
        let tsig = &record.data;
        if record.name != *self.key.name() || tsig.algorithm != *self.key.algorithm() {
            return Err(TsigClientError::WrongKey {
                name: Box::new(record.name.clone()),
                algorithm: Box::new(tsig.algorithm.clone()),
            });
        }
        // §5.3.2: BADKEY and BADSIG come back unsigned; nothing to check but the error.
        if let (Some(error), true) = (tsig.error, tsig.mac.is_empty()) {
            return Err(TsigClientError::Rejected(error));
        }
        let full = self.key.mac_len();
        if tsig.mac.len() != full {
            return Err(TsigClientError::MacSize {
                len: tsig.mac.len(),
                full,
            });
        }

        let mut covered = with_previous_mac(&self.previous_mac, self.unsigned.len() + tbv.len())
            .map_err(|e| TsigClientError::Malformed(e.to_string()))?;
        covered.extend_from_slice(&self.unsigned);
        let at = covered.len();
        covered.extend_from_slice(&tbv);
        // hickory re-encodes the header from its parsed flags, which drops the reserved Z bit;
        // the MAC covers the flags as sent.
        if let Some(sent) = response_bytes.get(HEADER_FLAGS) {
            let flags = at + HEADER_FLAGS.start..at + HEADER_FLAGS.end;
            if let Some(rebuilt) = covered.get_mut(flags) {
                rebuilt.copy_from_slice(sent);
            }
        }
        if self.key.signer().verify(&covered, &tsig.mac).is_err() {
            return Err(TsigClientError::BadSig);
        }
        // A signed error (BADTIME, BADTRUNC) is authentic, and still a refusal.
        if let Some(error) = tsig.error {
            return Err(TsigClientError::Rejected(error));
        }
        let now = now_unix & TIME_48_BITS;
        if now.abs_diff(tsig.time) > u64::from(tsig.fudge) {
            return Err(TsigClientError::BadTime {
                signed: tsig.time,
                fudge: tsig.fudge,
                now,
            });
        }

        self.previous_mac.clone_from(&tsig.mac);
        self.unsigned.clear();
        self.unsigned_count = 0;
        self.signed += 1;
        Ok(message)
    }

    /// Whether the responses seen so far end as §5.3.1 requires: at least one, the last signed.
    pub(crate) fn finish(&self) -> Result<(), TsigClientError> {
        if self.signed == 0 {
            return Err(TsigClientError::NoResponse);
        }
        if self.unsigned_count > 0 {
            return Err(TsigClientError::LastUnsigned(self.unsigned_count));
        }
        Ok(())
    }
}
