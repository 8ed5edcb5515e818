//! [`ConfigError`]: what is wrong with a config, and where (file, line, source, key).

use std::fmt;
use std::path::PathBuf;

/// A configuration problem: exit code 2. A file with several problems is one error with the
/// others chained in [`next`](Self::next), so all of them are reported at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The config file.
    pub file: Option<PathBuf>,
    /// 1-based line.
    pub line: Option<usize>,
    /// The source the problem is in.
    pub source_id: Option<String>,
    /// The key the problem is about.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// The next problem found in the same pass, in file order (a chain, which keeps the error
    /// small: see [`problems`](Self::problems)).
    pub next: Option<Box<ConfigError>>,
}

impl ConfigError {
    /// An error with only a message.
    pub fn new(message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            line: None,
            source_id: None,
            key: None,
            message: message.into(),
            next: None,
        }
    }

    /// One error holding all of `errors`, in order (each problem of each); `None` if there are
    /// none.
    pub fn all(errors: impl IntoIterator<Item = ConfigError>) -> Option<ConfigError> {
        let problems: Vec<ConfigError> = errors
            .into_iter()
            .flat_map(ConfigError::into_problems)
            .collect();
        problems.into_iter().rev().fold(None, |next, mut problem| {
            problem.next = next.map(Box::new);
            Some(problem)
        })
    }

    /// Each problem on its own (its `next` empty): this one, then those chained after it.
    pub fn problems(&self) -> Vec<ConfigError> {
        self.clone().into_problems()
    }

    fn into_problems(self) -> Vec<ConfigError> {
        let mut all = Vec::new();
        let mut at = Some(self);
        while let Some(mut problem) = at {
            at = problem.next.take().map(|next| *next);
            all.push(problem);
        }
        all
    }

    /// The problem itself, without those chained after it.
    fn write_one(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{line}: ", file.display())?,
            (Some(file), None) => write!(f, "{}: ", file.display())?,
            (None, Some(line)) => write!(f, "line {line}: ",)?,
            (None, None) => {}
        }
        if let Some(id) = &self.source_id {
            write!(f, "source {id}: ")?;
        }
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        f.write_str(&self.message)
    }
}

/// The problem, then each one chained after it, on a line of its own.
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_one(f)?;
        let mut next = &self.next;
        while let Some(problem) = next {
            f.write_str("\n")?;
            problem.write_one(f)?;
            next = &problem.next;
        }
        Ok(())
    }
}
