//! `auth google`: a person's one-time consent in a browser, turned into the refresh token the
//! Google sources' tables take (Google's flow for installed apps: a loopback redirect, PKCE).
//!
//! The consent URL goes to stderr, the keys to paste to stdout. The listener is on 127.0.0.1
//! only and answers one redirect carrying the `state` it sent; other requests are refused and
//! it keeps waiting until the timeout.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use athena_core::Secret;
use athena_http::oauth::{authorization_code, random_state, Pkce};
use athena_http::Url;
use clap::{Args, Subcommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::UsageError;

/// Google's consent page for installed apps.
const GOOGLE_AUTH_URI: &str = "https://accounts.google.com/o/oauth2/v2/auth";
/// Where a scope without a scheme lives (`gmail.readonly`).
const GOOGLE_SCOPE_PREFIX: &str = "https://www.googleapis.com/auth/";

/// The services `auth` gets tokens for.
#[derive(Debug, Subcommand)]
pub enum AuthService {
    /// Get a refresh token for the gmail and google_calendar sources: prints Google's consent
    /// URL to open in a browser, waits for the browser to come back to a local port, and
    /// prints the keys to paste into the config.
    Google(GoogleArgs),
}

/// `auth google`'s flags.
#[derive(Debug, Args)]
pub struct GoogleArgs {
    /// The OAuth client's id (Google Cloud console: APIs & Services → Credentials → an OAuth
    /// client ID of type "Desktop app").
    #[arg(long, value_name = "ID")]
    client_id: String,
    /// The OAuth client's secret.
    #[arg(long, env = "GOOGLE_CLIENT_SECRET", hide_env_values = true)]
    client_secret: String,
    /// A scope to ask for (repeatable); a bare name means Google's
    /// (`gmail.readonly` → https://www.googleapis.com/auth/gmail.readonly).
    #[arg(
        long = "scope",
        value_name = "SCOPE",
        default_values = ["gmail.readonly", "calendar.readonly"]
    )]
    scopes: Vec<String>,
    /// How long to wait for the browser, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    timeout: u64,
    /// The consent page (for tests).
    #[arg(long, default_value = GOOGLE_AUTH_URI, hide = true)]
    auth_uri: String,
    /// The token endpoint (for tests).
    #[arg(long, default_value = athena_http::oauth::GOOGLE_TOKEN_URI, hide = true)]
    token_uri: String,
}

pub(crate) fn run(service: AuthService) -> Result<ExitCode> {
    let AuthService::Google(args) = service;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(google(args))
}

