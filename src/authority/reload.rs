//! Building a whole catalog from zone files, all or nothing: a reload either yields a complete
//! new catalog or the errors, and the caller keeps serving the old one (a bad edit to one zone
//! file must never take any zone down).

use std::path::PathBuf;

use hickory_proto::rr::Name;

use super::{Catalog, DuplicateZone, Zone, ZoneErrors};

/// Where one zone comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSource {
    pub origin: Name,
    pub file: PathBuf,
}

/// Why a catalog could not be built.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    Zones(ZoneErrors),
    #[error("{0}")]
    Duplicate(#[from] DuplicateZone),
}

/// Loads every zone; reports the errors of all broken files together.
pub fn load_catalog(sources: &[ZoneSource]) -> Result<Catalog, CatalogError> {
    let mut zones = Vec::with_capacity(sources.len());
    let mut errors = Vec::new();
    for s in sources {
        match Zone::from_file(&s.file, Some(&s.origin)) {
            Ok(zone) => {
                tracing::info!(zone = %zone.origin(), serial = zone.serial(), records = zone.record_count(), "zone loaded");
                zones.push(zone);
            }
            Err(e) => errors.extend(e.0),
        }
    }
    if !errors.is_empty() {
        return Err(CatalogError::Zones(ZoneErrors(errors)));
    }
    Ok(Catalog::new(zones)?)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let src = |file: &PathBuf, origin: &str| ZoneSource {
            origin: Name::from_ascii(origin).expect("name"),
            file: file.clone(),
        };
        assert!(load_catalog(&[src(&good, "a.test.")]).is_ok());
        let err =
            load_catalog(&[src(&good, "a.test."), src(&bad, "b.test.")]).expect_err("bad zone");
        assert!(
            err.to_string()
                .starts_with(&format!("{}:4: ", bad.display())),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).ok();
    }
}
