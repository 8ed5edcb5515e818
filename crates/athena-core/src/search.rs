//! The search language every store takes, read apart from any store: which text is search
//! syntax and which is plain words, why a search cannot be read (as advice, never a
//! database's message), and the words an any-word fallback looks for when no event has all
//! of them.
//!
//! The rule (docs/recall-api.md): `"a phrase"` (optionally `"…"*`), `word*`, `AND`, `OR`,
//! `NOT` (upper case), `NEAR(…)`, parentheses and the field prefixes `title:` and `body:` are
//! syntax; every other whitespace-separated piece of text is a word to find, whatever
//! characters it holds (`status:500`, `c++`, `e-mail`). Plain words must all match; a search
//! of plain words only that matches nothing falls back to any of its words, best match first
//! (see [`all_then_any`]).

use std::fmt;

use crate::store::EventQuery;

/// How the words of a search match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SearchMatch {
    /// As written: every plain word, and the syntax as it says; pages in time order.
    #[default]
    All,
    /// Any of [`any_words`] of the search, best match first (relevance): one page, no cursor.
    /// A search without such words matches as [`SearchMatch::All`].
    Any,
}

/// One piece of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SearchToken {
    /// Text to find as it is (its words next to each other, in order).
    Word(String),
    /// `"a phrase"`, with `*` after it when `prefix`.
    Phrase {
        /// The text between the quotes (`""` read as `"`).
        text: String,
        /// Its last word is a prefix.
        prefix: bool,
    },
    /// `stem*`: every word that begins with `stem` (letters, digits, `_`).
    Prefix(String),
    /// `AND`, `OR` or `NOT`.
    Operator(&'static str),
    /// `NEAR`, directly followed by `(`.
    Near,
    /// `title:` or `body:`: the next term is looked for in that field only.
    Field(&'static str),
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// `,` inside `NEAR(…)`.
    Comma,
    /// The distance after `NEAR(…,`.
    Distance(u32),
}

/// The fields search can be limited to.
pub const FIELDS: [&str; 2] = ["title", "body"];

/// A search text that cannot be read: the advice every front end shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchSyntaxError {
    /// The search as given.
    pub text: String,
    /// What is wrong, in a few words (`an unclosed quote`).
    pub reason: String,
}

impl fmt::Display for SearchSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: String = self.text.chars().filter(|&c| c != '"').collect();
        write!(
            f,
            "search text `{}` is not valid search syntax ({}): quote it (\"{}\") to search for its words, or use a filter (--outcome, --kind / outcome=, kind=)",
            self.text,
            self.reason,
            words.trim()
        )
    }
}

impl std::error::Error for SearchSyntaxError {}

/// Reads `text` into its pieces; an unclosed quote or parenthesis is refused here, other
/// misplaced syntax (`lexer AND`) by the store that runs it.
pub fn tokens(text: &str) -> Result<Vec<SearchToken>, SearchSyntaxError> {
    let refuse = |reason: &str| SearchSyntaxError {
        text: text.to_string(),
        reason: reason.to_string(),
    };
    let mut out = Vec::new();
    // One entry per open parenthesis: whether `NEAR` opened it.
    let mut groups: Vec<bool> = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '"' => {
                let mut phrase = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    if c == '"' {
                        if chars.peek().map(|&(_, c)| c) == Some('"') {
                            chars.next();
                            phrase.push('"');
                            continue;
                        }
                        closed = true;
                        break;
                    }
                    phrase.push(c);
                }
                if !closed {
                    return Err(refuse("an unclosed quote"));
                }
                let prefix = chars.peek().map(|&(_, c)| c) == Some('*');
                if prefix {
                    chars.next();
                }
                out.push(SearchToken::Phrase {
                    text: phrase,
                    prefix,
                });
            }
            '(' => {
                groups.push(out.last() == Some(&SearchToken::Near));
                out.push(SearchToken::Open);
            }
            ')' => {
                if groups.pop().is_none() {
                    return Err(refuse("a `)` with no `(` before it"));
                }
                out.push(SearchToken::Close);
            }
            ',' if groups.last() == Some(&true) => out.push(SearchToken::Comma),
            _ => {
                let in_near = groups.last() == Some(&true);
                let mut end = start + c.len_utf8();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '"' | '(' | ')') || (in_near && c == ',') {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                let next_is_open = chars.peek().map(|&(_, c)| c) == Some('(');
                let mut piece = &text[start..end];
                // `title:deploy`: the field, then the term.
                if let Some((field, rest)) = FIELDS.iter().find_map(|f| {
                    let rest = piece.strip_prefix(f)?.strip_prefix(':')?;
                    Some((*f, rest))
                }) {
                    out.push(SearchToken::Field(field));
                    piece = rest;
                    if piece.is_empty() {
                        continue;
                    }
                }
                out.push(word(piece, next_is_open, out.last()));
            }
        }
    }
    if !groups.is_empty() {
        return Err(refuse("an unclosed `(`"));
    }
    Ok(out)
}

