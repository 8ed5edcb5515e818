//! Cutting a file into lines in bounded memory.
//!
//! A line is held whole only while it is within `max_line_bytes`; once it is longer, only its
//! first bytes are kept and the rest is skipped up to the next newline. So memory stays within
//! the cap plus one read, whatever the input: a 2 GB line without a newline costs what a short
//! one does. A `.gz` whose stream breaks (corrupt, truncated, not gzip at all) or that expands
//! like a decompression bomb ends with a [`Piece::Broken`] after the lines it gave.

use std::io::{self, Read};

use super::head::HEAD_BYTES;

/// Bytes asked of the input at a time.
const CHUNK: usize = 1 << 20;

/// What the splitter hands over, in file order.
#[derive(Debug)]
pub(crate) enum Piece<'a> {
    /// A line with its newline (without one only for the last line of a finished `.gz`).
    Line { bytes: &'a [u8], offset: u64 },
    /// A line longer than the cap: `len` bytes with its newline, of which `start` are the
    /// first (at most [`HEAD_BYTES`]).
    Overlong {
        offset: u64,
        len: u64,
        start: &'a [u8],
    },
    /// The input cannot be read past `offset`: `rest` is what came after the last line.
    /// `read_error`: reading failed (rather than the guard cutting the input off).
    Broken {
        offset: u64,
        reason: String,
        rest: &'a [u8],
        read_error: bool,
    },
}

/// How a file is cut.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rules {
    /// Longer lines (without their line ending) become [`Piece::Overlong`].
    pub max_line: usize,
    /// The input is finished (a `.gz`): its last line counts without a newline, and a read
    /// error is a [`Piece::Broken`] rather than a failure.
    pub finished: bool,
}

/// Why splitting stopped early.
#[derive(Debug)]
pub(crate) enum Halt<E> {
    /// Reading failed (only when the input is not [`Rules::finished`]).
    Io(io::Error),
    /// The consumer said stop.
    Stop(E),
}

/// An over-long line being skipped.
struct Long {
    offset: u64,
    len: u64,
    start: Vec<u8>,
}

impl Long {
    fn take(&mut self, bytes: &[u8]) {
        let room = (HEAD_BYTES as usize).saturating_sub(self.start.len());
        self.start
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.len += bytes.len() as u64;
    }
}

