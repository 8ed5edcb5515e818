//! The token sources against `testing::FakeGoogleAuth`.

use athena_core::Secret;
use url::Url;

use super::{RefreshToken, ServiceAccount, ServiceAccountKey, TokenSource};
use crate::testing::FakeGoogleAuth;
use crate::HttpErrorKind;

fn service_account(auth: &FakeGoogleAuth, subject: Option<&str>) -> ServiceAccount {
    let key = ServiceAccountKey::from_json(&auth.service_account_key()).unwrap();
    let token_uri = Url::parse(key.token_uri().unwrap()).unwrap();
    ServiceAccount::new(
        "mail",
        &key,
        token_uri,
        &["https://www.googleapis.com/auth/gmail.readonly"],
        subject.map(String::from),
    )
    .unwrap()
}

#[tokio::test]
async fn a_service_account_gets_a_token_with_its_claims_and_keeps_it_until_refused() {
    let auth = FakeGoogleAuth::start();
    let account = service_account(&auth, Some("ada@example.com"));
    let token = account.access_token().await.unwrap();
    assert_eq!(auth.issued_tokens(), [token.expose()]);
    let claims = auth.last_claims().unwrap();
    assert_eq!(claims["sub"], "ada@example.com");
    assert_eq!(
        claims["scope"],
        "https://www.googleapis.com/auth/gmail.readonly"
    );
    assert_eq!(claims["aud"], auth.token_uri());
    // Cached: no second exchange.
    assert_eq!(
        account.access_token().await.unwrap().expose(),
        token.expose()
    );
    assert_eq!(auth.calls(), 1);
    // Refused by the API: a new one.
    account.reject(&token);
    let again = account.access_token().await.unwrap();
    assert_ne!(again.expose(), token.expose());
    assert_eq!(auth.calls(), 2);
}

#[tokio::test]
async fn a_token_that_expires_within_the_margin_is_fetched_again() {
    let auth = FakeGoogleAuth::start();
    auth.set_expires_in(30);
    let account = service_account(&auth, None);
    account.access_token().await.unwrap();
    account.access_token().await.unwrap();
    assert_eq!(auth.calls(), 2);
    assert!(auth.last_claims().unwrap().get("sub").is_none());
}

#[tokio::test]
async fn a_refused_assertion_is_unauthorized_and_the_error_holds_no_secret() {
    let auth = FakeGoogleAuth::start();
    let account = service_account(&auth, None);
    auth.refuse(true);
    let err = account.access_token().await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Unauthorized);
    assert_eq!(err.status, Some(400));
    let text = format!("{err} {err:?}");
    assert!(text.contains("invalid_grant"), "{text}");
    assert!(!text.contains("eyJ"), "an assertion leaked: {text}");
    assert!(!text.contains("MII"), "the private key leaked: {text}");
    auth.refuse(false);
    auth.fail_once();
    let err = account.access_token().await.unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Server);
    assert!(account.access_token().await.is_ok());
}

#[tokio::test]
async fn the_audience_is_the_endpoint_posted_to_not_the_keys_token_uri() {
    let auth = FakeGoogleAuth::start();
    let other = FakeGoogleAuth::start();
    // A key naming `other`, configured to use `auth`.
    let key = ServiceAccountKey::from_json(&other.service_account_key()).unwrap();
    let account = ServiceAccount::new(
        "mail",
        &key,
        Url::parse(&auth.token_uri()).unwrap(),
        &["s"],
        None,
    )
    .unwrap();
    assert!(account.access_token().await.is_ok());
    assert_eq!(auth.last_claims().unwrap()["aud"], auth.token_uri());
    assert_eq!(other.calls(), 0);
}

#[tokio::test]
async fn a_refresh_token_is_exchanged_and_a_wrong_one_masked_in_the_refusal() {
    let auth = FakeGoogleAuth::start();
    let source = |refresh: &str| {
        RefreshToken::new(
            "cal",
            Url::parse(&auth.token_uri()).unwrap(),
            FakeGoogleAuth::CLIENT_ID,
            Secret::new(FakeGoogleAuth::CLIENT_SECRET),
            Secret::new(refresh),
        )
    };
    let token = source(FakeGoogleAuth::REFRESH_TOKEN)
        .access_token()
        .await
        .unwrap();
    assert!(token.expose().starts_with("ya29."));
    let err = source("1//revoked-token-zz9")
        .access_token()
        .await
        .unwrap_err();
    assert_eq!(err.kind, HttpErrorKind::Unauthorized);
    let text = format!("{err} {err:?}");
    assert!(!text.contains("revoked-token-zz9"), "{text}");
    assert!(!text.contains(FakeGoogleAuth::CLIENT_SECRET), "{text}");
}

#[test]
fn the_fake_refuses_a_tampered_assertion_or_another_audience() {
    let auth = FakeGoogleAuth::start();
    let account = service_account(&auth, None);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let jwt = account.assertion(now).unwrap();
    let check = |jwt: &str, aud: &str| {
        crate::testing::google::check_assertion(
            jwt,
            &crate::testing::google::test_public_key(),
            aud,
        )
    };
    assert!(check(&jwt, &auth.token_uri()).is_ok());
    assert_eq!(
        check(&jwt, "http://elsewhere/token"),
        Err("Invalid JWT: wrong audience")
    );
    let mut parts: Vec<String> = jwt.split('.').map(String::from).collect();
    parts[1] = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        r#"{"iss":"ingest@fake-project.iam.gserviceaccount.com","scope":"s","aud":"x","iat":0,"exp":1}"#,
    );
    assert_eq!(
        check(&parts.join("."), &auth.token_uri()),
        Err("Invalid JWT Signature.")
    );
    let stale = account.assertion(now - 7200).unwrap();
    assert!(
        check(&stale, &auth.token_uri()).is_err(),
        "an expired assertion was taken"
    );
}
