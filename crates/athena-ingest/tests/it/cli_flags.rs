//! One set of flags: `--format json` wherever a command prints JSON, `-c` wherever a config is
//! read, `sources TYPE`, and the shell completions and man page made from the same definitions.

use serde_json::Value;

use crate::support::*;

/// A store synced from a one-commit repository, through a config named `other.toml` whose
/// store is `other.db` (so only a command that read the config finds it).
fn synced_through_other_config() -> TestEnv {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    commit_files(&repo, "Add the parser", &[("a.txt", b"a\n")]);
    let text = format!(
        "[store]\npath = \"other.db\"\n\n{}",
        git_config("repo", &repo, "")
    );
    std::fs::write(env.path("other.toml"), text).unwrap();
    env.run(&["sync", "-c", "other.toml"]).ok();
    assert!(env.path("other.db").exists());
    env
}

/// The subcommands `athena-ingest --help` lists.
fn subcommands(env: &TestEnv) -> Vec<String> {
    let help = env.run(&["--help"]).ok().stdout();
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn events_accepts_format_json() {
    let env = synced_through_other_config();
    let json = env
        .run(&["events", "-c", "other.toml", "--format", "json"])
        .ok();
    let jsonl = env
        .run(&["events", "-c", "other.toml", "--format", "jsonl"])
        .ok();
    assert_eq!(json.stdout(), jsonl.stdout(), "json is jsonl");
    let events: Vec<Value> = json
        .stdout()
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event a line"))
        .collect();
    assert_eq!(events.len(), 1, "{}", json.stdout());
    assert_eq!(events[0]["title"], "Add the parser");
    assert_eq!(events[0]["source_id"], "repo");
    // The other command that prints JSON lines takes it too.
    let letters = env.run(&["dead-letters", "-c", "other.toml", "--format", "json"]);
    assert_eq!(letters.code(), 0, "{}", letters.describe());
}

#[test]
fn every_config_command_takes_dash_c() {
    let env = synced_through_other_config();
    // Every command whose help offers --config offers -c with it.
    let commands = subcommands(&env);
    assert!(commands.len() >= 10, "{commands:?}");
    let mut with_config = Vec::new();
    for command in &commands {
        let help = env.run(&[command, "--help"]).ok().stdout();
        if help.contains("--config") {
            assert!(help.contains("-c, --config"), "{command} --help:\n{help}");
            with_config.push(command.as_str());
        }
    }
    for expected in [
        "init",
        "sync",
        "events",
        "status",
        "validate",
        "dead-letters",
        "serve",
        "mcp",
        "reset",
    ] {
        assert!(
            with_config.contains(&expected),
            "{expected}: {with_config:?}"
        );
    }
    // And -c is read: each finds other.db through other.toml.
    let events = env.run(&["events", "-c", "other.toml"]).ok();
    assert!(
        events.stdout().contains("Add the parser"),
        "{}",
        events.describe()
    );
    let status = env
        .run(&["status", "-c", "other.toml", "--format", "json"])
        .ok();
    let status: Value = serde_json::from_str(&status.stdout()).unwrap();
    assert_eq!(status["sources"][0]["id"], "repo", "{status}");
    let valid = env.run(&["validate", "-c", "other.toml"]).ok();
    assert!(
        valid.stdout().contains("ok      repo"),
        "{}",
        valid.describe()
    );
    let reset = env
        .run(&["reset", "-c", "other.toml", "--source", "repo"])
        .ok();
    assert!(
        reset.stdout().contains("reset repo"),
        "{}",
        reset.describe()
    );
    env.run(&["init", "-c", "new.toml"]).ok();
    assert!(env.path("new.toml").exists());
    assert!(!env.db().exists(), "nothing read ./athena.db");
}

#[test]
fn sources_shows_one_type() {
    let env = TestEnv::new();
    let text = env.run(&["sources", "git"]).ok().stdout();
    assert!(text.starts_with("git — "), "{text}");
    assert!(text.contains("schedule under serve: 1m"), "{text}");
    assert!(text.contains("docs: docs/sources/git.md"), "{text}");
    assert!(text.contains("  branches ("), "{text}");
    assert!(!text.contains("github"), "only the one type:\n{text}");

    let json = env
        .run(&["sources", "git", "--format", "json"])
        .ok()
        .stdout();
    let json: Value = serde_json::from_str(&json).unwrap();
    let types = json["types"].as_array().unwrap();
    assert_eq!(types.len(), 1, "{json}");
    assert_eq!(types[0]["type"], "git");
    assert_eq!(types[0]["schedule"], "1m");
    assert_eq!(types[0]["docs"], "docs/sources/git.md");
}

#[test]
fn sources_refuses_an_unknown_type_naming_the_known_ones() {
    let env = TestEnv::new();
    let run = env.run(&["sources", "gti"]);
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(
        run.stderr().contains("unknown source type \"gti\""),
        "{}",
        run.describe()
    );
    assert!(run.stderr().contains("git, github"), "{}", run.describe());
    assert!(run.stdout().is_empty(), "{}", run.describe());
}

#[test]
fn every_source_type_names_a_docs_page_that_exists() {
    let env = TestEnv::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let json = env.run(&["sources", "--format", "json"]).ok().stdout();
    let json: Value = serde_json::from_str(&json).unwrap();
    let types = json["types"].as_array().unwrap();
    assert!(types.len() >= 10, "{json}");
    for t in types {
        let page = t["docs"].as_str().unwrap();
        assert!(root.join(page).is_file(), "{}: no page {page}", t["type"]);
    }
}

#[test]
fn completions_are_generated_for_bash_zsh_fish() {
    let env = TestEnv::new();
    let bash = env.run(&["completions", "bash"]).ok().stdout();
    let script = env.path("athena-ingest.bash");
    std::fs::write(&script, &bash).unwrap();
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("running bash -n");
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    for command in subcommands(&env) {
        assert!(bash.contains(&command), "bash completion lacks {command}");
    }
    assert!(bash.contains("--format"), "flags are completed too");
    let zsh = env.run(&["completions", "zsh"]).ok().stdout();
    assert!(zsh.starts_with("#compdef athena-ingest"), "{zsh}");
    assert!(zsh.contains("dead-letters"), "{zsh}");
    let fish = env.run(&["completions", "fish"]).ok().stdout();
    assert!(fish.contains("complete -c athena-ingest"), "{fish}");
    assert!(fish.contains("dead-letters"), "{fish}");
    let unknown = env.run(&["completions", "tcsh"]);
    assert_eq!(unknown.code(), 2, "{}", unknown.describe());
}

#[test]
fn man_page_is_generated() {
    let env = TestEnv::new();
    let page = env.run(&["man"]).ok().stdout();
    assert!(page.contains(".TH athena-ingest 1"), "{page}");
    assert!(page.contains(".SH NAME"), "{page}");
    for command in subcommands(&env) {
        // roff writes a hyphen as `\-`.
        let roff = command.replace('-', "\\-");
        assert!(page.contains(&roff), "the page lacks {command}");
    }
    let sync = env.run(&["man", "sync"]).ok().stdout();
    assert!(sync.contains(".TH athena-ingest-sync 1"), "{sync}");
    assert!(sync.contains("full"), "sync's own flags:\n{sync}");
    let unknown = env.run(&["man", "synk"]);
    assert_eq!(unknown.code(), 2, "{}", unknown.describe());
    assert!(
        unknown.stderr().contains("commands: "),
        "{}",
        unknown.describe()
    );
}

#[test]
fn serve_help_names_the_web_page_and_mcp() {
    let env = TestEnv::new();
    let help = env.run(&["serve", "--help"]).ok().stdout();
    assert!(help.contains("web timeline is at /"), "{help}");
    assert!(help.contains("/mcp"), "{help}");
}
