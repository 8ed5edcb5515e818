//! Atlassian Document Format (ADF), the JSON Jira's descriptions and comments are written in,
//! rendered as readable text: paragraphs and headings as lines, lists with `-` or numbers,
//! mentions as `@name`, links as `text (url)`, code inline in backticks and in fenced blocks.
//! A node this module does not know is rendered as its text content, so nothing said is lost.

use serde_json::Value;

/// The readable text of an ADF document (a plain string, as older APIs send, is kept as is;
/// anything else is empty).
pub(crate) fn render(doc: &Value) -> String {
    match doc {
        Value::String(s) => s.trim().to_string(),
        Value::Object(_) => {
            let mut out = String::new();
            block(doc, &mut out, "");
            tidy(&out)
        }
        _ => String::new(),
    }
}

fn content(node: &Value) -> &[Value] {
    node.get("content")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn attr<'a>(node: &'a Value, name: &str) -> Option<&'a str> {
    node.pointer(&format!("/attrs/{name}"))
        .and_then(Value::as_str)
}

/// Renders a block node, each line prefixed by `indent`, ending with a blank line.
fn block(node: &Value, out: &mut String, indent: &str) {
    let kind = node.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "doc" | "blockquote" | "panel" | "expand" | "nestedExpand" | "layoutSection"
        | "layoutColumn" | "table" | "tableRow" | "tableCell" | "tableHeader" => {
            for child in content(node) {
                block(child, out, indent);
            }
        }
        "paragraph" => {
            line(out, indent, &inline_all(content(node)));
        }
        "heading" => {
            let level = node
                .pointer("/attrs/level")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .clamp(1, 6) as usize;
            let text = inline_all(content(node));
            line(out, indent, &format!("{} {text}", "#".repeat(level)));
        }
        "bulletList" | "orderedList" => {
            let start = node
                .pointer("/attrs/order")
                .and_then(Value::as_u64)
                .unwrap_or(1);
            for (i, item) in content(node).iter().enumerate() {
                let marker = if kind == "bulletList" {
                    "- ".to_string()
                } else {
                    format!("{}. ", start + i as u64)
                };
                list_item(item, out, indent, &marker);
            }
            out.push('\n');
        }
        "codeBlock" => {
            let language = attr(node, "language").unwrap_or("");
            let code = inline_all(content(node));
            let mut text = format!("```{language}\n");
            text.push_str(code.trim_end_matches('\n'));
            text.push_str("\n```");
            line(out, indent, &text);
        }
        "rule" => line(out, indent, "---"),
        "mediaSingle" | "mediaGroup" | "media" => {
            let text = inline_all(content(node));
            if !text.is_empty() {
                line(out, indent, &text);
            }
        }
        // An inline node where a block is expected, or a block this module does not know:
        // its text.
        _ => {
            let text = inline(node);
            if !text.trim().is_empty() {
                line(out, indent, &text);
            }
        }
    }
}

/// A list item: its first block after the marker, the rest indented under it.
fn list_item(item: &Value, out: &mut String, indent: &str, marker: &str) {
    let mut inner = String::new();
    let nested = format!("{indent}{}", " ".repeat(marker.len()));
    for child in content(item) {
        block(child, &mut inner, "");
    }
    let text = tidy(&inner);
    for (i, l) in text.lines().enumerate() {
        if i == 0 {
            out.push_str(&format!("{indent}{marker}{l}\n"));
        } else if l.is_empty() {
            continue;
        } else {
            out.push_str(&format!("{nested}{l}\n"));
        }
    }
    if text.is_empty() {
        out.push_str(&format!("{indent}{}\n", marker.trim_end()));
    }
}

/// One block's text, each of its lines prefixed, then a blank line.
fn line(out: &mut String, indent: &str, text: &str) {
    for l in text.split('\n') {
        out.push_str(indent);
        out.push_str(l);
        out.push('\n');
    }
    out.push('\n');
}

fn inline_all(nodes: &[Value]) -> String {
    nodes.iter().map(inline).collect()
}

/// An inline node's text (a block met inline gives its text content).
fn inline(node: &Value) -> String {
    let kind = node.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => {
            let text = node.get("text").and_then(Value::as_str).unwrap_or("");
            marked(node, text)
        }
        "hardBreak" => "\n".into(),
        "mention" => {
            let name = attr(node, "text")
                .or_else(|| attr(node, "id"))
                .unwrap_or("");
            if name.starts_with('@') {
                name.to_string()
            } else {
                format!("@{name}")
            }
        }
        "emoji" => attr(node, "text")
            .or_else(|| attr(node, "shortName"))
            .unwrap_or("")
            .to_string(),
        "inlineCard" | "blockCard" | "embedCard" => attr(node, "url").unwrap_or("").to_string(),
        "date" => attr(node, "timestamp")
            .and_then(|t| t.parse::<i64>().ok())
            .and_then(chrono::DateTime::from_timestamp_millis)
            .map(|t| t.format("%Y-%m-%d").to_string())
            .unwrap_or_default(),
        "status" => attr(node, "text").unwrap_or("").to_string(),
        _ => {
            let mut text = inline_all(content(node));
            if text.is_empty() {
                text = node
                    .get("text")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
            }
            text
        }
    }
}

