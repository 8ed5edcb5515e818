//! Finding references to things in text: issue keys (`PROJ-123`, Jira's and Linear's alike),
//! `owner/repo#12`, commit SHAs, and the URLs of GitHub, Jira, Linear, Slack and CircleCI.
//! Each reference becomes a [thing key](Thing); two events that name the same key are linked.
//!
//! The scanner is one pass over the bytes with cheap triggers (`://`, `-`, `#`, a run of hex
//! digits), no regular expressions: it runs on every event a sync stores.

use std::collections::BTreeSet;

/// A thing's key: `key:PROJ-123`, `gh:owner/repo#12`, `commit:<hex>`,
/// `slack:CHANNEL/TS`, `circleci:VCS/ORG/REPO/NUMBER`.
pub type Thing = String;

/// Words shaped like issue keys that are not (`UTF-8`, `SHA-256`), when no project keys are
/// configured.
const NOT_PROJECTS: &[&str] = &[
    "AES", "ASCII", "CVE", "GMT", "HTTP", "ISO", "MD", "RFC", "SHA", "SSL", "TLS", "UTC", "UTF",
    "X509",
];

/// What the scanner recognises beyond the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanConfig {
    /// Only these project keys make issue keys (`["PROJ", "ENG"]`); empty: any key shape.
    pub project_keys: BTreeSet<String>,
    /// Hosts serving GitHub besides github.com (GitHub Enterprise).
    pub github_hosts: Vec<String>,
    /// Hosts serving Jira besides `*.atlassian.net` (Jira Data Center).
    pub jira_hosts: Vec<String>,
}

/// Finds thing keys in text.
#[derive(Debug, Clone, Default)]
pub struct Scanner {
    config: ScanConfig,
}

impl Scanner {
    /// A scanner with `config`.
    pub fn new(config: ScanConfig) -> Self {
        Scanner { config }
    }

    /// Adds the things `text` refers to into `out`. `repo` (`owner/repo`) makes a bare `#12`
    /// a reference to that repository's issue 12.
    pub fn scan(&self, text: &str, repo: Option<&str>, out: &mut BTreeSet<Thing>) {
        let bytes = text.as_bytes();
        // URLs first; what they cover is not scanned again for keys and SHAs.
        let mut covered: Vec<(usize, usize)> = Vec::new();
        let mut from = 0;
        while let Some(colon) = scheme_separator(bytes, from) {
            let start = url_start(bytes, colon);
            let end = url_end(bytes, colon + 3);
            if start < colon {
                self.url(&text[start..end], out);
                covered.push((start, end));
            }
            from = end.max(colon + 3);
        }
        let mut i = 0;
        let mut next_cover = 0;
        while i < bytes.len() {
            if let Some(&(start, end)) = covered.get(next_cover) {
                if i >= start {
                    i = end;
                    next_cover += 1;
                    continue;
                }
            }
            let b = bytes[i];
            if !b.is_ascii_alphanumeric() || (i > 0 && is_word(bytes[i - 1])) {
                // Not the start of a word; `#12` right after a non-word is a bare reference.
                if b == b'#' && repo.is_some() && (i == 0 || !is_word(bytes[i - 1])) {
                    if let Some((n, end)) = digits(bytes, i + 1) {
                        out.insert(format!("gh:{}#{n}", repo.unwrap_or_default()));
                        i = end;
                        continue;
                    }
                }
                i += 1;
                continue;
            }
            let end = word_end(bytes, i);
            let word = &text[i..end];
            if let Some(thing) = self.key(word, bytes, end) {
                out.insert(thing.0);
                i = thing.1;
                continue;
            }
            if let Some((thing, after)) = repo_ref(text, i) {
                out.insert(thing);
                i = after;
                continue;
            }
            if let Some(sha) = sha(word) {
                out.insert(format!("commit:{sha}"));
            }
            i = end;
        }
    }

    /// An issue key starting at `word` (`PROJ` of `PROJ-123`), and where it ends.
    fn key(&self, word: &str, bytes: &[u8], end: usize) -> Option<(Thing, usize)> {
        let project = word;
        let first = project.as_bytes()[0];
        if !(2..=10).contains(&project.len())
            || !first.is_ascii_uppercase()
            || !project
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
            || bytes.get(end) != Some(&b'-')
        {
            return None;
        }
        let (number, after) = digits(bytes, end + 1)?;
        if number.len() > 7 || bytes.get(after).is_some_and(|b| is_word(*b) || *b == b'-') {
            return None;
        }
        let known = if self.config.project_keys.is_empty() {
            !NOT_PROJECTS.contains(&project)
        } else {
            self.config.project_keys.contains(project)
        };
        known.then(|| (format!("key:{project}-{number}"), after))
    }

