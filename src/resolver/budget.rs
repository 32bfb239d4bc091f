//! Per-client-query limits against loops and amplification (CNAME chains, delegation depth,
//! NXNS glueless lookups, outgoing queries, total time), and the errors that exceeding them
//! produces. `ResolveError` is only a real failure: negative answers are not errors.

use std::net::IpAddr;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Name;
use tokio::time::Instant;

use super::window::Priority;
use crate::ede;
use crate::limits::{
    CLIENT_TIMEOUT_MS, MAX_CNAME_CHAIN, MAX_DELEGATION_DEPTH, MAX_GLUELESS_LOOKUPS,
    MAX_UPSTREAM_QUERIES, OUTBOUND_MSG_RETRY, RESOLVE_TIMEOUT_MS,
};

/// The bounds for one client query, after config bounds checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub(crate) max_cname_chain: usize,
    pub(crate) max_delegation_depth: usize,
    pub(crate) max_glueless_lookups: usize,
    pub(crate) max_upstream_queries: usize,
    pub(crate) timeout: Duration,
    /// How long a client waits for an answer before it gets SERVFAIL (the walk goes on).
    pub(crate) client_timeout: Duration,
    /// Tries per server and question that may fail outright (`[recursion]
    /// outbound_msg_retry`; see the exchange).
    pub(crate) outbound_msg_retry: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_cname_chain: MAX_CNAME_CHAIN.default,
            max_delegation_depth: MAX_DELEGATION_DEPTH.default,
            max_glueless_lookups: MAX_GLUELESS_LOOKUPS.default,
            max_upstream_queries: MAX_UPSTREAM_QUERIES.default,
            timeout: Duration::from_millis(RESOLVE_TIMEOUT_MS.default),
            client_timeout: Duration::from_millis(CLIENT_TIMEOUT_MS.default),
            outbound_msg_retry: OUTBOUND_MSG_RETRY.default,
        }
    }
}

/// Why a resolution failed. Every variant answers SERVFAIL, with an RFC 8914 Extended DNS
/// Error saying why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("CNAME chain longer than {0}")]
    CnameChainTooLong(usize),
    #[error("more than {0} delegations followed")]
    DelegationTooDeep(usize),
    #[error("more than {0} glueless name server lookups")]
    TooManyGlueless(usize),
    #[error("more than {0} upstream queries")]
    TooManyUpstream(usize),
    #[error("resolution took longer than {0:?}")]
    Timeout(Duration),
    /// The client's patience ran out first; the walk goes on for the cache.
    #[error("no answer within {0:?}; still resolving for the cache")]
    ClientTimeout(Duration),
    #[error("no reachable authority for {0}")]
    NoReachableAuthority(Name),
    /// A minimised query (RFC 9156) met too many timeouts: the walk asks the full name
    /// instead, so this never reaches a client.
    #[error("minimised query for {0} unanswered")]
    MinimisedUnanswered(Name),
    /// Every server of the zone is one of our own listeners (none other was offered).
    #[error("forwarding loop: {server}, a name server of {zone}, is this resolver itself")]
    ForwardingLoop {
        zone: Name,
        server: std::net::SocketAddr,
    },
    #[error("resolution failed recently: {0}")]
    CachedFailure(String),
    #[error("internal error")]
    Internal,
    /// Not answered at all, under load (`[limits] max_client_queries`).
    #[error(transparent)]
    Shed(#[from] super::admission::Shed),
}

impl ResolveError {
    /// The one place resolution failures become RCODEs.
    pub(crate) fn rcode(&self) -> ResponseCode {
        ResponseCode::ServFail
    }

    /// The Extended DNS Error for this failure: info code and text.
    pub(crate) fn ede(&self) -> (u16, String) {
        let code = match self {
            ResolveError::NoReachableAuthority(_)
            | ResolveError::Timeout(_)
            | ResolveError::ClientTimeout(_)
            | ResolveError::ForwardingLoop { .. } => ede::NO_REACHABLE_AUTHORITY,
            _ => ede::OTHER,
        };
        (code, self.to_string())
    }
}

/// What one client query may still spend. Shared by the whole walk, sub-resolutions included.
#[derive(Debug)]
pub(crate) struct Budget {
    pub limits: Limits,
    pub deadline: Instant,
    /// The walk's clock: the request's arrival, moved forward only by what the exchange
    /// reports (a query sent, a timer fired, a reply read), so a walk never reads the time.
    pub(crate) now: Instant,
    upstream: usize,
    glueless: usize,
    /// Names whose addresses are being looked up right now, to break NS-name loops.
    pub(crate) in_progress: Vec<Name>,
    /// The server whose reply ended the last exchange: the one to blame if it is bogus.
    pub(crate) answered_by: Option<IpAddr>,
    /// Servers whose answers this walk found bogus: not asked again by it.
    pub(crate) avoid: Vec<IpAddr>,
    /// A client's walk, or a background refresh: where its tries wait when a server is full.
    pub(crate) priority: Priority,
    /// A link of this walk was a name of a `no_cache` forward zone: as Unbound's
    /// `no_cache_store` is the whole question's, its failure is not remembered.
    pub(crate) reached_no_cache: bool,
}

impl Budget {
    pub(crate) fn new(limits: Limits, now: Instant) -> Budget {
        Budget {
            limits,
            deadline: now + limits.timeout,
            now,
            upstream: 0,
            glueless: 0,
            in_progress: Vec::new(),
            answered_by: None,
            avoid: Vec::new(),
            priority: Priority::default(),
            reached_no_cache: false,
        }
    }

    pub(crate) fn upstream_queries(&self) -> usize {
        self.upstream
    }

    pub(crate) fn spend_upstream(&mut self) -> Result<(), ResolveError> {
        let max = self.limits.max_upstream_queries;
        spend(&mut self.upstream, max, ResolveError::TooManyUpstream)
    }

    pub(crate) fn spend_glueless(&mut self) -> Result<(), ResolveError> {
        let max = self.limits.max_glueless_lookups;
        spend(&mut self.glueless, max, ResolveError::TooManyGlueless)
    }

    /// Moves the walk's clock to `at`, a time the exchange read; never backwards.
    pub(crate) fn advance(&mut self, at: Instant) {
        self.now = self.now.max(at);
    }

    /// Time left, or the timeout error when there is none.
    pub(crate) fn remaining(&self) -> Result<Duration, ResolveError> {
        if self.now >= self.deadline {
            return Err(ResolveError::Timeout(self.limits.timeout));
        }
        Ok(self.deadline - self.now)
    }
}

/// Counts one more of something a query may do at most `max` times; the error names the bound.
fn spend(
    spent: &mut usize,
    max: usize,
    exceeded: fn(usize) -> ResolveError,
) -> Result<(), ResolveError> {
    if *spent >= max {
        return Err(exceeded(max));
    }
    *spent += 1;
    Ok(())
}
