use std::path::PathBuf;
use std::time::Duration;

use super::*;
use crate::limits::{
    CACHE_MAX_BYTES, CACHE_MAX_ENTRIES, CACHE_PERSIST_INTERVAL, OUTBOUND_MSG_RETRY,
};

/// A scratch folder holding `k.key`, a TSIG key of the given name, so that a config read from
/// a file there exercises the relative paths; removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn with_key(test: &str, key_name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("tern-config-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let key = format!(
            "key \"{key_name}\" {{\n\talgorithm hmac-sha256;\n\tsecret \"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\";\n}};\n"
        );
        std::fs::write(dir.join("k.key"), key).expect("key file");
        Scratch(dir)
    }

    /// Writes `tern.toml` (the key file, then `rest`) and reads it back.
    fn load(&self, rest: &str) -> Config {
        let text = format!("[[tsig_key]]\nfile = \"k.key\"\n{rest}");
        std::fs::write(self.0.join("tern.toml"), text).expect("config");
        Config::from_file(&self.0.join("tern.toml")).expect("parses")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn parses_and_checks_bounds() {
    let c = Config::from_toml(
        "[server]\nlisten = [\"127.0.0.1:5300\"]\nedns_udp_payload = 1400\n[[zone]]\norigin = \"a.test.\"\nfile = \"a.zone\"\n",
    )
    .expect("valid toml");
    assert_eq!(c.zones.len(), 1);
    assert_eq!(c.server_limits().expect("in range").edns_udp_payload, 1400);
    let bad = Config::from_toml("[server]\nedns_udp_payload = 100\n").expect("valid toml");
    assert!(bad.server_limits().is_err());
    assert!(Config::from_toml("[server]\nbogus = 1\n").is_err());
}

#[test]
fn threads_is_read_under_its_old_name_too_but_not_both() {
    let threads = |toml: &str| {
        Config::from_toml(toml)
            .expect("valid toml")
            .server_limits()
            .map(|l| l.threads)
    };
    assert_eq!(threads("[server]\nthreads = 3\n").ok(), Some(3));
    assert_eq!(threads("[server]\nworkers = 2\n").ok(), Some(2));
    let both = threads("[server]\nthreads = 2\nworkers = 2\n");
    assert!(both.is_err_and(|e| e.to_string().contains("threads and workers")));
    assert!(threads("[server]\nthreads = 257\n").is_err());
    // Unset or 0: one per core this process may run on.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert_eq!(threads("[server]\nthreads = 0\n").ok(), Some(cores));
    assert_eq!(threads("").ok(), Some(cores));
}

#[test]
fn cache_max_bytes_is_read_and_bounded() {
    let c = Config::from_toml("[cache]\nmax_bytes = 1048576\n").expect("valid toml");
    let policy = c.cache_policy().expect("in range");
    assert_eq!(policy.max_bytes, 1 << 20);
    assert_eq!(policy.max_entries, CACHE_MAX_ENTRIES.default);
    let default = Config::default().cache_policy().expect("defaults in range");
    assert_eq!(default.max_bytes, CACHE_MAX_BYTES.default);
    let tiny = Config::from_toml("[cache]\nmax_bytes = 1024\n").expect("valid toml");
    assert!(tiny.cache_policy().is_err());
}

#[test]
fn cache_persist_is_off_by_default_its_file_relative_and_its_interval_bounded() {
    assert_eq!(Config::default().cache_persist().expect("valid"), None);
    let scratch = Scratch::with_key("persist", "k");
    let c = scratch.load("[cache]\npersist = \"cache.bin\"\npersist_interval = 60\n");
    let (file, every) = c.cache_persist().expect("valid").expect("on");
    assert_eq!(
        (file, every),
        (scratch.0.join("cache.bin"), Duration::from_secs(60))
    );
    let c = scratch.load("[cache]\npersist = \"/var/lib/tern/cache.bin\"\n");
    let (_, every) = c.cache_persist().expect("valid").expect("on");
    assert_eq!(every.as_secs(), CACHE_PERSIST_INTERVAL.default);
    let often = Config::from_toml("[cache]\npersist = \"/c\"\npersist_interval = 1\n");
    assert!(often.expect("valid toml").cache_persist().is_err());
}

#[test]
fn prefetch_is_on_by_default_bounded_and_can_be_turned_off() {
    let percent = |toml: &str| {
        let c = Config::from_toml(toml).expect("valid toml");
        c.cache_policy().map(|p| p.prefetch_percent).ok()
    };
    assert_eq!(percent(""), Some(10));
    assert_eq!(percent("[cache]\nprefetch_window_percent = 25\n"), Some(25));
    assert_eq!(percent("[cache]\nprefetch = false\n"), Some(0));
    assert!(percent("[cache]\nprefetch_window_percent = 0\n").is_none());
    assert!(percent("[cache]\nprefetch_window_percent = 90\n").is_none());
    let busy = Config::from_toml("[cache]\nprefetch_busy_walks = 8\n").expect("valid toml");
    assert_eq!(
        busy.resolver_config().map(|r| r.prefetch_busy_walks).ok(),
        Some(8)
    );
}

#[test]
fn the_client_query_limit_is_off_by_default_bounded_and_jostles_only_under_it() {
    let limits = |toml: &str| {
        Config::from_toml(toml)
            .expect("valid toml")
            .resolver_config()
            .map(|r| (r.max_client_queries, r.jostle_timeout.as_millis()))
            .map_err(|e| e.to_string())
    };
    assert_eq!(limits(""), Ok((0, 200)));
    assert_eq!(
        limits("[limits]\nmax_client_queries = 1000\n"),
        Ok((1000, 200))
    );
    assert_eq!(
        limits("[limits]\nmax_client_queries = 8\njostle_timeout_ms = 50\n"),
        Ok((8, 50))
    );
    let over = limits("[limits]\nmax_client_queries = 2000000\n");
    assert!(over.is_err_and(|e| e.contains("limits.max_client_queries")));
    let long = limits("[limits]\nmax_client_queries = 8\njostle_timeout_ms = 60001\n");
    assert!(long.is_err_and(|e| e.contains("limits.jostle_timeout_ms")));
    let alone = limits("[limits]\njostle_timeout_ms = 100\n");
    assert!(alone.is_err_and(|e| e.contains("needs max_client_queries")));
}

#[test]
fn upstream_cookies_are_on_unless_turned_off() {
    assert!(Config::default().upstream_cookies());
    let on = Config::from_toml("[recursion]\nupstream_cookies = true\n").expect("valid toml");
    assert!(on.upstream_cookies());
    let off = Config::from_toml("[recursion]\nupstream_cookies = false\n").expect("valid toml");
    assert!(!off.upstream_cookies());
}

#[test]
fn example_config_is_valid() {
    let c = Config::from_file(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/zones/tern.toml"
    )))
    .expect("zones/tern.toml parses");
    c.server_limits().expect("server limits in range");
    c.cache_policy().expect("cache policy in range");
    c.resolver_config().expect("resolver limits in range");
    c.acl().expect("allow list parses");
    c.snoop_acl().expect("snoop list parses");
    assert_eq!(c.query_limit().expect("[rate_limit] in range"), None);
    assert_eq!(c.rrl().expect("[rrl] in range"), None);
    assert!(c.zones[0].file.ends_with("zones/cluster.test.zone"));
    let services = c.services().expect("services are valid");
    assert_eq!(services[0].service.instances.len(), 2);
    assert_eq!(services[0].checks.len(), 2);
}

