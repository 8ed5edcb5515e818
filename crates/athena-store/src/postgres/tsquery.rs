//! Search text as PostgreSQL reads it: the search language of `athena_core::search` parsed
//! with FTS5's grammar (`NOT` binds tightest, then `AND` and plain juxtaposition, then `OR`)
//! and rendered as a `tsquery` over the events' `tsv` column, where title words carry weight
//! `A` and body words `B`. What FTS5 would refuse (`lexer AND`, `NOT x`, `()`) is refused here
//! with the same advice, before PostgreSQL sees it.
//!
//! Words are split as the index splits text (`athena_fts_words`: runs of letters and digits,
//! lower-cased), so `status:500` is the phrase `status 500`, as FTS5 reads it. A phrase is
//! matched within one field (`('a':A <-> 'b':A) | ('a':B <-> 'b':B)`), never across the seam
//! between title and body. `NEAR(a b, N)` of two terms is any order within N words; of more,
//! all of them anywhere (looser than FTS5).

use athena_core::search::{any_words, tokens, SearchMatch, SearchSyntaxError, SearchToken};

/// Which fields a term is looked for in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fields {
    Both,
    Title,
    Body,
}

impl Fields {
    fn weights(self) -> &'static [&'static str] {
        match self {
            Fields::Both => &["A", "B"],
            Fields::Title => &["A"],
            Fields::Body => &["B"],
        }
    }
}

