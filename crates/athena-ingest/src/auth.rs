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
use axum::extract::RawQuery;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use clap::{Args, Subcommand};
use tokio::sync::{mpsc, oneshot};

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

    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("listening on a local port for the browser's redirect")?;
    listener.set_nonblocking(true)?;
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

    let (redirects, mut arrived) = tokio::sync::mpsc::channel(1);
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let server = Server::start(listener, redirect_app(state, redirects));
    let wait = Duration::from_secs(args.timeout);
    let Redirect { code, answer } = match tokio::time::timeout(wait, arrived.recv()).await {
        Ok(Some(Ok(redirect))) => redirect,
        Ok(Some(Err(refusal))) => {
            server.close().await;
            bail!("{refusal}");
        }
        Ok(None) | Err(_) => {
            server.close().await;
            bail!(
                "no answer from the browser within {} s (run again, or raise --timeout)",
                args.timeout
            );
        }
    };
    let tokens = authorization_code(
        &token_uri,
        &args.client_id,
        &client_secret,
        &code,
        &redirect_uri,
        &pkce,
    )
    .await;
    let (status, text, outcome) = match tokens {
        Ok(t) => match t.refresh_token {
            Some(token) => (
                StatusCode::OK,
                "athena-ingest is authorized. You can close this tab and go back to the terminal.",
                Ok(token),
            ),
            None => (
                StatusCode::BAD_GATEWAY,
                "Google gave no refresh token: see the terminal.",
                Err(anyhow::anyhow!(
                    "the token endpoint gave no refresh token (remove athena-ingest's access at \
                     https://myaccount.google.com/permissions and run this again)"
                )),
            ),
        },
        Err(e) => (
            StatusCode::BAD_GATEWAY,
            "athena-ingest could not get a token: see the terminal.",
            Err(anyhow::Error::new(e).context("exchanging the authorization code")),
        ),
    };
    // The browser's request waits for this answer; then the listener is done.
    let _ = answer.send(page(status, text));
    server.close().await;
    let refresh_token = outcome?;
    println!("# The refresh token: keep it as secret as a password.");
    println!("GOOGLE_REFRESH_TOKEN={}", refresh_token.expose());
    println!();
    println!("# In the table of a gmail or google_calendar source, with both variables set:");
    println!("client_id = {:?}", args.client_id);
    println!("client_secret = \"${{GOOGLE_CLIENT_SECRET}}\"");
    println!("refresh_token = \"${{GOOGLE_REFRESH_TOKEN}}\"");
    Ok(ExitCode::SUCCESS)
}

/// The redirect listener, served until [`Server::close`].
struct Server {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    fn start(listener: tokio::net::TcpListener, app: Router) -> Server {
        let (stop, stopped) = oneshot::channel::<()>();
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        Server {
            stop,
            task: tokio::spawn(std::future::IntoFuture::into_future(serve)),
        }
    }

    /// Stops listening and lets the page being sent finish (for at most a second).
    async fn close(self) {
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(1), self.task).await;
    }
}

/// The browser's redirect with the right `state`: its code, and where to send the page the
/// browser is waiting for once the code is exchanged.
struct Redirect {
    code: Secret,
    answer: oneshot::Sender<Response>,
}

/// The listener's one route, `/`: a redirect carrying `state` hands its code (or the person's
/// refusal, which ends the wait) to `arrived`; anything else gets a page saying why and the
/// wait goes on. Every page's text is fixed: nothing from the request is echoed.
fn redirect_app(state: String, arrived: mpsc::Sender<Result<Redirect, String>>) -> Router {
    let handler = move |RawQuery(query): RawQuery| {
        let (state, arrived) = (state.clone(), arrived.clone());
        async move {
            let url = Url::parse(&format!("http://localhost/?{}", query.unwrap_or_default()));
            let Ok(url) = url else {
                return page(
                    StatusCode::BAD_REQUEST,
                    "Not a redirect from the consent page.",
                );
            };
            let param = |k: &str| {
                url.query_pairs()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.into_owned())
            };
            if param("state").as_deref() != Some(state.as_str()) {
                // Not from the consent page this command opened (a stale tab, or a forged link).
                tracing::warn!("refused a redirect whose state did not match");
                return page(
                    StatusCode::BAD_REQUEST,
                    "Refused: this redirect is not from the consent page athena-ingest opened.",
                );
            }
            if let Some(error) = param("error") {
                let refusal =
                    format!("the consent page answered {error:?}: access was not granted");
                let _ = arrived.send(Err(refusal)).await;
                return page(StatusCode::BAD_REQUEST, "Access was not granted.");
            }
            let Some(code) = param("code") else {
                return page(StatusCode::BAD_REQUEST, "The redirect holds no code.");
            };
            let (answer, page_later) = oneshot::channel();
            let redirect = Redirect {
                code: Secret::new(code),
                answer,
            };
            if arrived.send(Ok(redirect)).await.is_err() {
                return page(StatusCode::GONE, "This sign-in has already ended.");
            }
            page_later.await.unwrap_or_else(|_| {
                page(
                    StatusCode::BAD_GATEWAY,
                    "athena-ingest stopped: see the terminal.",
                )
            })
        }
    };
    Router::new()
        .route("/", get(handler))
        .fallback(|| async { page(StatusCode::NOT_FOUND, "Not found.") })
}

/// A one-line page (fixed text: nothing from the request).
fn page(status: StatusCode, text: &str) -> Response {
    let body =
        format!("<!doctype html><meta charset=utf-8><title>athena-ingest</title><p>{text}</p>\n");
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}
