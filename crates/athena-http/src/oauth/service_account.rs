//! A Google service account's access tokens: a JWT signed with the account's private key
//! (RS256) exchanged at the token endpoint (the JWT bearer grant, RFC 7523, as Google documents
//! it for server-to-server apps). The private key never leaves this module: it is parsed once,
//! and no error or `Debug` output shows it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use athena_core::Secret;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use serde::Deserialize;
use url::Url;

use super::{exchange, token_client, Cached, TokenSource};
use crate::error::{HttpError, HttpErrorKind};
use crate::redact::redact_url;

/// How long an assertion is valid: Google's maximum.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);

/// The grant type of RFC 7523.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// What was wrong with a service account's JSON key. The messages never quote the file: it
/// holds the private key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceAccountKeyError {
    /// Not JSON, or a field missing or of the wrong type.
    #[error("not a service account JSON key: {what} at line {line}, column {column}")]
    Json {
        /// The kind of mistake (syntax, a missing field, …), without the text.
        what: &'static str,
        /// Where in the file.
        line: usize,
        /// Where in the line.
        column: usize,
    },
    /// A JSON key of another kind (`"type": "authorized_user"`, …).
    #[error("a key of type {0:?}, not \"service_account\"")]
    NotAServiceAccount(String),
    /// `private_key` is not an RSA key in PEM.
    #[error("private_key: {0}")]
    PrivateKey(String),
}

/// A service account's JSON key, as the Google Cloud console downloads it (the fields used).
#[derive(Deserialize)]
pub struct ServiceAccountKey {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    client_email: String,
    private_key: Secret,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key", &"***")
            .finish_non_exhaustive()
    }
}

impl ServiceAccountKey {
    /// Reads a key from the text of its JSON file.
    pub fn from_json(text: &str) -> Result<Self, ServiceAccountKeyError> {
        let key: ServiceAccountKey = serde_json::from_str(text).map_err(|e| {
            // serde_json's message can quote a value (the private key): only its category.
            let what = match e.classify() {
                serde_json::error::Category::Io => "unreadable",
                serde_json::error::Category::Syntax => "a syntax error",
                serde_json::error::Category::Data => "a missing field or a field of the wrong type",
                serde_json::error::Category::Eof => "the end of the file too early",
            };
            ServiceAccountKeyError::Json {
                what,
                line: e.line(),
                column: e.column(),
            }
        })?;
        match key.kind.as_deref() {
            None | Some("service_account") => Ok(key),
            Some(other) => Err(ServiceAccountKeyError::NotAServiceAccount(
                other.to_string(),
            )),
        }
    }

    /// The account's address (`…@….iam.gserviceaccount.com`).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The token endpoint the key names, if it names one.
    pub fn token_uri(&self) -> Option<&str> {
        self.token_uri.as_deref()
    }
}

/// A service account exchanging signed assertions for access tokens, cached like
/// [`RefreshToken`](super::RefreshToken)'s.
pub struct ServiceAccount {
    source_id: String,
    token_uri: Url,
    client_email: String,
    key_id: Option<String>,
    key: RsaKeyPair,
    scope: String,
    subject: Option<String>,
    rng: SystemRandom,
    http: reqwest::Client,
    cached: Cached,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccount")
            .field("source_id", &self.source_id)
            .field("token_uri", &redact_url(&self.token_uri))
            .field("client_email", &self.client_email)
            .field("scope", &self.scope)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    /// Asks `token_uri` for tokens of `scopes` as the account of `key`, or as `subject` (a user
    /// of the account's Workspace domain, through domain-wide delegation).
    pub fn new(
        source_id: impl Into<String>,
        key: &ServiceAccountKey,
        token_uri: Url,
        scopes: &[&str],
        subject: Option<String>,
    ) -> Result<Self, ServiceAccountKeyError> {
        Ok(ServiceAccount {
            source_id: source_id.into(),
            token_uri,
            client_email: key.client_email.clone(),
            key_id: key.private_key_id.clone(),
            key: rsa_key_from_pem(key.private_key.expose())?,
            scope: scopes.join(" "),
            subject,
            rng: SystemRandom::new(),
            http: token_client(),
            cached: Cached::default(),
        })
    }

