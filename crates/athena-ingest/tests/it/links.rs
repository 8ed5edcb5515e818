//! References across sources, end to end: a git commit naming a Jira issue and a pull request,
//! the Jira issue and its comment (the Jira fake), the pull request and a workflow run of the
//! commit (the GitHub fake), a Slack message with the pull request's URL (the Slack fake);
//! `related` and `GET /v1/events/{source}/{id}/related` find each from the others.

use std::collections::{BTreeMap, BTreeSet};

use athena_sources::github::fake::{pull, run, FakeGitHub};
use athena_sources::jira::fake::{adf, FakeJira, EMAIL};
use athena_sources::slack::fake::{msg, FakeSlack};
use serde_json::{json, Value};

use crate::serve_support::Server;
use crate::support::*;

/// (source, id) of each related event `related SOURCE ID --format json` prints.
fn related(env: &TestEnv, source: &str, id: &str) -> BTreeSet<(String, String)> {
    // --db: the config names tokens this process does not have.
    let run = env
        .run(&[
            "related",
            source,
            id,
            "--format",
            "json",
            "--db",
            "athena.db",
        ])
        .ok();
    let found: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    ids(&found)
}

fn ids(found: &Value) -> BTreeSet<(String, String)> {
    found["related"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let e = &r["event"];
            (
                e["source_id"].as_str().unwrap().to_string(),
                e["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pair(source: &str, id: &str) -> (String, String) {
    (source.to_string(), id.to_string())
}

#[test]
fn a_commit_an_issue_a_pull_request_a_run_and_a_slack_message_find_each_other() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    let sha = commit_files(
        &repo,
        "Fix OPS-1: crash on save (o/r#301)",
        &[("src/save.rs", b"fn save() {}\n")],
    );

    let jira = FakeJira::new();
    jira.issue("OPS", 1, 1, "crash on save");
    jira.comment(1, 2, "Ann", adf("looking at it"));
    let jira_server = jira.start();
    let github = FakeGitHub::new();
    github.set("pulls", vec![pull(301, 3)]);
    let mut build = run(1);
    build["head_sha"] = json!(sha);
    github.set("runs", vec![build]);
    for list in ["issues", "commits", "comments", "releases"] {
        github.set(list, Vec::new());
    }
    let github_server = github.start();
    let slack = FakeSlack::new();
    slack.channel("C1", "dev", None);
    slack.post(
        "C1",
        msg(4, "U1", "review please <https://github.com/o/r/pull/301>"),
    );
    let slack_server = slack.start();

    env.write_config(&format!(
        r#"[links]
jira_hosts = ["127.0.0.1"]

{}
[[sources]]
id = "jr"
type = "jira"
base_url = "{}"
email = "{EMAIL}"
token = "${{JIRA_TEST_TOKEN}}"

[[sources]]
id = "gh"
type = "github"
api_url = "{}"
owner = "o"
repo = "r"
token = "${{GH_TEST_TOKEN}}"

[[sources]]
id = "sl"
type = "slack"
api_url = "{}/api"
token = "${{SLACK_TEST_TOKEN}}"
"#,
        git_config("repo", &repo, ""),
        jira_server.url(),
        github_server.url(),
        slack_server.url(),
    ));
    let (run, json) = env.sync_json_with(
        &[],
        &[
            ("JIRA_TEST_TOKEN", athena_sources::jira::fake::TOKEN),
            ("GH_TEST_TOKEN", athena_sources::github::fake::TOKEN),
            ("SLACK_TEST_TOKEN", athena_sources::slack::fake::TOKEN),
        ],
    );
    assert_eq!(run.code(), 0, "{}\n{json}", run.describe());

    let issue = pair("jr", "issue:10001:created");
    let comment = env
        .kinds_and_ids("jr")
        .into_iter()
        .find(|(k, _)| k == "issue_comment")
        .map(|(_, id)| pair("jr", &id))
        .expect("the comment is stored");
    let pulls: Vec<(String, String)> = env
        .kinds_and_ids("gh")
        .into_iter()
        .filter(|(k, _)| k.starts_with("pull_request"))
        .map(|(_, id)| pair("gh", &id))
        .collect();
    assert!(!pulls.is_empty());
    let workflow = env
        .kinds_and_ids("gh")
        .into_iter()
        .find(|(k, _)| k == "workflow_run_completed")
        .map(|(_, id)| pair("gh", &id))
        .expect("the run is stored");
    let message = pair("sl", &env.ids("sl")[0]);
    let commit = pair("repo", &sha);

    // The issue: its comment (about it too) and the commit naming it.
    let found = related(&env, &issue.0, &issue.1);
    assert!(
        found.contains(&comment) && found.contains(&commit),
        "{found:?}"
    );
    assert!(!found.contains(&message), "{found:?}");
    // The pull request: the Slack message with its URL, the commit naming o/r#301, and the
    // pull request's other events.
    let found = related(&env, &pulls[0].0, &pulls[0].1);
    assert!(
        found.contains(&message) && found.contains(&commit),
        "{found:?}"
    );
    // The commit: the issue, its comment, the pull request, and the run of the commit.
    let found = related(&env, &commit.0, &commit.1);
    for want in [&issue, &comment, &pulls[0], &workflow] {
        assert!(found.contains(want), "{want:?} not in {found:?}");
    }
    // An unknown event is exit 2, naming it.
    let run = env.run(&["related", "jr", "nope", "--db", "athena.db"]);
    assert_eq!(run.code(), 2, "{}", run.describe());
    assert!(run.stderr().contains("\"nope\""), "{}", run.describe());

    // Over HTTP, the same.
    let server = Server::start_with(&env, &["--db", "athena.db", "-c", "none.toml"]);
    let path = format!("/v1/events/jr/{}/related", issue.1);
    let answer = server.must_get(&path);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let found: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(found["event"]["id"], issue.1);
    assert!(ids(&found).contains(&commit), "{found}");
    let via = &found["related"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["event"]["id"] == sha.as_str())
        .unwrap()["via"];
    assert_eq!(via, &json!([{"thing": "key:OPS-1", "role": "mentions"}]));
    assert_eq!(server.must_get("/v1/events/jr/nope/related").status, 404);
    assert_eq!(server.must_get(&format!("{path}?limit=0")).status, 400);

    // Athena's shape: linked events share their work item as `session_id`. The issue, its
    // comment, the commit naming it and the run of that commit are OPS-1's; the pull request
    // (naming no key) and the Slack message with its URL are o/r#301's.
    let run = env.run(&[
        "events",
        "--format",
        "athena",
        "--db",
        "athena.db",
        "--limit",
        "1000",
    ]);
    assert_eq!(run.code(), 0, "{}", run.describe());
    let sessions: BTreeMap<(String, String), String> = (run.stdout().lines())
        .map(|line| {
            let a: Value = serde_json::from_str(line).unwrap();
            let key = pair(
                a["context"]["source_id"].as_str().unwrap(),
                a["context"]["id"].as_str().unwrap(),
            );
            (key, a["session_id"].as_str().unwrap().to_string())
        })
        .collect();
    for event in [&issue, &comment, &commit, &workflow] {
        assert_eq!(sessions[event], "key:OPS-1", "{event:?}: {sessions:?}");
    }
    for event in [&pulls[0], &message] {
        assert_eq!(sessions[event], "gh:o/r#301", "{event:?}: {sessions:?}");
    }
    // The same over HTTP: a page, one event, and a related answer.
    let answer = server.must_get("/v1/events?format=athena&source=sl&limit=10");
    let page: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(page["events"][0]["session_id"], "gh:o/r#301", "{page}");
    let answer = server.must_get(&format!("{path}?format=athena"));
    let found: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(found["event"]["session_id"], "key:OPS-1", "{found}");
    assert!(
        (found["related"].as_array().unwrap().iter())
            .all(|r| r["event"]["session_id"] == "key:OPS-1"
                || r["event"]["session_id"] == "gh:o/r#301"),
        "{found}"
    );
}

#[test]
fn relink_finds_the_links_again_with_the_configs_project_keys() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    let first = commit_files(&repo, "Start OPS-1", &[("a", b"1\n")]);
    let second = commit_files(&repo, "Finish OPS-1", &[("a", b"2\n")]);
    env.write_config(&git_config("repo", &repo, ""));
    env.run(&["sync"]).ok();
    assert_eq!(
        related(&env, "repo", &first),
        [pair("repo", &second)].into()
    );
    // Only other project keys: the two commits share nothing once relinked.
    env.write_config(&format!(
        "[links]\nproject_keys = [\"ENG\"]\n\n{}",
        git_config("repo", &repo, "")
    ));
    let run = env.run(&["relink"]).ok();
    assert!(
        run.stdout().contains("linked the 2 events"),
        "{}",
        run.describe()
    );
    assert!(related(&env, "repo", &first).is_empty());
}

/// (source, id) of the events `events --person WHO` lists.
fn of_person(env: &TestEnv, who: &str) -> BTreeSet<(String, String)> {
    let run = env
        .run(&[
            "events",
            "--person",
            who,
            "--format",
            "jsonl",
            "--limit",
            "1000",
            "--db",
            "athena.db",
        ])
        .ok();
    run.stdout()
        .lines()
        .map(|l| {
            let e: Value = serde_json::from_str(l).unwrap();
            (
                e["source_id"].as_str().unwrap().to_string(),
                e["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn one_person_across_git_github_slack_jira_gmail_and_linear_joined_later_and_the_config_wins() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    // Both by Ada Lovelace <ada@example.com> (the test repository's author).
    let first = commit_files(&repo, "one", &[("a", b"1\n")]);
    let second = commit_files(&repo, "two", &[("a", b"2\n")]);
    let github = FakeGitHub::new();
    let mut issue = athena_sources::github::fake::issue(7, 1);
    issue["user"]["login"] = json!("Ada-L");
    github.set("issues", vec![issue]);
    for list in ["pulls", "commits", "comments", "releases", "runs"] {
        github.set(list, Vec::new());
    }
    let github_server = github.start();
    let slack = FakeSlack::new();
    slack.channel("C1", "dev", None);
    // Her Slack profile says lovelace@example.com: Slack vouches for it, so it joins.
    slack.user("U7", "Lovelace");
    slack.post("C1", msg(4, "U7", "hello"));
    let slack_server = slack.start();
    // Jira shows account ids, not emails, here: her account is hers by the config.
    let jira = FakeJira::new();
    jira.issue("OPS", 1, 1, "crash");
    jira.comment(1, 2, "Ada", adf("on it"));
    let jira_server = jira.start();
    // Mail from her home address, which the config names.
    let gmail = athena_sources::gmail::fake::FakeGmail::new();
    gmail.receive(1, 5, "Ada Lovelace <Ada@Home.org>", "lunch?", None);
    let gmail_server = gmail.start();
    // A Linear issue she created: Linear gives her user id and (verified) home address, which
    // joins her Linear handle to her by the data alone.
    let linear = athena_sources::linear::fake::FakeLinear::new();
    let mut created = athena_sources::linear::fake::issue(1, "ENG", 1);
    created["creator"] = json!({"id": "lin-ada", "email": "Ada@Home.org", "displayName": "ada"});
    linear.set_issues(vec![created]);
    let linear_server = linear.start();
    env.write_config(&format!(
        r#"[[people]]
name = "Ada"
emails = ["ada@home.org"]
handles = ["slack:U7", "github:ada-l", "jira:acc-ada"]

[[people]]
name = "Bob"
handles = ["github:bob-b"]

{}
[[sources]]
id = "gh"
type = "github"
api_url = "{}"
owner = "o"
repo = "r"
token = "${{GH_TEST_TOKEN}}"

[[sources]]
id = "sl"
type = "slack"
api_url = "{}/api"
token = "${{SLACK_TEST_TOKEN}}"

[[sources]]
id = "jr"
type = "jira"
base_url = "{}"
email = "{EMAIL}"
token = "${{JIRA_TEST_TOKEN}}"

[[sources]]
id = "gm"
type = "gmail"
api_url = "{gmail}/gmail/v1"
token_uri = "{gmail}/token"
client_id = "{client}"
client_secret = "${{GMAIL_TEST_SECRET}}"
refresh_token = "${{GMAIL_TEST_REFRESH}}"

[[sources]]
id = "ln"
type = "linear"
api_url = "{linear}/graphql"
token = "${{LINEAR_TEST_KEY}}"
"#,
        git_config("repo", &repo, ""),
        github_server.url(),
        slack_server.url(),
        jira_server.url(),
        gmail = gmail_server.url(),
        client = athena_sources::gmail::fake::CLIENT_ID,
        linear = linear_server.url(),
    ));
    let tokens = [
        ("GH_TEST_TOKEN", athena_sources::github::fake::TOKEN),
        ("SLACK_TEST_TOKEN", athena_sources::slack::fake::TOKEN),
        ("JIRA_TEST_TOKEN", athena_sources::jira::fake::TOKEN),
        (
            "GMAIL_TEST_SECRET",
            athena_sources::gmail::fake::CLIENT_SECRET,
        ),
        (
            "GMAIL_TEST_REFRESH",
            athena_sources::gmail::fake::REFRESH_TOKEN,
        ),
        ("LINEAR_TEST_KEY", athena_sources::linear::fake::TOKEN),
    ];
    let (run, json) = env.sync_json_with(&[], &tokens);
    assert_eq!(run.code(), 0, "{}\n{json}", run.describe());
    let issue_events: BTreeSet<_> = env
        .ids("gh")
        .into_iter()
        .map(|id| pair("gh", &id))
        .collect();
    let message = pair("sl", &env.ids("sl")[0]);
    let commits: BTreeSet<_> = [pair("repo", &first), pair("repo", &second)].into();
    let comment = env
        .kinds_and_ids("jr")
        .into_iter()
        .find(|(k, _)| k == "issue_comment")
        .map(|(_, id)| pair("jr", &id))
        .expect("the comment is stored");
    let mail = pair("gm", &env.ids("gm")[0]);
    let linear_issue = pair("ln", &env.ids("ln")[0]);
    // Ada's login, Slack id, Jira account and home address are hers by the config (the issue
    // was reported by Ann), her Linear user by its address; her commit email not yet.
    let mut ada: BTreeSet<_> = issue_events.clone();
    ada.extend([message.clone(), comment, mail, linear_issue]);
    assert_eq!(of_person(&env, "person:Ada"), ada);
    assert_eq!(of_person(&env, "ada@example.com"), commits);

    // A GitHub commit by ada-l with that email joins it to her, and her earlier commits
    // follow; one by bob-b with her configured home address would join Bob to her: refused,
    // the config wins.
    let mut by_ada = athena_sources::github::fake::commit(1);
    by_ada["author"]["login"] = json!("ada-l");
    by_ada["commit"]["author"]["email"] = json!("ada@example.com");
    let mut by_bob = athena_sources::github::fake::commit(2);
    by_bob["author"]["login"] = json!("bob-b");
    by_bob["commit"]["author"]["email"] = json!("Ada@Home.org");
    github.set("commits", vec![by_ada, by_bob]);
    let (run, json) = env.sync_json_with(&[], &tokens);
    assert_eq!(run.code(), 0, "{}\n{json}", run.describe());
    let ada_commit = pair("gh", &format!("{:040x}", 1));
    let bob_commit = pair("gh", &format!("{:040x}", 2));
    let mut ada_now = ada.clone();
    ada_now.extend(commits.iter().cloned());
    ada_now.insert(ada_commit.clone());
    assert_eq!(of_person(&env, "github:ada-l"), ada_now);
    assert_eq!(of_person(&env, "ADA@example.com"), ada_now);
    assert_eq!(of_person(&env, "person:Bob"), [bob_commit].into());

    let run = env
        .run(&["people", "--format", "json", "--db", "athena.db"])
        .ok();
    let people: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    let ada = people["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "person:Ada")
        .unwrap();
    assert_eq!(ada["name"], "Ada");
    assert_eq!(
        ada["handles"],
        json!([
            "email:ada@example.com",
            "email:ada@home.org",
            "email:lovelace@example.com",
            "github:ada-l",
            "jira:acc-ada",
            "linear:lin-ada",
            "slack:U7"
        ])
    );
    // One person: three emails and four handles, none of them anyone else's.
    let holders: Vec<&Value> = (people["people"].as_array().unwrap().iter())
        .filter(|p| {
            let handles = p["handles"].as_array().unwrap();
            handles
                .iter()
                .any(|h| h == "linear:lin-ada" || h == "email:lovelace@example.com")
        })
        .collect();
    assert_eq!(holders.len(), 1, "{people}");
    let run = env
        .run(&["people", "ada@example", "--db", "athena.db"])
        .ok();
    assert!(run.stdout().contains("person:Ada"), "{}", run.describe());

    // Over HTTP: /v1/people and ?person=.
    let server = Server::start_with(&env, &["--db", "athena.db", "-c", "none.toml"]);
    let answer = server.must_get("/v1/people?q=ada");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let page = server.must_get("/v1/events?person=github%3Aada-l&limit=100");
    assert_eq!(page.status, 200, "{}", page.body);
    let page: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(page["events"].as_array().unwrap().len(), ada_now.len());
}

#[test]
fn a_repositorys_mailmap_joins_an_old_address_to_the_one_it_maps_to() {
    let env = TestEnv::new();
    let repo = env.path("repo");
    init_repo(&repo);
    let mapped = commit_files(
        &repo,
        "add the mailmap",
        &[(
            ".mailmap",
            b"Ada Lovelace <ada@example.com> <ADA@old.net>\n",
        )],
    );
    std::fs::write(repo.join("a"), "1\n").unwrap();
    git(&repo, &["add", "-A"]);
    git(
        &repo,
        &[
            "commit",
            "-q",
            "-m",
            "from the old address",
            "--author",
            "Ada <ada@old.net>",
        ],
    );
    let old = head(&repo);
    env.write_config(&git_config("repo", &repo, ""));
    env.run(&["sync"]).ok();
    assert_eq!(
        env.metadata("repo", &old)["author"]["mailmap"],
        json!({"name": "Ada Lovelace", "email": "ada@example.com"})
    );
    let both: BTreeSet<_> = [pair("repo", &mapped), pair("repo", &old)].into();
    assert_eq!(of_person(&env, "ada@example.com"), both);
    assert_eq!(of_person(&env, "ada@old.net"), both);
}
