//! `[limits]`, `[recursion]` and the stub and forward zones as the resolver's settings.

use std::time::Duration;

use super::keyed::{self, bounded};
use super::{Config, ConfigError, forward, parse_name_at};
use crate::limits::{
    CLIENT_TIMEOUT_MS, FAILURE_TTL, JOSTLE_TIMEOUT_MS, MAX_CLIENT_QUERIES, MAX_CNAME_CHAIN,
    MAX_DELEGATION_DEPTH, MAX_GLUELESS_LOOKUPS, MAX_UPSTREAM_QUERIES, OUTBOUND_MSG_RETRY,
    RESOLVE_TIMEOUT_MS, STALE_ANSWER_TIMEOUT_MS,
};
use crate::resolver::{Limits, ResolverConfig, Stub};

impl Config {
    pub(crate) fn resolver_config(&self) -> Result<ResolverConfig, ConfigError> {
        self.resolver_config_with(true)
    }

    /// The resolver's settings, checked; `connect` false leaves the forwarders' TLS and HTTPS
    /// clients unbuilt (their `ca` files unread), for the checks made at load.
    pub(super) fn resolver_config_with(
        &self,
        connect: bool,
    ) -> Result<ResolverConfig, ConfigError> {
        let l = &self.limits;
        let c = &self.cache;
        Ok(ResolverConfig {
            limits: Limits {
                max_cname_chain: bounded(
                    "limits.max_cname_chain",
                    &MAX_CNAME_CHAIN,
                    l.max_cname_chain,
                )?,
                max_delegation_depth: bounded(
                    "limits.max_delegation_depth",
                    &MAX_DELEGATION_DEPTH,
                    l.max_delegation_depth,
                )?,
                max_glueless_lookups: bounded(
                    "limits.max_glueless_lookups",
                    &MAX_GLUELESS_LOOKUPS,
                    l.max_glueless_lookups,
                )?,
                max_upstream_queries: bounded(
                    "limits.max_upstream_queries",
                    &MAX_UPSTREAM_QUERIES,
                    l.max_upstream_queries,
                )?,
                timeout: Duration::from_millis(bounded(
                    "limits.timeout_ms",
                    &RESOLVE_TIMEOUT_MS,
                    l.timeout_ms,
                )?),
                client_timeout: Duration::from_millis(bounded(
                    "limits.client_timeout_ms",
                    &CLIENT_TIMEOUT_MS,
                    l.client_timeout_ms,
                )?),
                outbound_msg_retry: bounded(
                    "recursion.outbound_msg_retry",
                    &OUTBOUND_MSG_RETRY,
                    self.recursion.outbound_msg_retry,
                )?,
            },
            max_client_queries: bounded(
                "limits.max_client_queries",
                &MAX_CLIENT_QUERIES,
                l.max_client_queries,
            )?,
            jostle_timeout: Duration::from_millis(self.jostle_timeout_ms()?),
            qname_minimisation: self.recursion.qname_minimisation.unwrap_or(true),
            failure_ttl: bounded("cache.failure_ttl", &FAILURE_TTL, c.failure_ttl)?,
            upstream_port: self.recursion.upstream_port,
            stale_answer_timeout: Duration::from_millis(bounded(
                "cache.stale_answer_timeout_ms",
                &STALE_ANSWER_TIMEOUT_MS,
                c.stale_answer_timeout_ms,
            )?),
            trace: None,
            prefetch_busy_walks: bounded(
                "cache.prefetch_busy_walks",
                &crate::limits::PREFETCH_BUSY_WALKS,
                c.prefetch_busy_walks,
            )?,
            stubs: self
                .stubs
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    if s.servers.is_empty() {
                        return Err(keyed::invalid(
                            format!("stub[{i}].servers"),
                            format_args!("stub {}: no servers", s.zone),
                        ));
                    }
                    Ok(Stub {
                        zone: parse_name_at(&format!("stub[{i}].zone"), &s.zone)?,
                        servers: s.servers.clone(),
                    })
                })
                .collect::<Result<_, _>>()?,
            forwards: forward::forwards(&self.forwards, &self.stubs, connect)?,
        })
    }

    /// `jostle_timeout_ms`, which means something only under `max_client_queries`.
    fn jostle_timeout_ms(&self) -> Result<u64, ConfigError> {
        let l = &self.limits;
        const KEY: &str = "limits.jostle_timeout_ms";
        if l.jostle_timeout_ms.is_some() && l.max_client_queries.unwrap_or(0) == 0 {
            return Err(keyed::invalid(
                KEY,
                "jostle_timeout_ms needs max_client_queries (no query is jostled without a \
                 limit)",
            ));
        }
        bounded(KEY, &JOSTLE_TIMEOUT_MS, l.jostle_timeout_ms)
    }
}
