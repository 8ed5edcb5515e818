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
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let env = crate::support::TestEnv::new();
    let config = root.join("examples/quickstart.toml");
    let db = env.db();
    let run = env.run(&[
        "sync",
        "--config",
        config.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--format",
        "json",
    ]);
    let run = run.ok();
    let json: serde_json::Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(json["sources"][0]["id"], "athena-ingest");
    assert_eq!(json["sources"][0]["status"], "ok");
    let count = crate::support::git(&root, &["rev-list", "--count", "HEAD"]);
    assert_eq!(
        json["sources"][0]["events_written"].as_u64().unwrap(),
        count.trim().parse::<u64>().unwrap()
    );
}