/// The lexemes of `text` as the index has them: runs of letters and digits, lower-cased.
pub(crate) fn lexemes(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

fn quoted(lexeme: &str) -> String {
    format!("'{}'", lexeme.replace('\\', "\\\\").replace('\'', "''"))
}

/// A phrase (consecutive lexemes, the last a prefix when `prefix`) in `fields`; `None` when
/// it has no lexeme (text of punctuation only).
fn phrase(words: &[String], prefix: bool, fields: Fields) -> Option<String> {
    let term = |i: usize, w: &str, weight: Option<&str>| {
        let star = if prefix && i + 1 == words.len() {
            "*"
        } else {
            ""
        };
        match (star, weight) {
            ("", None) => quoted(w),
            (star, weight) => format!("{}:{star}{}", quoted(w), weight.unwrap_or("")),
        }
    };
    match words {
        [] => None,
        [one] => {
            let weight = match fields {
                Fields::Both => None,
                Fields::Title => Some("A"),
                Fields::Body => Some("B"),
            };
            Some(term(0, one, weight))
        }
        _ => {
            let alternatives: Vec<String> = (fields.weights().iter())
                .map(|weight| {
                    let parts: Vec<String> = (words.iter().enumerate())
                        .map(|(i, w)| term(i, w, Some(weight)))
                        .collect();
                    format!("({})", parts.join(" <-> "))
                })
                .collect();
            Some(format!("({})", alternatives.join(" | ")))
        }
    }
}

/// A parsed search.
#[derive(Debug, Clone)]
enum Node {
    /// A term that matches nothing (punctuation only): FTS5 finds no row for it either.
    Nothing,
    Term(String),
    And(Vec<Node>),
    Or(Vec<Node>),
    /// `a NOT b`.
    Not(Box<Node>, Box<Node>),
}

impl Node {
    /// The tsquery; only called on a node that can match something ([`Node::empty`] false),
    /// whose parts that cannot are left out.
    fn render(&self) -> String {
        match self {
            Node::Nothing => String::new(),
            Node::Term(t) => t.clone(),
            Node::And(all) => {
                let parts: Vec<String> = all.iter().map(|n| n.render()).collect();
                format!("({})", parts.join(" & "))
            }
            Node::Or(any) => {
                let parts: Vec<String> = (any.iter())
                    .filter(|n| !n.empty())
                    .map(|n| n.render())
                    .collect();
                match &parts[..] {
                    [one] => one.clone(),
                    _ => format!("({})", parts.join(" | ")),
                }
            }
            Node::Not(a, b) if b.empty() => a.render(),
            Node::Not(a, b) => format!("({} & !{})", a.render(), b.render()),
        }
    }

    /// Whether it can match anything.
    fn empty(&self) -> bool {
        match self {
            Node::Nothing => true,
            Node::Term(_) => false,
            Node::And(all) => all.iter().any(Node::empty),
            Node::Or(any) => any.iter().all(Node::empty),
            Node::Not(a, _) => a.empty(),
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<SearchToken>,
    at: usize,
}

impl Parser<'_> {
    fn refuse(&self, reason: impl Into<String>) -> SearchSyntaxError {
        SearchSyntaxError {
            text: self.text.to_string(),
            reason: reason.into(),
        }
    }

    fn peek(&self) -> Option<&SearchToken> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<SearchToken> {
        let t = self.tokens.get(self.at).cloned();
        self.at += 1;
        t
    }

    fn near(&self, what: &SearchToken) -> SearchSyntaxError {
        let shown = match what {
            SearchToken::Operator(op) => format!("`{op}` cannot stand there"),
            SearchToken::Close => "`)` cannot stand there".to_string(),
            SearchToken::Comma => "`,` cannot stand there".to_string(),
            _ => "it cannot be read as a search".to_string(),
        };
        self.refuse(shown)
    }

    fn or(&mut self) -> Result<Node, SearchSyntaxError> {
        let mut any = vec![self.and()?];
        while self.peek() == Some(&SearchToken::Operator("OR")) {
            self.next();
            any.push(self.and()?);
        }
        Ok(if any.len() == 1 {
            any.remove(0)
        } else {
            Node::Or(any)
        })
    }

    fn and(&mut self) -> Result<Node, SearchSyntaxError> {
        let mut all = vec![self.not()?];
        loop {
            match self.peek() {
                Some(SearchToken::Operator("AND")) => {
                    self.next();
                    all.push(self.not()?);
                }
                // Juxtaposition is AND.
                Some(
                    SearchToken::Word(_)
                    | SearchToken::Phrase { .. }
                    | SearchToken::Prefix(_)
                    | SearchToken::Field(_)
                    | SearchToken::Open
                    | SearchToken::Near,
                ) => all.push(self.not()?),
                _ => break,
            }
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Node::And(all)
        })
    }

    fn not(&mut self) -> Result<Node, SearchSyntaxError> {
        let mut node = self.primary()?;
        while self.peek() == Some(&SearchToken::Operator("NOT")) {
            self.next();
            let right = self.primary()?;
            node = Node::Not(Box::new(node), Box::new(right));
        }
        Ok(node)
    }

    fn primary(&mut self) -> Result<Node, SearchSyntaxError> {
        let Some(token) = self.next() else {
            return Err(
                self.refuse("it ends where more was expected (after an AND, OR, NOT or field)")
            );
        };
        match token {
            SearchToken::Field(f) => {
                let fields = if f == "title" {
                    Fields::Title
                } else {
                    Fields::Body
                };
                match self.next() {
                    Some(SearchToken::Open) => {
                        let inner = self.fielded_group(fields)?;
                        Ok(inner)
                    }
                    Some(t) => self.term(t, fields),
                    None => Err(self.refuse(
                        "it ends where more was expected (after an AND, OR, NOT or field)",
                    )),
                }
            }
            SearchToken::Open => {
                if self.peek() == Some(&SearchToken::Close) {
                    return Err(self.refuse("`)` cannot stand there"));
                }
                let inner = self.or()?;
                match self.next() {
                    Some(SearchToken::Close) => Ok(inner),
                    Some(t) => Err(self.near(&t)),
                    None => Err(self.refuse("an unclosed `(`")),
                }
            }
            SearchToken::Near => self.near_group(),
            other => self.term(other, Fields::Both),
        }
    }

    /// `title:(a b)`: every term of the group in that field.
    fn fielded_group(&mut self, fields: Fields) -> Result<Node, SearchSyntaxError> {
        let mut all = Vec::new();
        loop {
            match self.next() {
                Some(SearchToken::Close) if !all.is_empty() => break,
                Some(
                    t
                    @ (SearchToken::Word(_) | SearchToken::Phrase { .. } | SearchToken::Prefix(_)),
                ) => all.push(self.term(t, fields)?),
                Some(t) => return Err(self.near(&t)),
                None => return Err(self.refuse("an unclosed `(`")),
            }
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Node::And(all)
        })
    }

    /// `NEAR(a b c, N)`.
    fn near_group(&mut self) -> Result<Node, SearchSyntaxError> {
        if self.next() != Some(SearchToken::Open) {
            return Err(self.refuse("`NEAR` must be followed by `(`"));
        }
        let mut terms: Vec<Vec<String>> = Vec::new();
        let mut distance = 10;
        loop {
            match self.next() {
                Some(SearchToken::Word(w)) => terms.push(lexemes(&w)),
                Some(SearchToken::Phrase { text, .. }) => terms.push(lexemes(&text)),
                Some(SearchToken::Comma) => match self.next() {
                    Some(SearchToken::Distance(n)) => distance = n,
                    Some(t) => return Err(self.near(&t)),
                    None => return Err(self.refuse("an unclosed `(`")),
                },
                Some(SearchToken::Close) if !terms.is_empty() => break,
                Some(t) => return Err(self.near(&t)),
                None => return Err(self.refuse("an unclosed `(`")),
            }
        }
        terms.retain(|t| !t.is_empty());
        if terms.is_empty() {
            return Ok(Node::Nothing);
        }
        if let [a, b] = &terms[..] {
            let mut any = Vec::new();
            for weight in ["A", "B"] {
                let w = |t: &[String]| -> String {
                    let parts: Vec<String> = t
                        .iter()
                        .map(|l| format!("{}:{weight}", quoted(l)))
                        .collect();
                    format!("({})", parts.join(" <-> "))
                };
                for k in 1..=distance.saturating_add(1).min(32) {
                    any.push(format!("({} <{k}> {})", w(a), w(b)));
                    any.push(format!("({} <{k}> {})", w(b), w(a)));
                }
            }
            return Ok(Node::Term(format!("({})", any.join(" | "))));
        }
        let all = (terms.iter())
            .filter_map(|t| phrase(t, false, Fields::Both).map(Node::Term))
            .collect();
        Ok(Node::And(all))
    }

    fn term(&self, token: SearchToken, fields: Fields) -> Result<Node, SearchSyntaxError> {
        let rendered = match &token {
            SearchToken::Word(w) => phrase(&lexemes(w), false, fields),
            SearchToken::Phrase { text, prefix } => phrase(&lexemes(text), *prefix, fields),
            SearchToken::Prefix(stem) => phrase(&lexemes(stem), true, fields),
            other => return Err(self.near(other)),
        };
        Ok(rendered.map_or(Node::Nothing, Node::Term))
    }
}