/// Hands every piece of `input` from `offset` on to `on`, and returns the offset after the
/// last line handed over (a partial last line of a file still being written is not).
///
/// `guard` is asked after each read with the bytes read so far; a reason from it ends the file
/// with a [`Piece::Broken`] (decompression bombs).
pub(crate) fn split<E>(
    mut input: impl Read,
    mut offset: u64,
    rules: Rules,
    mut guard: impl FnMut(u64) -> Option<String>,
    mut on: impl FnMut(Piece<'_>) -> Result<(), E>,
) -> Result<u64, Halt<E>> {
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut long: Option<Long> = None;
    let mut read_total = 0u64;
    let too_long = |line: &[u8]| {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        text.strip_suffix(b"\r").unwrap_or(text).len() > rules.max_line
    };
    loop {
        let filled = buf.len();
        // Exactly: a doubling would let the buffer reach twice the cap.
        buf.reserve_exact(CHUNK);
        buf.resize(filled + CHUNK, 0);
        let (n, error) = fill(&mut input, &mut buf[filled..]);
        buf.truncate(filled + n);
        read_total += n as u64;
        let eof = n == 0 && error.is_none();
        let mut consumed = 0;
        if let Some(l) = &mut long {
            match memchr::memchr(b'\n', &buf) {
                Some(nl) => {
                    l.take(&buf[..=nl]);
                    on(Piece::Overlong {
                        offset: l.offset,
                        len: l.len,
                        start: &l.start,
                    })
                    .map_err(Halt::Stop)?;
                    offset = l.offset + l.len;
                    consumed = nl + 1;
                    long = None;
                }
                None => {
                    l.take(&buf);
                    consumed = buf.len();
                }
            }
        }
        if long.is_none() {
            while let Some(nl) = memchr::memchr(b'\n', &buf[consumed..]) {
                let line = &buf[consumed..consumed + nl + 1];
                let piece = if too_long(line) {
                    Piece::Overlong {
                        offset,
                        len: line.len() as u64,
                        start: &line[..line.len().min(HEAD_BYTES as usize)],
                    }
                } else {
                    Piece::Line {
                        bytes: line,
                        offset,
                    }
                };
                on(piece).map_err(Halt::Stop)?;
                offset += line.len() as u64;
                consumed += nl + 1;
            }
            // No newline within the cap (and a CR that may precede one): stop holding it.
            if buf.len() - consumed > rules.max_line + 1 {
                let mut l = Long {
                    offset,
                    len: 0,
                    start: Vec::new(),
                };
                l.take(&buf[consumed..]);
                long = Some(l);
                consumed = buf.len();
            }
        }
        buf.drain(..consumed);
        // The lines read before an error are handed over first.
        match error {
            Some(e) if rules.finished => {
                return broken(offset, &long, &buf, (e.to_string(), true), &mut on)
            }
            Some(e) => return Err(Halt::Io(e)),
            None => {}
        }
        if let Some(reason) = guard(read_total) {
            return broken(offset, &long, &buf, (reason, false), &mut on);
        }
        if eof {
            if rules.finished {
                if let Some(l) = &long {
                    on(Piece::Overlong {
                        offset: l.offset,
                        len: l.len,
                        start: &l.start,
                    })
                    .map_err(Halt::Stop)?;
                    offset = l.offset + l.len;
                } else if !buf.is_empty() {
                    let piece = if too_long(&buf) {
                        Piece::Overlong {
                            offset,
                            len: buf.len() as u64,
                            start: &buf[..buf.len().min(HEAD_BYTES as usize)],
                        }
                    } else {
                        Piece::Line {
                            bytes: &buf,
                            offset,
                        }
                    };
                    on(piece).map_err(Halt::Stop)?;
                    offset += buf.len() as u64;
                }
            }
            return Ok(offset);
        }
    }
}

/// Reads into `buf` until it is full, the input ends, or an error: what was read, and the
/// error. Decoders give small reads; one read a loop would cost a fill of the buffer each.
fn fill(input: &mut impl Read, buf: &mut [u8]) -> (usize, Option<io::Error>) {
    let mut n = 0;
    while n < buf.len() {
        match input.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(read) => n += read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (n, Some(e)),
        }
    }
    (n, None)
}

