//! `[cache]`: the cache's bounds, serve-stale, prefetch and the persistent cache's file.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::{Config, ConfigError};
use crate::cache::CachePolicy;
use crate::limits::{
    CACHE_MAX_BYTES, CACHE_MAX_ENTRIES, CACHE_MAX_TTL, CACHE_MIN_TTL, CACHE_NEGATIVE_MAX_TTL,
    CACHE_PERSIST_INTERVAL, PREFETCH_WINDOW_PERCENT, SERVE_STALE_SECS,
};

/// Cache bounds; see `limits.rs` for defaults and reasons.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    pub max_entries: Option<usize>,
    /// Memory bound in bytes (Unbound's msg-cache-size + rrset-cache-size).
    pub max_bytes: Option<usize>,
    pub min_ttl: Option<u32>,
    pub max_ttl: Option<u32>,
    pub negative_max_ttl: Option<u32>,
    pub serve_stale_secs: Option<u32>,
    pub stale_answer_timeout_ms: Option<u64>,
    pub failure_ttl: Option<u32>,
    /// The persistent cache's file (off when unset); relative to the config's folder.
    pub persist: Option<PathBuf>,
    /// Seconds between its writes (besides the one at shutdown).
    pub persist_interval: Option<u64>,
    /// Refresh a name asked in the last part of its TTL (default on).
    pub prefetch: Option<bool>,
    pub prefetch_window_percent: Option<u32>,
    pub prefetch_busy_walks: Option<usize>,
}

impl Config {
    pub(crate) fn cache_policy(&self) -> Result<CachePolicy, ConfigError> {
        let c = &self.cache;
        let e = ConfigError::Invalid;
        Ok(CachePolicy {
            max_entries: CACHE_MAX_ENTRIES.check(c.max_entries).map_err(e)?,
            max_bytes: CACHE_MAX_BYTES.check(c.max_bytes).map_err(e)?,
            min_ttl: CACHE_MIN_TTL.check(c.min_ttl).map_err(e)?,
            max_ttl: CACHE_MAX_TTL.check(c.max_ttl).map_err(e)?,
            negative_max_ttl: CACHE_NEGATIVE_MAX_TTL
                .check(c.negative_max_ttl)
                .map_err(e)?,
            serve_stale_secs: SERVE_STALE_SECS.check(c.serve_stale_secs).map_err(e)?,
            prefetch_percent: match c.prefetch {
                Some(false) => 0,
                _ => PREFETCH_WINDOW_PERCENT
                    .check(c.prefetch_window_percent)
                    .map_err(e)?,
            },
        })
    }

    /// `[cache] persist` and `persist_interval`: the file and how often it is written.
    pub(crate) fn cache_persist(&self) -> Result<Option<(PathBuf, Duration)>, ConfigError> {
        let c = &self.cache;
        let every = CACHE_PERSIST_INTERVAL
            .check(c.persist_interval)
            .map_err(ConfigError::Invalid)?;
        match &c.persist {
            Some(p) if p.file_name().is_none() => Err(ConfigError::Invalid(format!(
                "cache.persist = {p:?} names no file"
            ))),
            Some(p) => Ok(Some((p.clone(), Duration::from_secs(every)))),
            None => Ok(None),
        }
    }
}
