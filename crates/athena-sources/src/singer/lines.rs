//! A tap's stdout as numbered lines in bounded memory: a line longer than the bound is not
//! buffered; what is kept of it is its first bytes and its length, and reading goes on after it.

use std::io::{self, BufRead};

/// How much of a refused line is kept for its dead letter.
const HEAD: usize = 512;

/// One line of output, without its newline.
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    /// A line within the bound.
    Text(&'a [u8]),
    /// A line over the bound: its first bytes and its whole length.
    TooLong {
        /// Its first bytes.
        head: Vec<u8>,
        /// How long it was, in bytes.
        bytes: u64,
    },
}

/// Reads numbered lines of at most `max` bytes.
pub struct Lines<R> {
    reader: R,
    max: usize,
    line: Vec<u8>,
    number: u64,
    /// Bytes read, newlines included.
    pub bytes: u64,
}

impl<R> Lines<R> {
    /// The reader, to look at what it holds.
    pub fn reader(&self) -> &R {
        &self.reader
    }
}

impl<R: BufRead> Lines<R> {
    /// Lines of `reader`, each at most `max` bytes.
    pub fn new(reader: R, max: usize) -> Self {
        Lines {
            reader,
            max,
            line: Vec::new(),
            number: 0,
            bytes: 0,
        }
    }

    /// The next line and its 1-based number; `None` at the end. A last line without a newline
    /// is a line.
    pub fn next_line(&mut self) -> io::Result<Option<(u64, Line<'_>)>> {
        self.line.clear();
        let mut over: Option<u64> = None;
        let mut ended = false;
        loop {
            let chunk = match self.reader.fill_buf() {
                Ok(chunk) => chunk,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            let (take, found) = match memchr::memchr(b'\n', chunk) {
                Some(i) => (i, true),
                None => (chunk.len(), false),
            };
            match &mut over {
                Some(total) => {
                    let room = HEAD.saturating_sub(self.line.len()).min(take);
                    self.line.extend_from_slice(&chunk[..room]);
                    *total += take as u64;
                }
                // One byte over the bound may be a CRLF's `\r`, checked once the line ends.
                None if self.line.len() + take > self.max + 1 => {
                    let before = self.line.len();
                    let room = HEAD.saturating_sub(before).min(take);
                    self.line.truncate(HEAD);
                    self.line.extend_from_slice(&chunk[..room]);
                    over = Some((before + take) as u64);
                }
                None => self.line.extend_from_slice(&chunk[..take]),
            }
            let used = take + usize::from(found);
            self.reader.consume(used);
            self.bytes += used as u64;
            if found {
                ended = true;
                break;
            }
        }
        if !ended && self.line.is_empty() && over.is_none() {
            return Ok(None);
        }
        self.number += 1;
        Ok(Some(match over {
            Some(bytes) => (
                self.number,
                Line::TooLong {
                    head: std::mem::take(&mut self.line),
                    bytes,
                },
            ),
            None => {
                if self.line.last() == Some(&b'\r') {
                    self.line.pop();
                }
                if self.line.len() > self.max {
                    let bytes = self.line.len() as u64;
                    self.line.truncate(HEAD);
                    let head = std::mem::take(&mut self.line);
                    return Ok(Some((self.number, Line::TooLong { head, bytes })));
                }
                (self.number, Line::Text(&self.line))
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], max: usize, buffer: usize) -> Vec<(u64, String)> {
        let reader = io::BufReader::with_capacity(buffer, input);
        let mut lines = Lines::new(reader, max);
        let mut out = Vec::new();
        while let Some((n, line)) = lines.next_line().unwrap() {
            out.push((
                n,
                match line {
                    Line::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    Line::TooLong { head, bytes } => {
                        format!("too long: {bytes} bytes, {} kept", head.len())
                    }
                },
            ));
        }
        assert_eq!(lines.bytes, input.len() as u64);
        out
    }

    #[test]
    fn lines_are_numbered_and_a_long_one_is_skipped_whole_in_any_buffer_size() {
        let long = "x".repeat(5000);
        let input = format!("a\r\n{long}\nbc\n\nlast");
        for buffer in [1, 7, 64, 8192] {
            assert_eq!(
                all(input.as_bytes(), 100, buffer),
                vec![
                    (1, "a".to_string()),
                    (2, "too long: 5000 bytes, 512 kept".to_string()),
                    (3, "bc".to_string()),
                    (4, String::new()),
                    (5, "last".to_string()),
                ],
                "buffer {buffer}"
            );
        }
        assert_eq!(all(b"", 10, 8), vec![]);
        assert_eq!(all(b"exactly10!\n", 10, 4), vec![(1, "exactly10!".into())]);
        assert_eq!(all(b"exactly10!\r\n", 10, 4), vec![(1, "exactly10!".into())]);
        assert_eq!(
            all(b"eleven....!\n", 10, 4),
            vec![(1, "too long: 11 bytes, 11 kept".into())]
        );
    }
}
