//! What a filter names that the store has never seen: a mistyped source or kind matches
//! nothing, and an empty answer alone does not say why. Every front end (the CLI on stderr,
//! HTTP and MCP in an answer's `note`) says it the same way, naming what the store does have.

use std::collections::BTreeMap;

use crate::store::{EventQuery, KindCount, SourceStatus};

/// A source the store knows, and the kinds of its stored events (none if it stored none yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceKinds {
    /// The source id.
    pub source_id: String,
    /// Its kinds, the most frequent first (ties by name).
    pub kinds: Vec<KindCount>,
}

impl From<&SourceStatus> for SourceKinds {
    fn from(s: &SourceStatus) -> Self {
        SourceKinds {
            source_id: s.source_id.clone(),
            kinds: s.kinds.clone(),
        }
    }
}

/// At most this many known names are listed; the rest are counted.
const LISTED: usize = 20;

/// A line naming the sources and kinds `filter` asks for that `sources` (the store's, with
/// their kinds: [`crate::Store::kinds`]) do not have, with the ones they do; `None` when the filter names none such.
///
/// A kind is known to the sources the filter names (all of them when it names none, or
/// none it names exists), so `--source web --kind commit` says that `web` has no commits.
pub fn unknown_names(filter: &EventQuery, sources: &[SourceKinds]) -> Option<String> {
    let mut notes = Vec::new();
    let unknown_sources: Vec<&str> = (filter.sources.iter())
        .filter(|id| !sources.iter().any(|s| &s.source_id == *id))
        .map(String::as_str)
        .collect();
    if !unknown_sources.is_empty() {
        let known: Vec<&str> = sources.iter().map(|s| s.source_id.as_str()).collect();
        notes.push(format!(
            "no source named {} in this store ({})",
            either(&unknown_sources),
            match known.is_empty() {
                true => "it has no sources yet".to_string(),
                false => format!("its sources: {}", listed(&known)),
            }
        ));
    }
    let named: Vec<&SourceKinds> = (sources.iter())
        .filter(|s| filter.sources.contains(&s.source_id))
        .collect();
    let scope: Vec<&SourceKinds> = match named.is_empty() {
        true => sources.iter().collect(),
        false => named.clone(),
    };
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for k in scope.iter().flat_map(|s| &s.kinds) {
        *counts.entry(k.kind.as_str()).or_default() += k.events;
    }
    let unknown_kinds: Vec<&str> = (filter.kinds.iter())
        .filter(|k| !counts.contains_key(k.as_str()))
        .map(String::as_str)
        .collect();
    if !unknown_kinds.is_empty() {
        let mut known: Vec<(&str, u64)> = counts.into_iter().collect();
        known.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let known: Vec<&str> = known.into_iter().map(|(k, _)| k).collect();
        let within = match named.is_empty() {
            true => String::new(),
            false => {
                let ids: Vec<&str> = named.iter().map(|s| s.source_id.as_str()).collect();
                format!(" in {}", ids.join(", "))
            }
        };
        notes.push(format!(
            "no event of kind {}{within} ({})",
            either(&unknown_kinds),
            match known.is_empty() {
                true => "no events are stored".to_string(),
                false => format!("the kinds stored{within}: {}", listed(&known)),
            }
        ));
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

/// `"a"`, `"a" or "b"`, `"a", "b" or "c"`.
fn either(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => quoted.concat(),
    }
}

/// The first [`LISTED`] names, and how many more.
fn listed(names: &[&str]) -> String {
    let shown = names[..names.len().min(LISTED)].join(", ");
    match names.len().saturating_sub(LISTED) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(id: &str, kinds: &[(&str, u64)]) -> SourceKinds {
        SourceKinds {
            source_id: id.into(),
            kinds: (kinds.iter())
                .map(|(kind, events)| KindCount {
                    kind: kind.to_string(),
                    events: *events,
                })
                .collect(),
        }
    }

    fn store() -> Vec<SourceKinds> {
        vec![
            source("git", &[("commit", 30)]),
            source("web", &[("http_request", 900), ("dead_link", 2)]),
        ]
    }

    fn ask(sources: &[&str], kinds: &[&str]) -> Option<String> {
        let filter = EventQuery {
            sources: sources.iter().map(|s| s.to_string()).collect(),
            kinds: kinds.iter().map(|s| s.to_string()).collect(),
            ..EventQuery::default()
        };
        unknown_names(&filter, &store())
    }

    #[test]
    fn known_names_need_no_note() {
        assert_eq!(ask(&[], &[]), None);
        assert_eq!(ask(&["git", "web"], &["commit", "http_request"]), None);
    }

    #[test]
    fn an_unknown_source_or_kind_is_named_with_the_known_ones() {
        assert_eq!(
            ask(&["nope"], &[]).unwrap(),
            r#"no source named "nope" in this store (its sources: git, web)"#
        );
        assert_eq!(
            ask(&[], &["comit", "x"]).unwrap(),
            r#"no event of kind "comit" or "x" (the kinds stored: http_request, commit, dead_link)"#
        );
        // Within the sources named: `web` has no commits, though `git` has.
        assert_eq!(
            ask(&["web", "nope"], &["commit"]).unwrap(),
            r#"no source named "nope" in this store (its sources: git, web); no event of kind "commit" in web (the kinds stored in web: http_request, dead_link)"#
        );
        let empty = unknown_names(
            &EventQuery {
                sources: vec!["a".into()],
                kinds: vec!["b".into()],
                ..EventQuery::default()
            },
            &[],
        );
        assert_eq!(
            empty.unwrap(),
            r#"no source named "a" in this store (it has no sources yet); no event of kind "b" (no events are stored)"#
        );
    }

    #[test]
    fn a_long_list_is_cut() {
        let names: Vec<String> = (0..25).map(|i| format!("k{i:02}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let text = listed(&names);
        assert!(text.starts_with("k00, k01,"), "{text}");
        assert!(text.ends_with("k19 and 5 more"), "{text}");
        assert_eq!(either(&["a", "b", "c"]), r#""a", "b" or "c""#);
    }
}
