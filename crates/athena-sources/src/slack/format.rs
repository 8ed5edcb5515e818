//! Slack's message markup made readable: `<@U123>` → `@ann`, `<#C1|general>` → `#general`,
//! `<https://x|label>` → `label (https://x)`, `<!here>` → `@here`, `&lt;` → `<`.

/// Turns Slack's markup into plain text; `user` and `channel` name an id when they can.
pub(crate) fn readable(
    text: &str,
    user: &dyn Fn(&str) -> Option<String>,
    channel: &dyn Fn(&str) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&unescape(&rest[..start]));
        let after = &rest[start + 1..];
        let Some(end) = after.find('>') else {
            out.push_str(&unescape(&rest[start..]));
            return out;
        };
        let inner = &after[..end];
        let (target, label) = match inner.split_once('|') {
            Some((t, l)) => (t, Some(l)),
            None => (inner, None),
        };
        let shown = if let Some(id) = target.strip_prefix('@') {
            format!(
                "@{}",
                label
                    .map(str::to_string)
                    .or_else(|| user(id))
                    .unwrap_or_else(|| id.to_string())
            )
        } else if let Some(id) = target.strip_prefix('#') {
            format!(
                "#{}",
                label
                    .map(str::to_string)
                    .or_else(|| channel(id))
                    .unwrap_or_else(|| id.to_string())
            )
        } else if let Some(special) = target.strip_prefix('!') {
            // <!here>, <!channel>, <!subteam^S1|@team>, <!date^…|fallback>
            match label {
                Some(l) => l.to_string(),
                None => format!("@{}", special.split('^').next().unwrap_or(special)),
            }
        } else {
            let url = unescape(target);
            match label {
                Some(l) if l != url => format!("{} ({url})", unescape(l)),
                _ => url,
            }
        };
        out.push_str(&shown);
        rest = &after[end + 1..];
    }
    out.push_str(&unescape(rest));
    out
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn mentions_channels_links_and_entities() {
        let user = |id: &str| (id == "U1").then(|| "ann".to_string());
        let channel = |id: &str| (id == "C9").then(|| "random".to_string());
        let r = |t: &str| readable(t, &user, &channel);
        assert_eq!(r("hi <@U1>, see <#C9>"), "hi @ann, see #random");
        assert_eq!(r("<@U2> <#C1|general>"), "@U2 #general");
        assert_eq!(
            r("<https://x.io/a?b=1&amp;c=2|docs> and <https://y.io>"),
            "docs (https://x.io/a?b=1&c=2) and https://y.io"
        );
        assert_eq!(
            r("<!here> 1 &lt; 2 &amp;&amp; 3 &gt; 2"),
            "@here 1 < 2 && 3 > 2"
        );
        assert_eq!(r("<!subteam^S1|@devs> ship"), "@devs ship");
        assert_eq!(r("broken <@U1"), "broken <@U1");
    }
}
