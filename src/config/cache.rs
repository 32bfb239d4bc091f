//! `[cache]`: the cache's bounds, serve-stale, prefetch and the persistent cache's file.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::keyed::{self, bounded};
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
        Ok(CachePolicy {
            max_entries: bounded("cache.max_entries", &CACHE_MAX_ENTRIES, c.max_entries)?,
            max_bytes: bounded("cache.max_bytes", &CACHE_MAX_BYTES, c.max_bytes)?,
            min_ttl: bounded("cache.min_ttl", &CACHE_MIN_TTL, c.min_ttl)?,
            max_ttl: bounded("cache.max_ttl", &CACHE_MAX_TTL, c.max_ttl)?,
            negative_max_ttl: bounded(
                "cache.negative_max_ttl",
                &CACHE_NEGATIVE_MAX_TTL,
                c.negative_max_ttl,
            )?,
            serve_stale_secs: bounded(
                "cache.serve_stale_secs",
                &SERVE_STALE_SECS,
                c.serve_stale_secs,
            )?,
            prefetch_percent: match c.prefetch {
                Some(false) => 0,
                _ => bounded(
                    "cache.prefetch_window_percent",
                    &PREFETCH_WINDOW_PERCENT,
                    c.prefetch_window_percent,
                )?,
            },
        })
    }

    /// `[cache] persist` and `persist_interval`: the file and how often it is written.
    pub(crate) fn cache_persist(&self) -> Result<Option<(PathBuf, Duration)>, ConfigError> {
        let c = &self.cache;
        let every = bounded(
            "cache.persist_interval",
            &CACHE_PERSIST_INTERVAL,
            c.persist_interval,
        )?;
        match &c.persist {
            Some(p) if p.file_name().is_none() => Err(keyed::invalid(
                "cache.persist",
                format_args!("{p:?} names no file"),
            )),
            Some(p) => Ok(Some((p.clone(), Duration::from_secs(every)))),
            None => Ok(None),
        }
    }
}