/// A text node with its marks: code in backticks, a link as `text (url)`.
fn marked(node: &Value, text: &str) -> String {
    let marks = node.get("marks").and_then(Value::as_array);
    let mut out = text.to_string();
    for mark in marks.into_iter().flatten() {
        match mark.get("type").and_then(Value::as_str) {
            Some("code") => out = format!("`{out}`"),
            Some("link") => {
                if let Some(href) = attr(mark, "href") {
                    if href != text {
                        out = format!("{out} ({href})");
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Lines without trailing blanks, no more than one blank line in a row, none at the ends.
fn tidy(text: &str) -> String {
    let mut out = String::new();
    let mut blank = false;
    for l in text.lines() {
        let l = l.trim_end();
        if l.is_empty() {
            blank = !out.is_empty();
            continue;
        }
        if blank {
            out.push('\n');
            blank = false;
        }
        out.push_str(l);
        out.push('\n');
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn text(s: &str) -> Value {
        json!({"type": "text", "text": s})
    }

    fn para(content: Value) -> Value {
        json!({"type": "paragraph", "content": content})
    }

    #[test]
    fn paragraphs_headings_mentions_links_code_and_breaks_read_as_text() {
        let doc = json!({"type": "doc", "version": 1, "content": [
            {"type": "heading", "attrs": {"level": 2}, "content": [text("Steps")]},
            para(json!([
                text("Ask "),
                {"type": "mention", "attrs": {"id": "5b10", "text": "@Ann Lee"}},
                text(" about "),
                {"type": "text", "text": "the doc", "marks": [{"type": "link", "attrs": {"href": "https://example.com/d"}}]},
                {"type": "hardBreak"},
                text("then run "),
                {"type": "text", "text": "make", "marks": [{"type": "code"}, {"type": "strong"}]},
                text(".")
            ])),
            {"type": "codeBlock", "attrs": {"language": "sh"}, "content": [text("cargo test\ncargo fmt")]},
            para(json!([{"type": "mention", "attrs": {"id": "x", "text": "bob"}}]))
        ]});
        assert_eq!(
            render(&doc),
            "## Steps\n\nAsk @Ann Lee about the doc (https://example.com/d)\nthen run `make`.\n\n```sh\ncargo test\ncargo fmt\n```\n\n@bob"
        );
    }

    #[test]
    fn lists_bulleted_numbered_and_nested() {
        let item = |c: Value| json!({"type": "listItem", "content": c});
        let doc = json!({"type": "doc", "content": [
            {"type": "bulletList", "content": [
                item(json!([para(json!([text("one")]))])),
                item(json!([
                    para(json!([text("two")])),
                    {"type": "orderedList", "attrs": {"order": 3}, "content": [
                        item(json!([para(json!([text("three")]))])),
                        item(json!([para(json!([text("four")]))]))
                    ]}
                ]))
            ]},
            para(json!([text("after")]))
        ]});
        assert_eq!(render(&doc), "- one\n- two\n  3. three\n  4. four\n\nafter");
    }

    #[test]
    fn unknown_nodes_fall_back_to_their_text_and_odd_input_is_empty_or_kept() {
        let doc = json!({"type": "doc", "content": [
            {"type": "fancyWidget", "content": [text("inside "), {"type": "sparkle", "text": "sparkles"}]},
            {"type": "panel", "attrs": {"panelType": "info"}, "content": [para(json!([text("note")]))]},
            {"type": "paragraph", "content": [{"type": "inlineCard", "attrs": {"url": "https://x.example/1"}}]},
            {"type": "paragraph", "content": [{"type": "emoji", "attrs": {"shortName": ":smile:", "text": "😄"}}]}
        ]});
        assert_eq!(
            render(&doc),
            "inside sparkles\n\nnote\n\nhttps://x.example/1\n\n😄"
        );
        assert_eq!(render(&Value::Null), "");
        assert_eq!(render(&json!("plain text\n")), "plain text");
        assert_eq!(render(&json!({"type": "doc", "content": "nope"})), "");
    }
}
