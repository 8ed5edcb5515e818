//! The README's promises that a test can hold it to.

use std::path::Path;

fn repo_file(rel: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn the_custom_source_example_in_the_readme_is_the_one_ci_builds() {
    let readme = repo_file("README.md");
    let example = repo_file("crates/athena-ingest/examples/custom_source.rs");
    assert!(
        readme.contains(&format!("```rust\n{example}```")),
        "README's example differs from crates/athena-ingest/examples/custom_source.rs"
    );
}

#[test]
fn the_quickstart_config_ingests_this_repository() {
    let config = athena_core::Config::parse(
        &repo_file("examples/quickstart.toml"),
        Some(Path::new("examples/quickstart.toml")),
    )
    .unwrap();
    assert_eq!(
        config.store_path, None,
        "the quick start stores into ./athena.db"
    );
    let source = &config.sources[0];
    assert_eq!(source.source_type, "git");
    let path = source.resolve_path(Path::new(source.table()["path"].as_str().unwrap()));
    assert_eq!(path, Path::new("examples/.."));
}
