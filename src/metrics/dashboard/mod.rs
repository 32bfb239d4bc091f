//! The live dashboard on the metrics listener: `GET /` is one page (HTML, CSS and a little
//! JavaScript compiled into the binary, nothing fetched from elsewhere) that polls the JSON
//! endpoints beside it every second: `/api/traffic`, `/api/cluster`, `/api/zones`,
//! `/api/upstreams` and `/api/queries`. Read-only: nothing here changes state.
//!
//! The counters are this module's own ([`Metrics`], sampled once a second into a small ring
//! so the page can draw the last minutes); what belongs to other parts (services, zones, the
//! resolver's view of its servers, the query log) is read through [`Sources`], which the
//! wiring implements, so this module imports none of them. Every string that came from the
//! network leaves as a JSON string written by serde_json, and the page only ever puts it in
//! `textContent`.

mod api;
mod sample;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(crate) use api::{
    InstanceView, RefreshView, SecondaryView, ServiceView, UpstreamStanding, ZoneView,
};
use sample::Sample;

use super::Metrics;

/// The page and its script, served as they are.
const PAGE: &str = include_str!("page.html");
const SCRIPT: &str = include_str!("page.js");

/// Per-second samples kept: the chart's five minutes.
const SAMPLES: usize = 300;
/// Query-log lines handed out per request at most (the ring holds as many).
const MAX_LINES: usize = crate::querylog::RECENT_LINES;

/// What the dashboard reads from the rest of tern, at request time.
pub(crate) trait Sources: Send + Sync {
    /// Every service with its instances and their health.
    fn cluster(&self) -> Vec<ServiceView>;
    /// Every zone served: configured, of services, builtin.
    fn zones(&self) -> Vec<ZoneView>;
    /// The resolver's standing of one upstream server, if it keeps one.
    fn upstream(&self, server: SocketAddr) -> Option<UpstreamStanding>;
    /// The cache's entries and bytes, with recursion on.
    fn cache(&self) -> Option<(u64, u64)>;
    /// Query-log lines numbered `since` and later (at most `max`, the newest) and the next
    /// number; `None` when the query log is off.
    fn queries(&self, since: u64, max: usize) -> Option<(Vec<String>, u64)>;
}

/// An answer of the dashboard: content type and body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Reply {
    pub content_type: &'static str,
    pub body: String,
}

/// The dashboard's state: the counters, the other parts, and the samples.
pub(crate) struct Dashboard {
    metrics: Arc<Metrics>,
    sources: Box<dyn Sources>,
    samples: Mutex<VecDeque<Sample>>,
}

impl Dashboard {
    pub(crate) fn new(metrics: Arc<Metrics>, sources: Box<dyn Sources>) -> Dashboard {
        Dashboard {
            metrics,
            sources,
            samples: Mutex::new(VecDeque::with_capacity(SAMPLES)),
        }
    }

    /// The answer to `GET path?query`, or `None` for a path of nobody's.
    pub(crate) fn get(&self, path: &str, query: &str) -> Option<Reply> {
        let json = |body| {
            Some(Reply {
                content_type: "application/json",
                body,
            })
        };
        match path {
            "/" | "/index.html" => Some(Reply {
                content_type: "text/html; charset=utf-8",
                body: PAGE.to_string(),
            }),
            "/dashboard.js" => Some(Reply {
                content_type: "text/javascript; charset=utf-8",
                body: SCRIPT.to_string(),
            }),
            "/api/traffic" => json(api::traffic(self)),
            "/api/cluster" => json(api::to_json(&self.sources.cluster())),
            "/api/zones" => json(api::to_json(&self.sources.zones())),
            "/api/upstreams" => json(api::upstreams(self)),
            "/api/queries" => json(api::queries(self, since(query))),
            _ => None,
        }
    }

    /// Takes one sample of the counters now.
    pub(crate) fn sample(&self) {
        let s = Sample::take(&self.metrics);
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        if samples.len() == SAMPLES {
            samples.pop_front();
        }
        samples.push_back(s);
    }

    /// Samples the counters every second until `stop`.
    pub(crate) async fn run(self: Arc<Self>, stop: impl std::future::Future<Output = ()>) {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => return,
                _ = ticks.tick() => self.sample(),
            }
        }
    }
}

/// `since=N` of a query string; 0 when absent or not a number.
fn since(query: &str) -> u64 {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("since="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod grafana;
#[cfg(test)]
mod tests;
