//! What the unit tests of several modules share: names as written, and a directory of one
//! test's own.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;

/// `s` as a name, its case kept (`from_ascii`: the tests check case-insensitive matching).
pub(crate) fn name(s: &str) -> Name {
    Name::from_ascii(s).expect("test name")
}

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

/// A fresh, empty directory, removed when dropped, a failed test's too. The tests of the crate
/// run in parallel in one process, so each names its own with `tag`.
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tern-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch directory");
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
