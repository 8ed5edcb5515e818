//! [`FakeGoogleAuth`]: Google's OAuth 2.0 token endpoint on localhost, for the tests of the
//! Google sources and of `athena-ingest auth google`.
//!
//! It answers `POST /token` for three grants, checking what Google checks:
//! - `refresh_token`: [`CLIENT_ID`](FakeGoogleAuth::CLIENT_ID),
//!   [`CLIENT_SECRET`](FakeGoogleAuth::CLIENT_SECRET) and
//!   [`REFRESH_TOKEN`](FakeGoogleAuth::REFRESH_TOKEN);
//! - the JWT bearer grant of a service account: an RS256 signature by the TEST-ONLY key in
//!   `testdata/` (a key file for it: [`service_account_key`](FakeGoogleAuth::service_account_key)),
//!   `iss`, `aud` (this endpoint), `iat`/`exp`, a `scope`;
//! - `authorization_code`: a code from [`consent`](FakeGoogleAuth::consent) (the person who
//!   clicks "Allow"), the same `redirect_uri`, and the PKCE verifier of its challenge.
//!
//! An answer is `{"access_token", "expires_in", "token_type"}` (plus `refresh_token` for a
//! code); a refusal is Google's `400 {"error": "invalid_grant", …}`.
//!
//! ```no_run
//! # use athena_http::testing::FakeGoogleAuth;
//! let auth = FakeGoogleAuth::start();
//! // table keys: token_uri = auth.token_uri(), client_id = FakeGoogleAuth::CLIENT_ID, …
//! // the Gmail fake accepts `auth.issued_tokens()`; after a sync: assert_eq!(auth.calls(), 1)
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::signature::{UnparsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use serde_json::{json, Value};

use super::server::{TestRequest, TestResponse, TestServer};
use crate::oauth::Pkce;

/// The TEST-ONLY private key (see `testdata/README.md`): public, authorizes nothing.
const TEST_KEY: &str = include_str!("../../testdata/TEST-ONLY-google-service-account-key.pem");

/// The fake token endpoint; stops when dropped.
pub struct FakeGoogleAuth {
    server: TestServer,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    calls: usize,
    refuse: bool,
    fail_next: bool,
    expires_in: Option<u64>,
    issued: Vec<String>,
    last_claims: Option<Value>,
    /// code → (PKCE challenge, redirect_uri).
    codes: HashMap<String, (String, String)>,
}

impl FakeGoogleAuth {
    /// The OAuth client the fake knows.
    pub const CLIENT_ID: &'static str = "fake-client.apps.googleusercontent.com";
    /// Its secret.
    pub const CLIENT_SECRET: &'static str = "fake-client-secret-5x8Q";
    /// The refresh token it accepts (and gives for a code).
    pub const REFRESH_TOKEN: &'static str = "1//fake-refresh-token-Hq2";
    /// The service account of [`service_account_key`](Self::service_account_key).
    pub const SERVICE_ACCOUNT: &'static str = "ingest@fake-project.iam.gserviceaccount.com";

    /// Serves on a free local port.
    pub fn start() -> Self {
        let public_key = test_public_key();
        let state = Arc::new(Mutex::new(State::default()));
        let server = {
            let state = state.clone();
            TestServer::start(move |r| answer(r, &mut lock(&state), &public_key))
        };
        FakeGoogleAuth { server, state }
    }

    /// `http://127.0.0.1:PORT/token`: the `token_uri` to configure.
    pub fn token_uri(&self) -> String {
        format!("{}/token", self.server.url())
    }

    /// The text of a service account JSON key file for the TEST-ONLY key, naming this
    /// endpoint as its `token_uri`.
    pub fn service_account_key(&self) -> String {
        json!({
            "type": "service_account",
            "project_id": "fake-project",
            "private_key_id": "fake-key-id",
            "private_key": TEST_KEY,
            "client_email": Self::SERVICE_ACCOUNT,
            "client_id": "100000000000000000001",
            "token_uri": self.token_uri(),
        })
        .to_string()
    }

    /// Token requests received so far (answered, refused or failed).
    pub fn calls(&self) -> usize {
        lock(&self.state).calls
    }

    /// The access tokens handed out, oldest first (what a fake Google API should accept).
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.state).issued.clone()
    }

    /// The claims of the last service-account assertion that was accepted.
    pub fn last_claims(&self) -> Option<Value> {
        lock(&self.state).last_claims.clone()
    }

    /// While `true`, every grant is refused (`400 invalid_grant`: a revoked token).
    pub fn refuse(&self, refuse: bool) {
        lock(&self.state).refuse = refuse;
    }

    /// The next token request gets a 500.
    pub fn fail_once(&self) {
        lock(&self.state).fail_next = true;
    }

    /// The lifetime of the tokens handed out from now on (default 3599 s, as Google's).
    pub fn set_expires_in(&self, seconds: u64) {
        lock(&self.state).expires_in = Some(seconds);
    }

    /// Plays the person who opens the consent URL and allows access: remembers its PKCE
    /// challenge and redirect URI, and returns the code Google would append to the redirect.
    pub fn consent(&self, consent_url: &str) -> String {
        let url = url::Url::parse(consent_url).expect("a consent URL");
        let param = |k: &str| {
            url.query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        assert_eq!(param("code_challenge_method"), "S256");
        assert_eq!(param("client_id"), Self::CLIENT_ID);
        let mut state = lock(&self.state);
        let code = format!("4/fake-code-{}", state.codes.len() + 1);
        state.codes.insert(
            code.clone(),
            (param("code_challenge"), param("redirect_uri")),
        );
        code
    }
}