/// Ends a file at the start of what could not be read.
fn broken<E>(
    offset: u64,
    long: &Option<Long>,
    buf: &[u8],
    (reason, read_error): (String, bool),
    on: &mut impl FnMut(Piece<'_>) -> Result<(), E>,
) -> Result<u64, Halt<E>> {
    let (at, rest) = match long {
        Some(l) => (l.offset, l.start.as_slice()),
        None => (offset, buf),
    };
    on(Piece::Broken {
        offset: at,
        reason,
        rest,
        read_error,
    })
    .map_err(Halt::Stop)?;
    Ok(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum P {
        Line(String, u64),
        Long(u64, u64, usize),
        Broken(u64, String),
    }

    fn pieces(input: impl Read, rules: Rules) -> (Vec<P>, u64) {
        let mut out = Vec::new();
        let end = split::<()>(
            input,
            0,
            rules,
            |_| None,
            |p| {
                out.push(match p {
                    Piece::Line { bytes, offset } => {
                        P::Line(String::from_utf8_lossy(bytes).into(), offset)
                    }
                    Piece::Overlong { offset, len, start } => P::Long(offset, len, start.len()),
                    Piece::Broken { offset, reason, .. } => P::Broken(offset, reason),
                });
                Ok(())
            },
        )
        .unwrap();
        (out, end)
    }

    const TAIL: Rules = Rules {
        max_line: 8,
        finished: false,
    };

    #[test]
    fn a_partial_last_line_waits_and_a_finished_file_counts_it() {
        let (p, end) = pieces(&b"ab\ncd"[..], TAIL);
        assert_eq!(p, vec![P::Line("ab\n".into(), 0)]);
        assert_eq!(end, 3);
        let finished = Rules {
            finished: true,
            ..TAIL
        };
        let (p, end) = pieces(&b"ab\ncd"[..], finished);
        assert_eq!(p[1], P::Line("cd".into(), 3));
        assert_eq!(end, 5);
    }

    /// Gives `total` bytes of `x` in small reads, then a newline and `ok\n`; counts what was
    /// held at most by never handing out more than asked.
    struct Endless {
        left: u64,
        tail: &'static [u8],
    }

    impl Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left > 0 {
                let n = buf.len().min(self.left as usize);
                buf[..n].fill(b'x');
                self.left -= n as u64;
                return Ok(n);
            }
            let n = buf.len().min(self.tail.len());
            buf[..n].copy_from_slice(&self.tail[..n]);
            self.tail = &self.tail[n..];
            Ok(n)
        }
    }

    #[test]
    fn an_over_long_line_is_skipped_to_its_newline_without_being_held() {
        let input = Endless {
            left: 300 << 20,
            tail: b"\nok\n",
        };
        let rules = Rules {
            max_line: 1024,
            finished: false,
        };
        let mut held = 0usize;
        let mut pieces = Vec::new();
        split::<()>(
            input,
            0,
            rules,
            |_| None,
            |p| {
                match p {
                    Piece::Line { bytes, offset } => pieces.push((offset, bytes.to_vec())),
                    Piece::Overlong { offset, len, start } => {
                        held = held.max(start.len());
                        pieces.push((offset, format!("long {len}").into_bytes()));
                    }
                    Piece::Broken { .. } => unreachable!(),
                }
                Ok(())
            },
        )
        .unwrap();
        let long = (300u64 << 20) + 1;
        assert_eq!(pieces[0], (0, format!("long {long}").into_bytes()));
        assert_eq!(pieces[1], (long, b"ok\n".to_vec()));
        assert!(held <= HEAD_BYTES as usize);
    }

    #[test]
    fn a_read_error_of_a_finished_file_ends_it_after_its_good_lines() {
        struct Breaks(bool);
        impl Read for Breaks {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if std::mem::replace(&mut self.0, true) {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "corrupt"));
                }
                buf[..4].copy_from_slice(b"a\nbc");
                Ok(4)
            }
        }
        let rules = Rules {
            max_line: 8,
            finished: true,
        };
        let (p, end) = pieces(Breaks(false), rules);
        assert_eq!(
            p,
            vec![P::Line("a\n".into(), 0), P::Broken(2, "corrupt".into())]
        );
        assert_eq!(end, 2);
    }

    #[test]
    fn a_guard_cuts_the_input_off() {
        let input = Endless {
            left: 10 << 20,
            tail: b"",
        };
        let rules = Rules {
            max_line: 8,
            finished: true,
        };
        let mut out = Vec::new();
        let end = split::<()>(
            input,
            0,
            rules,
            |n| (n > 2 << 20).then(|| "too much".to_string()),
            |p| {
                if let Piece::Broken { offset, reason, .. } = p {
                    out.push((offset, reason));
                }
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(out, vec![(0, "too much".to_string())]);
        assert_eq!(end, 0);
    }

    #[test]
    fn a_line_over_the_cap_within_one_read_is_overlong() {
        let (p, _) = pieces(&b"0123456789\nok\r\n12345678\r\n"[..], TAIL);
        assert_eq!(
            p,
            vec![
                P::Long(0, 11, 11),
                P::Line("ok\r\n".into(), 11),
                P::Line("12345678\r\n".into(), 15)
            ]
        );
    }
}
