//! Where each table and key of a config file is, taken from the TOML parser's spans, so that an
//! error found after parsing (a wrong type, a value out of range, an unset `${VAR}`) names its
//! line.

use std::collections::BTreeMap;

use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// The lines of one table: where it starts and where each of its keys is.
#[derive(Debug, Clone, Default)]
pub(super) struct TableLines {
    /// 1-based line of the table's header (`[engine]`, `[[sources]]`), or of the key that made
    /// it (`engine.concurrency = 4` at the top level, `{ … }` inline).
    pub(super) header: Option<usize>,
    /// 1-based line of each of the table's own keys (not of keys in tables below them).
    keys: BTreeMap<String, usize>,
}

impl TableLines {
    /// The line of `key`, a key path (`branches[1]`, `fields.time`) counting as its first
    /// segment; the header's when the table has no such key (a missing key).
    pub(super) fn line_of(&self, key: Option<&str>) -> Option<usize> {
        key.map(|k| k.split(['.', '[']).next().unwrap_or(k))
            .and_then(|k| self.keys.get(k).copied())
            .or(self.header)
    }
}

/// The lines of a config file's `[store]`, `[engine]` and `[[sources]]` tables.
#[derive(Debug, Default)]
pub(super) struct DocumentLines {
    pub(super) store: TableLines,
    pub(super) engine: TableLines,
    pub(super) serve: TableLines,
    pub(super) cluster: TableLines,
    pub(super) links: TableLines,
    /// One per `[[sources]]` entry, in file order.
    pub(super) sources: Vec<TableLines>,
    /// One per `[[feeds]]` entry, in file order.
    pub(super) feeds: Vec<TableLines>,
    /// One per `[[people]]` entry, in file order.
    pub(super) people: Vec<TableLines>,
}

impl DocumentLines {
    /// The lines of `doc`, parsed from `text`.
    pub(super) fn new(text: &str, doc: &DeTable<'_>) -> Self {
        let lines = LineIndex::new(text);
        let section = |name: &str| doc.get(name).map(|v| lines.table(v)).unwrap_or_default();
        let array = |name: &str| match doc.get(name).map(Spanned::get_ref) {
            Some(DeValue::Array(items)) => items.iter().map(|v| lines.table(v)).collect(),
            _ => Vec::new(),
        };
        DocumentLines {
            store: section("store"),
            engine: section("engine"),
            serve: section("serve"),
            cluster: section("cluster"),
            links: section("links"),
            sources: array("sources"),
            feeds: array("feeds"),
            people: array("people"),
        }
    }
}

/// Byte offset → 1-based line.
pub(super) struct LineIndex {
    /// Offset of the first byte of each line after the first.
    starts: Vec<usize>,
}

impl LineIndex {
    pub(super) fn new(text: &str) -> Self {
        let starts = text
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        LineIndex { starts }
    }

    /// The 1-based line holding byte `offset`.
    pub(super) fn line(&self, offset: usize) -> usize {
        self.starts.partition_point(|&s| s <= offset) + 1
    }

    fn table(&self, value: &Spanned<DeValue<'_>>) -> TableLines {
        let keys = match value.get_ref() {
            DeValue::Table(t) => t
                .iter()
                .map(|(k, _)| (k.get_ref().to_string(), self.line(k.span().start)))
                .collect(),
            _ => BTreeMap::new(),
        };
        TableLines {
            header: Some(self.line(value.span().start)),
            keys,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> DocumentLines {
        let doc = DeTable::parse(text).unwrap();
        DocumentLines::new(text, doc.get_ref())
    }

    #[test]
    fn headers_and_keys_have_their_lines() {
        let text = "# c\n[store]\npath = \"x\"\n\n[[sources]]\nid = \"a\"\n\n[[sources]] # two\n  \"id\" = \"b\"\nfields.time = \"t\"\n[sources.extra]\nk = 1\n";
        let l = lines(text);
        assert_eq!(l.store.header, Some(2));
        assert_eq!(l.store.line_of(Some("path")), Some(3));
        assert_eq!(l.engine.header, None);
        assert_eq!(l.sources.len(), 2);
        assert_eq!(l.sources[0].header, Some(5));
        assert_eq!(l.sources[0].line_of(Some("id")), Some(6));
        assert_eq!(l.sources[0].line_of(Some("missing")), Some(5));
        assert_eq!(l.sources[1].header, Some(8));
        assert_eq!(l.sources[1].line_of(Some("id")), Some(9));
        assert_eq!(l.sources[1].line_of(Some("fields.time")), Some(10));
        assert_eq!(l.sources[1].line_of(Some("extra")), Some(11));
    }

    #[test]
    fn dotted_sections_are_found_by_their_key() {
        let l = lines("title = 1\nengine.concurrency = 0\n");
        assert_eq!(l.engine.header, Some(2));
        assert_eq!(l.engine.line_of(Some("concurrency")), Some(2));
    }

    #[test]
    fn offsets_map_to_lines() {
        let index = LineIndex::new("a\nbc\n\nd");
        let got: Vec<usize> = (0..7).map(|o| index.line(o)).collect();
        assert_eq!(got, [1, 1, 2, 2, 2, 3, 4]);
    }
}
