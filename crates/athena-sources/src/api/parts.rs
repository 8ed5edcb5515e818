//! How a source that reads several parts in one sync (GitHub's streams, Slack's channels) says
//! that some failed: which and why, which were not tried once the API could not be reached,
//! and what was stored; nothing it did not do.

/// The failures of one sync of a source read in parts.
#[derive(Debug, Default)]
pub(crate) struct PartsFailed {
    /// What a part is called: `stream`, `channel`.
    pub noun: &'static str,
    /// The parts the sync was to read.
    pub total: usize,
    /// Each failed part, as `name: why`.
    pub failed: Vec<String>,
    /// The parts not tried because the API could not be reached.
    pub not_tried: Vec<String>,
    /// Events emitted by the sync (stored, or already in the store).
    pub events: u64,
}

impl PartsFailed {
    /// Whether any part failed.
    pub(crate) fn any(&self) -> bool {
        !self.failed.is_empty()
    }

    /// The failures in one message, ending with what was stored.
    pub(crate) fn message(&self) -> String {
        let mut s = format!(
            "{} of {} failed: {}",
            self.failed.len(),
            count(self.total, self.noun),
            self.failed.join("; ")
        );
        if !self.not_tried.is_empty() {
            s.push_str(&format!(
                "; the API could not be reached, so {} not tried ({})",
                match self.not_tried.len() {
                    1 => format!("1 other {} was", self.noun),
                    n => format!("{n} other {}s were", self.noun),
                },
                self.not_tried.join(", ")
            ));
        }
        match self.events {
            0 => s.push_str("; nothing was stored"),
            n => s.push_str(&format!("; {} stored", count_were(n))),
        }
        s
    }
}

/// `1 stream`, `6 streams`.
fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `1 event was`, `130 events were`.
fn count_were(n: u64) -> String {
    if n == 1 {
        "1 event was".to_string()
    } else {
        format!("{n} events were")
    }
}
