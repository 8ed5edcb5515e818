//! athena-server's integration tests, in one binary: the server started in process by a
//! program that embeds it (no binary spawned).

mod serve_in_process;
