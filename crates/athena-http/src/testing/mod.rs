//! A kit for fakes of HTTP APIs, so a source's tests run it against the API's documented
//! shapes on localhost, never the internet (feature `test-server`).
//!
//! A fake of an API is only its routes and its data: a type implementing [`Routes`], held by a
//! [`FakeApi`], which brings what every fake needs: canned faults for the next matching request
//! (429 with `Retry-After`, 5xx, a malformed body), a delay before each answer, and
//! [`FakeApi::start`]. [`paging`] slices lists into pages (a `Link` header's page numbers, a
//! body's cursor token) and [`conditional`] answers `If-None-Match` with 304s.
//!
//! - `server`: [`TestServer`], the HTTP/1.1 server underneath, recording every request.
//! - `fake`: [`FakeApi`] and [`Routes`].
//! - `google`: [`FakeGoogleAuth`], Google's OAuth 2.0 token endpoint (refresh tokens, service
//!   accounts, authorization codes), for the Google sources' tests.

mod fake;
pub(crate) mod google;
mod server;

pub mod conditional;
pub mod paging;

pub use fake::{FakeApi, Routes};
pub use google::FakeGoogleAuth;
pub use server::{TestRequest, TestResponse, TestServer};