/// A piece of text between separators: syntax, or a word.
fn word(piece: &str, next_is_open: bool, previous: Option<&SearchToken>) -> SearchToken {
    let bare = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || !c.is_ascii())
    };
    match piece {
        "AND" => return SearchToken::Operator("AND"),
        "OR" => return SearchToken::Operator("OR"),
        "NOT" => return SearchToken::Operator("NOT"),
        "NEAR" if next_is_open => return SearchToken::Near,
        _ => {}
    }
    if previous == Some(&SearchToken::Comma) {
        if let Ok(n) = piece.parse() {
            return SearchToken::Distance(n);
        }
    }
    if let Some(stem) = piece.strip_suffix('*').filter(|s| bare(s)) {
        return SearchToken::Prefix(stem.to_string());
    }
    SearchToken::Word(piece.to_string())
}

/// Whether `text` is plain words only (no syntax): such a search may fall back to any word.
pub fn is_plain(text: &str) -> bool {
    tokens(text).is_ok_and(|t| t.iter().all(|t| matches!(t, SearchToken::Word(_))))
}

/// At most this many words are looked for by an any-word fallback (a store's bound on
/// alternatives).
pub const MAX_ANY_WORDS: usize = 8;

/// Words too common to tell events apart: an any-word search leaves them out, so "what
/// changed in the lexer" looks for `changed` and `lexer`, not every event with `the`.
const STOP_WORDS: &[&str] = &[
    "a", "about", "after", "all", "also", "am", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "for", "from",
    "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "me", "my", "no",
    "not", "of", "on", "or", "our", "show", "so", "some", "than", "that", "the", "their", "them",
    "then", "there", "these", "they", "this", "those", "to", "us", "was", "we", "were", "what",
    "when", "where", "which", "who", "whom", "why", "will", "with", "would", "you", "your",
];

/// The words of `text` an any-word fallback looks for: lower-cased, split as the store's
/// index splits words (on what is not a letter or digit), without stop words and single
/// characters, each once, at most [`MAX_ANY_WORDS`]. Empty when `text` holds syntax (its
/// author said how to match) or only common words (they would match nearly everything).
pub fn any_words(text: &str) -> Vec<String> {
    if !is_plain(text) {
        return Vec::new();
    }
    let mut words: Vec<String> = Vec::new();
    for w in split_words(text) {
        if w.chars().count() > 1 && !STOP_WORDS.contains(&w.as_str()) && !words.contains(&w) {
            words.push(w);
        }
    }
    words.truncate(MAX_ANY_WORDS);
    words
}

fn split_words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
}

/// What a search matched: every word, or (no event had them all) any of these words.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Matched {
    /// Every word, or the syntax as written; also a query without a search.
    #[default]
    All,
    /// No event had every word: these events have some of these words, best match first.
    Any(Vec<String>),
}

impl Matched {
    /// `all` or `any`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Matched::All => "all",
            Matched::Any(_) => "any",
        }
    }

    /// For a fallback, one line saying so for `search`: what the CLI prints on stderr and
    /// HTTP and MCP answer as the page's note.
    pub fn note(&self, search: &str) -> Option<String> {
        match self {
            Matched::All => None,
            Matched::Any(words) => Some(format!(
                "no event has every word of \"{search}\": showing events with any of {}, best match first",
                words.join(", ")
            )),
        }
    }
}

/// Runs `run` with `filter`; when it found nothing, and the search is plain words of which
/// some are worth looking for alone (see [`any_words`]), runs it again matching any of them.
/// A search of one word has nothing to fall back to. Callers asking for a later page (after
/// a cursor) do not fall back: the first page had matches.
pub fn all_then_any<T, E>(
    filter: &EventQuery,
    mut run: impl FnMut(&EventQuery) -> Result<T, E>,
    found_nothing: impl Fn(&T) -> bool,
) -> Result<(T, Matched), E> {
    let all = run(filter)?;
    let Some(search) = filter.search.as_deref() else {
        return Ok((all, Matched::All));
    };
    if !found_nothing(&all) || filter.search_match == SearchMatch::Any {
        return Ok((all, Matched::All));
    }
    let words = any_words(search);
    if words.is_empty() || split_words(search).count() < 2 {
        return Ok((all, Matched::All));
    }
    let any = EventQuery {
        search_match: SearchMatch::Any,
        ..filter.clone()
    };
    Ok((run(&any)?, Matched::Any(words)))
}

#[cfg(test)]
#[path = "search_tests.rs"]
mod tests;
