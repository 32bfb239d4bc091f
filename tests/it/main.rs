//! One integration-test binary: every module starts real servers on loopback and talks to them
//! over real sockets.

mod authority;
mod cli;
mod control;
mod control_nta;
mod control_review;
mod cookies;
mod cookies_out;
mod dig_interop;
mod discovery;
mod dnssec_validate;
mod fast_path;
mod forward;
mod forward_doh;
mod forward_tls;
mod lab_dnssec;
mod local_names;
mod local_recursion;
mod metrics;
mod newcomer;
mod nonrecursive;
mod nsd_diff;
mod partition;
mod persist;
mod prefetch;
mod rate_limit;
mod replication_fetch;
mod resolver;
mod scaleout;
mod support;
mod transport;
mod udp_limits;
mod unbound_diff;
mod update;
mod xfr_interop;
