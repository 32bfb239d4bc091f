//! `[rate_limit]` (queries per client prefix, for recursion) and `[rrl]` (Response Rate
//! Limiting of authoritative answers). Both are off until their rate is set.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use super::{Config, ConfigError};
use crate::limits::{
    Limit, RATE_LIMIT_BURST, RATE_LIMIT_IPV4_PREFIX, RATE_LIMIT_IPV6_PREFIX, RATE_LIMIT_QPS,
    RATE_LIMIT_TABLE_SIZE, RRL_RESPONSES_PER_SECOND, RRL_SLIP, RRL_WINDOW,
};
use crate::ratelimit::{Action, ClientPrefix, Exempt, QueryLimitSettings, RrlSettings};

/// `[rate_limit]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RateLimitConfig {
    /// Recursion queries per second per client prefix; unset: no limit.
    pub queries_per_second: Option<u32>,
    /// Queries a quiet prefix may send at once; default `queries_per_second`.
    pub burst: Option<u32>,
    pub ipv4_prefix: Option<u8>,
    pub ipv6_prefix: Option<u8>,
    /// `refuse` (REFUSED, the default) or `drop` (no reply; TCP still gets REFUSED).
    pub action: Option<Action>,
    /// Networks never limited (CIDRs or addresses); default none.
    #[serde(default)]
    pub exempt: Vec<String>,
    pub table_size: Option<usize>,
}

/// `[rrl]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RrlConfig {
    /// Responses per second per {client prefix, kind, name}; unset: no RRL.
    pub(crate) responses_per_second: Option<u32>,
    pub window: Option<u32>,
    pub slip: Option<u32>,
    pub ipv4_prefix: Option<u8>,
    pub ipv6_prefix: Option<u8>,
    #[serde(default)]
    pub exempt: Vec<String>,
    pub table_size: Option<usize>,
}

fn check<T: PartialOrd + Copy + std::fmt::Display>(
    section: &str,
    limit: Limit<T>,
    value: Option<T>,
) -> Result<T, ConfigError> {
    limit
        .check(value)
        .map_err(|e| ConfigError::Invalid(format!("[{section}] {e}")))
}

fn prefix(section: &str, v4: Option<u8>, v6: Option<u8>) -> Result<ClientPrefix, ConfigError> {
    Ok(ClientPrefix {
        ipv4: check(section, RATE_LIMIT_IPV4_PREFIX, v4)?,
        ipv6: check(section, RATE_LIMIT_IPV6_PREFIX, v6)?,
    })
}

/// CIDRs (`10.0.0.0/8`, `2001:db8::/32`) or single addresses.
fn exempt(section: &str, list: &[String]) -> Result<Exempt, ConfigError> {
    list.iter()
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map(|net| net.trunc())
                .map_err(|_| {
                    ConfigError::Invalid(format!("[{section}] exempt: {s:?} is not a CIDR"))
                })
        })
        .collect::<Result<_, _>>()
        .map(Exempt)
}

impl Config {
    /// The per-client query limit, when `[rate_limit] queries_per_second` is set. Every key
    /// is checked whether or not it is: a bad value waiting in a config (commented examples
    /// made live, a section kept switched off) would otherwise be found only the day the
    /// rate is set, at a reload that then fails.
    pub(crate) fn query_limit(&self) -> Result<Option<QueryLimitSettings>, ConfigError> {
        let c = &self.rate_limit;
        let s = "rate_limit";
        let prefix = prefix(s, c.ipv4_prefix, c.ipv6_prefix)?;
        let exempt = exempt(s, &c.exempt)?;
        let table_size = check(s, RATE_LIMIT_TABLE_SIZE, c.table_size)?;
        if c.burst.is_some() {
            check(s, RATE_LIMIT_BURST, c.burst)?;
        }
        let Some(qps) = c.queries_per_second else {
            return Ok(None);
        };
        let queries_per_second = check(s, RATE_LIMIT_QPS, Some(qps))?;
        Ok(Some(QueryLimitSettings {
            queries_per_second,
            burst: check(
                s,
                RATE_LIMIT_BURST,
                Some(c.burst.unwrap_or(queries_per_second)),
            )?,
            prefix,
            action: c.action.unwrap_or_default(),
            exempt,
            table_size,
        }))
    }

