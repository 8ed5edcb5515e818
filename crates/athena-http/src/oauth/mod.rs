//! Access tokens that expire (OAuth 2.0): where an [`ApiClient`](crate::ApiClient) gets the
//! bearer token of each request when its config has a [`TokenSource`].
//!
//! The client asks the source for a token before every request (a source caches it until
//! shortly before it expires), sends it as `Authorization: Bearer …`, and when the API answers
//! 401 tells the source the token was refused and tries once more with a fresh one. Tokens are
//! [`Secret`]s: never logged, and masked in every error the client builds.
//!
//! [`RefreshToken`] is OAuth 2.0's refresh-token grant (RFC 6749 §6), as Google's token
//! endpoint speaks it; [`ServiceAccount`] is the JWT bearer grant (RFC 7523) of a Google
//! service account's key. [`authorization_code`] and [`Pkce`] are the one-time consent that
//! yields a refresh token (RFC 6749 §4.1 with RFC 7636), for a command a person runs.

mod code;
#[cfg(test)]
mod fake_google_tests;
pub(crate) mod service_account;

pub use code::{authorization_code, random_state, CodeTokens, Pkce};
pub use service_account::{ServiceAccount, ServiceAccountKey, ServiceAccountKeyError};

use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use athena_core::Secret;
use serde::Deserialize;

use crate::error::{HttpError, HttpErrorKind};
use crate::redact::redact_url;
use url::Url;

/// Google's OAuth 2.0 token endpoint.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// A token is taken as expired this long before the server says, so that it does not expire
/// in flight.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

/// Where a client's bearer tokens come from.
#[async_trait]
pub trait TokenSource: Send + Sync + std::fmt::Debug {
    /// A token to send now: cached while it is valid, else fetched.
    async fn access_token(&self) -> Result<Secret, HttpError>;

    /// The API refused `token` (401): it is not handed out again.
    fn reject(&self, token: &Secret);
}

/// A cached token and when it stops being handed out.
#[derive(Debug, Default)]
pub(crate) struct Cached(Mutex<Option<(Secret, Instant)>>);

impl Cached {
    /// The cached token, if it is still valid.
    pub(crate) fn get(&self) -> Option<Secret> {
        let cached = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match &*cached {
            Some((token, until)) if Instant::now() < *until => Some(token.clone()),
            _ => None,
        }
    }

    /// Keeps `token` for `expires_in` minus the margin.
    pub(crate) fn put(&self, token: Secret, expires_in: Duration) {
        let until = Instant::now() + expires_in.saturating_sub(EXPIRY_MARGIN);
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((token, until));
    }

    /// Forgets the token if it is `token`.
    pub(crate) fn forget(&self, token: &Secret) {
        let mut cached = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if cached
            .as_ref()
            .is_some_and(|(t, _)| t.expose() == token.expose())
        {
            *cached = None;
        }
    }
}

/// What a token endpoint answers (RFC 6749 §5.1); `expires_in` in seconds.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) expires_in: Option<u64>,
    /// Only in the answer to an authorization code.
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

/// An OAuth 2.0 refresh token exchanged at `token_uri` for access tokens.
#[derive(Debug)]
pub struct RefreshToken {
    source_id: String,
    token_uri: Url,
    client_id: String,
    client_secret: Secret,
    refresh_token: Secret,
    http: reqwest::Client,
    cached: Cached,
}

impl RefreshToken {
    /// Exchanges `refresh_token` of the OAuth client `client_id` at `token_uri`.
    pub fn new(
        source_id: impl Into<String>,
        token_uri: Url,
        client_id: impl Into<String>,
        client_secret: Secret,
        refresh_token: Secret,
    ) -> Self {
        RefreshToken {
            source_id: source_id.into(),
            token_uri,
            client_id: client_id.into(),
            client_secret,
            refresh_token,
            http: token_client(),
            cached: Cached::default(),
        }
    }
}

#[async_trait]
impl TokenSource for RefreshToken {
    async fn access_token(&self) -> Result<Secret, HttpError> {
        if let Some(token) = self.cached.get() {
            return Ok(token);
        }
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "refresh_token")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose())
            .append_pair("refresh_token", self.refresh_token.expose())
            .finish();
        let secrets = [self.client_secret.expose(), self.refresh_token.expose()];
        let (token, expires_in) =
            exchange(&self.http, &self.token_uri, form, &secrets, &self.source_id).await?;
        self.cached.put(token.clone(), expires_in);
        Ok(token)
    }

    fn reject(&self, token: &Secret) {
        self.cached.forget(token);
    }
}

/// The largest token endpoint answer read (1 MiB).
const MAX_TOKEN_RESPONSE_BYTES: u64 = 1024 * 1024;

