//! Why a whole catalog could not be built from zone files, all or nothing: a reload either
//! yields a complete new catalog or the errors, and the caller keeps serving the old one (a bad
//! edit to one zone file must never take any zone down).

use super::{DuplicateZone, ZoneErrors};

/// Why a catalog could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Zones(ZoneErrors),
    #[error("{0}")]
    Duplicate(#[from] DuplicateZone),
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::authority::store::{ZoneFile, ZoneStore};
    use crate::testing::{Scratch, name};

    #[test]
    fn one_bad_file_fails_the_whole_load_with_its_location() {
        let dir = Scratch::new("reload");
        let zone_file = |file: &str, address: &str| {
            let path = dir.join(file);
            let text = format!("$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A {address}\n");
            std::fs::write(&path, text).expect("write");
            path
        };
        let good = zone_file("good.zone", "192.0.2.1");
        let bad = zone_file("bad.zone", "300.0.0.1");
        let src = |file: &Path, origin: &str| ZoneFile::new(name(origin), file);
        assert!(ZoneStore::open(&[src(&good, "a.test.")]).is_ok());
        let err =
            ZoneStore::open(&[src(&good, "a.test."), src(&bad, "b.test.")]).expect_err("bad zone");
        assert!(
            err.to_string()
                .starts_with(&format!("{}:4: ", bad.display())),
            "{err}"
        );
    }
}
