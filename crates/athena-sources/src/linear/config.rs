//! The `linear` source's configuration: a `[[sources]]` entry with `type = "linear"`.

use athena_core::config::BATCH_SIZE_RANGE;
use athena_core::Secret;
use serde::{Deserialize, Serialize};

athena_core::declare_config! {
    /// Configuration of a `linear` source.
    #[derive(Debug, Clone)]
    pub struct LinearConfig {
        /// A personal API key (`lin_api_…`, sent as `Authorization: <key>`) or an OAuth access
        /// token (sent as `Authorization: Bearer <token>`), usually `"${LINEAR_API_KEY}"`;
        /// never logged or stored.
        pub token: Secret,
        /// How `token` is sent: `auto` (a `lin_api_` prefix is an API key, anything else an
        /// OAuth token), `api_key` or `oauth`.
        pub token_type: TokenType = TokenType::Auto,
        /// Team keys (`ENG`, `OPS`) whose issues are read.
        #[key(default_text = "every team the token can see")]
        pub teams: Vec<String> = Vec::new(),
        /// The GraphQL endpoint.
        #[key(kind = "URL")]
        pub api_url: String = "https://api.linear.app/graphql".into(),
        /// Issues per query. Each issue brings up to 50 history entries and 50 comments, so a
        /// page of 15 costs about 7,800 of Linear's complexity points (the limit is 10,000 a
        /// query).
        #[key(range = 1..=50)]
        pub page_size: usize = 15,
        /// Seconds before the stored high-water mark that each sync reads again, for updates
        /// stamped out of order.
        #[key(range = 0..=86400)]
        pub overlap_secs: u64 = 300,
        /// Events per stored batch.
        #[key(range = BATCH_SIZE_RANGE)]
        pub batch_size: usize = crate::api::DEFAULT_BATCH_SIZE,
        #[flatten]
        /// The HTTP client's keys.
        pub(crate) http: crate::api::HttpKnobs,
    }
}

impl LinearConfig {
    pub(crate) fn knobs(&self) -> crate::api::HttpKnobs {
        self.http
    }

    /// The `Authorization` header's value for the token.
    pub(crate) fn authorization(&self) -> Secret {
        let token = self.token.expose().trim();
        let api_key = match self.token_type {
            TokenType::Auto => token.starts_with("lin_api_"),
            TokenType::ApiKey => true,
            TokenType::Oauth => false,
        };
        if api_key {
            Secret::new(token.to_string())
        } else {
            Secret::new(format!("Bearer {token}"))
        }
    }
}

/// How the token is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    /// By its prefix: `lin_api_` is an API key.
    Auto,
    /// A personal API key, sent bare.
    ApiKey,
    /// An OAuth access token, sent as `Bearer`.
    Oauth,
}

athena_core::config_enum!(TokenType);

#[cfg(test)]
mod tests {
    use athena_core::SourceConfig;

    use super::*;

    fn authorization(token: &str, token_type: Option<&str>) -> String {
        let mut table = toml::Table::new();
        table.insert("token".into(), token.into());
        if let Some(t) = token_type {
            table.insert("token_type".into(), t.into());
        }
        let c: LinearConfig = SourceConfig::new("lin", "linear", table).parse().unwrap();
        c.authorization().expose().to_string()
    }

    #[test]
    fn an_api_key_is_sent_bare_and_an_oauth_token_as_bearer_by_prefix_or_by_token_type() {
        assert_eq!(authorization("lin_api_abc", None), "lin_api_abc");
        assert_eq!(authorization("oauth-abc", None), "Bearer oauth-abc");
        assert_eq!(authorization("custom-key", Some("api_key")), "custom-key");
        assert_eq!(
            authorization("lin_api_abc", Some("oauth")),
            "Bearer lin_api_abc"
        );
        let mut table = toml::Table::new();
        table.insert("token".into(), "x".into());
        table.insert("token_type".into(), "basic".into());
        let err = SourceConfig::new("lin", "linear", table)
            .parse::<LinearConfig>()
            .unwrap_err();
        assert!(err.to_string().contains("token_type"), "{err}");
    }
}
