//! Service discovery: services and their instances (from configuration or registered at run
//! time), health checks, and the records they make in the zones tern serves. Discovery produces
//! plain zone data through the zone store; it never reaches into the handler.

pub(crate) mod health;
mod members;
pub(crate) mod registry;
pub(crate) mod service;

#[cfg(test)]
mod review_tests;