#[test]
fn update_keys_must_name_a_known_key() {
    let scratch = Scratch::with_key("keys", "cluster-key");
    let dir = &scratch.0;
    let config = |zone_extra: &str| {
        scratch.load(&format!(
            "[[zone]]\norigin = \"c.test.\"\nfile = \"c.zone\"\n{zone_extra}"
        ))
    };
    let c = config("update_keys = [\"Cluster-Key\"]\n");
    assert_eq!(c.zones[0].journal_path(), Some(dir.join("c.zone.jnl")));
    let policy = c.update_policy().expect("valid");
    assert_eq!(policy.keyring.len(), 1);
    let cluster = Name::from_ascii("c.test.").expect("name");
    let key_name = Name::from_ascii("cluster-key.").expect("name");
    assert_eq!(policy.zones, vec![(cluster, vec![key_name])]);

    let unknown = config("update_keys = [\"other-key\"]\n").update_policy();
    assert!(unknown.is_err_and(|e| {
        e.to_string()
            .contains("other-key is in no [[tsig_key]] file")
    }));
    // A journal without update keys keeps the zone's serials (it has no updates to keep).
    let serials = config("journal = \"x.jnl\"\n");
    assert!(serials.update_policy().is_ok());
    assert_eq!(serials.zones[0].journal_path(), Some(dir.join("x.jnl")));
    // A secondary keeps one too, named or by default: its copy and its history for IXFR.
    let secondary = config("journal = \"x.jnl\"\nprimaries = [\"127.0.0.1\"]\n");
    assert!(secondary.update_policy().is_ok());
    assert_eq!(secondary.zones[0].journal_path(), Some(dir.join("x.jnl")));
    let secondary = config("primaries = [\"127.0.0.1\"]\n");
    assert_eq!(
        secondary.zones[0].journal_path(),
        Some(dir.join("c.zone.jnl"))
    );
    let none = config("").update_policy().expect("valid");
    assert!(none.zones.is_empty());
    assert_eq!(config("").zones[0].journal_path(), None);
    // A zone with secondaries keeps a journal by default: its serial must not go backwards.
    let replicated = config("allow_transfer = [\"127.0.0.0/8\"]\n");
    assert_eq!(
        replicated.zones[0].journal_path(),
        Some(dir.join("c.zone.jnl"))
    );
    let notifying = config("notify = [\"127.0.0.2\"]\n");
    assert_eq!(
        notifying.zones[0].journal_path(),
        Some(dir.join("c.zone.jnl"))
    );
}