    /// The signed JWT for an exchange at `now` (seconds since the epoch).
    pub(crate) fn assertion(&self, now: u64) -> Result<String, HttpError> {
        let mut header = serde_json::json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.key_id {
            header["kid"] = kid.as_str().into();
        }
        let mut claims = serde_json::json!({
            "iss": self.client_email,
            "scope": self.scope,
            "aud": self.token_uri.as_str(),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME.as_secs(),
        });
        if let Some(sub) = &self.subject {
            claims["sub"] = sub.as_str().into();
        }
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| HttpError {
                kind: HttpErrorKind::Request,
                method: "POST",
                url: redact_url(&self.token_uri),
                status: None,
                message: format!(
                    "getting an access token for source {}: signing the assertion failed",
                    self.source_id
                ),
                body: String::new(),
                retry_after: None,
            })?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

#[async_trait]
impl TokenSource for ServiceAccount {
    async fn access_token(&self) -> Result<Secret, HttpError> {
        if let Some(token) = self.cached.get() {
            return Ok(token);
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let assertion = self.assertion(now)?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", JWT_BEARER)
            .append_pair("assertion", &assertion)
            .finish();
        let (token, expires_in) = exchange(
            &self.http,
            &self.token_uri,
            form,
            &[&assertion],
            &self.source_id,
        )
        .await?;
        self.cached.put(token.clone(), expires_in);
        Ok(token)
    }

    fn reject(&self, token: &Secret) {
        self.cached.forget(token);
    }
}

/// An RSA private key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`, what Google's keys hold) or
/// PKCS#1 (`BEGIN RSA PRIVATE KEY`).
pub(crate) fn rsa_key_from_pem(pem: &str) -> Result<RsaKeyPair, ServiceAccountKeyError> {
    let bad = |m: &str| ServiceAccountKeyError::PrivateKey(m.to_string());
    let label = pem
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("-----BEGIN ")?.strip_suffix("-----"))
        .ok_or_else(|| bad("not a PEM key (no -----BEGIN line)"))?;
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| !l.starts_with("-----BEGIN "))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END "))
        .collect();
    let der = STANDARD
        .decode(body.as_bytes())
        .map_err(|_| bad("the PEM body is not base64"))?;
    let parsed = match label {
        "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
        "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
        _ => return Err(bad("not a PRIVATE KEY or RSA PRIVATE KEY in PEM")),
    };
    parsed.map_err(|e| bad(&format!("not a usable RSA key ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};

    const TEST_KEY: &str = include_str!("../../testdata/TEST-ONLY-google-service-account-key.pem");

    fn key_json(private_key: &str) -> String {
        serde_json::json!({
            "type": "service_account",
            "client_email": "sa@test.iam.gserviceaccount.com",
            "private_key_id": "kid-1",
            "private_key": private_key,
            "token_uri": "https://oauth2.example/token",
        })
        .to_string()
    }

    fn decode(part: &str) -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn the_assertion_is_an_rs256_jwt_with_googles_claims_and_a_valid_signature() {
        let key = ServiceAccountKey::from_json(&key_json(TEST_KEY)).unwrap();
        let token_uri = Url::parse("https://oauth2.example/token").unwrap();
        let account = ServiceAccount::new(
            "g",
            &key,
            token_uri,
            &["scope.a", "scope.b"],
            Some("user@example.com".into()),
        )
        .unwrap();
        let jwt = account.assertion(1_700_000_000).unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        assert_eq!(
            decode(parts[0]),
            serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": "kid-1"})
        );
        assert_eq!(
            decode(parts[1]),
            serde_json::json!({
                "iss": "sa@test.iam.gserviceaccount.com",
                "scope": "scope.a scope.b",
                "aud": "https://oauth2.example/token",
                "iat": 1_700_000_000u64,
                "exp": 1_700_003_600u64,
                "sub": "user@example.com",
            })
        );
        let public = rsa_key_from_pem(TEST_KEY).unwrap();
        let public = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public.public().as_ref());
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let signed = format!("{}.{}", parts[0], parts[1]);
        public.verify(signed.as_bytes(), &signature).unwrap();
        let tampered = format!("{}.{}x", parts[0], parts[1]);
        assert!(public.verify(tampered.as_bytes(), &signature).is_err());
    }

    #[test]
    fn key_errors_never_quote_the_private_key() {
        // A private key of the wrong type: serde_json's own message would quote it.
        let text = key_json(TEST_KEY).replace("\"type\":\"service_account\"", "\"type\":1");
        let wrong_type = serde_json::json!({"client_email": 5, "private_key": TEST_KEY});
        for text in [
            text,
            wrong_type.to_string(),
            key_json("-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----"),
        ] {
            let err = match ServiceAccountKey::from_json(&text).and_then(|k| {
                ServiceAccount::new("g", &k, Url::parse("http://x/").unwrap(), &[], None)
            }) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("accepted {text}"),
            };
            assert!(!err.contains("MII"), "{err}");
            assert!(!err.contains("BEGIN"), "{err}");
        }
        let user = key_json(TEST_KEY).replace("service_account", "authorized_user");
        assert!(matches!(
            ServiceAccountKey::from_json(&user),
            Err(ServiceAccountKeyError::NotAServiceAccount(_))
        ));
        let debug = format!(
            "{:?}",
            ServiceAccountKey::from_json(&key_json(TEST_KEY)).unwrap()
        );
        assert!(!debug.contains("MII"), "{debug}");
    }
}
