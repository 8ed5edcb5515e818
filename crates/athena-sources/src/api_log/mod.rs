//! `type = "api_log"`: HTTP request logs (Apache/nginx combined and common formats, JSON lines).
//!
//! So far this holds the line parser ([`parse`]); the source that tails files with checkpoints
//! and dead-letters bad lines is being built on it (issue 3) and is not registered yet.

pub mod parse;
