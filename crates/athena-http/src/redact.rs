//! URLs as they may appear in errors and logs: without user, password, or secret-looking query
//! parameters.

use url::Url;

/// Query parameters whose values are replaced by `***`.
fn is_secret_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "token",
        "key",
        "secret",
        "password",
        "signature",
        "sig",
        "auth",
        "code",
    ]
    .iter()
    .any(|s| n.contains(s))
}

/// `url` without credentials.
pub fn redact_url(url: &Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_param(&k) {
                    "***".to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_secret_params_are_hidden() {
        let u = Url::parse("https://me:pw@api.example.com/x?page=2&access_token=abc&per_page=5")
            .unwrap();
        let r = redact_url(&u);
        assert_eq!(
            r,
            "https://api.example.com/x?page=2&access_token=***&per_page=5"
        );
        assert!(!r.contains("abc") && !r.contains("pw"));
    }
}