    /// Response Rate Limiting, when `[rrl] responses_per_second` is set; every key checked
    /// either way, as for [`Config::query_limit`].
    pub(crate) fn rrl(&self) -> Result<Option<RrlSettings>, ConfigError> {
        let c = &self.rrl;
        let s = "rrl";
        let window = check(s, RRL_WINDOW, c.window)?;
        let slip = check(s, RRL_SLIP, c.slip)?;
        let prefix = prefix(s, c.ipv4_prefix, c.ipv6_prefix)?;
        let exempt = exempt(s, &c.exempt)?;
        let table_size = check(s, RATE_LIMIT_TABLE_SIZE, c.table_size)?;
        let Some(rate) = c.responses_per_second else {
            return Ok(None);
        };
        Ok(Some(RrlSettings {
            responses_per_second: check(s, RRL_RESPONSES_PER_SECOND, Some(rate))?,
            window,
            slip,
            prefix,
            exempt,
            table_size,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        Config::from_toml(text).expect("test config parses")
    }

    #[test]
    fn both_limits_are_off_unless_their_rate_is_set() {
        let c = config("");
        assert_eq!(c.query_limit().expect("valid"), None);
        assert_eq!(c.rrl().expect("valid"), None);
        let c = config("[rate_limit]\nexempt = [\"10.0.0.0/8\"]\n[rrl]\nslip = 1\n");
        assert_eq!(c.query_limit().expect("valid"), None);
        assert_eq!(c.rrl().expect("valid"), None);
    }

    /// Off is no excuse for a bad value: it is an error at start, not the day the rate is set.
    #[test]
    fn keys_are_checked_while_the_limit_is_off() {
        for text in [
            "[rate_limit]\nexempt = [\"junk\"]\n",
            "[rate_limit]\nipv4_prefix = 33\n",
            "[rate_limit]\nburst = 0\n",
        ] {
            assert!(config(text).query_limit().is_err(), "{text}");
        }
        for text in [
            "[rrl]\nslip = 9999\n",
            "[rrl]\nexempt = [\"junk\"]\n",
            "[rrl]\nwindow = 0\n",
        ] {
            assert!(config(text).rrl().is_err(), "{text}");
        }
    }

    #[test]
    fn rate_limit_keys_with_defaults() {
        let c = config(
            "[rate_limit]\nqueries_per_second = 50\naction = \"drop\"\n\
             exempt = [\"10.0.0.0/8\", \"192.0.2.7\", \"2001:db8::1/32\"]\n",
        );
        let q = c.query_limit().expect("valid").expect("on");
        assert_eq!(q.queries_per_second, 50);
        assert_eq!(q.burst, 50, "a second's worth by default");
        assert_eq!(q.prefix, ClientPrefix { ipv4: 24, ipv6: 56 });
        assert_eq!(q.action, Action::Drop);
        assert_eq!(q.table_size, 65_536);
        assert!(q.exempt.contains("10.200.0.1".parse().expect("ip")));
        assert!(q.exempt.contains("192.0.2.7".parse().expect("ip")));
        assert!(!q.exempt.contains("192.0.2.8".parse().expect("ip")));
        assert!(q.exempt.contains("2001:db8:ffff::1".parse().expect("ip")));
        let c = config("[rate_limit]\nqueries_per_second = 5\nburst = 20\nipv4_prefix = 32\n");
        let q = c.query_limit().expect("valid").expect("on");
        assert_eq!((q.burst, q.prefix.ipv4, q.action), (20, 32, Action::Refuse));
    }

    #[test]
    fn rrl_keys_with_defaults() {
        let c = config("[rrl]\nresponses_per_second = 10\nipv6_prefix = 64\n");
        let r = c.rrl().expect("valid").expect("on");
        assert_eq!((r.responses_per_second, r.window, r.slip), (10, 15, 2));
        assert_eq!(r.prefix, ClientPrefix { ipv4: 24, ipv6: 64 });
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, want) in [
            (
                "[rate_limit]\nqueries_per_second = 0\n",
                "queries_per_second",
            ),
            (
                "[rate_limit]\nqueries_per_second = 5\nipv4_prefix = 33\n",
                "ipv4_prefix",
            ),
            (
                "[rate_limit]\nqueries_per_second = 5\nexempt = [\"nope\"]\n",
                "nope",
            ),
            ("[rrl]\nresponses_per_second = 5\nslip = 11\n", "slip"),
            ("[rrl]\nresponses_per_second = 5\nwindow = 0\n", "window"),
        ] {
            let c = config(text);
            let err = c
                .query_limit()
                .err()
                .or_else(|| c.rrl().err())
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(want), "{text:?}: {err}");
        }
        assert!(Config::from_toml("[rate_limit]\naction = \"tarpit\"\n").is_err());
    }
}
