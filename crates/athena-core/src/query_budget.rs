//! How long a recall query may run, and whether anyone still wants its answer.
//!
//! A store checks a [`QueryBudget`] while a query runs (SQLite: every few thousand virtual
//! machine steps) and stops the query once it is spent: past its deadline, or cancelled
//! because its caller went away or the server is stopping. One costly query then holds a
//! connection for at most its budget, never for the minutes an unbounded one could take.

use std::fmt;
use std::time::{Duration, Instant};

use crate::engine::CancelToken;

/// A recall query's time limit and cancellation.
#[derive(Debug, Clone)]
pub struct QueryBudget {
    deadline: Option<(Instant, Duration)>,
    cancel: CancelToken,
}

/// Why a query was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Spent {
    /// It ran past its time limit (the limit it had).
    TimedOut(Duration),
    /// Its caller went away, or the server is stopping.
    Cancelled,
}

impl fmt::Display for Spent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Spent::TimedOut(limit) => write!(
                f,
                "the query ran past its time limit of {} ms",
                limit.as_millis()
            ),
            Spent::Cancelled => f.write_str("the query was cancelled"),
        }
    }
}

impl QueryBudget {
    /// No time limit, never cancelled: for the CLI, which a user interrupts with Ctrl-C.
    pub fn unlimited() -> Self {
        QueryBudget {
            deadline: None,
            cancel: CancelToken::new(),
        }
    }

    /// At most `limit` from now, and stopped early when `cancel` (or a parent of it) is.
    pub fn new(limit: Duration, cancel: CancelToken) -> Self {
        QueryBudget {
            deadline: Some((Instant::now() + limit, limit)),
            cancel,
        }
    }

    /// Whether the query must stop now, and why. Cheap enough to call every few thousand
    /// steps of a query: a clock read and an atomic load per token in the chain.
    pub fn spent(&self) -> Option<Spent> {
        if self.cancel.is_cancelled() {
            return Some(Spent::Cancelled);
        }
        match self.deadline {
            Some((at, limit)) if Instant::now() >= at => Some(Spent::TimedOut(limit)),
            _ => None,
        }
    }

    /// Waits until the budget is spent, and says why: for a store whose queries run
    /// elsewhere (a database server), to ask for them to be cancelled then.
    pub async fn until_spent(&self) -> Spent {
        let deadline = async {
            match self.deadline {
                Some((at, limit)) => {
                    tokio::time::sleep_until(at.into()).await;
                    Spent::TimedOut(limit)
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = self.cancel.cancelled() => Spent::Cancelled,
            spent = deadline => spent,
        }
    }

    /// The token that cancels this query (a caller keeps it to cancel when it goes away).
    pub fn cancel_token(&self) -> &CancelToken {
        &self.cancel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_spent_by_its_deadline_or_a_cancel_of_it_or_its_parent() {
        assert_eq!(QueryBudget::unlimited().spent(), None);

        let expired = QueryBudget::new(Duration::ZERO, CancelToken::new());
        assert_eq!(expired.spent(), Some(Spent::TimedOut(Duration::ZERO)));

        let server = CancelToken::new();
        let budget = QueryBudget::new(Duration::from_secs(3600), server.child_token());
        assert_eq!(budget.spent(), None);
        budget.cancel_token().cancel();
        assert_eq!(budget.spent(), Some(Spent::Cancelled));
        assert!(!server.is_cancelled(), "one query's cancel stops only it");

        let other = QueryBudget::new(Duration::from_secs(3600), server.child_token());
        server.cancel();
        assert_eq!(
            other.spent(),
            Some(Spent::Cancelled),
            "a stopping server stops it"
        );
    }
}
