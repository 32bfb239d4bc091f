//! The query log's last lines in memory, for the dashboard's Queries view: a bounded ring of
//! the JSON lines as written, each with a sequence number so a page polling every second asks
//! only for what it has not seen. The writer thread pushes (one short lock per line, off the
//! query path); a reader copies out.

use std::collections::VecDeque;
use std::sync::Mutex;

/// Lines kept: enough for a page to filter the last minutes of a busy resolver, about 2.5 MB
/// of ~250-byte lines.
pub(crate) const RECENT_LINES: usize = 10_000;

#[derive(Debug)]
pub(crate) struct Recent {
    capacity: usize,
    ring: Mutex<Ring>,
}

#[derive(Debug, Default)]
struct Ring {
    /// The sequence number of the next line pushed; the lines held are `next - len ..next`.
    next: u64,
    lines: VecDeque<String>,
}

impl Recent {
    pub(crate) fn new(capacity: usize) -> Recent {
        Recent {
            capacity: capacity.max(1),
            ring: Mutex::new(Ring::default()),
        }
    }

    pub(crate) fn push(&self, line: String) {
        let mut ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        if ring.lines.len() == self.capacity {
            ring.lines.pop_front();
        }
        ring.lines.push_back(line);
        ring.next += 1;
    }

    /// The lines numbered `since` and later that are still held, at most `max` of them (the
    /// newest), and the number to ask from next time.
    pub(crate) fn since(&self, since: u64, max: usize) -> (Vec<String>, u64) {
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        let first = ring.next - ring.lines.len() as u64;
        let wanted = ring.next.saturating_sub(since.max(first));
        let take = usize::try_from(wanted).unwrap_or(usize::MAX).min(max);
        let skip = ring.lines.len() - take;
        (ring.lines.iter().skip(skip).cloned().collect(), ring.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_lines_and_hands_out_only_the_unseen() {
        let r = Recent::new(3);
        assert_eq!(r.since(0, 10), (vec![], 0));
        for i in 0..5 {
            r.push(format!("l{i}"));
        }
        assert_eq!(
            r.since(0, 10),
            (vec!["l2".into(), "l3".into(), "l4".into()], 5)
        );
        assert_eq!(r.since(4, 10), (vec!["l4".into()], 5));
        assert_eq!(r.since(5, 10), (vec![], 5));
        assert_eq!(r.since(0, 2), (vec!["l3".into(), "l4".into()], 5));
        // A number from the future (a restarted server) gives nothing, not a panic.
        assert_eq!(r.since(99, 10), (vec![], 5));
    }
}
