//! Text for people never hands stored bytes to the terminal as commands: an escape sequence in
//! a logged path shows as `\x1b`, while JSON lines keep the data as it was logged.

use crate::support::*;

/// A combined-format log whose one good line and one bad line carry an ESC sequence.
fn env_with_escapes() -> TestEnv {
    let env = TestEnv::new();
    std::fs::write(
        env.path("access.log"),
        "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"GET /\x1b[31mred HTTP/1.0\" 200 2326 \"-\" \"curl\"\n\
         not a log line \x1b]0;owned\x07 at all\n",
    )
    .unwrap();
    env.write_config("[[sources]]\nid = \"web\"\ntype = \"api_log\"\npaths = [\"access.log\"]\n");
    env.run(&["sync"]).ok();
    env
}

#[test]
fn the_events_table_shows_control_characters_as_text() {
    let env = env_with_escapes();
    let table = env.run(&["events"]).ok().stdout();
    assert!(!table.contains('\x1b'), "{table:?}");
    assert!(table.contains("GET /\\x1b[31mred"), "{table}");
    let jsonl = env.run(&["events", "--format", "jsonl"]).ok().stdout();
    let event: serde_json::Value = serde_json::from_str(jsonl.trim()).unwrap();
    assert_eq!(event["metadata"]["path"], "/\x1b[31mred", "{jsonl}");
}

#[test]
fn the_dead_letters_table_shows_control_characters_as_text() {
    let env = env_with_escapes();
    let table = env.run(&["dead-letters"]).ok().stdout();
    assert!(!table.contains(['\x1b', '\x07']), "{table:?}");
    assert!(
        table.contains("not a log line \\x1b]0;owned\\x07"),
        "{table}"
    );
    let jsonl = env
        .run(&["dead-letters", "--format", "jsonl"])
        .ok()
        .stdout();
    let letter: serde_json::Value = serde_json::from_str(jsonl.trim()).unwrap();
    assert_eq!(letter["raw"], "not a log line \x1b]0;owned\x07 at all");
}
