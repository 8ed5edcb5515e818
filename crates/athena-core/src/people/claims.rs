//! Reading people out of the fields sources store: a git signature (`{"name", "email"}`), a
//! mail header (`Ada <ada@corp.com>, bob@corp.com`); and one claim per handle. What each source
//! type's events say is declared with the type (`SourceType::with_people`).

use serde_json::Value;

use super::{Claim, Handle, PersonRole};

/// A signature (`{"name", "email"}`) as a claim on its email; `None` without an address.
pub fn signature_claim(value: Option<&Value>, role: PersonRole) -> Option<Claim> {
    let sig = value?.as_object()?;
    let email = sig
        .get("email")
        .and_then(Value::as_str)
        .filter(|e| e.contains('@'))?;
    let mut c = Claim::new(Handle::email(email), role);
    c.name = sig
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .map(str::to_string);
    Some(c)
}

/// The addresses of a mail header (`"Lovelace, Ada" <ada@corp.com>, bob@corp.com`) as claims.
pub fn address_claims(header: &str, role: PersonRole) -> Vec<Claim> {
    let mut out = Vec::new();
    let mut quoted = false;
    let mut start = 0;
    for (i, b) in header.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                out.extend(address(&header[start..i], role));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.extend(address(&header[start..], role));
    out
}

fn address(part: &str, role: PersonRole) -> Option<Claim> {
    let part = part.trim();
    let (name, email) = match (part.rfind('<'), part.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = part[..open].trim().trim_matches('"').trim();
            let name = Some(name).filter(|n| !n.is_empty()).map(str::to_string);
            (name, &part[open + 1..close])
        }
        _ => (None, part),
    };
    let email = email.trim();
    email.contains('@').then(|| {
        let mut c = Claim::new(Handle::email(email), role);
        c.name = name;
        c
    })
}

/// One claim per handle: the actor's over a named one's, names and joins merged.
pub fn dedup(claims: Vec<Claim>) -> Vec<Claim> {
    let mut out: Vec<Claim> = Vec::with_capacity(claims.len());
    for c in claims {
        match out.iter_mut().find(|o| o.handle == c.handle) {
            Some(o) => {
                o.role = o.role.min(c.role);
                if o.name.is_none() {
                    o.name = c.name;
                }
                for j in c.joins {
                    if !o.joins.contains(&j) {
                        o.joins.push(j);
                    }
                }
            }
            None => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signatures_and_mail_headers_become_claims() {
        let c = signature_claim(
            Some(&json!({"name": "Ada", "email": "Ada@Corp.com"})),
            PersonRole::Actor,
        )
        .unwrap();
        assert_eq!(
            (c.handle.0.as_str(), c.name.as_deref()),
            ("email:ada@corp.com", Some("Ada"))
        );
        assert!(signature_claim(Some(&json!({"name": "Ada"})), PersonRole::Actor).is_none());
        let claims = address_claims(
            "\"Lovelace, Ada\" <ada@corp.com>, bob@corp.com, nobody",
            PersonRole::Named,
        );
        let got: Vec<(&str, Option<&str>)> = claims
            .iter()
            .map(|c| (c.handle.0.as_str(), c.name.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("email:ada@corp.com", Some("Lovelace, Ada")),
                ("email:bob@corp.com", None)
            ]
        );
        let merged = dedup(vec![
            Claim::new(Handle::email("a@x.com"), PersonRole::Named),
            Claim::new(Handle::email("A@x.com"), PersonRole::Actor),
        ]);
        assert_eq!(merged.len(), 1);
        assert_eq!(merged[0].role, PersonRole::Actor);
    }
}
