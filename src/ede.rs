//! RFC 8914 Extended DNS Error info codes tern sends. A leaf module: the resolver names the
//! reason for a failure, the handler for a refusal or a stale answer.

pub(crate) const OTHER: u16 = 0;
pub(crate) const STALE_ANSWER: u16 = 3;
pub(crate) const NOT_READY: u16 = 14;
pub(crate) const PROHIBITED: u16 = 18;
pub(crate) const STALE_NXDOMAIN: u16 = 19;
pub(crate) const NO_REACHABLE_AUTHORITY: u16 = 22;

/// The registered name of an info code (RFC 8914 §5.2 and the IANA registry up to 29), for
/// the metrics' labels and the query log; "Unassigned" past them.
pub(crate) fn name(code: u16) -> &'static str {
    const NAMES: [&str; 30] = [
        "Other Error",
        "Unsupported DNSKEY Algorithm",
        "Unsupported DS Digest Type",
        "Stale Answer",
        "Forged Answer",
        "DNSSEC Indeterminate",
        "DNSSEC Bogus",
        "Signature Expired",
        "Signature Not Yet Valid",
        "DNSKEY Missing",
        "RRSIGs Missing",
        "No Zone Key Bit Set",
        "NSEC Missing",
        "Cached Error",
        "Not Ready",
        "Blocked",
        "Censored",
        "Filtered",
        "Prohibited",
        "Stale NXDOMAIN Answer",
        "Not Authoritative",
        "Not Supported",
        "No Reachable Authority",
        "Network Error",
        "Invalid Data",
        "Signature Expired before Valid",
        "Too Early",
        "Unsupported NSEC3 Iterations Value",
        "Unable to conform to policy",
        "Synthesized",
    ];
    NAMES
        .get(usize::from(code))
        .copied()
        .unwrap_or("Unassigned")
}
