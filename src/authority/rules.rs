//! How a zone's answers are ordered: a default policy for every RRset of the zone (`[[zone]]
//! balance`), and rules for the names of services, whose members carry weights and the health
//! checks' RTTs. The zone holds the rules; [`Catalog::balance`](super::Catalog::balance)
//! applies them to each answer, on the answer's own copy of the records.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use hickory_proto::rr::{LowerName, Name, Record, RecordType};

use super::balance::{Member, Policy};

/// The weights and RTTs of a service's members, read at answer time (the health checks keep
/// RTTs current without rebuilding the zone).
pub(crate) trait Members: Send + Sync + fmt::Debug {
    fn member(&self, record: &Record) -> Member;
}

/// One rule: the names it covers get `policy`, with `members` for their records.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    pub names: Vec<LowerName>,
    pub policy: Policy,
    pub members: Option<Arc<dyn Members>>,
}

/// Every ordering rule of one zone.
#[derive(Clone, Debug, Default)]
pub(crate) struct BalanceRules {
    /// For every RRset not covered by a rule; `None` keeps the zone's order.
    pub default: Option<Policy>,
    pub(crate) rules: Vec<Rule>,
}

impl BalanceRules {
    /// The policy for RRsets at `name`, and the members that go with it.
    pub(crate) fn for_name(&self, name: &Name) -> Option<(Policy, Option<&Arc<dyn Members>>)> {
        let lower = LowerName::new(name);
        self.rules
            .iter()
            .find(|r| r.names.contains(&lower))
            .map(|r| (r.policy, r.members.as_ref()))
            .or_else(|| self.default.map(|p| (p, None)))
    }
}

/// How many answers each RRset of a zone has given, for round robin. Shared by every copy of
/// the zone's snapshot; a new snapshot starts counting afresh.
#[derive(Debug, Default)]
pub(crate) struct Turns(Mutex<HashMap<(LowerName, RecordType), u64>>);

impl Turns {
    /// This answer's turn for the RRset (`name`, `rtype`), counting it.
    pub(crate) fn next(&self, name: &Name, rtype: RecordType) -> u64 {
        let mut turns = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let turn = turns.entry((LowerName::new(name), rtype)).or_insert(0);
        let this = *turn;
        *turn = turn.wrapping_add(1);
        this
    }
}
