use super::*;

fn w(s: &str) -> SearchToken {
    SearchToken::Word(s.into())
}

#[test]
fn plain_words_with_any_characters_are_words_not_syntax() {
    assert_eq!(
        tokens("status:500 c++ e-mail and or").unwrap(),
        [w("status:500"), w("c++"), w("e-mail"), w("and"), w("or")]
    );
    assert!(is_plain("status:500"));
    assert!(is_plain("what changed in the lexer"));
    assert!(!is_plain("\"rate limit\""));
    assert!(!is_plain("lex*"));
    assert!(!is_plain("docs OR lexer"));
}

#[test]
fn syntax_is_read_as_the_docs_say() {
    use SearchToken::*;
    assert_eq!(
        tokens("title:deploy NOT body: \"a b\"* lex* (x OR y) NEAR(p q, 3)").unwrap(),
        [
            Field("title"),
            w("deploy"),
            Operator("NOT"),
            Field("body"),
            Phrase {
                text: "a b".into(),
                prefix: true
            },
            Prefix("lex".into()),
            Open,
            w("x"),
            Operator("OR"),
            w("y"),
            Close,
            Near,
            Open,
            w("p"),
            w("q"),
            Comma,
            Distance(3),
            Close,
        ]
    );
    // A comma outside NEAR, a star inside a word and NEAR without `(` are words.
    assert_eq!(
        tokens("a,b x*y NEAR").unwrap(),
        [w("a,b"), w("x*y"), w("NEAR")]
    );
    assert_eq!(
        tokens("\"say \"\"hi\"\"\"").unwrap(),
        [Phrase {
            text: "say \"hi\"".into(),
            prefix: false
        }]
    );
}

#[test]
fn unclosed_quotes_and_parentheses_are_advice_naming_the_text() {
    for (text, reason) in [
        ("\"rate limit", "an unclosed quote"),
        ("(lexer OR parser", "an unclosed `(`"),
        ("lexer)", "a `)` with no `(` before it"),
    ] {
        let err = tokens(text).unwrap_err();
        assert_eq!(err.reason, reason);
        let advice = err.to_string();
        assert!(
            advice.starts_with(&format!(
                "search text `{text}` is not valid search syntax ({reason}): quote it (\""
            )),
            "{advice}"
        );
        assert!(advice.contains("--outcome"), "{advice}");
    }
    let err = tokens("\"rate limit").unwrap_err().to_string();
    assert!(err.contains("quote it (\"rate limit\")"), "{err}");
}

#[test]
fn any_words_leave_out_common_words_single_letters_and_syntax() {
    assert_eq!(any_words("what changed in the lexer"), ["changed", "lexer"]);
    assert_eq!(any_words("status:500"), ["status", "500"]);
    assert_eq!(any_words("Lexer lexer a x LEXER"), ["lexer"]);
    assert!(any_words("what is the").is_empty());
    assert!(any_words("\"rate limit\" lexer").is_empty());
    let many = "one two three four five six seven eight nine ten";
    assert_eq!(any_words(many).len(), MAX_ANY_WORDS);
}

fn run_counting(
    filter: &EventQuery,
    hits_all: usize,
    hits_any: usize,
) -> (usize, Matched, Vec<SearchMatch>) {
    let mut asked = Vec::new();
    let (n, matched) = all_then_any(
        filter,
        |q| {
            asked.push(q.search_match);
            Ok::<_, ()>(match q.search_match {
                SearchMatch::All => hits_all,
                SearchMatch::Any => hits_any,
            })
        },
        |n| *n == 0,
    )
    .unwrap();
    (n, matched, asked)
}

fn searching(text: &str) -> EventQuery {
    EventQuery {
        search: Some(text.into()),
        ..EventQuery::default()
    }
}

#[test]
fn a_search_with_no_match_of_every_word_falls_back_to_any_word() {
    let (n, matched, asked) = run_counting(&searching("what changed in the lexer"), 0, 3);
    assert_eq!(n, 3);
    assert_eq!(
        matched,
        Matched::Any(vec!["changed".into(), "lexer".into()])
    );
    assert_eq!(asked, [SearchMatch::All, SearchMatch::Any]);
    let note = matched.note("what changed in the lexer").unwrap();
    assert!(note.contains("any of changed, lexer"), "{note}");
    // Matches of every word: no fallback.
    let (n, matched, asked) = run_counting(&searching("changed lexer"), 2, 9);
    assert_eq!((n, matched, asked.len()), (2, Matched::All, 1));
    // One word, syntax, only common words, no search: nothing to fall back to.
    for q in [
        searching("lexer"),
        searching("lexer OR parser"),
        searching("what is the"),
        EventQuery::default(),
    ] {
        let (_, matched, asked) = run_counting(&q, 0, 9);
        assert_eq!((matched, asked.len()), (Matched::All, 1), "{q:?}");
    }
}
