//! Values that parse but are not allowed are reported as the TOML errors are: the file, the
//! line of the key, and the whole key (`server.edns_udp_payload`, `forward[1].servers`).

use std::path::PathBuf;

use super::{Config, ConfigError};

/// A scratch folder with `tern.toml`; removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tern-config-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        Scratch(dir)
    }

    /// Writes `text` as `tern.toml` and loads it: the error and the file's path.
    fn load_err(&self, text: &str) -> (String, String) {
        let path = self.0.join("tern.toml");
        std::fs::write(&path, text).expect("config");
        let e = Config::from_file(&path).expect_err("a bad value is a load error");
        (e.to_string(), path.display().to_string())
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_number_out_of_range_names_file_line_and_table() {
    let dir = Scratch::new("value-range");
    let (e, path) =
        dir.load_err("[server]\nlisten = [\"127.0.0.1:5300\"]\nedns_udp_payload = 100\n");
    assert!(
        e.starts_with(&format!("{path}:3: server.edns_udp_payload: ")),
        "{e}"
    );
    assert!(e.contains("out of range [512, 4096]"), "{e}");
    let (e, path) = dir.load_err("# resolver\n[limits]\n\ntimeout_ms = 5\n");
    assert!(
        e.starts_with(&format!("{path}:4: limits.timeout_ms: ")),
        "{e}"
    );
    let (e, path) = dir.load_err("[cache]\nmax_bytes = 1024\n");
    assert!(
        e.starts_with(&format!("{path}:2: cache.max_bytes: ")),
        "{e}"
    );
}

#[test]
fn a_bad_cidr_names_its_place_in_the_list() {
    let dir = Scratch::new("value-cidr");
    let (e, path) =
        dir.load_err("[recursion]\nallow = [\n  \"127.0.0.0/8\",\n  \"10.0.0.0/33\",\n]\n");
    assert!(
        e.starts_with(&format!("{path}:4: recursion.allow[1]: ")),
        "{e}"
    );
}

#[test]
fn a_forward_or_stub_zone_names_its_table() {
    let dir = Scratch::new("value-forward");
    let (e, path) = dir.load_err(
        "[[forward]]\nzone = \"a.test.\"\nservers = [\"127.0.0.9:53\"]\n\
         [[forward]]\nzone = \"b.test.\"\nservers = []\n",
    );
    assert!(
        e.starts_with(&format!("{path}:6: forward[1].servers: ")),
        "{e}"
    );
    let (e, path) = dir.load_err("[[stub]]\nzone = \"a..test.\"\nservers = [\"127.0.0.9:53\"]\n");
    assert!(e.starts_with(&format!("{path}:2: stub[0].zone: ")), "{e}");
}

#[test]
fn threads_and_workers_together_name_the_line_of_threads() {
    let dir = Scratch::new("value-threads");
    let (e, path) = dir.load_err("[server]\nworkers = 2\nthreads = 2\n");
    assert!(e.starts_with(&format!("{path}:3: server.threads: ")), "{e}");
    assert!(e.contains("threads and workers"), "{e}");
}

#[test]
fn a_missing_ca_file_is_still_left_to_the_start() {
    // Reading files (a forward's `ca`) is not part of loading: `tern ctl` and tests read
    // configs whose files are elsewhere.
    let dir = Scratch::new("value-ca");
    let path = dir.0.join("tern.toml");
    std::fs::write(
        &path,
        "[[forward]]\nzone = \".\"\nservers = [\"127.0.0.9:853\"]\ntls_name = \"d.example\"\n\
         ca = \"absent.pem\"\n",
    )
    .expect("config");
    let config = Config::from_file(&path).expect("loads");
    assert!(config.resolver_config().is_err());
}

#[test]
fn the_later_checks_name_the_full_key_too() {
    let config = Config::from_toml("[server]\nedns_udp_payload = 100\n").expect("valid toml");
    let e = config.server_limits().expect_err("out of range");
    assert!(matches!(e, ConfigError::Value { .. }), "{e:?}");
    assert!(
        e.to_string().starts_with("server.edns_udp_payload: "),
        "{e}"
    );
}

#[test]
fn the_old_name_an_inline_table_and_a_keyless_check_are_placed_too() {
    let dir = Scratch::new("value-misc");
    let (e, path) = dir.load_err("[server]\nworkers = 999\n");
    assert!(e.starts_with(&format!("{path}:2: server.workers: ")), "{e}");
    let (e, path) = dir.load_err("\nserver = { edns_udp_payload = 9000 }\n");
    assert!(
        e.starts_with(&format!("{path}:2: server.edns_udp_payload: ")),
        "{e}"
    );
    let (e, path) = dir.load_err("[metrics]\nallow = [\"::1/129\"]\n");
    assert!(
        e.starts_with(&format!("{path}:2: metrics.allow[0]: ")),
        "{e}"
    );
    // Checks without a key yet still name the file.
    let (e, path) = dir.load_err("[rate_limit]\nqueries_per_second = 0\n");
    assert!(e.starts_with(&format!("{path}: ")), "{e}");
}

#[test]
fn line_of_finds_keys_in_arrays_of_tables_and_lists() {
    use super::keyed::line_of;
    let text = "[[zone]]\norigin = \"a.\"\n[[zone]]\norigin = \"b.\"\nallow_transfer = [\n\"x\",\n\"y\"]\n";
    assert_eq!(line_of(text, "zone[1].origin"), Some(4));
    assert_eq!(line_of(text, "zone[1].allow_transfer[1]"), Some(7));
    assert_eq!(line_of(text, "zone[2].origin"), None);
    assert_eq!(line_of(text, "server.threads"), None);
    assert_eq!(line_of("not = [toml", "not"), None);
}
