//! `${VAR}` substitution in config values, and [`EnvError`] when it fails.

use super::{ConfigError, SourceConfig};

pub(super) fn substitute_env_in_table(
    table: &mut toml::Table,
    sc: &SourceConfig,
    prefix: &str,
    env_values: &mut Vec<String>,
) -> Result<(), ConfigError> {
    for (k, v) in table.iter_mut() {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        substitute_env_in_value(v, sc, &key, env_values)?;
    }
    Ok(())
}

fn substitute_env_in_value(
    v: &mut toml::Value,
    sc: &SourceConfig,
    key: &str,
    env_values: &mut Vec<String>,
) -> Result<(), ConfigError> {
    match v {
        toml::Value::String(s) => {
            *s = substitute_env_collecting(s, env_values)
                .map_err(|e| sc.error(Some(key), e.to_string()))?;
        }
        toml::Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute_env_in_value(item, sc, &format!("{key}[{i}]"), env_values)?;
            }
        }
        toml::Value::Table(t) => substitute_env_in_table(t, sc, key, env_values)?,
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
    substitute_env_collecting(s, &mut Vec::new())
}

/// [`substitute_env`], also collecting the values it put in.
pub(super) fn substitute_env_collecting(
    s: &str,
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
            match std::env::var(name) {
                Ok(val) => {
                    out.push_str(&val);
                    values.push(val);
                }
                Err(std::env::VarError::NotPresent) => {
                    return Err(EnvError::Unset(name.to_string()))
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(EnvError::NotUnicode(name.to_string()))
                }
            }
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
}
