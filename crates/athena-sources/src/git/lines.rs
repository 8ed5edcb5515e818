//! Line counts and diff text as git computes them: binary detection, `--numstat` counts, and
//! zero-context hunks, over gitoxide's port of git's Myers diff.

use std::collections::HashMap;
use std::fmt::Write as _;

use gix::diff::blob::sources::byte_lines;
use gix::diff::blob::{Algorithm, Diff, Interner, Token};

/// Git calls a blob binary when its first 8000 bytes hold a NUL byte; so do we.
const BINARY_PROBE: usize = 8000;

pub(crate) fn is_binary(data: &[u8]) -> bool {
    data[..data.len().min(BINARY_PROBE)].contains(&0)
}

/// Lines as git counts them: a last line without a newline still counts.
pub(crate) fn count_lines(data: &[u8]) -> u64 {
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(data.last().is_some_and(|&b| b != b'\n'))
}

/// Lines added and deleted between two texts, with git's Myers diff (gitoxide's port keeps
/// git's heuristics, so the counts agree with `git log --numstat`), optionally with `-U0` hunks.
///
/// Most changes touch a few lines of a long file, and hashing every line is most of the work.
/// So only the lines between the shared start and end are interned. The shared lines still go
/// into the token sequences, because git's heuristics count how often each changed line occurs
/// in the *whole* other file: a shared line gets its real token when it equals a changed line,
/// and one filler token otherwise, which keeps every count and length exactly as git sees them.
pub(crate) fn line_diff(
    diff: &mut Diff,
    old: &[u8],
    new: &[u8],
    text: Option<&mut String>,
) -> (u64, u64) {
    let (prefix, suffix) = common_line_ends(old, new);
    let old_mid = &old[prefix..old.len() - suffix];
    let new_mid = &new[prefix..new.len() - suffix];
    if old_mid.is_empty() || new_mid.is_empty() {
        if let Some(out) = text {
            let first = count_lines(&old[..prefix]) as usize;
            write_hunk(out, first, byte_lines(old_mid), byte_lines(new_mid));
        }
        return (count_lines(new_mid), count_lines(old_mid));
    }
    let mut interner: Interner<&[u8]> = Interner::new(64);
    // Lines are never empty (each keeps its newline), so the empty slice cannot be a real line.
    let filler = interner.intern(&[][..]);
    let mut known: HashMap<&[u8], Token, foldhash::fast::FixedState> = HashMap::default();
    // Lengths of the changed lines: a shared line of another length cannot equal one of them,
    // which spares hashing most shared lines.
    let mut lengths = LengthSet::default();
    let mut old_tokens = Vec::new();
    let mut new_tokens = Vec::new();
    for (part, tokens) in [(old_mid, &mut old_tokens), (new_mid, &mut new_tokens)] {
        for line in byte_lines(part) {
            lengths.insert(line.len());
            tokens.push(*known.entry(line).or_insert_with(|| interner.intern(line)));
        }
    }
    let shared_token = |line: &[u8]| {
        if lengths.contains(line.len()) {
            known.get(line).copied().unwrap_or(filler)
        } else {
            filler
        }
    };
    let head_len = count_lines(&old[..prefix]) as usize;
    let tail_len = count_lines(&old[old.len() - suffix..]) as usize;
    let mut before = Vec::with_capacity(head_len + old_tokens.len() + tail_len);
    before.extend(byte_lines(&old[..prefix]).map(shared_token));
    let mut after = Vec::with_capacity(head_len + new_tokens.len() + tail_len);
    after.extend_from_slice(&before);
    before.extend_from_slice(&old_tokens);
    after.extend_from_slice(&new_tokens);
    let tail_start = before.len();
    before.extend(byte_lines(&old[old.len() - suffix..]).map(shared_token));
    after.extend_from_slice(&before[tail_start..]);
    diff.compute_with(Algorithm::Myers, &before, &after, interner.num_tokens());
    if let Some(out) = text {
        for hunk in diff.hunks() {
            let (b, a) = (hunk.before.clone(), hunk.after.clone());
            let lines = |tokens: &[Token], r: std::ops::Range<u32>| {
                tokens[r.start as usize..r.end as usize]
                    .iter()
                    .map(|t| interner[*t])
                    .collect::<Vec<&[u8]>>()
            };
            let _ = writeln!(
                out,
                "@@ -{},{} +{},{} @@",
                b.start + 1,
                b.len(),
                a.start + 1,
                a.len()
            );
            write_lines(out, '-', lines(&before, b));
            write_lines(out, '+', lines(&after, a));
        }
    }
    (
        u64::from(diff.count_additions()),
        u64::from(diff.count_removals()),
    )
}

fn write_hunk<'a>(
    out: &mut String,
    first: usize,
    old: impl Iterator<Item = &'a [u8]>,
    new: impl Iterator<Item = &'a [u8]>,
) {
    let old: Vec<&[u8]> = old.collect();
    let new: Vec<&[u8]> = new.collect();
    if old.is_empty() && new.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "@@ -{},{} +{},{} @@",
        first + 1,
        old.len(),
        first + 1,
        new.len()
    );
    write_lines(out, '-', old);
    write_lines(out, '+', new);
}

fn write_lines(out: &mut String, sign: char, lines: Vec<&[u8]>) {
    for line in lines {
        out.push(sign);
        out.push_str(&String::from_utf8_lossy(line));
        if !line.ends_with(b"\n") {
            out.push_str("\n\\ No newline at end of file\n");
        }
    }
}

