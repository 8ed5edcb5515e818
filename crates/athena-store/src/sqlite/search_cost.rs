//! What a full-text query may ask for, judged before SQLite runs it.
//!
//! FTS5 reads one doclist per term and merges them, and a prefix term (`ab*`) reads every
//! term it covers: a query of hundreds of terms (`get OR get OR …`) took seconds to a minute
//! on a store of 15,000 events and held a connection all that time. A time budget stops
//! such a query, but one that cannot answer within it should be told so at once, with what
//! to change, rather than cost a connection its whole budget.

/// At most this many terms (words, the words of a phrase, prefixes), whatever joins them.
pub const MAX_TERMS: usize = 16;

/// At most this many alternatives joined by `OR`.
pub const MAX_ALTERNATIVES: usize = 8;

/// At most this many prefix terms (`lex*`)...
pub const MAX_PREFIXES: usize = 4;

/// ... each with at least this many characters before its `*` (`a*` covers most of the
/// vocabulary).
pub const MIN_PREFIX_CHARS: usize = 2;

/// At most this many bytes of query text.
pub const MAX_QUERY_BYTES: usize = 512;

/// Refuses a query over the bounds above, saying which and what to do instead.
pub(crate) fn check(q: &str) -> Result<(), String> {
    let mut terms = 0;
    let mut ors = 0;
    let mut prefixes = 0;
    for token in tokens(q) {
        match token {
            Token::Or => ors += 1,
            Token::Term { prefix } => {
                terms += 1;
                if let Some(stem) = prefix {
                    prefixes += 1;
                    if stem < MIN_PREFIX_CHARS {
                        return Err(format!(
                            "a prefix search needs at least {MIN_PREFIX_CHARS} characters before its `*`"
                        ));
                    }
                }
            }
        }
    }
    if terms > MAX_TERMS {
        return Err(format!(
            "{terms} terms; at most {MAX_TERMS}: search for the few rarest words"
        ));
    }
    if ors + 1 > MAX_ALTERNATIVES {
        return Err(format!(
            "{} alternatives joined by OR; at most {MAX_ALTERNATIVES}",
            ors + 1
        ));
    }
    if prefixes > MAX_PREFIXES {
        return Err(format!(
            "{prefixes} prefix searches (`word*`); at most {MAX_PREFIXES}"
        ));
    }
    if q.len() > MAX_QUERY_BYTES {
        return Err(format!(
            "the query is {} bytes long; at most {MAX_QUERY_BYTES}: search for the few rarest words",
            q.len()
        ));
    }
    Ok(())
}

/// What the bounds count in a query.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    /// A word to look up; `prefix`: the characters before its `*`, if it is a prefix.
    Term { prefix: Option<usize> },
    /// The `OR` operator.
    Or,
}

/// The terms and `OR`s of an FTS5 query, in order. Quoted strings are phrases (each of
/// their words a term); `AND`, `NOT` and `NEAR` are operators; a word before `:` names
/// columns. Malformed syntax is left for FTS5 to refuse with its own message.
fn tokens(q: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut chars = q.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            '"' => {
                let mut phrase = String::new();
                while let Some((_, c)) = chars.next() {
                    if c == '"' {
                        // `""` inside a string is a quote.
                        if chars.peek().map(|&(_, c)| c) == Some('"') {
                            chars.next();
                            phrase.push('"');
                            continue;
                        }
                        break;
                    }
                    phrase.push(c);
                }
                let starred = chars.peek().map(|&(_, c)| c) == Some('*');
                if starred {
                    chars.next();
                }
                let words: Vec<&str> = phrase
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .collect();
                let last = words.len().saturating_sub(1);
                for (i, w) in words.iter().enumerate() {
                    let prefix = (starred && i == last).then(|| w.chars().count());
                    out.push(Token::Term { prefix });
                }
            }
            c if c.is_alphanumeric() || c == '_' || !c.is_ascii() => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_alphanumeric() || c == '_' || !c.is_ascii() {
                        end = i + c.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let word = &q[start..end];
                match chars.peek().map(|&(_, c)| c) {
                    // A column filter, not a term.
                    Some(':') => continue,
                    Some('*') => {
                        chars.next();
                        out.push(Token::Term {
                            prefix: Some(word.chars().count()),
                        });
                        continue;
                    }
                    _ => {}
                }
                match word {
                    "OR" => out.push(Token::Or),
                    "AND" | "NOT" | "NEAR" => {}
                    _ => out.push(Token::Term { prefix: None }),
                }
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_ors_and_prefixes_are_counted_as_fts5_reads_them() {
        let t = |p| Token::Term { prefix: p };
        assert_eq!(
            tokens("lexer OR \"parse error\"* AND NOT title:crash NEAR(a b, 3) ab*"),
            [
                t(None),
                Token::Or,
                t(None),
                t(Some(5)),
                t(None),
                t(None),
                // NEAR's distance counts as a term: erring towards a refusal costs nothing.
                t(None),
                t(None),
                t(Some(2)),
            ]
        );
        assert_eq!(tokens("\"say \"\"hi\"\"\""), [t(None), t(None)]);
    }

    #[test]
    fn a_query_of_hundreds_of_ors_is_refused_before_it_runs() {
        let hundred = vec!["get"; 100].join(" OR ");
        let err = check(&hundred).unwrap_err();
        assert!(err.contains("100 terms; at most 16"), "{err}");
        let nine = ["get"; 9].join(" OR ");
        assert!(check(&nine).unwrap_err().contains("9 alternatives"));
        assert!(check(&["get"; 8].join(" OR ")).is_ok());
    }

    #[test]
    fn short_or_many_prefixes_and_long_queries_are_refused() {
        assert!(check("a*").unwrap_err().contains("at least 2 characters"));
        assert!(check("\"x\"*").is_err());
        assert!(check("ab* cd* ef* gh*").is_ok());
        assert!(check("ab* cd* ef* gh* ij*")
            .unwrap_err()
            .contains("5 prefix"));
        assert!(check(&"x".repeat(600)).unwrap_err().contains("600 bytes"));
    }

    #[test]
    fn everyday_queries_pass() {
        for q in [
            "rate limit",
            "what changed in the lexer",
            "\"connection reset\" OR timeout",
            "title:deploy NOT staging",
            "café",
        ] {
            assert_eq!(check(q), Ok(()), "{q}");
        }
    }
}