    /// The things a URL is about.
    fn url(&self, url: &str, out: &mut BTreeSet<Thing>) {
        let Some((_, rest)) = url.split_once("://") else {
            return;
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let host = authority
            .rsplit('@')
            .next()
            .unwrap_or("")
            .split(':')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let path = path.split('#').next().unwrap_or("");
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        if host == "github.com" || self.config.github_hosts.contains(&host) {
            github_url(&parts, out);
        } else if host.ends_with(".atlassian.net") || self.config.jira_hosts.contains(&host) {
            if let Some(i) = parts.iter().position(|p| *p == "browse") {
                self.key_thing(parts.get(i + 1).copied(), out);
            }
            for pair in query.split('&') {
                if let Some(key) = pair.strip_prefix("selectedIssue=") {
                    self.key_thing(Some(key), out);
                }
            }
        } else if host == "linear.app" {
            if let Some(i) = parts.iter().position(|p| *p == "issue") {
                self.key_thing(parts.get(i + 1).copied(), out);
            }
        } else if host.ends_with(".slack.com") {
            slack_url(&parts, query, out);
        } else if host == "app.circleci.com" {
            if let ["pipelines", vcs, org, repo, number, ..] = parts.as_slice() {
                if number.bytes().all(|b| b.is_ascii_digit()) {
                    out.insert(format!("circleci:{vcs}/{org}/{repo}/{number}"));
                }
            }
        }
    }

    fn key_thing(&self, text: Option<&str>, out: &mut BTreeSet<Thing>) {
        let Some(text) = text else { return };
        let end = word_end(text.as_bytes(), 0);
        if let Some((thing, _)) = self.key(&text[..end], text.as_bytes(), end) {
            out.insert(thing);
        }
    }
}

/// `/owner/repo/issues/12`, `/owner/repo/pull/12[/…]`, `/owner/repo/commit/SHA`,
/// `/owner/repo/pull/12/commits/SHA`.
fn github_url(parts: &[&str], out: &mut BTreeSet<Thing>) {
    let [owner, repo, kind, rest @ ..] = parts else {
        return;
    };
    match (*kind, rest) {
        ("issues" | "pull", [number, tail @ ..]) if number.bytes().all(|b| b.is_ascii_digit()) => {
            out.insert(format!("gh:{owner}/{repo}#{number}"));
            if let ["commits", sha_text, ..] = tail {
                if let Some(sha) = sha(sha_text) {
                    out.insert(format!("commit:{sha}"));
                }
            }
        }
        ("commit", [sha_text, ..]) => {
            if let Some(sha) = sha(sha_text) {
                out.insert(format!("commit:{sha}"));
            }
        }
        _ => {}
    }
}

/// `/archives/C024BE91L/p1355517523000008[?thread_ts=1355517523.000005]`: the message, and the
/// thread it is in.
fn slack_url(parts: &[&str], query: &str, out: &mut BTreeSet<Thing>) {
    let ["archives", channel, message, ..] = parts else {
        return;
    };
    if let Some(ts) = message.strip_prefix('p').filter(|t| t.len() > 6) {
        if ts.bytes().all(|b| b.is_ascii_digit()) {
            let (seconds, micros) = ts.split_at(ts.len() - 6);
            out.insert(format!("slack:{channel}/{seconds}.{micros}"));
        }
    }
    for pair in query.split('&') {
        if let Some(ts) = pair.strip_prefix("thread_ts=") {
            out.insert(format!("slack:{channel}/{ts}"));
        }
    }
}

/// `owner/repo#12` starting at `i`, and where it ends.
fn repo_ref(text: &str, i: usize) -> Option<(Thing, usize)> {
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    let mut j = i;
    while j < bytes.len() && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'-') {
        j += 1;
    }
    if j == i || bytes.get(j) != Some(&b'/') {
        return None;
    }
    let slash = j;
    j += 1;
    while j < bytes.len() && is_name(bytes[j]) {
        j += 1;
    }
    if j == slash + 1 || bytes.get(j) != Some(&b'#') {
        return None;
    }
    let (number, end) = digits(bytes, j + 1)?;
    if bytes.get(end).is_some_and(|b| is_word(*b)) {
        return None;
    }
    Some((format!("gh:{}#{number}", &text[i..j]), end))
}

/// A commit SHA: 7 to 40 hex digits with at least one digit and one letter (a word of only
/// letters or only digits is rarely a SHA), lowercased.
fn sha(word: &str) -> Option<String> {
    let ok = (7..=40).contains(&word.len())
        && word.bytes().all(|b| b.is_ascii_hexdigit())
        && word.bytes().any(|b| b.is_ascii_digit())
        && word.bytes().any(|b| b.is_ascii_alphabetic());
    ok.then(|| word.to_ascii_lowercase())
}

