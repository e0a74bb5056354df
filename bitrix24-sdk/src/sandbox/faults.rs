//! Faults to inject: latency, errors, dropped connections, writes that succeed while the
//! client sees a failure, and replies slower than the client's timeout.

use std::time::Duration;

/// What goes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// The reply is delayed by this long (the call still runs).
    Latency(Duration),
    /// The call is refused with this HTTP status (500 `INTERNAL_SERVER_ERROR` or 503
    /// `QUERY_LIMIT_EXCEEDED`) before it runs: nothing is written.
    Error(u16),
    /// The connection is closed before the call runs: nothing is written.
    Drop,
    /// The call runs and its writes are kept, but the client gets this HTTP status.
    CommitThenError(u16),
    /// The call runs and its writes are kept, but the connection is closed without a reply.
    CommitThenDrop,
    /// The call runs, then the reply waits this long (longer than the client's timeout).
    Hang(Duration),
}

/// A fault rule: which calls it hits, how often, how many times.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    pub(crate) kind: FaultKind,
    pub(crate) method: Option<String>,
    pub(crate) probability: f64,
    pub(crate) remaining: Option<u64>,
}

impl Fault {
    /// A fault hitting every call of every method.
    pub fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            method: None,
            probability: 1.0,
            remaining: None,
        }
    }

    /// Hits only calls of `method` (inside a batch too, for the batch's own request).
    #[must_use]
    pub fn method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Hits a call with this probability (0 to 1).
    #[must_use]
    pub fn probability(mut self, probability: f64) -> Self {
        self.probability = probability.clamp(0.0, 1.0);
        self
    }

    /// Hits at most this many calls, then retires.
    #[must_use]
    pub fn times(mut self, times: u64) -> Self {
        self.remaining = Some(times);
        self
    }

    /// What this fault does.
    pub fn kind(&self) -> FaultKind {
        self.kind
    }

    fn applies(&self, method: &str) -> bool {
        self.remaining != Some(0)
            && self
                .method
                .as_deref()
                .is_none_or(|m| m.eq_ignore_ascii_case(method))
    }
}

/// The active faults.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    rules: Vec<Fault>,
}

impl Faults {
    pub(crate) fn add(&mut self, fault: Fault) {
        self.rules.push(fault);
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    /// The faults that hit this call, consuming their budgets.
    pub(crate) fn draw(&mut self, method: &str) -> Vec<FaultKind> {
        let mut hit = Vec::new();
        for rule in &mut self.rules {
            if rule.applies(method) && fastrand::f64() < rule.probability {
                if let Some(remaining) = &mut rule.remaining {
                    *remaining -= 1;
                }
                hit.push(rule.kind);
            }
        }
        self.rules.retain(|rule| rule.remaining != Some(0));
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_target_methods_and_retire() {
        let mut faults = Faults::default();
        faults.add(
            Fault::new(FaultKind::Error(500))
                .method("crm.lead.add")
                .times(2),
        );
        assert!(faults.draw("crm.lead.get").is_empty());
        assert_eq!(faults.draw("CRM.LEAD.ADD"), vec![FaultKind::Error(500)]);
        assert_eq!(faults.draw("crm.lead.add"), vec![FaultKind::Error(500)]);
        assert!(faults.draw("crm.lead.add").is_empty());
        faults.add(Fault::new(FaultKind::Drop).probability(0.0));
        assert!(faults.draw("x").is_empty());
    }
}
