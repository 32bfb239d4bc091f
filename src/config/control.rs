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

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn off_unless_set_and_relative_to_the_config_file() {
        assert_eq!(Config::default().control.socket, None);
        let dir = std::env::temp_dir().join(format!("tern-config-ctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("tern.toml");
        std::fs::write(&path, "[control]\nsocket = \"run/ctl.sock\"\n").expect("write");
        let config = Config::from_file(&path).expect("parses");
        assert_eq!(config.control.socket, Some(dir.join("run/ctl.sock")));
        std::fs::write(&path, "[control]\nsockets = \"x\"\n").expect("write");
        assert!(Config::from_file(&path).is_err(), "unknown keys refused");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