/// `search` as a `tsquery` matching as `mode` says: all of it, or any of its [`any_words`]
/// (as all of it when it has none). `None`: it can match nothing (punctuation only).
pub(crate) fn tsquery(
    search: &str,
    mode: SearchMatch,
) -> Result<Option<String>, SearchSyntaxError> {
    if mode == SearchMatch::Any {
        let words = any_words(search);
        if !words.is_empty() {
            let any: Vec<String> = (words.iter())
                .filter_map(|w| phrase(&lexemes(w), false, Fields::Both))
                .collect();
            return Ok((!any.is_empty()).then(|| any.join(" | ")));
        }
    }
    let mut parser = Parser {
        text: search,
        tokens: tokens(search)?,
        at: 0,
    };
    if parser.tokens.is_empty() {
        return Ok(None);
    }
    let node = parser.or()?;
    if let Some(t) = parser.next() {
        return Err(parser.near(&t));
    }
    Ok((!node.empty()).then(|| node.render()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(s: &str) -> String {
        tsquery(s, SearchMatch::All).unwrap().unwrap()
    }

    #[test]
    fn words_phrases_prefixes_and_fields_render() {
        assert_eq!(all("lexer"), "'lexer'");
        assert_eq!(all("Lexer parser"), "('lexer' & 'parser')");
        assert_eq!(
            all("status:500"),
            "(('status':A <-> '500':A) | ('status':B <-> '500':B))"
        );
        assert_eq!(all("pars*"), "'pars':*");
        assert_eq!(all("title:deploy"), "'deploy':A");
        assert_eq!(all("body:dep*"), "'dep':*B");
        assert_eq!(all("a OR b c"), "('a' | ('b' & 'c'))");
        assert_eq!(all("a NOT b"), "('a' & !'b')");
        assert_eq!(all("it's"), "(('it':A <-> 's':A) | ('it':B <-> 's':B))");
    }

    #[test]
    fn what_fts5_refuses_is_refused() {
        for bad in [
            "lexer AND",
            "NOT x",
            "AND x",
            "a OR",
            "()",
            "title:",
            "a ) b",
        ] {
            assert!(tsquery(bad, SearchMatch::All).is_err(), "{bad}");
        }
        assert_eq!(tsquery("-- →", SearchMatch::All).unwrap(), None);
    }
}
