//! Reading the config file `serve` runs, with the refusals a user fixes (exit 2 in the binary).

use std::path::Path;

use anyhow::Result;
use athena_core::{Config, ConfigError};

use crate::ServeError;

/// The config at `path`; a missing file is a usage error.
pub(crate) fn load_config(path: &Path) -> Result<Config> {
    if !path.exists() {
        return Err(ServeError::Usage(format!(
            "config file {} not found (create one with `athena-ingest init`, or pass --config)",
            path.display()
        ))
        .into());
    }
    Ok(Config::load(path)?)
}

/// [`load_config`] for running sources: a config without any is a config error, since running
/// nothing and reporting success would hide a misspelled or empty file.
pub(crate) fn load_sources_config(path: &Path) -> Result<Config> {
    let config = load_config(path)?;
    if config.sources.is_empty() {
        return Err(ConfigError {
            file: Some(path.to_path_buf()),
            ..ConfigError::new(
                "no sources configured: add a [[sources]] table (`athena-ingest sources` lists the types)",
            )
        }
        .into());
    }
    Ok(config)
}
