//! MCP over stdio, framed here rather than by rmcp so that every line a client sends gets an
//! answer: a line that is not JSON is JSON-RPC's -32700 Parse error (id null); a line longer
//! than [`MAX_LINE_BYTES`] is -32600 Invalid Request with its id when the id comes early enough
//! to be found, and is never held whole; a JSON value that is no message is -32600 too. Then
//! serving goes on with the next line. (rmcp's framing ignores the first and drops the second
//! with a log line, and a client waits for its answer for ever.)

use std::borrow::Cow;

use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use rmcp::RoleServer;
use serde::de::{Deserializer as _, IgnoredAny, MapAccess, Visitor};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// The longest line read as a message. The four tools take short filters, so a mebibyte is
/// far beyond any honest call; it is also the most memory one line can take.
pub(crate) const MAX_LINE_BYTES: usize = 1 << 20;

/// Lines to write, in order; one task writes them (see [`writer`]).
pub(crate) type Lines = mpsc::UnboundedSender<Vec<u8>>;

/// Writes each line whole to `out`, in the order sent, until every sender is gone. Answers
/// to bad lines are queued from [`StdioTransport::receive`], which rmcp may cancel at any
/// await: queuing is not an await, so an answer is never lost nor half-written.
pub(crate) async fn writer<W: AsyncWrite + Unpin>(
    mut out: W,
    mut lines: mpsc::UnboundedReceiver<Vec<u8>>,
) -> std::io::Result<()> {
    while let Some(line) = lines.recv().await {
        out.write_all(&line).await?;
        if lines.is_empty() {
            out.flush().await?;
        }
    }
    out.flush().await
}

/// The transport: lines in from `read`, lines out through a [`writer`].
pub(crate) struct StdioTransport<R> {
    read: BufReader<R>,
    /// The line read so far (kept across a cancelled `receive`).
    line: Vec<u8>,
    /// Set while skipping the rest of a line past [`MAX_LINE_BYTES`]: the id found in its
    /// start, if any, to answer once its end is reached.
    skipping: Option<Value>,
    out: Lines,
}

impl<R: AsyncRead + Unpin> StdioTransport<R> {
    pub(crate) fn new(read: R, out: Lines) -> Self {
        StdioTransport {
            read: BufReader::new(read),
            line: Vec::new(),
            skipping: None,
            out,
        }
    }

    /// Queues a JSON-RPC error answer.
    fn answer_error(&self, id: Value, code: i64, message: String) {
        let mut line = json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {"code": code, "message": message},
        })
        .to_string()
        .into_bytes();
        line.push(b'\n');
        // The writer is gone only when stdout is: nobody is left to answer.
        let _ = self.out.send(line);
    }

    /// Reads up to the end of the next line into `self.line`, never past [`MAX_LINE_BYTES`];
    /// `false` at the end of input. A line too long is answered and skipped here. Cancelled
    /// at an await, it resumes where it was: what was read is in `self`.
    async fn next_line(&mut self) -> std::io::Result<bool> {
        loop {
            let available = self.read.fill_buf().await?;
            if available.is_empty() {
                // The last line may end without a newline.
                return Ok(!self.line.is_empty() && self.skipping.is_none());
            }
            let newline = available.iter().position(|b| *b == b'\n');
            let take = newline.map_or(available.len(), |i| i + 1);
            if self.skipping.is_none() {
                let room = MAX_LINE_BYTES - self.line.len();
                if take <= room {
                    self.line.extend_from_slice(&available[..take]);
                    self.read.consume(take);
                    if newline.is_some() {
                        return Ok(true);
                    }
                    continue;
                }
                // Too long: its id, if its start holds one, and then its end.
                self.line.extend_from_slice(&available[..room]);
                self.skipping = Some(top_level_id(&self.line).unwrap_or(Value::Null));
                self.line = Vec::new();
            }
            self.read.consume(take);
            if newline.is_some() {
                let id = self.skipping.take().unwrap_or(Value::Null);
                self.answer_error(
                    id,
                    -32600,
                    format!(
                        "Invalid Request: the message is longer than {MAX_LINE_BYTES} bytes, the most this server reads as one request; it was skipped"
                    ),
                );
            }
        }
    }

    /// The message in a whole line, or `None` after answering (or ignoring) a bad one.
    fn message(&self, line: &[u8]) -> Option<RxJsonRpcMessage<RoleServer>> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return None;
        }
        let error = match serde_json::from_slice(line) {
            Ok(message) => return Some(message),
            Err(e) => e,
        };
        match serde_json::from_slice::<Value>(line) {
            Err(e) => self.answer_error(Value::Null, -32700, format!("Parse error: {e}")),
            // A notification is never answered, even one of a method nobody knows.
            Ok(Value::Object(m)) if !m.contains_key("id") && m.contains_key("method") => {
                tracing::debug!("MCP: ignoring a notification that is no message: {error}");
            }
            Ok(value) => {
                let id = value.get("id").cloned().unwrap_or(Value::Null);
                self.answer_error(id, -32600, format!("Invalid Request: {error}"));
            }
        }
        None
    }
}

