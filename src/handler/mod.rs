//! Request in, response out; never fails. Decides where an answer comes from — local
//! authority, then cache and resolver — and maps every failure to an RCODE in one place.

pub mod request;
pub mod response;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use hickory_proto::op::{Message, ResponseCode};
use tracing::{Instrument, debug, info_span};

pub use request::{EdnsInfo, Malformed, Request, Transport};

use crate::authority::Catalog;
use crate::limits::EDNS_UDP_PAYLOAD;
use crate::metrics::Metrics;

/// Handler settings that are fixed for its lifetime.
#[derive(Debug, Clone)]
pub struct HandlerConfig {
    /// Our EDNS UDP payload size, advertised and used as the cap on UDP responses.
    pub edns_payload: u16,
}

impl Default for HandlerConfig {
    fn default() -> Self {
        HandlerConfig {
            edns_payload: EDNS_UDP_PAYLOAD.default,
        }
    }
}

/// Answers requests from the local zones (and, with recursion, the cache and resolver).
pub struct Handler {
    catalog: RwLock<Arc<Catalog>>,
    config: HandlerConfig,
    metrics: Arc<Metrics>,
}

impl Handler {
    pub fn new(catalog: Catalog, config: HandlerConfig, metrics: Arc<Metrics>) -> Handler {
        Handler {
            catalog: RwLock::new(Arc::new(catalog)),
            config,
            metrics,
        }
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The catalog in force now; a reload swaps it without disturbing in-flight queries.
    pub fn catalog(&self) -> Arc<Catalog> {
        match self.catalog.read() {
            Ok(c) => Arc::clone(&c),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Replaces the served zones atomically.
    pub fn set_catalog(&self, catalog: Catalog) {
        let new = Arc::new(catalog);
        match self.catalog.write() {
            Ok(mut c) => *c = new,
            Err(poisoned) => *poisoned.into_inner() = new,
        }
    }

    /// Bytes in, bytes out: parses, answers and encodes within the transport's size limit.
    /// `None` means send nothing.
    pub async fn handle_bytes(
        &self,
        bytes: &[u8],
        src: SocketAddr,
        transport: Transport,
    ) -> Option<Vec<u8>> {
        Metrics::inc(&self.metrics.queries);
        match Request::parse(bytes, src, transport) {
            Ok(req) => {
                let span = info_span!("query", id = req.id, qname = %req.query.name(), qtype = %req.query.query_type(), client = %src);
                let limit = response::size_limit(&req, self.config.edns_payload);
                let msg = self.handle(&req).instrument(span).await;
                Some(response::encode(msg, limit))
            }
            Err(bad) => {
                match &bad {
                    Malformed::Drop => Metrics::inc(&self.metrics.dropped),
                    Malformed::Reply { rcode, .. } => {
                        if *rcode == ResponseCode::FormErr {
                            Metrics::inc(&self.metrics.formerr);
                        }
                    }
                }
                debug!(client = %src, ?bad, "malformed request");
                response::malformed_reply(&bad)
            }
        }
    }

    /// Answers one request. Always produces a response.
    pub async fn handle(&self, req: &Request) -> Message {
        let payload = self.config.edns_payload;
        if let Some(info) = req.edns
            && info.version > 0
        {
            // RFC 6891 §6.1.3: we speak version 0 only.
            return response::with_rcode(req, payload, ResponseCode::BADVERS);
        }
        if !req.is_class_in() {
            Metrics::inc(&self.metrics.refused);
            return response::with_rcode(req, payload, ResponseCode::Refused);
        }
        let catalog = self.catalog();
        let qname = req.query.name();
        let qtype = req.query.query_type();
        if let Some(local) = catalog.answer(qname, qtype) {
            Metrics::inc(&self.metrics.authoritative_answers);
            let mut m = response::reply_to(req, payload);
            m.metadata.authoritative = local.authoritative;
            m.metadata.response_code = local.rcode;
            m.answers = local.answers;
            m.authorities = local.authorities;
            m.additionals = local.additionals;
            debug!(rcode = %local.rcode, answers = m.answers.len(), "local answer");
            return m;
        }
        // Not ours, and no recursion here: RFC 8906 §3.1.4 says REFUSED.
        Metrics::inc(&self.metrics.refused);
        response::with_rcode(req, payload, ResponseCode::Refused)
    }
}
