//! The server's rate-limit headers: a spent limit remembered until its reset, and
//! `Retry-After`.

use std::time::{Duration, Instant, SystemTime};

use reqwest::header::HeaderMap;

use super::ApiClient;

impl ApiClient {
    /// Remembers a spent rate limit so the next request waits for its reset.
    pub(super) fn note_rate_limit(&self, headers: &HeaderMap) {
        if let Some(wait) = self.spent_reset(headers) {
            let mut until = self.blocked_until.lock().unwrap_or_else(|p| p.into_inner());
            *until = Some(Instant::now() + wait);
        }
    }

    /// How long until the rate limit resets, when the headers say it is spent.
    pub(super) fn spent_reset(&self, headers: &HeaderMap) -> Option<Duration> {
        let names = self.config.rate_limit?;
        let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        let remaining: u64 = header(names.remaining)?.trim().parse().ok()?;
        if remaining > 0 {
            return None;
        }
        let reset = header(names.reset)?.trim();
        // Epoch seconds (GitHub), or a time stamp (Jira Cloud's `2024-05-01T10:00:00Z`).
        let reset: u64 = reset.parse().ok().or_else(|| {
            let at = chrono::DateTime::parse_from_rfc3339(reset).ok()?;
            u64::try_from(at.timestamp()).ok()
        })?;
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        // One second of slack: the reset is a whole second, and clocks differ.
        Some(Duration::from_secs(reset).saturating_sub(now) + Duration::from_secs(1))
    }
}

/// `Retry-After`: seconds, or an HTTP date.
pub(super) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let secs = at.timestamp() - chrono::Utc::now().timestamp();
    Some(Duration::from_secs(secs.max(0) as u64))
}
