//! One integration-test binary: every module starts real servers on loopback and talks to them
//! over real sockets.

mod support;
mod transport;
