//! What can go wrong in an exchange with a primary (or, for NOTIFY, a secondary), each
//! error with the server, the zone and the request it was about.

use std::fmt::{self, Display};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::{OpCode, ResponseCode};
use hickory_proto::rr::{Name, RecordType};

use crate::outbound::ClientError;
use crate::tsig::{SignError, TsigClientError};

/// Why an exchange with a primary (or, for NOTIFY, a secondary) failed. Every variant names
/// the server and the zone, most also the request. The zone is boxed to keep the error (and
/// so every `Result` here) small.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("{server}: no complete answer to the {request} for {zone} within {timeout:?}")]
    Timeout {
        server: SocketAddr,
        zone: Box<Name>,
        request: Request,
        timeout: Duration,
    },
    #[error("{server}: {request} for {zone}: {error}")]
    Io {
        server: SocketAddr,
        zone: Box<Name>,
        request: Request,
        error: io::Error,
    },
    #[error("{server}: answered {rcode:?} to the {request} for {zone}")]
    Rcode {
        server: SocketAddr,
        zone: Box<Name>,
        request: Request,
        rcode: ResponseCode,
    },
    #[error("{server}: TSIG check of the response to the {request} for {zone} failed: {error}")]
    Tsig {
        server: SocketAddr,
        zone: Box<Name>,
        request: Request,
        error: TsigClientError,
    },
    #[error("{server}: cannot sign the {request} for {zone}: {error}")]
    Sign {
        server: SocketAddr,
        zone: Box<Name>,
        request: Request,
        error: SignError,
    },
    #[error("{server}: cannot encode the {request} for {zone}: {reason}")]
    Encode {
        server: SocketAddr,
        zone: Box<Name>,
        request: Request,
        reason: String,
    },
    #[error("{server}: unusable response to the {request} for {zone}: {reason}")]
    Malformed {
        server: SocketAddr,
        zone: Box<Name>,
        request: Request,
        reason: String,
    },
    #[error("{server}: the {zone} SOA answer is not authoritative (AA=0)")]
    NotAuthoritative { server: SocketAddr, zone: Box<Name> },
    #[error("{server}: the answer to {zone} SOA holds no SOA record for {zone}")]
    NoSoa { server: SocketAddr, zone: Box<Name> },
    #[error("{server}: transfer of {zone} abandoned after {messages} messages: {reason}")]
    Rejected {
        server: SocketAddr,
        zone: Box<Name>,
        messages: usize,
        reason: String,
    },
    #[error("{server}: connection closed after {messages} messages of the {request} of {zone}")]
    Incomplete {
        server: SocketAddr,
        zone: Box<Name>,
        request: Request,
        messages: usize,
    },
}

impl FetchError {
    /// The outbound client's `error`, with the server, zone and request it was about.
    pub(super) fn from_client(
        server: SocketAddr,
        zone: &Name,
        request: Request,
        error: ClientError,
    ) -> FetchError {
        let zone = Box::new(zone.clone());
        // Every variant below carries the same context; only its own field differs.
        macro_rules! about {
            ($variant:ident { $field:ident }) => {
                FetchError::$variant {
                    server,
                    zone,
                    request,
                    $field,
                }
            };
        }
        match error {
            ClientError::Io(error) => about!(Io { error }),
            ClientError::Timeout(timeout) => about!(Timeout { timeout }),
            ClientError::Sign(error) => about!(Sign { error }),
            ClientError::Encode(reason) => about!(Encode { reason }),
            ClientError::Tsig(error) => about!(Tsig { error }),
            ClientError::Malformed(reason) => about!(Malformed { reason }),
            ClientError::Closed(messages) => about!(Incomplete { messages }),
        }
    }
}

/// Which request an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// The zone's SOA, asked as a query.
    Soa,
    Axfr,
    Ixfr,
    Notify,
}

impl Request {
    pub(super) fn qtype(self) -> RecordType {
        match self {
            Request::Soa | Request::Notify => RecordType::SOA,
            Request::Axfr => RecordType::AXFR,
            Request::Ixfr => RecordType::IXFR,
        }
    }

    pub(super) fn op_code(self) -> OpCode {
        match self {
            Request::Notify => OpCode::Notify,
            _ => OpCode::Query,
        }
    }
}

impl Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Request::Soa => "SOA query",
            Request::Axfr => "AXFR",
            Request::Ixfr => "IXFR",
            Request::Notify => "NOTIFY",
        })
    }
}