/// Index of the first byte where `a` and `b` differ (the shorter length if one is a prefix).
/// Compares blocks first: the common case is long identical runs.
fn first_mismatch(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 64;
    let max = a.len().min(b.len());
    let mut i = 0;
    while i + BLOCK <= max && a[i..i + BLOCK] == b[i..i + BLOCK] {
        i += BLOCK;
    }
    i + a[i..max]
        .iter()
        .zip(&b[i..max])
        .position(|(x, y)| x != y)
        .unwrap_or(max - i)
}

/// How many bytes at the end of `a` and `b` (of equal length) are equal.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 64;
    let n = a.len();
    let mut same = 0;
    while same + BLOCK <= n && a[n - same - BLOCK..n - same] == b[n - same - BLOCK..n - same] {
        same += BLOCK;
    }
    same + a[..n - same]
        .iter()
        .rev()
        .zip(b[..n - same].iter().rev())
        .position(|(x, y)| x != y)
        .unwrap_or(n - same)
}

/// A set of line lengths: a bitmap for the usual ones, a flag for any longer.
#[derive(Default)]
struct LengthSet {
    short: [u64; 16],
    any_long: bool,
}

impl LengthSet {
    fn insert(&mut self, len: usize) {
        match self.short.get_mut(len / 64) {
            Some(word) => *word |= 1 << (len % 64),
            None => self.any_long = true,
        }
    }

    fn contains(&self, len: usize) -> bool {
        match self.short.get(len / 64) {
            Some(word) => word & (1 << (len % 64)) != 0,
            None => self.any_long,
        }
    }
}

/// Byte lengths of the whole lines `old` and `new` share at their start and at their end.
fn common_line_ends(old: &[u8], new: &[u8]) -> (usize, usize) {
    let max = old.len().min(new.len());
    let mut prefix = first_mismatch(old, new);
    if prefix < old.len() || prefix < new.len() {
        // Back up to the start of the line that differs.
        prefix = old[..prefix]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
    }
    let room = max - prefix;
    let mut suffix = common_suffix(&old[old.len() - room..], &new[new.len() - room..]);
    // The shared end must start at a line start in both texts.
    let starts_line = |text: &[u8], s: usize| {
        let at = text.len() - s;
        at == prefix || text[at - 1] == b'\n'
    };
    while suffix > 0 && !(starts_line(old, suffix) && starts_line(new, suffix)) {
        suffix -= 1;
    }
    (prefix, suffix)
}

pub(crate) fn append_limited(out: &mut String, text: &str, max: usize, truncated: &mut bool) {
    if *truncated {
        return;
    }
    if out.len() + text.len() <= max {
        out.push_str(text);
        return;
    }
    let mut cut = max.saturating_sub(out.len());
    while cut > 0 && !text.is_char_boundary(cut) {
        cut -= 1;
    }
    out.push_str(&text[..cut]);
    *truncated = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_counts_match_git_conventions() {
        assert_eq!(count_lines(b""), 0);
        assert_eq!(count_lines(b"a\nb\n"), 2);
        assert_eq!(count_lines(b"a\nb"), 2);
        let mut d = Diff::default();
        assert_eq!(
            line_diff(&mut d, b"a\nb\nc\n", b"a\nB\nc\nd\n", None),
            (2, 1)
        );
        // A missing final newline makes the last line differ, as in git.
        assert_eq!(line_diff(&mut d, b"a\nb", b"a\nb\n", None), (1, 1));
    }

    #[test]
    fn trimming_common_lines_keeps_counts_and_line_numbers() {
        let mut d = Diff::default();
        let mut text = String::new();
        let counts = line_diff(&mut d, b"a\nb\nc\nd\n", b"a\nb\nX\nd\n", Some(&mut text));
        assert_eq!(counts, (1, 1));
        assert_eq!(text, "@@ -3,1 +3,1 @@\n-c\n+X\n");
        // Lines that only share a tail are not cut in the middle.
        assert_eq!(common_line_ends(b"xab\n", b"yab\n"), (0, 0));
        assert_eq!(common_line_ends(b"q\nab\n", b"q\nzab\n"), (2, 0));
        assert_eq!(common_line_ends(b"a\n", b"a\nb\n"), (2, 0));
        assert_eq!(line_diff(&mut d, b"a\n", b"a\nb\n", None), (1, 0));
        assert_eq!(line_diff(&mut d, b"b\n", b"a\nb\n", None), (1, 0));
        assert_eq!(line_diff(&mut d, b"same\n", b"same\n", None), (0, 0));
        let long: Vec<u8> = (0..1000u32)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .collect();
        let mut changed = long.clone();
        changed[2000] = b'x';
        assert_eq!(first_mismatch(&long, &changed), 2000);
        assert_eq!(common_suffix(&long, &changed), long.len() - 2001);
        assert_eq!(first_mismatch(b"abc", b"abcd"), 3);
    }

    #[test]
    fn zero_context_hunks_are_rendered() {
        let mut d = Diff::default();
        let mut text = String::new();
        line_diff(&mut d, b"a\nb\nc\n", b"a\nx\nc\n", Some(&mut text));
        assert_eq!(text, "@@ -2,1 +2,1 @@\n-b\n+x\n");
    }

    #[test]
    fn binary_is_a_nul_in_the_first_8000_bytes() {
        assert!(is_binary(b"ab\0c"));
        let mut late = vec![b'a'; 9000];
        late[8500] = 0;
        assert!(!is_binary(&late));
    }

    #[test]
    fn diff_text_is_capped_on_a_char_boundary() {
        let mut out = String::new();
        let mut cut = false;
        append_limited(&mut out, "ééé", 3, &mut cut);
        assert_eq!(out, "é");
        assert!(cut);
    }
}
