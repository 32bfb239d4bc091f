//! The TSIG of a response, RFC 8945 §5.3: a signed request gets a response signed with the same
//! key, whose MAC also covers the request's MAC; a failed check gets the TSIG error, signed or
//! not as §5.3.2 says.

use hickory_proto::ProtoError;
use hickory_proto::dnssec::DnsSecError;
use hickory_proto::rr::rdata::tsig::{TSIG, TsigError, make_tsig_record};
use hickory_proto::rr::{Name, Record};
use hickory_proto::serialize::binary::{BinEncodable, BinEncoder, NameEncoding};

use super::verify::{Context, Verified};
use super::{FUDGE, mac_len};

/// RFC 1035 §4.1.1: the header is 12 octets; the ID is the first two, ARCOUNT the last two.
pub(super) const HEADER_LEN: usize = 12;
const ARCOUNT: std::ops::Range<usize> = 10..12;

/// Time Signed and Other Data's BADTIME time are 48-bit (RFC 8945 §4.2, §5.2.3).
pub(super) const TIME_48_BITS: u64 = (1 << 48) - 1;

/// Why a response could not be given its TSIG. None of these come from the request: they are
/// bugs or a response that is already full.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("response is shorter than a DNS header")]
    ShortResponse,
    #[error("response has no room for another additional record")]
    TooManyRecords,
    #[error("cannot encode the TSIG record: {0}")]
    Encode(#[from] ProtoError),
    #[error("cannot compute the TSIG MAC: {0}")]
    Mac(#[from] DnsSecError),
    #[error("the request already carries a TSIG record")]
    AlreadySigned,
    #[error("a response stream continues only after a signed first message (RFC 8945 §5.3.1)")]
    StreamNotSigned,
}

/// Appends the response TSIG that `verified` calls for to an encoded response.
///
/// - `Unsigned` and `Malformed`: the bytes come back unchanged (§5.2: a FORMERR carries no TSIG).
/// - `Signed`: signed with the request's key; the MAC covers the request MAC, the response and
///   the TSIG variables (§5.3, §4.3.3), Time Signed is `now_unix`.
/// - BADKEY and BADSIG: the TSIG carries the error, an empty MAC, and is not signed (§5.3.2:
///   "It MUST NOT send back a signed error message").
/// - BADTIME and BADTRUNC: signed (§5.3.2). For BADTIME, Other Data holds the server's time
///   (§5.2.3) and Time Signed repeats the request's, as BIND does, so that the client (whose
///   clock is the one in doubt) can still check the response.
///
/// The caller sets the RCODE (`Verified::rcode`) before encoding and leaves `tsig_len()` octets
/// of room under its size limit (§5.3: the TSIG is never dropped to make a response fit).
pub(crate) fn sign_response(
    response: Vec<u8>,
    verified: &Verified,
    now_unix: u64,
) -> Result<Vec<u8>, SignError> {
    sign_first(response, verified, now_unix).map(|(signed, _)| signed)
}

/// `sign_response`, also returning the MAC it computed (`None` when the response carries no
/// MAC): the next message of a stream covers it (§5.3.1).
pub(super) fn sign_first(
    mut response: Vec<u8>,
    verified: &Verified,
    now_unix: u64,
) -> Result<(Vec<u8>, Option<Vec<u8>>), SignError> {
    let (error, context) = match verified {
        Verified::Unsigned | Verified::Malformed { .. } => return Ok((response, None)),
        Verified::Signed { context, .. } => (None, context),
        Verified::Failed { error, context } => (Some(*error), context),
    };
    if response.len() < HEADER_LEN {
        return Err(SignError::ShortResponse);
    }
    let now = now_unix & TIME_48_BITS;
    let (time, other) = match error {
        Some(TsigError::BadTime) => (context.request_time, now.to_be_bytes()[2..].to_vec()),
        _ => (now, Vec::new()),
    };
    let stub = TSIG::new(
        context.algorithm.clone(),
        time,
        FUDGE,
        Vec::new(),
        context.original_id,
        error,
        other,
    );
    let mut mac = None;
    let tsig = match (&context.key, signed(error)) {
        (Some(key), true) => {
            let signer = key.signer();
            let mut tbs = signer.encode_response_tbs(&context.request_mac, &response, &stub)?;
            // A client checks the MAC over the header with the Original ID in place (§4.3.1);
            // the response ID is normally the same, but a forwarded request's need not be.
            let id_at = 2 + context.request_mac.len();
            if let Some(id) = tbs.get_mut(id_at..id_at + 2) {
                id.copy_from_slice(&context.original_id.to_be_bytes());
            }
            let computed = signer.sign(&tbs)?;
            mac = Some(computed.clone());
            stub.set_mac(computed)
        }
        _ => stub,
    };
    let record = make_tsig_record(context.key_name.clone(), tsig);
    append_record(&mut response, &record, verified.tsig_len())?;
    Ok((response, mac))
}

/// Appends `record` as the last additional record of an encoded message (§5.1: the TSIG is
/// always last) and counts it in ARCOUNT. `room` is the expected record length.
pub(super) fn append_record(
    response: &mut Vec<u8>,
    record: &Record<TSIG>,
    room: usize,
) -> Result<(), SignError> {
    if response.len() < HEADER_LEN {
        return Err(SignError::ShortResponse);
    }
    let mut rr = Vec::with_capacity(room);
    {
        // Encoded on its own, so no name may point into the response: compression offsets would
        // be counted from the wrong start (and §4.2 forbids compressing the algorithm name).
        let mut encoder = BinEncoder::new(&mut rr);
        encoder.set_name_encoding(NameEncoding::Uncompressed);
        record.emit(&mut encoder)?;
    }
    let count = u16::from_be_bytes([response[ARCOUNT.start], response[ARCOUNT.start + 1]]);
    let count = count.checked_add(1).ok_or(SignError::TooManyRecords)?;
    response[ARCOUNT].copy_from_slice(&count.to_be_bytes());
    response.extend_from_slice(&rr);
    Ok(())
}

/// §5.3.2: errors about the key or the MAC are answered unsigned, the others signed.
fn signed(error: Option<TsigError>) -> bool {
    matches!(
        error,
        None | Some(TsigError::BadTime) | Some(TsigError::BadTrunc)
    )
}

impl Verified {
    /// How many octets `sign_response` will append: the caller keeps this much room when it
    /// truncates a response to fit a UDP payload (RFC 8945 §5.3).
    pub(crate) fn tsig_len(&self) -> usize {
        let (error, context): (Option<TsigError>, &Context) = match self {
            Verified::Unsigned | Verified::Malformed { .. } => return 0,
            Verified::Signed { context, .. } => (None, context),
            Verified::Failed { error, context } => (Some(*error), context),
        };
        let mac = match (&context.key, signed(error)) {
            (Some(_), true) => mac_len(&context.algorithm).unwrap_or(0),
            _ => 0,
        };
        let other = if error == Some(TsigError::BadTime) {
            6
        } else {
            0
        };
        // NAME, TYPE, CLASS, TTL, RDLENGTH; then Algorithm Name, Time Signed (6), Fudge,
        // MAC Size, MAC, Original ID, Error, Other Len, Other Data (RFC 8945 §4.2).
        wire_len(&context.key_name)
            + 10
            + wire_len(&context.algorithm.to_name())
            + 6
            + 2
            + 2
            + mac
            + 2
            + 2
            + 2
            + other
    }
}

/// Uncompressed wire length of a name: a length octet per label, the labels, the root octet.
fn wire_len(name: &Name) -> usize {
    name.iter().map(|label| label.len() + 1).sum::<usize>() + 1
}
