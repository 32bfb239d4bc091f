//! `tern ctl nta add NAME | remove NAME | list`: RFC 7646 negative trust anchors at runtime,
//! beside the configured ones (Unbound's `insecure_add`, `insecure_remove`, `list_insecure`).
//! The resolver keeps the list and drops the verdicts cached under a name it changes.

use std::fmt::Write as _;

use super::Control;
use super::commands::one_name;
use crate::resolver::validate::NtaChange;

pub(super) const USAGE: &str = "usage: nta add NAME | nta remove NAME | nta list";

/// Runs `nta ARGS`.
pub(super) fn run(ctl: &Control, args: &[&str]) -> Result<String, String> {
    let resolver = ctl
        .handler
        .resolver()
        .ok_or("recursion is off: there is nothing to validate")?;
    let (sub, rest) = args.split_first().ok_or(USAGE)?;
    let err = |e: crate::resolver::validate::NtaError| e.to_string();
    match *sub {
        "add" => {
            let name = one_name("nta add", rest)?.to_lowercase();
            let change = resolver.nta_add(&name).map_err(err)?;
            tracing::info!(%name, flushed = change.flushed, "negative trust anchor added (tern ctl)");
            let what = if change.changed {
                "added"
            } else {
                "already a negative trust anchor"
            };
            Ok(done(&name, what, &change))
        }
        "remove" => {
            let name = one_name("nta remove", rest)?.to_lowercase();
            let change = resolver.nta_remove(&name).map_err(err)?;
            tracing::info!(%name, flushed = change.flushed, "negative trust anchor removed (tern ctl)");
            Ok(done(&name, "removed", &change))
        }
        "list" if rest.is_empty() => {
            let mut out = String::new();
            for (name, source) in resolver.nta_list().map_err(err)? {
                let _ = writeln!(out, "{name} {source}");
            }
            Ok(out)
        }
        _ => Err(USAGE.to_string()),
    }
}

fn done(name: &hickory_proto::rr::Name, what: &str, change: &NtaChange) -> String {
    format!(
        "{name} {what}; removed {} cache entries at or below it\n",
        change.flushed
    )
}
