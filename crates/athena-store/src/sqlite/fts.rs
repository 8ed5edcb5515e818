//! Search text as FTS5 reads it: the search language of `athena_core::search` rendered as an
//! FTS5 query (every word quoted, so that no text but the documented syntax is FTS5's), and
//! FTS5's refusals turned into advice.

use athena_core::search::{any_words, tokens, SearchMatch, SearchSyntaxError, SearchToken};

fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

/// `search` as an FTS5 query matching as `mode` says: all of it, or any of its
/// [`any_words`] (as all of it when it has none).
pub(crate) fn fts_query(search: &str, mode: SearchMatch) -> Result<String, SearchSyntaxError> {
    if mode == SearchMatch::Any {
        let words = any_words(search);
        if !words.is_empty() {
            let quoted: Vec<String> = words.iter().map(|w| quoted(w)).collect();
            return Ok(quoted.join(" OR "));
        }
    }
    let mut out = String::with_capacity(search.len() + 8);
    // No space after `title:`, `NEAR` or `(`, nor before `)` or `,`.
    let mut glued = true;
    for token in tokens(search)? {
        if !glued && !matches!(token, SearchToken::Close | SearchToken::Comma) {
            out.push(' ');
        }
        glued = false;
        match token {
            SearchToken::Word(w) => out.push_str(&quoted(&w)),
            SearchToken::Phrase { text, prefix } => {
                out.push_str(&quoted(&text));
                if prefix {
                    out.push('*');
                }
            }
            SearchToken::Prefix(stem) => {
                out.push_str(&stem);
                out.push('*');
            }
            SearchToken::Operator(op) => out.push_str(op),
            SearchToken::Near => {
                out.push_str("NEAR");
                glued = true;
            }
            SearchToken::Field(field) => {
                out.push_str(field);
                out.push(':');
                glued = true;
            }
            SearchToken::Open => {
                out.push('(');
                glued = true;
            }
            SearchToken::Close => out.push(')'),
            SearchToken::Comma => out.push(','),
            SearchToken::Distance(n) => out.push_str(&n.to_string()),
            // A token of a later release: its text is not known here.
            _ => {}
        }
    }
    Ok(out)
}

/// FTS5's refusal of `search` (`fts5: syntax error near "AND"`) as advice, in our words.
pub(crate) fn syntax_error(search: &str, fts5_message: &str) -> SearchSyntaxError {
    let reason = match fts5_message.split_once("syntax error near \"") {
        Some((_, rest)) => match rest.trim_end_matches('"') {
            "" => "it ends where more was expected (after an AND, OR, NOT or field)".to_string(),
            near => format!("`{near}` cannot stand there"),
        },
        None => "it cannot be read as a search".to_string(),
    };
    SearchSyntaxError {
        text: search.to_string(),
        reason,
    }
}
