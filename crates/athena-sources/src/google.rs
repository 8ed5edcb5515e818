//! What the Google sources (`gmail`, `google_calendar`) share: the OAuth 2.0 keys of their
//! tables and the access tokens made from them.
//!
//! Two ways to authorize, as Google offers them:
//! - an OAuth client's `client_id` and `client_secret` with a user's `refresh_token` (from
//!   `athena-ingest auth google`), exchanged at `token_uri` for access tokens;
//! - a service account's JSON key (`credentials_file`), optionally acting for `subject` through
//!   domain-wide delegation.
//!
//! Access tokens are cached until shortly before they expire and fetched again when an API
//! refuses one (see `athena_http::oauth`).

use std::sync::Arc;

use athena_core::{ConfigError, Secret, SourceConfig};
use athena_http::oauth::{RefreshToken, TokenSource};
use athena_http::Url;

/// Google's OAuth 2.0 token endpoint.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

athena_core::declare_config! {
    /// The OAuth 2.0 keys of a Google source's table (flattened into it).
    #[derive(Debug, Clone)]
    pub struct GoogleAuthKeys {
        /// The OAuth client's id (with `client_secret` and `refresh_token`).
        pub client_id: Option<String> = None,
        /// The OAuth client's secret, usually `"${GOOGLE_CLIENT_SECRET}"`; never logged or
        /// stored.
        pub client_secret: Option<Secret> = None,
        /// A user's refresh token, from `athena-ingest auth google`; never logged or stored.
        pub refresh_token: Option<Secret> = None,
        /// The token endpoint.
        #[key(kind = "URL")]
        pub token_uri: String = GOOGLE_TOKEN_URI.into(),
        /// A service account's JSON key file, instead of the three keys above.
        #[key(kind = "path")]
        pub credentials_file: Option<String> = None,
        /// With `credentials_file`: the user the service account acts for (domain-wide
        /// delegation).
        pub subject: Option<String> = None,
    }
}

impl GoogleAuthKeys {
    /// Where the source's access tokens come from, for `scopes` (a service account asks for
    /// them; a refresh token has the scopes it was granted). A missing or half-given set of
    /// keys is a config error naming them.
    pub fn token_source(
        &self,
        config: &SourceConfig,
        scopes: &[&str],
    ) -> Result<Arc<dyn TokenSource>, ConfigError> {
        let _ = scopes;
        let token_uri = Url::parse(&self.token_uri)
            .map_err(|e| config.error(Some("token_uri"), format!("not a URL: {e}")))?;
        if !matches!(token_uri.scheme(), "http" | "https") {
            return Err(config.error(Some("token_uri"), "must be an http or https URL"));
        }
        let oauth_keys = [
            self.client_id.is_some(),
            self.client_secret.is_some(),
            self.refresh_token.is_some(),
        ];
        match (&self.credentials_file, oauth_keys) {
            (Some(_), [false, false, false]) => Err(config.error(
                Some("credentials_file"),
                "a service account key is not supported yet: use client_id, client_secret and refresh_token",
            )),
            (Some(_), _) => Err(config.error(
                Some("credentials_file"),
                "give either credentials_file or client_id, client_secret and refresh_token, not both",
            )),
            (None, [true, true, true]) => Ok(Arc::new(RefreshToken::new(
                config.id.clone(),
                token_uri,
                self.client_id.clone().unwrap_or_default(),
                self.client_secret.clone().expect("checked above"),
                self.refresh_token.clone().expect("checked above"),
            ))),
            (None, [false, false, false]) => Err(config.error(
                None,
                "needs credentials: client_id, client_secret and refresh_token (from `athena-ingest auth google`), or credentials_file",
            )),
            (None, [id, secret, _]) => {
                let missing = if !id {
                    "client_id"
                } else if !secret {
                    "client_secret"
                } else {
                    "refresh_token"
                };
                Err(config.error(
                    Some(missing),
                    "client_id, client_secret and refresh_token go together",
                ))
            }
        }
    }
}
