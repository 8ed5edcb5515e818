//! Parsing a config: sections, sources, `${VAR}`, and the file, line, source and key of
//! every error.

use super::*;
use std::ffi::OsString;

/// A lookup of `pairs`, for [`Env::lookup`]: no test changes the process environment.
fn vars(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> + Sync {
    let pairs: Vec<(String, OsString)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.into()))
        .collect();
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
}

#[test]
fn a_source_schedule_is_read_for_serve_and_a_bad_one_names_the_key_and_line() {
    let c = Config::parse(
        "[[sources]]\nid = \"a\"\ntype = \"demo\"\nschedule = \"*/5 * * * *\"\npath = \"x\"\n",
        None,
    )
    .unwrap();
    assert_eq!(c.sources[0].schedule, Some("*/5 * * * *".parse().unwrap()));
    assert!(c.sources[0].table().get("schedule").is_none());
    let err = Config::parse(
        "[[sources]]\nid = \"a\"\ntype = \"demo\"\nschedule = \"every day\"\n",
        None,
    )
    .unwrap_err();
    assert_eq!((err.key.as_deref(), err.line), (Some("schedule"), Some(4)));
}

#[test]
fn a_source_priority_is_read_and_a_bad_one_names_the_key_and_line() {
    let c = Config::parse(
        "[[sources]]\nid = \"a\"\ntype = \"demo\"\npriority = 10\n\n[[sources]]\nid = \"b\"\ntype = \"demo\"\n",
        None,
    )
    .unwrap();
    assert_eq!((c.sources[0].priority, c.sources[1].priority), (10, 0));
    assert!(c.sources[0].table().get("priority").is_none());
    let priorities = crate::Priorities::of_configs(&c.sources);
    assert_eq!((priorities.of("a"), priorities.of("b")), (10, 0));
    for (value, message) in [
        ("\"high\"", "expected an integer, found string"),
        ("5000", "must be between -1000 and 1000, not 5000"),
    ] {
        let text = format!("[[sources]]\nid = \"a\"\ntype = \"demo\"\npriority = {value}\n");
        let err = Config::parse(&text, Some(Path::new("a.toml"))).unwrap_err();
        assert_eq!((err.key.as_deref(), err.line), (Some("priority"), Some(4)));
        assert!(err.to_string().contains(message), "{err}");
    }
}