/// The client token requests go through: short timeouts, no redirects (a token endpoint that
/// redirects is misconfigured, and the form holds secrets).
pub(crate) fn token_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("athena-ingest/", env!("CARGO_PKG_VERSION")))
        .build()
        // Fixed settings and the bundled TLS: this does not fail; if it ever did, a default
        // client (following redirects, replaying the form with its secrets) must not stand in.
        .expect("building the token endpoint's HTTP client")
}

/// POSTs `form` to `token_uri` and reads the access token and its lifetime; `secrets` are
/// masked in any error (an endpoint may echo the form).
pub(crate) async fn exchange(
    http: &reqwest::Client,
    token_uri: &Url,
    form: String,
    secrets: &[&str],
    source_id: &str,
) -> Result<(Secret, Duration), HttpError> {
    let parsed = exchange_form(http, token_uri, form, secrets, source_id).await?;
    let expires_in = Duration::from_secs(parsed.expires_in.unwrap_or(3600));
    Ok((Secret::new(parsed.access_token), expires_in))
}

/// [`exchange`], the whole answer.
pub(crate) async fn exchange_form(
    http: &reqwest::Client,
    token_uri: &Url,
    form: String,
    secrets: &[&str],
    source_id: &str,
) -> Result<TokenResponse, HttpError> {
    // The redactor also finds the secrets percent-encoded or JSON-escaped, as an endpoint
    // that echoes the form would show them.
    let mut redactor = athena_core::Redactor::new();
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        redactor.add(secret);
    }
    let mask = |text: &str| redactor.redact(text).into_owned();
    let error = |kind, status: Option<u16>, message: String, body: &str| HttpError {
        kind,
        method: "POST",
        url: redact_url(token_uri),
        status,
        message: format!(
            "getting an access token for source {source_id}: {}",
            mask(&message)
        ),
        body: mask(&body.chars().take(300).collect::<String>()),
        retry_after: None,
    };
    let response = http
        .post(token_uri.clone())
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form)
        .send()
        .await
        .map_err(|e| {
            // No connection at all gets the client's few quick retries (see `RetryPolicy`).
            let kind = if e.is_connect() {
                HttpErrorKind::Unreachable
            } else {
                HttpErrorKind::Network
            };
            error(kind, None, crate::client::describe_request_error(e), "")
        })?;
    let status = response.status();
    // A token answer is a few hundred bytes; an endpoint sending more is not one to hold.
    let body = match crate::client::read_body(response, MAX_TOKEN_RESPONSE_BYTES).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(crate::client::BodyError::TooLarge) => {
            return Err(error(
                HttpErrorKind::TooLarge,
                Some(status.as_u16()),
                format!("the answer is larger than {MAX_TOKEN_RESPONSE_BYTES} bytes; not read"),
                "",
            ))
        }
        Err(crate::client::BodyError::Read(_)) => String::new(),
    };
    if !status.is_success() {
        // 400 `invalid_grant` (a revoked or expired refresh token) and 401 `invalid_client`
        // need a person: the credentials are refused.
        let kind = match status.as_u16() {
            400 | 401 | 403 => HttpErrorKind::Unauthorized,
            429 => HttpErrorKind::RateLimited,
            s if s >= 500 => HttpErrorKind::Server,
            _ => HttpErrorKind::Client,
        };
        let reason = status.canonical_reason().unwrap_or("").to_string();
        return Err(error(kind, Some(status.as_u16()), reason, &body));
    }
    let parsed: TokenResponse = serde_json::from_str(&body).map_err(|e| {
        // A successful answer holds fresh tokens: neither serde's message (which may quote a
        // value) nor the body is shown, only where it went wrong and the names it holds.
        let names = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>()))
            .map_or_else(
                || "not JSON".to_string(),
                |k| format!("fields: {}", k.join(", ")),
            );
        error(
            HttpErrorKind::Decode,
            Some(status.as_u16()),
            format!(
                "not a token response ({:?} at line {} column {}; {names})",
                e.classify(),
                e.line(),
                e.column()
            ),
            "",
        )
    })?;
    Ok(parsed)
}

/// A token that never changes (a personal access token, or a test's).
#[derive(Debug)]
pub struct StaticToken(pub Secret);

#[async_trait]
impl TokenSource for StaticToken {
    async fn access_token(&self) -> Result<Secret, HttpError> {
        Ok(self.0.clone())
    }

    fn reject(&self, _token: &Secret) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_token_is_handed_out_until_it_expires_or_is_refused() {
        let cached = Cached::default();
        assert!(cached.get().is_none());
        cached.put(Secret::new("a"), Duration::from_secs(3600));
        assert_eq!(cached.get().unwrap().expose(), "a");
        cached.forget(&Secret::new("b"));
        assert!(cached.get().is_some(), "another token's refusal forgot it");
        cached.forget(&Secret::new("a"));
        assert!(cached.get().is_none());
        // Within the margin of its expiry: not handed out.
        cached.put(Secret::new("c"), Duration::from_secs(30));
        assert!(cached.get().is_none());
    }
}