/// The public half of the TEST-ONLY key (DER `RSAPublicKey`).
pub(crate) fn test_public_key() -> Vec<u8> {
    crate::oauth::service_account::rsa_key_from_pem(TEST_KEY)
        .expect("the test key in testdata/ is a valid RSA key")
        .public()
        .as_ref()
        .to_vec()
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn invalid_grant(description: &str) -> TestResponse {
    TestResponse::json(
        400,
        &json!({"error": "invalid_grant", "error_description": description}),
    )
}

fn answer(request: &TestRequest, state: &mut State, public_key: &[u8]) -> TestResponse {
    if request.method != "POST" || request.path() != "/token" {
        return TestResponse::status(404);
    }
    state.calls += 1;
    if std::mem::take(&mut state.fail_next) {
        return TestResponse::json(500, &json!({"error": "internal_failure"}));
    }
    if state.refuse {
        return invalid_grant("Token has been expired or revoked.");
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&request.body)
        .into_owned()
        .collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let client_ok = field("client_id") == FakeGoogleAuth::CLIENT_ID
        && field("client_secret") == FakeGoogleAuth::CLIENT_SECRET;
    let mut refresh_token = None;
    match field("grant_type") {
        "refresh_token" => {
            if !client_ok {
                return TestResponse::json(401, &json!({"error": "invalid_client"}));
            }
            if field("refresh_token") != FakeGoogleAuth::REFRESH_TOKEN {
                return invalid_grant("Bad Request");
            }
        }
        crate::oauth::service_account::JWT_BEARER => {
            let audience = format!("{}/token", request.server);
            match check_assertion(field("assertion"), public_key, &audience) {
                Ok(claims) => state.last_claims = Some(claims),
                Err(why) => return invalid_grant(why),
            }
        }
        "authorization_code" => {
            if !client_ok {
                return TestResponse::json(401, &json!({"error": "invalid_client"}));
            }
            let Some((challenge, redirect_uri)) = state.codes.remove(field("code")) else {
                return invalid_grant("Malformed auth code.");
            };
            if field("redirect_uri") != redirect_uri {
                return TestResponse::json(400, &json!({"error": "redirect_uri_mismatch"}));
            }
            if Pkce::challenge_of(field("code_verifier")) != challenge {
                return invalid_grant("Invalid code verifier.");
            }
            refresh_token = Some(FakeGoogleAuth::REFRESH_TOKEN);
        }
        _ => return TestResponse::json(400, &json!({"error": "unsupported_grant_type"})),
    }
    let token = format!("ya29.fake-access-{}", state.issued.len() + 1);
    state.issued.push(token.clone());
    let mut body = json!({
        "access_token": token,
        "expires_in": state.expires_in.unwrap_or(3599),
        "token_type": "Bearer",
    });
    if let Some(refresh_token) = refresh_token {
        body["refresh_token"] = refresh_token.into();
    }
    TestResponse::json(200, &body)
}

/// The claims of a valid assertion, or why Google would refuse it.
pub(crate) fn check_assertion(
    jwt: &str,
    public_key: &[u8],
    audience: &str,
) -> Result<Value, &'static str> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe");
    };
    let decode = |part: &str| -> Option<Value> {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).ok()?).ok()
    };
    let (Some(h), Some(c)) = (decode(header), decode(claims)) else {
        return Err("Invalid JWT: not base64url JSON");
    };
    if h["alg"] != "RS256" || h["typ"] != "JWT" {
        return Err("Invalid JWT: unsupported header");
    }
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| "Invalid JWT Signature.")?;
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, public_key)
        .verify(format!("{header}.{claims}").as_bytes(), &signature)
        .map_err(|_| "Invalid JWT Signature.")?;
    if c["iss"] != FakeGoogleAuth::SERVICE_ACCOUNT {
        return Err("Invalid JWT: unknown issuer");
    }
    if c["aud"] != audience {
        return Err("Invalid JWT: wrong audience");
    }
    if c["scope"].as_str().unwrap_or("").is_empty() {
        return Err("Invalid JWT: no scope");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (iat, exp) = (
        c["iat"].as_u64().unwrap_or(0),
        c["exp"].as_u64().unwrap_or(0),
    );
    if exp <= now || exp > iat + 3600 || iat > now + 300 {
        return Err("Invalid JWT: Token must be a short-lived token and in a reasonable timeframe");
    }
    Ok(c)
}
