//! `${VAR}` substitution in config values, and [`EnvError`] when it fails.

use std::ffi::OsString;

use super::{ConfigError, SourceConfig};

/// Where a config's `${VAR}` takes its values: the process environment ([`Env::process`]), or a
/// lookup the caller gives ([`Env::lookup`]: a test, or a program embedding the engine with
/// settings of its own), so that nobody has to change the process environment to parse a config.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    get: &'a (dyn Fn(&str) -> Option<OsString> + Sync),
}

impl Env<'static> {
    /// The process environment.
    pub fn process() -> Self {
        Env {
            get: &|name| std::env::var_os(name),
        }
    }
}

impl<'a> Env<'a> {
    /// Values from `get`: `None` is a variable that is not set.
    pub fn lookup(get: &'a (dyn Fn(&str) -> Option<OsString> + Sync)) -> Self {
        Env { get }
    }

    fn var(&self, name: &str) -> Result<String, EnvError> {
        match (self.get)(name) {
            None => Err(EnvError::Unset(name.to_string())),
            Some(value) => value
                .into_string()
                .map_err(|_| EnvError::NotUnicode(name.to_string())),
        }
    }
}

impl std::fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Env")
    }
}

pub(super) fn substitute_env_in_table(
    table: &mut toml::Table,
    sc: &SourceConfig,
    prefix: &str,
    env: Env<'_>,
    env_values: &mut Vec<String>,
) -> Result<(), ConfigError> {
    for (k, v) in table.iter_mut() {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        substitute_env_in_value(v, sc, &key, env, env_values)?;
    }
    Ok(())
}

fn substitute_env_in_value(
    v: &mut toml::Value,
    sc: &SourceConfig,
    key: &str,
    env: Env<'_>,
    env_values: &mut Vec<String>,
) -> Result<(), ConfigError> {
    match v {
        toml::Value::String(s) => {
            *s = substitute_env_collecting(s, env, env_values)
                .map_err(|e| sc.error(Some(key), e.to_string()))?;
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute_env_in_value(item, sc, &format!("{key}[{i}]"), env, env_values)?;
            }
        }
        toml::Value::Table(t) => substitute_env_in_table(t, sc, key, env, env_values)?,
        _ => {}
    }
    Ok(())
}

/// Why a `${VAR}` in a config value could not be replaced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvError {
    /// The variable is not set.
    #[error("environment variable {0} is not set")]
    Unset(String),
    /// The variable's value is not UTF-8.
    #[error("environment variable {0} is not valid UTF-8")]
    NotUnicode(String),
    /// `${` with no `}` after it.
    #[error("`${{{0}` has no closing `}}` (write `$$` for a literal `$`)")]
    Unclosed(String),
    /// `${}`.
    #[error("`${{}}` names no variable (write `$$` for a literal `$`)")]
    EmptyName,
    /// A name a shell would not take (`${A B}`, `${VAR:-default}`).
    #[error("`${{{0}}}`: a variable name is letters, digits and `_`, not starting with a digit")]
    BadName(String),
}

/// Replaces `${VAR}` with the variable's value; `$$` is a literal `$`, and a `$` before
/// anything else stays as it is.
pub fn substitute_env(s: &str) -> Result<String, EnvError> {
    substitute_env_with(s, Env::process())
}

/// [`substitute_env`] with the values of `env`.
pub fn substitute_env_with(s: &str, env: Env<'_>) -> Result<String, EnvError> {
    substitute_env_collecting(s, env, &mut Vec::new())
}

/// [`substitute_env_with`], also collecting the values it put in.
pub(super) fn substitute_env_collecting(
    s: &str,
    env: Env<'_>,
    values: &mut Vec<String>,
) -> Result<String, EnvError> {
    if !s.contains('$') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            // Kept literally, a typo like `${HOME/x` would reach a path or a token unnoticed.
            let end = inner.find('}').ok_or_else(|| {
                // Enough to find it in the file; the rest of a long value is noise.
                let shown: String = inner.chars().take(32).collect();
                EnvError::Unclosed(shown)
            })?;
            let name = &inner[..end];
            check_var_name(name)?;
            let val = env.var(name)?;
            out.push_str(&val);
            values.push(val);
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// A shell variable name: `[A-Za-z_][A-Za-z0-9_]*`.
fn check_var_name(name: &str) -> Result<(), EnvError> {
    let mut chars = name.chars();
    match chars.next() {
        None => Err(EnvError::EmptyName),
        Some(c)
            if (c.is_ascii_alphabetic() || c == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Ok(())
        }
        Some(_) => Err(EnvError::BadName(name.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_with_a_bad_name_are_errors_and_plain_dollars_stay() {
        assert_eq!(
            substitute_env("${VAR:-x}"),
            Err(EnvError::BadName("VAR:-x".into()))
        );
        assert_eq!(substitute_env("${1A}"), Err(EnvError::BadName("1A".into())));
        assert_eq!(
            substitute_env("cost $5, $$HOME, $HOME").unwrap(),
            "cost $5, $HOME, $HOME"
        );
    }

    #[test]
    fn values_come_from_the_lookup_given_and_must_be_utf8() {
        use std::os::unix::ffi::OsStringExt;
        let get = |name: &str| match name {
            "HOST" => Some(OsString::from("db.local")),
            "RAW" => Some(OsString::from_vec(vec![0xff, 0xfe])),
            _ => None,
        };
        let env = Env::lookup(&get);
        assert_eq!(
            substitute_env_with("${HOST}:5432", env).unwrap(),
            "db.local:5432"
        );
        assert_eq!(
            substitute_env_with("${RAW}", env),
            Err(EnvError::NotUnicode("RAW".into()))
        );
        assert_eq!(
            substitute_env_with("${PATH}", env),
            Err(EnvError::Unset("PATH".into())),
            "the process environment is not consulted"
        );
    }
}