#[test]
fn feeds_are_read_with_their_type_and_id_and_their_keys_are_typed_by_the_feed() {
    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    struct Nats {
        url: String,
        stream: Option<String>,
    }
    let env = |name: &str| (name == "NATS_URL").then(|| "nats://127.0.0.1:4222".into());
    let text = "[[feeds]]\ntype = \"nats\"\nurl = \"${NATS_URL}\"\n\n[[feeds]]\nid = \"second\"\ntype = \"nats\"\nurl = \"x\"\nstrem = \"S\"\n";
    let c = Config::parse_with_env(text, Some(Path::new("a.toml")), Env::lookup(&env)).unwrap();
    let ids: Vec<(&str, &str)> = (c.feeds.iter())
        .map(|f| (f.id.as_str(), f.feed_type.as_str()))
        .collect();
    assert_eq!(ids, [("nats", "nats"), ("second", "nats")]);
    let first: Nats = c.feeds[0].parse().unwrap();
    assert_eq!(
        (first.url.as_str(), first.stream),
        ("nats://127.0.0.1:4222", None)
    );
    assert_eq!(c.feeds[0].env_values(), ["nats://127.0.0.1:4222"]);
    let err = c.feeds[1].parse::<Nats>().unwrap_err();
    assert_eq!(
        (err.key.as_deref(), err.line),
        (Some("feeds[second].strem"), Some(9))
    );
    assert!(
        err.to_string()
            .starts_with("a.toml:9: key `feeds[second].strem`: unknown field"),
        "{err}"
    );

    for (text, key, line) in [
        ("[[feeds]]\nurl = \"x\"\n", "feeds[0].type", 1),
        (
            "[[feeds]]\ntype = \"nats\"\n\n[[feeds]]\ntype = \"nats\"\n",
            "feeds[1].id",
            4,
        ),
        (
            "[[feeds]]\ntype = \"nats\"\nid = \"a b\"\n",
            "feeds[0].id",
            3,
        ),
    ] {
        let err = Config::parse(text, None).unwrap_err();
        assert_eq!(
            (err.key.as_deref(), err.line),
            (Some(key), Some(line)),
            "{err}"
        );
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct DemoConfig {
    path: String,
    #[serde(default)]
    branches: Vec<String>,
    token: Option<Secret>,
}

const TEXT: &str = r#"# demo
[store]
path = "x.db"

[[sources]]
id = "one"
type = "demo"
path = "."

[[sources]]
id = "two"
type = "demo"
path = "/repo"
branches = "main"
"#;

#[test]
fn parses_sources_in_order_with_store_path_relative_to_the_file() {
    let c = Config::parse(TEXT, Some(Path::new("/etc/athena/athena.toml"))).unwrap();
    assert_eq!(c.store_path, Some(PathBuf::from("/etc/athena/x.db")));
    let ids: Vec<_> = c.sources.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(ids, ["one", "two"]);
    assert_eq!(c.sources[0].source_type, "demo");
    assert!(c.sources[0].table().get("id").is_none());
    let one: DemoConfig = c.sources[0].parse().unwrap();
    assert_eq!(one.path, ".");
    assert_eq!(
        c.sources[0].resolve_path(Path::new("repo")),
        PathBuf::from("/etc/athena/repo")
    );
}

#[test]
fn wrong_type_names_source_key_and_line() {
    let c = Config::parse(TEXT, Some(Path::new("a.toml"))).unwrap();
    let err = c.sources[1].parse::<DemoConfig>().unwrap_err();
    assert_eq!(err.source_id.as_deref(), Some("two"));
    assert_eq!(err.key.as_deref(), Some("branches"));
    assert_eq!(err.line, Some(14));
    assert!(
        err.to_string()
            .starts_with("a.toml:14: source two: key `branches`: "),
        "{err}"
    );
}

#[test]
fn unknown_key_names_the_key_and_its_line() {
    let text = "[[sources]]\nid = \"s\"\ntype = \"demo\"\npath = \".\"\nbrnaches = [\"x\"]\n";
    let c = Config::parse(text, None).unwrap();
    let err = c.sources[0].parse::<DemoConfig>().unwrap_err();
    assert_eq!(err.key.as_deref(), Some("brnaches"));
    assert_eq!(err.line, Some(5));
    assert!(err.message.contains("unknown field"), "{err}");
}

#[test]
fn missing_key_points_at_the_source_header() {
    let text = "\n\n[[sources]]\nid = \"s\"\ntype = \"demo\"\n";
    let c = Config::parse(text, None).unwrap();
    let err = c.sources[0].parse::<DemoConfig>().unwrap_err();
    assert_eq!(err.key.as_deref(), Some("path"));
    assert_eq!(err.line, Some(3));
}

#[test]
fn missing_id_and_type_and_duplicates_are_errors() {
    let err = Config::parse("[[sources]]\ntype = \"demo\"\n", None).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("id"));
    assert_eq!(err.line, Some(1));
    let err = Config::parse("[[sources]]\nid = \"a\"\n", None).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("type"));
    assert_eq!(err.source_id.as_deref(), Some("a"));
    let text = "[[sources]]\nid = \"a\"\ntype = \"x\"\n[[sources]]\nid = \"a\"\ntype = \"x\"\n";
    let err = Config::parse(text, None).unwrap_err();
    assert!(err.message.contains("duplicate"), "{err}");
    assert_eq!(err.line, Some(5));
}

#[test]
fn engine_settings_out_of_range_are_errors() {
    let err = Config::parse("[engine]\nconcurrency = 0\n", None).unwrap_err();
    assert_eq!(
        (err.key.as_deref(), err.line),
        (Some("engine.concurrency"), Some(2))
    );
    let err = Config::parse("[engine]\nchannel_capacity = 99999999999\n", None).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("engine.channel_capacity"));
}

#[test]
fn an_empty_api_token_is_a_config_error_not_auth_turned_off() {
    for value in ["\"\"", "\"  \""] {
        let text = format!("[serve]\nlisten = \"0.0.0.0:9464\"\napi_token = {value}\n");
        let err = Config::parse(&text, Some(Path::new("a.toml"))).unwrap_err();
        assert_eq!(
            (err.key.as_deref(), err.line),
            (Some("serve.api_token"), Some(3)),
            "{err}"
        );
        assert!(err.message.contains("leave the key out"), "{err}");
    }
    let c = Config::parse("[serve]\n", None).unwrap();
    assert!(c.serve.api_token.is_none(), "no key, no token");
}

#[test]
fn negative_concurrency_names_engine_concurrency_and_its_line() {
    let text = "[store]\npath = \"x.db\"\n\n[engine]\nconcurrency = -1\n";
    let err = Config::parse(text, Some(Path::new("a.toml"))).unwrap_err();
    assert_eq!(
        (err.key.as_deref(), err.line),
        (Some("engine.concurrency"), Some(5))
    );
    assert_eq!(
        err.to_string(),
        "a.toml:5: key `engine.concurrency`: must be between 1 and 1024, not -1"
    );
}

