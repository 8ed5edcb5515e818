//! The README's key table of each source is made from the source's config declaration: a test
//! checks that the README holds exactly that table (`ATHENA_BLESS=1` rewrites it), so the docs
//! cannot drift from the keys the code reads.

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

/// Where `source_type`'s key table is in `readme`: the first table after its heading.
fn table_span(readme: &str, source_type: &str) -> Option<std::ops::Range<usize>> {
    let heading = format!("### `type = \"{source_type}\"`");
    let section = readme.find(&heading)?;
    let start = section + readme[section..].find(HEADER)?;
    let len = readme[start..]
        .find("\n\n")
        .map_or(readme.len() - start, |n| n + 1);
    Some(start..start + len)
}

#[test]
fn the_readme_key_tables_are_the_declared_keys() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");
    let mut readme = std::fs::read_to_string(path).expect("README.md");
    let bless = std::env::var_os("ATHENA_BLESS").is_some();
    let mut stale = Vec::new();
    for t in crate::registry().list() {
        let want = table(&t.keys);
        let span = table_span(&readme, t.name)
            .unwrap_or_else(|| panic!("README has no key table under ### `type = \"{}\"`", t.name));
        if readme[span.clone()] != want {
            stale.push(format!("{}:\n{want}", t.name));
            readme.replace_range(span, &want);
        }
    }
    if bless {
        std::fs::write(path, &readme).expect("README.md written");
    } else {
        assert!(
            stale.is_empty(),
            "README key tables differ from the declarations (ATHENA_BLESS=1 cargo test rewrites them); they should be:\n\n{}",
            stale.join("\n")
        );
    }
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
