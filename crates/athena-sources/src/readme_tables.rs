//! Each source's key table in its docs page, `docs/sources/<type>.md`, is made from the
//! source's config declaration: a test checks that the page holds exactly that table
//! (`ATHENA_BLESS=1` rewrites it), so the docs cannot drift from the keys the code reads.

use std::path::{Path, PathBuf};

use athena_core::config::BATCH_SIZE_RANGE;
use athena_core::ConfigKey;

const HEADER: &str = "| key | default | meaning |\n| --- | --- | --- |\n";

/// The markdown table of `keys`.
fn table(keys: &[ConfigKey]) -> String {
    let mut out = HEADER.to_string();
    for k in keys {
        let default = match (&k.default, k.required) {
            (_, true) => "(required)".to_string(),
            (None, false) => "none".to_string(),
            // A value is shown as code; a description (`number of cores`) as text.
            (Some(d), false) if is_toml_value(d) => format!("`{d}`"),
            (Some(d), false) => d.clone(),
        };
        let mut meaning = k.doc.replace('|', "\\|");
        if let Some(range) = k.range {
            meaning.push_str(&format!(" Range: {range}."));
        }
        out.push_str(&format!("| `{}` | {default} | {meaning} |\n", k.name));
    }
    out
}

fn is_toml_value(text: &str) -> bool {
    toml::from_str::<toml::Table>(&format!("v = {text}")).is_ok()
}

/// Where the key table is in a source's page: the first table with the key table's header.
fn table_span(page: &str) -> Option<std::ops::Range<usize>> {
    let start = page.find(HEADER)?;
    let len = page[start..]
        .find("\n\n")
        .map_or(page.len() - start, |n| n + 1);
    Some(start..start + len)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The page of `source_type`, relative to the repository root (as messages name it).
fn page_of(source_type: &str) -> String {
    format!("docs/sources/{source_type}.md")
}

/// What is wrong with the key table of `page` (named `name`) for `keys`, and the page as it
/// should be; `Ok(None)` when the table is right.
fn check_page(name: &str, page: &str, keys: &[ConfigKey]) -> Result<Option<String>, String> {
    let span = table_span(page).ok_or_else(|| {
        format!("{name} has no key table (a table with the header `| key | default | meaning |`)")
    })?;
    let want = table(keys);
    if page[span.clone()] == want {
        return Ok(None);
    }
    let mut fixed = page.to_string();
    fixed.replace_range(span, &want);
    Ok(Some(fixed))
}

#[test]
fn the_docs_key_tables_are_the_declared_keys() {
    let root = repo_root();
    let bless = std::env::var_os("ATHENA_BLESS").is_some();
    let mut problems = Vec::new();
    for t in crate::registry().list() {
        let name = page_of(t.name);
        let path = root.join(&name);
        let page = match std::fs::read_to_string(&path) {
            Ok(page) => page,
            Err(e) => {
                problems.push(format!(
                    "{name}: {e} (every built-in source type has a page there)"
                ));
                continue;
            }
        };
        match check_page(&name, &page, &t.keys) {
            Ok(None) => {}
            Ok(Some(fixed)) if bless => {
                std::fs::write(&path, fixed).unwrap_or_else(|e| panic!("writing {name}: {e}"))
            }
            Ok(Some(_)) => problems.push(format!(
                "{name}: the key table differs from {}'s declared keys; it should be:\n{}",
                t.name,
                table(&t.keys)
            )),
            Err(e) => problems.push(e),
        }
    }
    assert!(
        problems.is_empty(),
        "source pages out of step with the code (`ATHENA_BLESS=1 cargo test -p athena-sources readme` rewrites the tables):\n\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_source_page_is_a_registered_type() {
    let dir = repo_root().join("docs/sources");
    let registry = crate::registry();
    let known: Vec<_> = registry.list().map(|t| t.name).collect();
    for entry in std::fs::read_dir(&dir).expect("docs/sources") {
        let path = entry.expect("docs/sources entry").path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|e| e == "md") {
            assert!(
                known.contains(&stem),
                "docs/sources/{stem}.md names no registered source type (known: {known:?})"
            );
        }
    }
}

#[test]
fn a_changed_key_table_is_found_and_rewritten() {
    let keys = crate::registry()
        .list()
        .find(|t| t.name == "git")
        .expect("git is built in")
        .keys
        .clone();
    let good = format!("# git\n\nIntro.\n\n## Keys\n\n{}\nAfter.\n", table(&keys));
    assert_eq!(check_page("docs/sources/git.md", &good, &keys), Ok(None));

    let stale = good.replacen("`1000`", "`999`", 1);
    assert_ne!(stale, good, "the batch_size default is in the table");
    assert_eq!(
        check_page("docs/sources/git.md", &stale, &keys),
        Ok(Some(good.clone()))
    );

    let err = check_page("docs/sources/git.md", "# git\n\nNo table.\n", &keys).unwrap_err();
    assert!(
        err.starts_with("docs/sources/git.md has no key table"),
        "{err}"
    );
}

#[test]
fn every_key_has_a_doc_and_batch_size_one_range() {
    for t in crate::registry().list() {
        for k in &t.keys {
            assert!(
                !k.doc.is_empty(),
                "{}.{} has no doc comment",
                t.name,
                k.name
            );
            if k.name == "batch_size" {
                assert_eq!(k.range, Some(BATCH_SIZE_RANGE), "{}.batch_size", t.name);
            }
        }
        assert!(
            t.keys.iter().any(|k| k.name == "batch_size"),
            "{} has no batch_size",
            t.name
        );
    }
}