/// The digits at `i` (at least one) and where they end.
fn digits(bytes: &[u8], i: usize) -> Option<(&str, usize)> {
    let mut j = i;
    while j < bytes.len() && bytes[j].is_ascii_digit() {
        j += 1;
    }
    (j > i).then(|| (std::str::from_utf8(&bytes[i..j]).unwrap_or(""), j))
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn word_end(bytes: &[u8], i: usize) -> usize {
    let mut j = i;
    while j < bytes.len() && bytes[j].is_ascii_alphanumeric() {
        j += 1;
    }
    j
}

/// Where the URL whose `://` is at `colon` begins: the scheme's letters before it.
fn url_start(bytes: &[u8], colon: usize) -> usize {
    let mut i = colon;
    while i > 0
        && (bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'+' | b'.' | b'-'))
    {
        i -= 1;
    }
    i
}

/// Where a URL ends: at a space, a quote or a bracket, less trailing punctuation.
fn url_end(bytes: &[u8], from: usize) -> usize {
    let mut j = from;
    while j < bytes.len()
        && !bytes[j].is_ascii_whitespace()
        && !matches!(
            bytes[j],
            b'<' | b'>' | b'"' | b'\'' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'|' | b'`'
        )
    {
        j += 1;
    }
    while j > from && matches!(bytes[j - 1], b'.' | b',' | b';' | b':' | b'!' | b'?') {
        j -= 1;
    }
    j
}

/// Where the next `://` at or after `from` starts. (A search for `:` then a look at the next
/// two bytes: titles are short, and `str::find` prepared its searcher again for each.)
fn scheme_separator(bytes: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(p) = bytes.get(i..)?.iter().position(|&b| b == b':') {
        let colon = i + p;
        if bytes[colon + 1..].starts_with(b"//") {
            return Some(colon);
        }
        i = colon + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn things(text: &str, repo: Option<&str>) -> Vec<String> {
        let mut out = BTreeSet::new();
        Scanner::default().scan(text, repo, &mut out);
        out.into_iter().collect()
    }

    #[test]
    fn a_url_is_found_after_colons_that_start_none() {
        for text in ["", ":", "ends with a colon:", "one slash a:/b", "a://"] {
            assert_eq!(things(text, None), Vec::<String>::new(), "{text:?}");
        }
        assert_eq!(
            things(
                "time: 12:30, a:/b, then https://github.com/acme/app/issues/5:",
                None
            ),
            ["gh:acme/app#5"]
        );
    }

    #[test]
    fn keys_repo_references_and_shas_are_found_in_prose() {
        assert_eq!(
            things(
                "Fix PROJ-7 and ENG-42 (see acme/app#12); reverts 3f9a0c1d2e4b.",
                None
            ),
            [
                "commit:3f9a0c1d2e4b",
                "gh:acme/app#12",
                "key:ENG-42",
                "key:PROJ-7"
            ]
        );
        // Not keys: lowercase, one letter, a known non-project, too long a number, part of a
        // longer word; not SHAs: all letters, all digits, too short.
        assert_eq!(
            things(
                "proj-1 X-1 UTF-8 SHA-256 AB-12345678 XPROJ-1x deadbeef 12345678 abc12",
                None
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            things("closes #12, not a#3", Some("acme/app")),
            ["gh:acme/app#12"]
        );
        assert_eq!(things("closes #12", None), Vec::<String>::new());
    }

    #[test]
    fn urls_of_the_known_services_become_their_things() {
        let text = "see https://github.com/acme/app/pull/12#issuecomment-1, \
            <https://acme.atlassian.net/browse/PROJ-7>, https://linear.app/acme/issue/ENG-42/fix-it, \
            https://acme.slack.com/archives/C024BE91L/p1355517523000008?thread_ts=1355517523.000005 \
            https://app.circleci.com/pipelines/gh/acme/app/123/workflows/abc and \
            https://github.com/acme/app/commit/3F9A0C1D2E4B5a6b.";
        assert_eq!(
            things(text, None),
            [
                "circleci:gh/acme/app/123",
                "commit:3f9a0c1d2e4b5a6b",
                "gh:acme/app#12",
                "key:ENG-42",
                "key:PROJ-7",
                "slack:C024BE91L/1355517523.000005",
                "slack:C024BE91L/1355517523.000008",
            ]
        );
        // Hex in a URL of another site is not a SHA; a URL's own text is not scanned again.
        assert_eq!(
            things("https://cdn.example.com/app.3f9a0c1d.js", None),
            Vec::<String>::new()
        );
    }

    #[test]
    fn configured_project_keys_and_hosts_are_the_only_ones() {
        let scanner = Scanner::new(ScanConfig {
            project_keys: ["PROJ".to_string()].into(),
            github_hosts: vec!["git.corp.com".into()],
            jira_hosts: vec!["jira.corp.com".into()],
        });
        let mut out = BTreeSet::new();
        scanner.scan(
            "PROJ-1 OTHER-2 https://git.corp.com/a/b/issues/3 https://jira.corp.com/browse/PROJ-4",
            None,
            &mut out,
        );
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            ["gh:a/b#3", "key:PROJ-1", "key:PROJ-4"]
        );
    }
}