#[test]
fn zero_channel_capacity_names_the_key_and_its_line() {
    let text = "[engine]\nconcurrency = 2\nchannel_capacity = 0\n";
    let err = Config::parse(text, None).unwrap_err();
    assert_eq!(
        (err.key.as_deref(), err.line),
        (Some("engine.channel_capacity"), Some(3))
    );
    assert!(err.message.contains("not 0"), "{err}");
}

#[test]
fn engine_settings_of_a_wrong_type_or_unknown_name_the_key() {
    let err = Config::parse("[engine]\n\nconcurrency = \"4\"\n", None).unwrap_err();
    assert_eq!(
        (err.key.as_deref(), err.line),
        (Some("engine.concurrency"), Some(3))
    );
    let err = Config::parse("[engine]\nconcurency = 4\n", None).unwrap_err();
    assert_eq!(
        (err.key.as_deref(), err.line),
        (Some("engine.concurency"), Some(2))
    );
    // Dotted keys at the top level are the same setting.
    let err = Config::parse("engine.concurrency = 0\n", None).unwrap_err();
    assert_eq!(
        (err.key.as_deref(), err.line),
        (Some("engine.concurrency"), Some(1))
    );
    let c = Config::parse("engine.concurrency = 3\n", None).unwrap();
    assert_eq!(c.engine.concurrency, 3);
    assert_eq!(c.engine.channel_capacity, 2);
}

#[test]
fn store_path_of_a_wrong_type_names_store_path() {
    let err = Config::parse("[store]\npath = 5\n", None).unwrap_err();
    assert_eq!(
        (err.key.as_deref(), err.line),
        (Some("store.path"), Some(2))
    );
}

#[test]
fn toml_syntax_error_has_a_line() {
    let err = Config::parse("[store]\npath = \n", Some(Path::new("f.toml"))).unwrap_err();
    assert_eq!(err.line, Some(2));
    let err = Config::parse("[stroe]\n", None).unwrap_err();
    assert!(err.message.contains("stroe"), "{err}");
    assert_eq!(err.line, Some(1));
}

#[test]
fn env_vars_are_substituted_and_missing_ones_named() {
    let vars = vars(&[("ATHENA_TEST_TOKEN_X", "s3cr3t")]);
    let text = "[[sources]]\nid = \"a\"\ntype = \"demo\"\npath = \"${ATHENA_TEST_TOKEN_X}/$$x\"\ntoken = \"${ATHENA_TEST_TOKEN_X}\"\n";
    let c = Config::parse_with_env(text, None, Env::lookup(&vars)).unwrap();
    let d: DemoConfig = c.sources[0].parse().unwrap();
    assert_eq!(d.path, "s3cr3t/$x");
    assert_eq!(d.token.as_ref().unwrap().expose(), "s3cr3t");
    assert_eq!(
        format!("{:?} {}", d.token.unwrap(), Secret::new("p")),
        "*** ***"
    );
    let text = "[[sources]]\nid = \"a\"\ntype = \"demo\"\n\ntoken = \"${ATHENA_TEST_TOKEN_Y}\"\n";
    let err = Config::parse_with_env(text, None, Env::lookup(&vars)).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("token"));
    assert_eq!(err.line, Some(5));
    assert!(err.message.contains("ATHENA_TEST_TOKEN_Y"), "{err}");
}

#[test]
fn env_vars_in_id_and_type_are_expanded() {
    let vars = vars(&[
        ("ATHENA_TEST_ID_X", "repo-1"),
        ("ATHENA_TEST_TYPE_X", "demo"),
    ]);
    let text = "[[sources]]\nid = \"${ATHENA_TEST_ID_X}\"\ntype = \"${ATHENA_TEST_TYPE_X}\"\npath = \".\"\n";
    let c = Config::parse_with_env(text, None, Env::lookup(&vars)).unwrap();
    assert_eq!(c.sources[0].id, "repo-1");
    assert_eq!(c.sources[0].source_type, "demo");
    let text = "[[sources]]\nid = \"${ATHENA_TEST_ID_Y}\"\ntype = \"demo\"\n";
    let err = Config::parse_with_env(text, None, Env::lookup(&vars)).unwrap_err();
    assert_eq!((err.key.as_deref(), err.line), (Some("id"), Some(2)));
    assert!(err.message.contains("ATHENA_TEST_ID_Y"), "{err}");
}

