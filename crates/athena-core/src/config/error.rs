//! [`ConfigError`]: what is wrong with a config, and where (file, line, source, key).

use std::fmt;
use std::path::PathBuf;

/// A configuration problem: exit code 2. A file with several problems is one error with the
/// others in [`also`](Self::also), so all of them are reported at once.
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
    /// More problems found in the same pass, in file order, each complete on its own (their
    /// own `also` is empty).
    pub also: Vec<ConfigError>,
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
            also: Vec::new(),
        }
    }

    /// One error holding all of `errors` (the first, the rest in `also`); `None` if there are
    /// none.
    pub fn all(errors: impl IntoIterator<Item = ConfigError>) -> Option<ConfigError> {
        let mut problems = errors.into_iter().flat_map(ConfigError::into_problems);
        let mut first = problems.next()?;
        first.also = problems.collect();
        Some(first)
    }

    /// Each problem on its own: this one, then those in `also`.
    pub fn problems(&self) -> Vec<ConfigError> {
        self.clone().into_problems()
    }

    fn into_problems(mut self) -> Vec<ConfigError> {
        let also = std::mem::take(&mut self.also);
        let mut all = vec![self];
        all.extend(also.into_iter().flat_map(ConfigError::into_problems));
        all
    }

    /// The problem itself, without those in `also`.
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

/// The problem, then each of [`also`](ConfigError::also) on a line of its own.
impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_one(f)?;
        for other in &self.also {
            write!(f, "\n{other}")?;
        }
        Ok(())
    }
}
