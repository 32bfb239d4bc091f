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

    use hickory_proto::rr::Name;

    use crate::authority::store::{ZoneFile, ZoneStore};

    #[test]
    fn one_bad_file_fails_the_whole_load_with_its_location() {
        let dir = std::env::temp_dir().join(format!("tern-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let good = dir.join("good.zone");
        let bad = dir.join("bad.zone");
        std::fs::write(
            &good,
            "$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n",
        )
        .expect("write");
        std::fs::write(
            &bad,
            "$TTL 60\n@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 300.0.0.1\n",
        )
        .expect("write");
        let src = |file: &Path, origin: &str| {
            ZoneFile::new(Name::from_ascii(origin).expect("name"), file)
        };
        assert!(ZoneStore::open(&[src(&good, "a.test.")]).is_ok());
        let err =
            ZoneStore::open(&[src(&good, "a.test."), src(&bad, "b.test.")]).expect_err("bad zone");
        assert!(
            err.to_string()
                .starts_with(&format!("{}:4: ", bad.display())),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
