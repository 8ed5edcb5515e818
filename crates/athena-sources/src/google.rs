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

use std::path::Path;
use std::sync::Arc;

use athena_core::{ConfigError, Secret, SourceConfig};
use athena_http::oauth::{RefreshToken, ServiceAccount, ServiceAccountKey, TokenSource};
use athena_http::Url;

pub use athena_http::oauth::GOOGLE_TOKEN_URI;

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
        /// The token endpoint. With `credentials_file`, the key file's `token_uri` is used
        /// unless this is set to another than Google's.
        #[key(kind = "URL")]
        pub token_uri: String = GOOGLE_TOKEN_URI.into(),
        /// A service account's JSON key file, instead of the three keys above (relative to
        /// the config file); read when the source is built, its private key never logged.
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
            (Some(file), [false, false, false]) => {
                self.service_account(config, file, token_uri, scopes)
            }
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

    /// The keys to check when Google refuses the credentials, by the way this table
    /// authorizes (for the sources' 401 messages).
    pub fn keys_to_check(&self) -> &'static str {
        match (&self.credentials_file, &self.subject) {
            (Some(_), Some(_)) => {
                "credentials_file and subject: the service account's key, and its domain-wide delegation for the subject"
            }
            (Some(_), None) => "credentials_file: the service account's key",
            (None, _) => "client_id, client_secret and refresh_token",
        }
    }

    /// A service account from the JSON key at `file`; errors name the file, never its text.
    fn service_account(
        &self,
        config: &SourceConfig,
        file: &str,
        token_uri: Url,
        scopes: &[&str],
    ) -> Result<Arc<dyn TokenSource>, ConfigError> {
        let path = config.resolve_path(Path::new(file));
        let fail = |why: String| {
            config.error(
                Some("credentials_file"),
                format!("service account key {}: {why}", path.display()),
            )
        };
        let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
        let key = ServiceAccountKey::from_json(&text).map_err(|e| fail(e.to_string()))?;
        // Google's keys name Google's endpoint; a table naming another one wins (a proxy, a
        // test).
        let token_uri = match key.token_uri() {
            Some(from_key) if self.token_uri == GOOGLE_TOKEN_URI => {
                Url::parse(from_key).map_err(|e| fail(format!("token_uri is not a URL: {e}")))?
            }
            _ => token_uri,
        };
        let account = ServiceAccount::new(
            config.id.clone(),
            &key,
            token_uri,
            scopes,
            self.subject.clone(),
        )
        .map_err(|e| fail(e.to_string()))?;
        Ok(Arc::new(account))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use athena_http::testing::FakeGoogleAuth;

    const SCOPE: &str = "https://www.googleapis.com/auth/gmail.readonly";

    fn source(table: &str) -> (SourceConfig, Result<Arc<dyn TokenSource>, ConfigError>) {
        let config = SourceConfig::new("mail", "gmail", toml::from_str(table).unwrap());
        let keys: GoogleAuthKeys = config.parse().unwrap();
        let tokens = keys.token_source(&config, &[SCOPE]);
        (config, tokens)
    }

    #[tokio::test]
    async fn a_service_account_key_file_gets_tokens_for_the_scopes_and_subject() {
        let auth = FakeGoogleAuth::start();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sa.json");
        std::fs::write(&file, auth.service_account_key()).unwrap();
        let table = format!(
            "credentials_file = {:?}\nsubject = \"ada@example.com\"",
            file.display().to_string()
        );
        let (_, tokens) = source(&table);
        let token = tokens.unwrap().access_token().await.unwrap();
        assert_eq!(auth.issued_tokens(), [token.expose()]);
        let claims = auth.last_claims().unwrap();
        assert_eq!(claims["scope"], SCOPE);
        assert_eq!(claims["sub"], "ada@example.com");
        assert_eq!(claims["iss"], FakeGoogleAuth::SERVICE_ACCOUNT);
    }

    #[tokio::test]
    async fn a_refresh_token_table_gets_tokens_from_its_token_uri() {
        let auth = FakeGoogleAuth::start();
        let table = format!(
            "client_id = {:?}\nclient_secret = {:?}\nrefresh_token = {:?}\ntoken_uri = {:?}",
            FakeGoogleAuth::CLIENT_ID,
            FakeGoogleAuth::CLIENT_SECRET,
            FakeGoogleAuth::REFRESH_TOKEN,
            auth.token_uri()
        );
        let (_, tokens) = source(&table);
        tokens.unwrap().access_token().await.unwrap();
        assert_eq!(auth.calls(), 1);
    }

    #[test]
    fn a_missing_or_malformed_key_file_is_a_config_error_naming_it_not_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.json");
        let (_, tokens) = source(&format!(
            "credentials_file = {:?}",
            missing.display().to_string()
        ));
        let err = tokens.unwrap_err().to_string();
        assert!(err.contains("credentials_file"), "{err}");
        assert!(err.contains("nope.json"), "{err}");

        // A key whose private key is cut off mid-way (not JSON any more), and one that is JSON
        // but holds no usable key.
        let auth = FakeGoogleAuth::start();
        let key = auth.service_account_key();
        let cut = &key[..key.find("MII").unwrap() + 200];
        let garbled = key.replace("MII", "!!!");
        for (name, text) in [("cut.json", cut.to_string()), ("garbled.json", garbled)] {
            let file = dir.path().join(name);
            std::fs::write(&file, &text).unwrap();
            let (_, tokens) = source(&format!(
                "credentials_file = {:?}",
                file.display().to_string()
            ));
            let err = tokens.unwrap_err().to_string();
            assert!(err.contains("credentials_file"), "{err}");
            assert!(err.contains(name), "{err}");
            assert!(!err.contains("MII") && !err.contains("!!!"), "{err}");
        }
    }

    #[test]
    fn a_key_file_and_a_refresh_token_together_are_refused() {
        let (_, tokens) = source(
            "credentials_file = \"sa.json\"\nclient_id = \"c\"\nclient_secret = \"s\"\nrefresh_token = \"r\"",
        );
        let err = tokens.unwrap_err().to_string();
        assert!(err.contains("not both"), "{err}");
    }
}
