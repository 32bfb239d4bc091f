//! Zone replication: transfers in (secondary) and NOTIFY out (primary).
//!
//! `fetch` holds the exchanges both roles need: the SOA query, the AXFR/IXFR pull and NOTIFY,
//! each optionally TSIG-signed, sent through the one outbound client (`crate::outbound`). What
//! to do with a transferred zone is not its concern.

pub(crate) mod fetch;
pub(crate) mod notify;
pub(crate) mod secondary;
pub(crate) mod status;

#[cfg(test)]
mod notify_review;
