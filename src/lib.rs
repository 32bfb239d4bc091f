//! tern: a recursive, caching DNS resolver with an embedded authoritative server.
//!
//! ```text
//! socket ─► server (udp | tcp) ─► handler ─► authority   local zones: AA answers, referrals
//!                                         ├─► cache       TTL-aware, bounded, negative entries
//!                                         └─► resolver    root → TLD → leaf walk ─► upstream
//!        ◄─ bytes ◄─ handler::response ◄──────────────────────┘
//! ```
//! Imports point downstream only: `server` → `handler` → {`authority`, `cache`, `resolver`}.

pub mod authority;
pub mod cache;
pub mod config;
pub mod handler;
pub mod lab;
pub mod limits;
pub mod metrics;
pub mod resolver;
pub mod server;
