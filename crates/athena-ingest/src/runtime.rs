//! The async runtime a command runs on: two workers, the cores a small host has.

use anyhow::{Context, Result};

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .worker_threads(2)
        .build()
        .context("starting the async runtime")
}
