//! Integration tests of the `athena-ingest` binary, one binary for all areas (one link step).

mod support;

mod api_log_bad_input;
mod api_log_tail;
mod auth_google;
mod circleci_api;
mod cli_commands;
mod cli_errors;
mod cli_output;
mod cli_search;
mod config_errors;
mod crash_safety;
mod files_scan;
mod git_history;
mod github_api;
mod gmail_api;
mod google_calendar_api;
mod jira_api;
mod linear_api;
mod mcp_server;
mod readme;
mod recall_api;
mod recall_limits;
mod repo_standalone;
mod secrets_redaction;
mod serve_basic;
mod serve_live;
mod serve_support;
mod slack_api;
mod sources_declared_once;
mod store_foreign;
mod store_read_only;
mod store_upgrade;
mod web_page;
