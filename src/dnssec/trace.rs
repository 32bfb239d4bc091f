//! The validator's side of `tern resolve --trace`: one line per DS, DNSKEY, RRSIG and denial
//! check with its outcome, and the verdict, like `delv +vtrace`. Off on the serving path,
//! where a line is never even formatted (callers pass `format_args!`).

use std::fmt;

use hickory_proto::rr::{Name, RecordType};

use super::Security;

/// What kind of check a line reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Check {
    Anchor,
    Ds,
    Dnskey,
    Rrsig,
    Nsec,
    Nsec3,
    Verdict,
}

impl Check {
    fn label(self) -> &'static str {
        match self {
            Check::Anchor => "ANCHOR",
            Check::Ds => "DS",
            Check::Dnskey => "DNSKEY",
            Check::Rrsig => "RRSIG",
            Check::Nsec => "NSEC",
            Check::Nsec3 => "NSEC3",
            Check::Verdict => "VERDICT",
        }
    }
}

/// One check: in which zone, of what, with what result.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TraceLine {
    pub(crate) check: Check,
    pub(crate) zone: Name,
    pub(crate) subject: String,
    pub(crate) outcome: String,
}

impl fmt::Display for TraceLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<7} zone {:<20} {}: {}",
            self.check.label(),
            self.zone.to_ascii(),
            self.subject,
            self.outcome
        )
    }
}

/// The lines of one validation run, in the order the checks were made.
#[derive(Clone, Debug, Default)]
pub(crate) struct Trace {
    on: bool,
    lines: Vec<TraceLine>,
}

impl Trace {
    pub(crate) fn off() -> Trace {
        Trace::default()
    }

    pub(crate) fn on() -> Trace {
        Trace {
            on: true,
            lines: Vec::new(),
        }
    }

    /// Records a check; formats nothing when the trace is off.
    pub(crate) fn note(
        &mut self,
        check: Check,
        zone: &Name,
        subject: impl fmt::Display,
        outcome: impl fmt::Display,
    ) {
        if self.on {
            self.lines.push(TraceLine {
                check,
                zone: zone.clone(),
                subject: subject.to_string(),
                outcome: outcome.to_string(),
            });
        }
    }

    /// The final line for an answer.
    pub(crate) fn verdict(
        &mut self,
        zone: &Name,
        qname: &Name,
        qtype: RecordType,
        security: &Security,
    ) {
        self.note(
            Check::Verdict,
            zone,
            format_args!("{qname} {qtype}"),
            security,
        );
    }

    pub(crate) fn lines(&self) -> &[TraceLine] {
        &self.lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::Ede;

    #[test]
    fn off_records_nothing_and_on_prints_a_line_per_check() {
        let zone = Name::from_ascii("example.").unwrap();
        let mut off = Trace::off();
        off.note(Check::Ds, &zone, "x", "y");
        assert!(off.lines().is_empty());

        let mut on = Trace::on();
        on.note(
            Check::Rrsig,
            &zone,
            format_args!("www.example./A tag {}", 7),
            "verified",
        );
        let bogus = Security::bogus(&zone, Ede::SignatureExpired, "RRSIG expired");
        on.verdict(
            &zone,
            &Name::from_ascii("www.example.").unwrap(),
            RecordType::A,
            &bogus,
        );
        let text: Vec<String> = on.lines().iter().map(|l| l.to_string()).collect();
        assert_eq!(
            text[0],
            "RRSIG   zone example.             www.example./A tag 7: verified"
        );
        assert!(text[1].starts_with("VERDICT zone example."), "{}", text[1]);
        assert!(text[1].ends_with("bogus (example.: RRSIG expired; EDE 7)"));
    }
}
