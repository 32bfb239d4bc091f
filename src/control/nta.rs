//! `tern ctl nta add NAME [LIFETIME] | remove NAME | list`: RFC 7646 negative trust anchors at
//! runtime, beside the configured ones (Unbound's `insecure_add`, `insecure_remove`,
//! `list_insecure`; the lifetime as BIND's `rndc nta -lifetime`). The resolver keeps the list,
//! expires runtime ones, and drops the verdicts cached under a name it changes.

use std::fmt::Write as _;

use hickory_proto::rr::Name;
use tokio::time::Instant;

use super::Control;
use super::commands::one_name;
use crate::resolver::validate::{Lifetime, NtaAdded, NtaChange, NtaError};

pub(super) const USAGE: &str = "usage: nta add NAME [LIFETIME] | nta remove NAME | nta list\n\
     LIFETIME: seconds, or with a unit s, m, h, d, w (30s, 15m, 2d); 1h unless given, 1w at most";

/// Runs `nta ARGS`.
pub(super) fn run(ctl: &Control, args: &[&str]) -> Result<String, String> {
    let resolver = ctl
        .handler
        .resolver()
        .ok_or("recursion is off: there is nothing to validate")?;
    let (sub, rest) = args.split_first().ok_or(USAGE)?;
    let err = |e: NtaError| e.to_string();
    // Edge: an operator's command, outside any request: lifetimes count from now.
    let now = Instant::now();
    match *sub {
        "add" => {
            let (name, lifetime) = add_args(rest)?;
            let change = resolver.nta_add(&name, lifetime, now).map_err(err)?;
            let secs = lifetime.duration().as_secs();
            tracing::info!(%name, lifetime = secs, flushed = change.flushed, "negative trust anchor added (tern ctl)");
            let what = match change.added {
                Some(NtaAdded::Refreshed) => {
                    format!("already a negative trust anchor; expires in {secs}s now")
                }
                Some(NtaAdded::Configured) => {
                    "already a configured negative trust anchor (no lifetime)".to_string()
                }
                _ => format!("added for {secs}s"),
            };
            Ok(done(&name, &what, &change))
        }
        "remove" => {
            let name = one_name("nta remove", rest)?.to_lowercase();
            let change = resolver.nta_remove(&name).map_err(err)?;
            tracing::info!(%name, flushed = change.flushed, "negative trust anchor removed (tern ctl)");
            Ok(done(&name, "removed", &change))
        }
        "list" if rest.is_empty() => {
            let mut out = String::new();
            for (name, source) in resolver.nta_list(now).map_err(err)? {
                let _ = writeln!(out, "{name} {source}");
            }
            Ok(out)
        }
        _ => Err(USAGE.to_string()),
    }
}

/// `NAME [LIFETIME]`.
fn add_args(args: &[&str]) -> Result<(Name, Lifetime), String> {
    let (name, lifetime) = match args {
        [name] => (name, Lifetime::default()),
        [name, lifetime] => (name, Lifetime::parse(lifetime).map_err(|e| e.to_string())?),
        _ => return Err(USAGE.to_string()),
    };
    Ok((one_name("nta add", &[name])?.to_lowercase(), lifetime))
}

fn done(name: &Name, what: &str, change: &NtaChange) -> String {
    format!(
        "{name} {what}; removed {} cache entries at or below it\n",
        change.flushed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_takes_a_name_and_an_optional_lifetime() {
        let (name, lifetime) = add_args(&["Broken.Example"]).expect("name alone");
        assert_eq!(name.to_string(), "broken.example.");
        assert_eq!(lifetime, Lifetime::default());
        let (_, lifetime) = add_args(&["broken.example", "15m"]).expect("with lifetime");
        assert_eq!(lifetime.duration().as_secs(), 900);
        let e = add_args(&["broken.example", "8d"]).expect_err("too long");
        assert!(e.contains("longer than a week"), "{e}");
        let e = add_args(&["broken.example", "soon"]).expect_err("syntax");
        assert!(e.contains("bad lifetime \"soon\""), "{e}");
        for wrong in [&[][..], &["a.", "1h", "extra"][..]] {
            let e = add_args(wrong).expect_err("arity");
            assert!(e.starts_with("usage: nta add NAME [LIFETIME]"), "{e}");
        }
    }
}