impl<R: AsyncRead + Unpin + Send + 'static> Transport<RoleServer> for StdioTransport<R> {
    type Error = std::io::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleServer>,
    ) -> impl std::future::Future<Output = Result<(), Self::Error>> + Send + 'static {
        let out = self.out.clone();
        async move {
            let mut line = serde_json::to_vec(&item).map_err(std::io::Error::other)?;
            line.push(b'\n');
            out.send(line).map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdout is closed")
            })
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        loop {
            match self.next_line().await {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    tracing::error!("MCP: reading stdin: {e}");
                    return None;
                }
            }
            let line = std::mem::take(&mut self.line);
            if let Some(message) = self.message(&line) {
                return Some(message);
            }
        }
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The `id` of the JSON-RPC object `start` begins, if it comes before the text is cut off
/// (clients write `jsonrpc` and `id` before `params`).
fn top_level_id(start: &[u8]) -> Option<Value> {
    struct FindId<'a>(&'a mut Option<Value>);

    impl<'de> Visitor<'de> for FindId<'_> {
        type Value = ();

        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON-RPC object")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                if key == "id" {
                    *self.0 = Some(map.next_value()?);
                    return Ok(());
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }

    let mut id = None;
    // It fails where the text is cut, after the id if the id came first.
    let _ = serde_json::Deserializer::from_slice(start).deserialize_map(FindId(&mut id));
    id.filter(|v| v.is_string() || v.is_number())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_found_in_the_start_of_a_cut_message() {
        let cut = |s: &str| top_level_id(s.as_bytes());
        assert_eq!(
            cut(r#"{"jsonrpc":"2.0","id":7,"params":{"q":"aaa"#),
            Some(json!(7))
        );
        assert_eq!(cut(r#"{"id":"a-1","params":{"#), Some(json!("a-1")));
        // An `id` inside the params is not the message's.
        assert_eq!(cut(r#"{"params":{"id":3,"x":"aaa"#), None);
        assert_eq!(cut(r#"{"params":{"id":3},"id":4}"#), Some(json!(4)));
        assert_eq!(cut(r#"{"id":{"x":1}}"#), None);
        assert_eq!(cut(r#"[1,"#), None);
        assert_eq!(cut("not json"), None);
    }

    /// What the transport hands rmcp and what it answers itself, for `input`.
    async fn session(input: Vec<u8>) -> (usize, Vec<Value>) {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut transport = StdioTransport::new(std::io::Cursor::new(input), tx);
        let mut messages = 0;
        while transport.receive().await.is_some() {
            messages += 1;
        }
        drop(transport);
        let mut answers = Vec::new();
        while let Some(line) = rx.recv().await {
            answers.push(serde_json::from_slice(&line).unwrap());
        }
        (messages, answers)
    }

    /// A line that is not JSON got no answer; a line too long was dropped with a log line.
    #[tokio::test]
    async fn regression_every_bad_line_is_answered_and_the_next_one_read() {
        let ping = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        let mut input = Vec::new();
        input.extend_from_slice(b"{not json\n\n");
        input.extend_from_slice(br#"{"jsonrpc":"2.0","id":5,"method":"ping","params":{"x":""#);
        input.resize(input.len() + 3 * MAX_LINE_BYTES, b'a');
        input.extend_from_slice(b"\"}}\r\n");
        input.extend_from_slice(ping);
        input.extend_from_slice(b"\n[1,2]\n");
        input.extend_from_slice(br#"{"jsonrpc":"2.0","id":"x"}"#);
        input.extend_from_slice(b"\n");
        input.extend_from_slice(ping);
        let (messages, answers) = session(input).await;
        assert_eq!(messages, 2, "both pings, the last without a newline");
        let codes: Vec<(Value, i64)> = answers
            .iter()
            .map(|a| (a["id"].clone(), a["error"]["code"].as_i64().unwrap()))
            .collect();
        assert_eq!(
            codes,
            [
                (Value::Null, -32700),
                (json!(5), -32600),
                (Value::Null, -32600),
                (json!("x"), -32600),
            ]
        );
        assert!(
            answers[1]["error"]["message"]
                .as_str()
                .unwrap()
                .contains("longer than 1048576 bytes"),
            "{}",
            answers[1]
        );
    }
}
