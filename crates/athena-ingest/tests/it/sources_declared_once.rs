//! A source type is declared once, in its own module of athena-sources: the engine (core), the
//! front ends (athena-server) and the CLI name none, so a new type is its folder plus one line
//! in `builtin_sources!`. A `"git"` in their code would be a per-type branch that a new type
//! silently misses.

use std::path::{Path, PathBuf};

/// The `.rs` files under `dir`, test files and directories left out.
fn code_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            if name != "tests" {
                code_files(&path, out);
            }
        } else if name.ends_with(".rs") && name != "tests.rs" && !name.ends_with("_tests.rs") {
            out.push(path);
        }
    }
}

/// The lines of `text` that are code: comments dropped, and nothing from a `#[cfg(test)]` on.
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, l)| l.trim() != "#[cfg(test)]")
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
}

#[test]
fn core_the_front_ends_and_the_cli_name_no_source_type() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let names: Vec<String> = athena_sources::registry()
        .list()
        .map(|t| format!("\"{}\"", t.name))
        .collect();
    assert!(names.len() >= 10, "{names:?}");
    let mut files = Vec::new();
    for krate in ["athena-core", "athena-server", "athena-ingest"] {
        code_files(&root.join("crates").join(krate).join("src"), &mut files);
    }
    assert!(files.len() > 30, "found only {files:?}");
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in code_lines(&text) {
            if let Some(name) = names.iter().find(|name| line.contains(name.as_str())) {
                let shown = file.strip_prefix(&root).unwrap_or(file).display();
                found.push(format!("{shown}:{}: {name}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "source types named outside athena-sources (declare it on the type's SourceType \
         instead):\n{}",
        found.join("\n")
    );
}

#[test]
fn every_builtin_type_declares_its_schedule_and_starter_table() {
    let registry = athena_sources::registry();
    for t in registry.list() {
        assert!(
            t.starter.contains(&format!("type = \"{}\"", t.name)),
            "{}: its starter table does not name its type:\n{}",
            t.name,
            t.starter
        );
        // Uncommented, the starter table is TOML whose keys the type declares.
        let uncommented: String = t
            .starter
            .lines()
            .map(|l| l.strip_prefix("# ").unwrap_or(l))
            .filter(|l| l.starts_with("[[") || l.contains(" = "))
            .map(|l| format!("{l}\n"))
            .collect();
        let table: toml::Table = toml::from_str(&uncommented)
            .unwrap_or_else(|e| panic!("{}: starter table: {e}\n{uncommented}", t.name));
        let source = &table["sources"].as_array().unwrap()[0];
        for key in source.as_table().unwrap().keys() {
            assert!(
                ["id", "type"].contains(&key.as_str()) || t.keys.iter().any(|k| k.name == key),
                "{}: starter key {key} is not one of its keys",
                t.name
            );
        }
    }
    let schedule = |name: &str| registry.get(name).unwrap().schedule.clone();
    let every = |text: &str| athena_core::Schedule::parse(text).unwrap();
    assert_eq!(schedule("git"), every("1m"));
    assert_eq!(schedule("files"), athena_core::Schedule::Live);
    assert_eq!(schedule("api_log"), athena_core::Schedule::Live);
    for api in [
        "github",
        "slack",
        "jira",
        "circleci",
        "linear",
        "gmail",
        "google_calendar",
    ] {
        assert_eq!(schedule(api), every("5m"), "{api}");
    }
}
