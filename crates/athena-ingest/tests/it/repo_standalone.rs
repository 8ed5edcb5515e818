//! The repository stands alone: a fresh clone has nothing beside it, so no test, benchmark or CI
//! step may read a path outside it (once, 19 tests and two benchmarks read an Apache log from
//! the `shared` directory beside the developers' clones, and a user's clone failed them).

use std::path::{Path, PathBuf};

/// Text files under `dir` that tests, benchmarks and CI read or run, skipping build output.
fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "target" && name != "fixtures" && name != "testdata" {
                sources(&path, out);
            }
        } else if ["rs", "sh", "py", "toml", "lua"]
            .iter()
            .any(|ext| path.extension().is_some_and(|e| e == *ext))
            || name == "run"
        {
            out.push(path);
        }
    }
}

#[test]
fn no_test_benchmark_or_ci_step_reads_a_path_outside_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    for dir in ["crates", "scripts", ".ci", "examples"] {
        sources(&root.join(dir), &mut files);
    }
    assert!(files.len() > 50, "found only {files:?}");
    // From a crate's directory, three `..` leave the repository; `shared/` is the directory
    // beside the clone that only the developers' machines have. (Spelled in pieces so that a
    // grep of the repository for them finds nothing, this file included.)
    let outside = [
        concat!("../", "../../"),
        concat!("../", "shared"),
        concat!("shared/", "data"),
    ];
    let mut found = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if outside.iter().any(|p| line.contains(p)) {
                let shown = file.strip_prefix(&root).unwrap_or(file).display();
                found.push(format!("{shown}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "paths outside the repository:\n{}",
        found.join("\n")
    );
}
