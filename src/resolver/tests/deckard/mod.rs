//! Replays the forwarding scenarios of Unbound's testbound and Deckard (`tests/deckard/*.rpl`,
//! see its README) against tern: a handler over a resolver over a scripted upstream, on the
//! paused clock. Every scenario file is listed here as passing, as a known failure (which must
//! keep failing, so a fix is noticed and the list updated), or as excluded with the reason.

mod config;
mod entry;
mod net;
mod rpl;
mod run;
#[cfg(test)]
mod self_tests;

use std::path::PathBuf;

use self::entry::Sections;

/// Declares the scenarios tern passes: one test each (`cargo test --lib deckard::fwd_two`),
/// and the list [`PASSING`] for the accounting below.
macro_rules! passing {
    ($($test:ident: $file:literal, $sections:expr;)*) => {
        /// Scenarios tern passes, and how their sections are compared (all exactly, as
        /// testbound does; [`Sections::Minimal`] is left for the survey's classifying).
        const PASSING: &[(&str, Sections)] = &[$(($file, $sections)),*];
        $(
            #[test]
            fn $test() {
                if let Err(e) = run_file($file, $sections) {
                    panic!("{}: {e}", $file);
                }
            }
        )*
    };
}

passing! {
    fwd: "fwd.rpl", Sections::Full;
    fwd_any: "fwd_any.rpl", Sections::Full;
    fwd_error: "fwd_error.rpl", Sections::Full;
    fwd_error_retries: "fwd_error_retries.rpl", Sections::Full;
    fwd_no_cache: "fwd_no_cache.rpl", Sections::Full;
    fwd_notcached: "fwd_notcached.rpl", Sections::Full;
    fwd_timeout: "fwd_timeout.rpl", Sections::Full;
    fwd_two: "fwd_two.rpl", Sections::Full;
    fwd_val_cname_sibling: "fwd_val_cname_sibling.rpl", Sections::Full;
    iter_scrub_ns_fwd: "iter_scrub_ns_fwd.rpl", Sections::Full;
    fwd_cached: "fwd_cached.rpl", Sections::Full;
    fwd_minimal: "fwd_minimal.rpl", Sections::Full;
    iter_fwdfirst: "iter_fwdfirst.rpl", Sections::Full;
    iter_fwdfirstequal: "iter_fwdfirstequal.rpl", Sections::Full;
    iter_fwdstub: "iter_fwdstub.rpl", Sections::Full;
    iter_fwdstubroot: "iter_fwdstubroot.rpl", Sections::Full;
    fwd_droptoomany: "fwd_droptoomany.rpl", Sections::Full;
    fwd_jostle: "fwd_jostle.rpl", Sections::Full;
    fwd_jostle_out: "fwd_jostle_out.rpl", Sections::Full;
    fwd_0ttlservfail: "fwd_0ttlservfail.rpl", Sections::Full;
}

/// Scenarios tern fails, with the diagnosis (also in the README).
const KNOWN_FAILING: &[(&str, &str)] = &[];

/// Scenarios not run, with the reason (also in the README).
const EXCLUDED: &[(&str, &str)] = &[
    (
        "fwd_lrudrop.rpl",
        "msg-cache-size: 1 (a one-byte message cache) has no tern equivalent: answers come \
         from the RRset cache, whose smallest size (one entry per hashed shard) evicts by \
         hash, not age, so the scenario would pass by chance",
    ),
    (
        "val_fwdds.rpl",
        "fake-sha1 (Unbound's test switch under which DSA/SHA-1 signatures verify unchecked) \
         has no tern equivalent; its AD=1 answers rest on it",
    ),
];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/deckard")
}

/// Reads, parses and runs one scenario file on a fresh paused clock.
fn run_file(file: &str, sections: Sections) -> Result<(), String> {
    let text = std::fs::read_to_string(dir().join(file)).map_err(|e| format!("{file}: {e}"))?;
    run_text(&text, sections)
}

fn run_text(text: &str, sections: Sections) -> Result<(), String> {
    let scenario = rpl::parse(text).map_err(|e| e.to_string())?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(run::run(scenario, sections))
}

#[test]
fn the_known_failures_still_fail() {
    let fixed: Vec<&str> = KNOWN_FAILING
        .iter()
        .filter(|(f, _)| run_file(f, Sections::Full).is_ok())
        .map(|(f, _)| *f)
        .collect();
    assert!(fixed.is_empty(), "now passing, move to PASSING: {fixed:?}");
}

#[test]
fn every_scenario_file_is_accounted_for() {
    let mut listed: Vec<&str> = PASSING.iter().map(|(f, _)| *f).collect();
    listed.extend(KNOWN_FAILING.iter().map(|(f, _)| *f));
    listed.sort();
    listed.dedup();
    listed.extend(EXCLUDED.iter().map(|(f, _)| *f));
    let entries = std::fs::read_dir(dir()).expect("tests/deckard exists");
    let mut files: Vec<String> = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.ends_with(".rpl"))
        .collect();
    files.sort();
    let unlisted: Vec<&String> = files
        .iter()
        .filter(|f| !listed.contains(&f.as_str()))
        .collect();
    assert!(unlisted.is_empty(), "not listed: {unlisted:?}");
    assert_eq!(files.len(), listed.len(), "missing: {listed:?}");
    let run: Vec<&str> = PASSING.iter().map(|(f, _)| *f).collect();
    let twice: Vec<&str> = EXCLUDED
        .iter()
        .map(|(f, _)| *f)
        .filter(|f| run.contains(f) || KNOWN_FAILING.iter().any(|(g, _)| g == f))
        .collect();
    assert!(twice.is_empty(), "excluded and run: {twice:?}");
}

/// Prints every scenario's result (`cargo test --lib deckard::survey -- --ignored --nocapture`).
#[test]
#[ignore = "a survey for classifying new scenarios, not a check"]
fn survey() {
    let mut files: Vec<String> = std::fs::read_dir(dir())
        .expect("tests/deckard exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|f| f.ends_with(".rpl"))
        .collect();
    files.sort();
    for f in files {
        for sections in [Sections::Full, Sections::Minimal] {
            match run_file(&f, sections) {
                Ok(()) => println!("PASS {f} {sections:?}"),
                Err(e) => println!("FAIL {f} {sections:?}: {e}"),
            }
        }
    }
}
