//! The promises of the README and `docs/` that a test can hold them to.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn repo_file(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn the_custom_source_example_in_the_docs_is_the_one_ci_builds() {
    let page = repo_file("docs/development.md");
    let example = repo_file("crates/athena-ingest/examples/custom_source.rs");
    assert!(
        page.contains(&format!("```rust\n{example}```")),
        "docs/development.md's example differs from crates/athena-ingest/examples/custom_source.rs"
    );
}

#[test]
fn the_quickstart_config_ingests_this_repository() {
    let root = root();
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

/// `README.md` and every page under `docs/`, relative to the repository root.
fn doc_pages() -> Vec<String> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{rel}: {e}"));
        for entry in entries {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{rel}/{name}");
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &rel, out);
            } else if name.ends_with(".md") {
                out.push(rel);
            }
        }
    }
    let mut pages = vec!["README.md".to_string()];
    walk(&root().join("docs"), "docs", &mut pages);
    pages.sort();
    pages
}

/// The lines of a markdown page outside fenced code blocks.
fn prose_lines(page: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut fenced = false;
    page.lines().enumerate().filter(move |(_, line)| {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            return false;
        }
        !fenced
    })
}

/// The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces as `-`,
/// and `-1`, `-2` … after a repeated one.
fn anchors(page: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, line) in prose_lines(page) {
        let Some(text) = line.strip_prefix('#') else {
            continue;
        };
        let text = text.trim_start_matches('#');
        if !text.starts_with(' ') {
            continue;
        }
        let slug: String = text
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let repeats = out
            .iter()
            .filter(|a| {
                **a == slug
                    || a.strip_prefix(&format!("{slug}-"))
                        .is_some_and(|n| n.parse::<u32>().is_ok())
            })
            .count();
        out.push(if repeats == 0 {
            slug
        } else {
            format!("{slug}-{repeats}")
        });
    }
    out
}

/// The targets of the inline links `[text](target)` on a line.
fn link_targets(line: &str) -> Vec<&str> {
    line.match_indices("](")
        .filter_map(|(at, _)| {
            let rest = &line[at + 2..];
            rest.find(')').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn the_docs_links_point_at_files_and_headings_that_exist() {
    let root = root();
    let mut broken = Vec::new();
    for page in doc_pages() {
        let text = repo_file(&page);
        let dir = Path::new(&page).parent().unwrap_or(Path::new(""));
        for (n, line) in prose_lines(&text) {
            for target in link_targets(line) {
                if target.contains("://") || target.starts_with("mailto:") {
                    continue;
                }
                let (file, anchor) = match target.split_once('#') {
                    Some((file, anchor)) => (file, Some(anchor)),
                    None => (target, None),
                };
                let linked = if file.is_empty() {
                    Path::new(&page).to_path_buf()
                } else {
                    dir.join(file)
                };
                let at = format!("{page}:{}: `{target}`", n + 1);
                let Ok(linked_text) = std::fs::read_to_string(root.join(&linked)) else {
                    if !root.join(&linked).is_dir() {
                        broken.push(format!("{at}: no file {}", linked.display()));
                    }
                    continue;
                };
                if let Some(anchor) = anchor {
                    if !anchors(&linked_text).iter().any(|a| a == anchor) {
                        broken.push(format!(
                            "{at}: {} has no heading with the anchor #{anchor}",
                            linked.display()
                        ));
                    }
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "broken links in the docs:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_docs_page_is_linked_from_the_docs_index() {
    let index = repo_file("docs/README.md");
    let targets: Vec<&str> = index.lines().flat_map(link_targets).collect();
    for page in doc_pages() {
        let Some(rel) = page.strip_prefix("docs/") else {
            continue;
        };
        if rel == "README.md" {
            continue;
        }
        assert!(
            targets.iter().any(|t| t.split('#').next() == Some(rel)),
            "docs/README.md does not link to {page}"
        );
    }
}

#[test]
fn anchors_are_made_as_github_makes_them() {
    let page = "# Title\n\n## Over stdio: `athena-ingest mcp`\n\n```sh\n# not a heading\n```\n\n\
                ## Athena's event shape\n\n### Keys\n\n### Keys\n\n#not-a-heading\n";
    assert_eq!(
        anchors(page),
        [
            "title",
            "over-stdio-athena-ingest-mcp",
            "athenas-event-shape",
            "keys",
            "keys-1"
        ]
    );
}