#[test]
fn replication_reads_acls_notify_targets_and_primaries() {
    let scratch = Scratch::with_key("xfr", "xfr-key");
    let dir = &scratch.0;
    let config = |zones: &str| {
        let config = scratch.load(zones);
        config.replication(&config.keyring().expect("keys"))
    };
    let r = config(
        "[[zone]]\norigin = \"p.test.\"\nfile = \"p.zone\"\n\
         allow_transfer = [\"127.0.0.0/8\", \"key:xfr-key\"]\n\
         notify = [\"127.0.0.212\", \"127.0.0.213:5353\"]\n\
         [[zone]]\norigin = \"s.test.\"\nfile = \"state/s.zone\"\n\
         primaries = [\"127.0.0.211:53\", \"[::1]:5300\"]\ntransfer_key = \"xfr-key\"\n\
         notify = [\"127.0.0.214\"]\n",
    )
    .expect("valid");
    let [primary] = r.primaries.as_slice() else {
        panic!("one primary zone: {r:?}");
    };
    assert_eq!(primary.origin, Name::from_ascii("p.test.").expect("name"));
    let key_name = Name::from_ascii("xfr-key.").expect("name");
    let acl = &primary.allow_transfer;
    assert!(acl.allows("127.9.9.9".parse().expect("ip"), None));
    assert!(!acl.allows("::1".parse().expect("ip"), None));
    assert!(acl.allows("::1".parse().expect("ip"), Some(&key_name)));
    let targets: Vec<String> = primary.notify.iter().map(|a| a.to_string()).collect();
    assert_eq!(targets, ["127.0.0.212:53", "127.0.0.213:5353"]);
    let [secondary] = r.secondaries.as_slice() else {
        panic!("one secondary zone: {r:?}");
    };
    assert_eq!(secondary.file, dir.join("state/s.zone"));
    assert_eq!(secondary.primaries.len(), 2);
    assert_eq!(secondary.key.as_ref().map(|k| k.name()), Some(&key_name));
    // A secondary can announce to secondaries of its own.
    let announced: Vec<String> = r.announced().iter().map(|z| z.origin.to_ascii()).collect();
    assert_eq!(announced, ["p.test.", "s.test."]);
    assert_eq!(secondary.notify[0].to_string(), "127.0.0.214:53");
    // Nobody may transfer a zone that says nothing.
    assert!(
        !secondary
            .allow_transfer
            .allows("127.0.0.1".parse().expect("ip"), None)
    );

    for (zones, why) in [
        (
            "allow_transfer = [\"key:nokey\"]\n",
            "key nokey is in no [[tsig_key]] file",
        ),
        ("notify = [\"somewhere\"]\n", "is not ADDR or ADDR:PORT"),
        (
            "transfer_key = \"xfr-key\"\n",
            "transfer_key needs primaries",
        ),
        (
            "primaries = [\"127.0.0.1\"]\nupdate_keys = [\"xfr-key\"]\n",
            "a secondary takes no updates",
        ),
    ] {
        let err = config(&format!(
            "[[zone]]\norigin = \"z.test.\"\nfile = \"z.zone\"\n{zones}"
        ))
        .expect_err(why);
        assert!(err.to_string().contains(why), "{err} (wanted {why})");
    }
}