#[test]
fn an_unclosed_env_reference_is_an_error_naming_the_key() {
    let text = "[[sources]]\nid = \"a\"\ntype = \"demo\"\npath = \"${HOME/src\"\n";
    let err = Config::parse(text, Some(Path::new("a.toml"))).unwrap_err();
    assert_eq!((err.key.as_deref(), err.line), (Some("path"), Some(4)));
    assert!(err.message.contains("no closing `}`"), "{err}");
    assert!(err
        .to_string()
        .starts_with("a.toml:4: source a: key `path`: "));
    let err = Config::parse("[store]\npath = \"${X\"\n", None).unwrap_err();
    assert_eq!(
        (err.key.as_deref(), err.line),
        (Some("store.path"), Some(2))
    );
    // Nested keys are named by their path.
    let text = "[[sources]]\nid = \"a\"\ntype = \"demo\"\nbranches = [\"main\", \"${B\"]\n";
    let err = Config::parse(text, None).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("branches[1]"));
}

#[test]
fn an_empty_env_reference_is_an_error_naming_the_key() {
    let text = "[[sources]]\nid = \"a\"\ntype = \"demo\"\npath = \"/x/${}\"\n";
    let err = Config::parse(text, None).unwrap_err();
    assert_eq!((err.key.as_deref(), err.line), (Some("path"), Some(4)));
    assert!(err.message.contains("names no variable"), "{err}");
    let err = Config::parse("[[sources]]\nid = \"${}\"\ntype = \"demo\"\n", None).unwrap_err();
    assert_eq!(err.key.as_deref(), Some("id"));
}

#[test]
fn every_unknown_key_of_a_source_is_named_with_its_line() {
    let text = "[[sources]]\nid = \"s\"\ntype = \"demo\"\npth = \".\"\nbrnaches = [\"x\"]\n";
    let c = Config::parse(text, Some(Path::new("a.toml"))).unwrap();
    let err = c.sources[0].parse::<DemoConfig>().unwrap_err();
    let found: Vec<_> = err
        .problems()
        .into_iter()
        .map(|e| (e.key, e.line))
        .collect();
    // Both typos, and `path`, which the first of them left missing.
    assert_eq!(
        found,
        [
            (Some("pth".to_string()), Some(4)),
            (Some("brnaches".to_string()), Some(5)),
            (Some("path".to_string()), Some(1)),
        ],
        "{err}"
    );
    assert_eq!(err.to_string().lines().count(), 3, "{err}");
    assert!(err
        .to_string()
        .lines()
        .all(|l| l.starts_with("a.toml:") && l.contains("source s: key `")));
}

#[test]
fn errors_in_settings_and_several_sources_are_reported_together_in_file_order() {
    let text =
        "[[sources]]\ntype = \"demo\"\n\n[engine]\nconcurrency = 0\n\n[[sources]]\nid = \"b\"\n";
    let err = Config::parse(text, None).unwrap_err();
    let found: Vec<_> = err
        .problems()
        .into_iter()
        .map(|e| (e.key, e.line))
        .collect();
    assert_eq!(
        found,
        [
            (Some("id".to_string()), Some(1)),
            (Some("engine.concurrency".to_string()), Some(5)),
            (Some("type".to_string()), Some(7)),
        ],
        "{err}"
    );
}

#[test]
fn people_tables_are_read_and_their_mistakes_named_with_their_lines() {
    let text = "[[people]]\nname = \"Ada\"\nemails = [\"ada@corp.com\"]\nhandles = [\"github:ada-l\"]\n\n[links]\nproject_keys = [\"PROJ\"]\n";
    let c = Config::parse(text, None).unwrap();
    assert_eq!(c.people.len(), 1);
    assert_eq!(c.people[0].name, "Ada");
    assert_eq!(c.links.project_keys, ["PROJ"]);
    let bad = "[[people]]\nname = \"A\"\nhandles = [\"ada\"]\n\n[[people]]\nname = \"B\"\nemail = [\"x\"]\n\n[[people]]\nname = \"C\"\nemails = [\"c@x.com\"]\n\n[[people]]\nname = \"D\"\nemails = [\"C@x.com\"]\n";
    let err = Config::parse(bad, None).unwrap_err();
    let found: Vec<_> = err
        .problems()
        .into_iter()
        .map(|e| (e.key, e.line, e.message))
        .collect();
    assert_eq!(found.len(), 3, "{err}");
    assert_eq!(
        (found[0].0.as_deref(), found[0].1),
        (Some("people[0].handles"), Some(3))
    );
    assert!(found[0].2.contains("\"ada\" is not a handle"), "{err}");
    assert_eq!(found[1].0.as_deref(), Some("people[1].email"), "{err}");
    assert_eq!(found[2].0.as_deref(), Some("people[3]"), "{err}");
    assert!(found[2].2.contains("email:c@x.com"), "{err}");
}
