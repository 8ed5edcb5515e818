//! The one-time consent that yields a refresh token: an authorization code, obtained by a
//! person in a browser, exchanged with the PKCE verifier that only this process knows
//! (RFC 6749 §4.1, RFC 7636 with S256).

use athena_core::Secret;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::{SecureRandom, SystemRandom};
use url::Url;

use super::{exchange_form, token_client};
use crate::error::{HttpError, HttpErrorKind};

/// A PKCE pair: the verifier kept here, the challenge sent in the consent URL.
#[derive(Debug)]
pub struct Pkce {
    /// Sent only to the token endpoint, with the code.
    pub verifier: Secret,
    /// `BASE64URL(SHA256(verifier))`, for `code_challenge` (method `S256`).
    pub challenge: String,
}

impl Pkce {
    /// A fresh pair from 32 random bytes.
    pub fn new() -> Result<Self, HttpError> {
        let verifier = random_string(32)?;
        Ok(Pkce {
            challenge: Pkce::challenge_of(&verifier),
            verifier: Secret::new(verifier),
        })
    }

    /// The S256 challenge of `verifier`.
    pub fn challenge_of(verifier: &str) -> String {
        URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            verifier.as_bytes(),
        ))
    }
}

/// A random `state` for a consent URL (16 bytes, base64url).
pub fn random_state() -> Result<String, HttpError> {
    random_string(16)
}

fn random_string(bytes: usize) -> Result<String, HttpError> {
    let mut buf = vec![0; bytes];
    SystemRandom::new().fill(&mut buf).map_err(|_| HttpError {
        kind: HttpErrorKind::Request,
        method: "",
        url: String::new(),
        status: None,
        message: "the system's random number generator failed".into(),
        body: String::new(),
        retry_after: None,
    })?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// What the token endpoint gives for an authorization code.
#[derive(Debug)]
pub struct CodeTokens {
    /// The long-lived token to configure; `None` if the endpoint gave none (Google gives one
    /// only with `access_type=offline`, and again only with `prompt=consent`).
    pub refresh_token: Option<Secret>,
    /// The scopes granted, space-separated, if the endpoint says.
    pub scope: Option<String>,
}

/// Exchanges `code` at `token_uri` (`grant_type=authorization_code`) for the tokens of the
/// OAuth client `client_id`; every secret of the form is masked in errors.
pub async fn authorization_code(
    token_uri: &Url,
    client_id: &str,
    client_secret: &Secret,
    code: &Secret,
    redirect_uri: &str,
    pkce: &Pkce,
) -> Result<CodeTokens, HttpError> {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code.expose())
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("client_id", client_id)
        .append_pair("client_secret", client_secret.expose())
        .append_pair("code_verifier", pkce.verifier.expose())
        .finish();
    let secrets = [
        client_secret.expose(),
        code.expose(),
        pkce.verifier.expose(),
    ];
    let answer = exchange_form(&token_client(), token_uri, form, &secrets, "auth").await?;
    // The access token is not used: dropped here, it is never shown.
    drop(answer.access_token);
    Ok(CodeTokens {
        refresh_token: answer.refresh_token.map(Secret::new),
        scope: answer.scope,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_s256_of_the_verifier() {
        // RFC 7636 appendix B.
        assert_eq!(
            Pkce::challenge_of("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let pkce = Pkce::new().unwrap();
        assert_eq!(pkce.verifier.expose().len(), 43);
        assert_ne!(random_state().unwrap(), random_state().unwrap());
    }
}