#[test]
fn bad_services_are_refused_with_a_reason() {
    let base = "[[zone]]\norigin = \"c.test.\"\nfile = \"c.zone\"\n[[service]]\nzone = \"c.test.\"\nname = \"web\"\n";
    let with = |extra: &str| {
        Config::from_toml(&format!("{base}{extra}"))
            .expect("valid toml")
            .services()
            .map(|s| s.len())
            .map_err(|e| e.to_string())
    };
    assert_eq!(with(""), Ok(1));
    assert!(
        with("balance = \"fastest\"\n")
            .unwrap_err()
            .contains("fastest")
    );
    assert!(with("protocol = \"sctp\"\n").unwrap_err().contains("sctp"));
    let inst = "[[service.instance]]\nname = \"w1\"\naddress = \"127.0.0.1\"\nport = 80\n";
    assert!(
        with(&format!("{inst}check = {{ tcp = \"nowhere\" }}\n"))
            .unwrap_err()
            .contains("nowhere")
    );
    assert!(
        with(&format!("{inst}check = {{}}\n"))
            .unwrap_err()
            .contains("exactly one")
    );
    assert!(
        with(&format!("{inst}{inst}"))
            .unwrap_err()
            .contains("twice")
    );
    let stub = Config::from_toml("[[stub]]\nzone = \"c.test.\"\nservers = [\"127.0.0.9:5353\"]\n")
        .expect("valid toml")
        .resolver_config()
        .expect("valid stub");
    assert_eq!(stub.stubs[0].servers[0].port(), 5353);
    let empty =
        Config::from_toml("[[stub]]\nzone = \"c.test.\"\nservers = []\n").expect("valid toml");
    assert!(empty.resolver_config().is_err(), "a stub needs servers");
    let elsewhere = Config::from_toml("[[service]]\nzone = \"x.test.\"\nname = \"web\"\n")
        .expect("valid toml")
        .services()
        .expect_err("zone not served");
    assert!(elsewhere.to_string().contains("not served"), "{elsewhere}");
}

#[test]
fn cookie_secrets_are_hex_and_the_previous_one_needs_a_current_one() {
    let a = "e5e973e5a6b2a43f48e7dc849e37bfcf";
    let b = "dd3bdf9344b678b185a6f5cb60fca715";
    let load = |server: &str| Config::from_toml(&format!("[server]\n{server}\n"));
    let both = load(&format!(
        "cookie_secret = \"{a}\"\ncookie_secret_previous = \"{b}\""
    ))
    .expect("valid");
    assert_eq!(
        both.server_cookies().expect("usable"),
        ServerCookies::fixed(a.parse().expect("hex"), Some(b.parse().expect("hex")))
    );
    // Unset: a random secret each time.
    let none = load("").expect("valid");
    assert_ne!(
        none.server_cookies().expect("usable"),
        none.server_cookies().expect("usable")
    );
    let err = load("cookie_secret = \"e5e973\"").expect_err("too short");
    assert!(err.to_string().contains("32 hex digits"), "{err}");
    let only_previous = load(&format!("cookie_secret_previous = \"{b}\"")).expect("parses");
    assert!(only_previous.server_cookies().is_err());
    // The secret never shows in a printout of the configuration.
    assert!(!format!("{both:?}").contains("e5e973"));
}

#[test]
fn minimal_responses_is_on_unless_turned_off() {
    let load = |server: &str| Config::from_toml(&format!("[server]\n{server}\n"));
    assert!(load("").expect("valid").server.minimal_responses());
    assert!(
        Config::from_toml("")
            .expect("valid")
            .server
            .minimal_responses()
    );
    let on = load("minimal_responses = true").expect("valid");
    assert!(on.server.minimal_responses());
    let off = load("minimal_responses = false").expect("valid");
    assert!(!off.server.minimal_responses());
    assert!(
        load("minimal_responses = \"no\"").is_err(),
        "a bool, not Unbound's yes/no"
    );
}

#[test]
fn outbound_msg_retry_is_read_and_bounded() {
    let retry = |text: &str| {
        Config::from_toml(text)
            .expect("valid toml")
            .resolver_config()
            .map(|r| r.limits.outbound_msg_retry)
    };
    assert_eq!(retry("").expect("default"), OUTBOUND_MSG_RETRY.default);
    assert_eq!(OUTBOUND_MSG_RETRY.default, 5, "Unbound's default");
    let one = retry("[recursion]\noutbound_msg_retry = 1\n").expect("in range");
    assert_eq!(one, 1);
    for bad in [0, OUTBOUND_MSG_RETRY.max + 1] {
        let e =
            retry(&format!("[recursion]\noutbound_msg_retry = {bad}\n")).expect_err("out of range");
        assert!(e.to_string().contains("outbound_msg_retry"), "{e}");
    }
}

#[test]
fn forward_no_cache_is_off_unless_set() {
    let forwards = |extra: &str| {
        let text =
            format!("[[forward]]\nzone = \"corp.example.\"\nservers = [\"127.0.0.9:53\"]\n{extra}");
        Config::from_toml(&text)
            .expect("valid toml")
            .resolver_config()
            .expect("valid forwards")
            .forwards
    };
    assert!(!forwards("")[0].no_cache);
    assert!(forwards("no_cache = true\n")[0].no_cache);
    assert!(!forwards("no_cache = false\n")[0].no_cache);
    let yes = "[[forward]]\nzone = \".\"\nservers = [\"127.0.0.9:53\"]\nno_cache = \"yes\"\n";
    assert!(
        Config::from_toml(yes).is_err(),
        "a bool, not Unbound's yes/no"
    );
}
