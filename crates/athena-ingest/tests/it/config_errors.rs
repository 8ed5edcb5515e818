//! Config mistakes found by the hardening pass: each exits 2 naming the file, the line and the
//! key, and leaves the store as it was (not even created).

use crate::support::*;

#[track_caller]
fn assert_config_error(env: &TestEnv, run: &Run, expected: &str) {
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(run.stderr().contains(expected), "{}", run.describe());
    assert!(
        !env.db().exists(),
        "a config error must not create the store"
    );
}

#[test]
fn sync_with_no_sources_exits_2_naming_the_file_and_creates_no_store() {
    let env = TestEnv::new();
    env.write_config("# nothing yet\n[store]\npath = \"athena.db\"\n");
    let run = env.run(&["sync"]);
    assert_config_error(&env, &run, "athena.toml: no sources configured");
}

#[test]
fn validate_with_no_sources_exits_2_naming_the_file() {
    let env = TestEnv::new();
    env.write_config("");
    let run = env.run(&["validate"]);
    assert_config_error(&env, &run, "athena.toml: no sources configured");
}

#[test]
fn negative_concurrency_exits_2_naming_engine_concurrency_and_its_line() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    env.write_config(&format!(
        "[engine]\nconcurrency = -1\n\n{}",
        git_config("r", &repo, "")
    ));
    let run = env.run(&["sync"]);
    assert_config_error(&env, &run, "athena.toml:2: key `engine.concurrency`: ");
}

#[test]
fn an_unclosed_env_reference_exits_2_naming_the_key_and_creates_no_store() {
    let env = TestEnv::new();
    env.write_config("[[sources]]\nid = \"r\"\ntype = \"git\"\npath = \"${HOME/src\"\n");
    let run = env.run(&["sync"]);
    assert_config_error(
        &env,
        &run,
        "athena.toml:4: source r: key `path`: `${HOME/src` has no closing `}`",
    );
}

#[test]
fn an_empty_env_reference_exits_2_naming_the_key() {
    let env = TestEnv::new();
    env.write_config("[[sources]]\nid = \"r\"\ntype = \"git\"\npath = \"repo${}\"\n");
    let run = env.run(&["sync"]);
    assert_config_error(
        &env,
        &run,
        "athena.toml:4: source r: key `path`: `${}` names no variable",
    );
}

#[test]
fn an_env_var_in_the_source_id_names_the_stored_source() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    commit_files(&repo, "one", &[("a.txt", b"a\n")]);
    env.write_config(&git_config("${REPO_ID}", &repo, ""));
    let run = Run(env
        .cmd(&["sync"])
        .env("REPO_ID", "from-env")
        .output()
        .unwrap());
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(env.ids("from-env").len(), 1);
    assert!(env.ids("${REPO_ID}").is_empty());
}

#[test]
fn every_config_error_in_a_file_is_reported_at_once() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    // Two sources with typos (one with two), far apart in the file.
    env.write_config(&format!(
        "{}brnaches = [\"main\"]\ncolour = \"red\"\n\n{}include_dif = true\n",
        git_config("a", &repo, ""),
        git_config("b", &repo, "")
    ));
    let text = std::fs::read_to_string(env.path("athena.toml")).unwrap();
    let line_of = |key: &str| 1 + text.lines().position(|l| l.starts_with(key)).unwrap();
    for command in ["sync", "validate"] {
        let run = env.run(&[command]);
        assert_config_error(&env, &run, "unknown field");
        let stderr = run.stderr();
        for (source, key) in [("a", "brnaches"), ("a", "colour"), ("b", "include_dif")] {
            let expected = format!(
                "error: athena.toml:{}: source {source}: key `{key}`: unknown field `{key}`",
                line_of(key)
            );
            assert!(
                stderr.contains(&expected),
                "{command}: {expected}\n{stderr}"
            );
        }
        assert_eq!(stderr.matches("error:").count(), 3, "{stderr}");
    }

    // Mistakes in the settings and in a source table's own keys are reported together too.
    env.write_config(&format!(
        "[engine]\nconcurrency = 0\n\n{}\n[[sources]]\nid = \"c\"\n",
        git_config("a", &repo, "")
    ));
    let run = env.run(&["sync"]);
    assert_config_error(&env, &run, "athena.toml:2: key `engine.concurrency`: ");
    assert!(
        run.stderr()
            .contains("source c: key `type`: missing required key"),
        "{}",
        run.describe()
    );
    assert_eq!(
        run.stderr().matches("error:").count(),
        2,
        "{}",
        run.describe()
    );
}