async fn google(args: GoogleArgs) -> Result<ExitCode> {
    let url_arg = |flag: &str, value: &str| {
        Url::parse(value).map_err(|e| UsageError(format!("--{flag}: not a URL: {e}")))
    };
    let auth_uri = url_arg("auth-uri", &args.auth_uri)?;
    let token_uri = url_arg("token-uri", &args.token_uri)?;
    let client_secret = Secret::new(args.client_secret);
    let scopes: Vec<String> = args
        .scopes
        .iter()
        .map(|s| {
            if s.contains("://") {
                s.clone()
            } else {
                format!("{GOOGLE_SCOPE_PREFIX}{s}")
            }
        })
        .collect();

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("listening on a local port for the browser's redirect")?;
    let redirect_uri = format!("http://127.0.0.1:{}", listener.local_addr()?.port());
    let pkce = Pkce::new()?;
    let state = random_state()?;
    let mut consent = auth_uri;
    consent
        .query_pairs_mut()
        .append_pair("client_id", &args.client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", &scopes.join(" "))
        .append_pair("code_challenge", &pkce.challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent")
        .append_pair("state", &state);
    eprintln!("Open this URL in a browser on this machine and allow access:\n\n{consent}\n");
    eprintln!(
        "Waiting up to {} s for the browser to come back to {redirect_uri} …",
        args.timeout
    );

    let wait = Duration::from_secs(args.timeout);
    let code = tokio::time::timeout(wait, receive_code(&listener, &state))
        .await
        .map_err(|_| {
            anyhow::anyhow!(
                "no answer from the browser within {} s (run again, or raise --timeout)",
                args.timeout
            )
        })??;
    let (code, mut browser) = code;
    let tokens = authorization_code(
        &token_uri,
        &args.client_id,
        &client_secret,
        &code,
        &redirect_uri,
        &pkce,
    )
    .await;
    let refresh_token = match tokens {
        Ok(t) => t.refresh_token,
        Err(e) => {
            page(
                &mut browser,
                502,
                "athena-ingest could not get a token: see the terminal.",
            )
            .await;
            return Err(e).context("exchanging the authorization code");
        }
    };
    let Some(refresh_token) = refresh_token else {
        page(
            &mut browser,
            502,
            "Google gave no refresh token: see the terminal.",
        )
        .await;
        bail!(
            "the token endpoint gave no refresh token (remove athena-ingest's access at \
             https://myaccount.google.com/permissions and run this again)"
        );
    };
    page(
        &mut browser,
        200,
        "athena-ingest is authorized. You can close this tab and go back to the terminal.",
    )
    .await;
    println!("# The refresh token: keep it as secret as a password.");
    println!("GOOGLE_REFRESH_TOKEN={}", refresh_token.expose());
    println!();
    println!("# In the table of a gmail or google_calendar source, with both variables set:");
    println!("client_id = {:?}", args.client_id);
    println!("client_secret = \"${{GOOGLE_CLIENT_SECRET}}\"");
    println!("refresh_token = \"${{GOOGLE_REFRESH_TOKEN}}\"");
    Ok(ExitCode::SUCCESS)
}

/// Waits for the redirect with the right `state`; returns its code and the connection, to
/// answer once the code is exchanged. A consent the person refused ends the wait.
async fn receive_code(listener: &TcpListener, state: &str) -> Result<(Secret, TcpStream)> {
    loop {
        let (mut conn, _) = listener.accept().await?;
        let Some(target) = read_request_target(&mut conn).await else {
            continue;
        };
        let Ok(url) = Url::parse(&format!("http://localhost{target}")) else {
            page(&mut conn, 400, "Not a redirect from the consent page.").await;
            continue;
        };
        let param = |k: &str| {
            url.query_pairs()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.into_owned())
        };
        if url.path() != "/" {
            page(&mut conn, 404, "Not found.").await;
            continue;
        }
        if param("state").as_deref() != Some(state) {
            // Not from the consent page this command opened (a stale tab, or a forged link).
            page(
                &mut conn,
                400,
                "Refused: this redirect is not from the consent page athena-ingest opened.",
            )
            .await;
            tracing::warn!("refused a redirect whose state did not match");
            continue;
        }
        if let Some(error) = param("error") {
            page(&mut conn, 400, "Access was not granted.").await;
            bail!("the consent page answered {error:?}: access was not granted");
        }
        match param("code") {
            Some(code) => return Ok((Secret::new(code), conn)),
            None => page(&mut conn, 400, "The redirect holds no code.").await,
        }
    }
}

/// The target of a request's first line (`/?code=…`), reading at most 16 KiB of headers.
async fn read_request_target(conn: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0; 2048];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
        let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut chunk))
            .await
            .ok()?
            .ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf);
    let mut first = text.lines().next()?.split_whitespace();
    match (first.next(), first.next()) {
        (Some("GET"), Some(target)) if target.starts_with('/') => Some(target.to_string()),
        _ => None,
    }
}

/// Answers the browser with a one-line page (fixed text: nothing from the request).
async fn page(conn: &mut TcpStream, status: u16, text: &str) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Bad Gateway",
    };
    let body =
        format!("<!doctype html><meta charset=utf-8><title>athena-ingest</title><p>{text}</p>\n");
    let response = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = conn.write_all(response.as_bytes()).await;
    let _ = conn.shutdown().await;
}
