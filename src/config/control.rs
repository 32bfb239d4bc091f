//! `[control]`: where `tern ctl` reaches a running server.

use std::path::PathBuf;

use serde::Deserialize;

/// `[control] socket = "/run/tern/control.sock"`. Off when unset, as Unbound's
/// `control-enable: no` by default: a socket that flushes caches and reloads zones is
/// something an operator asks for.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ControlConfig {
    pub socket: Option<PathBuf>,
}
