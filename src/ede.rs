//! RFC 8914 Extended DNS Error info codes tern sends. A leaf module: the resolver names the
//! reason for a failure, the handler for a refusal or a stale answer.

pub const OTHER: u16 = 0;
pub const STALE_ANSWER: u16 = 3;
pub const NOT_READY: u16 = 14;
pub const PROHIBITED: u16 = 18;
pub const STALE_NXDOMAIN: u16 = 19;
pub const NO_REACHABLE_AUTHORITY: u16 = 22;
