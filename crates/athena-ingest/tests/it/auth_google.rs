//! `auth google`: the consent URL on stderr, the browser's redirect to the local port, the
//! code exchanged at the (fake) token endpoint, the refresh token on stdout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};

use athena_http::testing::FakeGoogleAuth;

use crate::support::TestEnv;

fn start(env: &TestEnv, auth: &FakeGoogleAuth, extra: &[&str]) -> Child {
    let token_uri = auth.token_uri();
    let mut args = vec![
        "auth",
        "google",
        "--client-id",
        FakeGoogleAuth::CLIENT_ID,
        "--auth-uri",
        "https://accounts.example/o/oauth2/v2/auth",
        "--token-uri",
        &token_uri,
    ];
    args.extend_from_slice(extra);
    env.cmd(&args)
        .env("GOOGLE_CLIENT_SECRET", FakeGoogleAuth::CLIENT_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting athena-ingest auth google")
}

/// The consent URL the command prints, and the rest of its stderr.
fn consent_url(child: &mut Child) -> (athena_http::Url, BufReader<std::process::ChildStderr>) {
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no consent URL");
        if line.starts_with("https://") {
            return (athena_http::Url::parse(line.trim()).unwrap(), stderr);
        }
    }
}

fn param(url: &athena_http::Url, key: &str) -> String {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The browser coming back: GET `target` on the redirect URI; the status and the page. (The
/// request asks for the connection to close, so the page is read to its end; the listener keeps
/// a browser's idle connection open until the sign-in ends.)
fn browse(redirect_uri: &str, target: &str) -> (u16, String) {
    let addr = redirect_uri.strip_prefix("http://").unwrap();
    let mut conn = TcpStream::connect(addr).unwrap();
    write!(
        conn,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    let status = answer.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, answer)
}

#[test]
fn the_consent_redirect_is_exchanged_for_a_refresh_token_and_a_wrong_state_refused() {
    let env = TestEnv::new();
    let auth = FakeGoogleAuth::start();
    let mut child = start(&env, &auth, &["--scope", "gmail.readonly"]);
    let (url, mut stderr) = consent_url(&mut child);
    assert_eq!(param(&url, "response_type"), "code");
    assert_eq!(param(&url, "access_type"), "offline");
    assert_eq!(param(&url, "prompt"), "consent");
    assert_eq!(
        param(&url, "scope"),
        "https://www.googleapis.com/auth/gmail.readonly"
    );
    let redirect_uri = param(&url, "redirect_uri");
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:"),
        "{redirect_uri}"
    );
    let code = auth.consent(url.as_str());

    // A redirect that is not from this consent page: refused, nothing exchanged.
    let (status, _) = browse(&redirect_uri, &format!("/?code={code}&state=forged"));
    assert_eq!(status, 400);
    assert_eq!(auth.calls(), 0);

    let state = param(&url, "state");
    let (status, page) = browse(&redirect_uri, &format!("/?code={code}&state={state}"));
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("authorized"), "{page}");

    let output = child.wait_with_output().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(output.status.success(), "{rest}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.contains(&format!(
            "GOOGLE_REFRESH_TOKEN={}",
            FakeGoogleAuth::REFRESH_TOKEN
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("client_id = \"{}\"", FakeGoogleAuth::CLIENT_ID)),
        "{stdout}"
    );
    assert!(stdout.contains("refresh_token = \"${GOOGLE_REFRESH_TOKEN}\""));
    assert!(!stdout.contains(FakeGoogleAuth::CLIENT_SECRET));
    assert!(!rest.contains(FakeGoogleAuth::CLIENT_SECRET), "{rest}");
    assert_eq!(auth.calls(), 1);
}

#[test]
fn a_refused_exchange_fails_without_printing_the_secret_and_a_silent_browser_times_out() {
    let env = TestEnv::new();
    let auth = FakeGoogleAuth::start();
    auth.refuse(true);
    let mut child = start(&env, &auth, &[]);
    let (url, mut stderr) = consent_url(&mut child);
    assert_eq!(
        param(&url, "scope"),
        "https://www.googleapis.com/auth/gmail.readonly https://www.googleapis.com/auth/calendar.readonly"
    );
    let code = auth.consent(url.as_str());
    let target = format!("/?code={code}&state={}", param(&url, "state"));
    let (status, _) = browse(&param(&url, "redirect_uri"), &target);
    assert_eq!(status, 502);
    let output = child.wait_with_output().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(output.status.code(), Some(1), "{rest}");
    assert!(rest.contains("invalid_grant"), "{rest}");
    assert!(!rest.contains(FakeGoogleAuth::CLIENT_SECRET), "{rest}");
    assert!(!rest.contains(&code), "the code leaked: {rest}");
    assert!(output.stdout.is_empty());

    let run = crate::support::Run(
        env.cmd(&["auth", "google", "--client-id", "c", "--timeout", "1"])
            .env("GOOGLE_CLIENT_SECRET", "s")
            .output()
            .unwrap(),
    );
    assert_eq!(run.code(), 1, "{}", run.describe());
    assert!(
        run.stderr().contains("no answer from the browser"),
        "{}",
        run.describe()
    );
}
