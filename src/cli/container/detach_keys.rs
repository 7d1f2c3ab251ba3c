//! Detach keys: the key sequence that leaves an interactive session with a terminal while the
//! process keeps running (`--detach-keys`, docker's format: comma-separated keys, each a single
//! character or `ctrl-<c>` with `<c>` one of `a`–`z`, `@`, `[`, `\`, `]`, `^`, `_`), and the
//! matcher that finds it in the input stream.

use std::str::FromStr;

/// A detach key sequence (never empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DetachKeys(Vec<u8>);

/// A `--detach-keys` value that cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct DetachKeysError {
    value: String,
    key: String,
}

impl std::fmt::Display for DetachKeysError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid detach keys {:?}: unknown key {:?} (expected a single character or \
             ctrl-<a-z|@|[|\\|]|^|_>, comma-separated, e.g. ctrl-p,ctrl-q)",
            self.value, self.key
        )
    }
}

impl std::error::Error for DetachKeysError {}

/// The control character named by `ctrl-<c>`.
fn control(c: &str) -> Option<u8> {
    match c.as_bytes() {
        [b @ b'a'..=b'z'] => Some(b - b'a' + 1),
        [b @ b'A'..=b'Z'] => Some(b - b'A' + 1),
        [b'@'] => Some(0),
        [b'['] => Some(27),
        [b'\\'] => Some(28),
        [b']'] => Some(29),
        [b'^'] => Some(30),
        [b'_'] => Some(31),
        _ => None,
    }
}

impl FromStr for DetachKeys {
    type Err = DetachKeysError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let mut codes = Vec::new();
        for key in value.split(',') {
            let code = match key.as_bytes() {
                [b] => Some(*b),
                _ => key
                    .get(..5)
                    .filter(|p| p.eq_ignore_ascii_case("ctrl-"))
                    .and_then(|_| control(&key[5..])),
            };
            match code {
                Some(c) => codes.push(c),
                None => {
                    return Err(DetachKeysError {
                        value: value.to_string(),
                        key: key.to_string(),
                    });
                }
            }
        }
        Ok(Self(codes))
    }
}

impl Default for DetachKeys {
    /// Docker's default: Ctrl-P then Ctrl-Q.
    fn default() -> Self {
        Self(vec![0x10, 0x11])
    }
}

impl DetachKeys {
    /// The keys of a `--detach-keys` flag: the default when absent or empty.
    pub(crate) fn from_flag(flag: Option<&str>) -> anyhow::Result<Self> {
        match flag {
            None | Some("") => Ok(Self::default()),
            Some(value) => Ok(value.parse()?),
        }
    }

    /// A matcher at the start of the input.
    pub(crate) fn matcher(&self) -> Matcher {
        Matcher {
            keys: self.0.clone(),
            held: 0,
        }
    }
}

/// Finds the detach keys in a stream of input chunks, however they are split. Bytes that may
/// start the sequence are held back until the next byte tells (as docker does).
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    keys: Vec<u8>,
    /// How many of the keys the input ended with (held back, not yet sent).
    held: usize,
}

impl Matcher {
    /// Feeds a chunk: the bytes to send on, and whether the whole sequence was typed (the
    /// bytes after it are dropped).
    pub(crate) fn feed(&mut self, data: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(data.len());
        for &byte in data {
            if self.step(byte, &mut out) {
                return (out, true);
            }
        }
        (out, false)
    }

    /// One byte; `true` when it completes the sequence.
    fn step(&mut self, byte: u8, out: &mut Vec<u8>) -> bool {
        if self.keys[self.held] == byte {
            self.held += 1;
            if self.held == self.keys.len() {
                self.held = 0;
                return true;
            }
            return false;
        }
        if self.held == 0 {
            out.push(byte);
            return false;
        }
        // The held prefix was not the sequence: its first byte goes on, and the rest with
        // this byte is matched again (it may start the sequence itself).
        let replay: Vec<u8> = self.keys[1..self.held]
            .iter()
            .copied()
            .chain([byte])
            .collect();
        out.push(self.keys[0]);
        self.held = 0;
        replay.into_iter().any(|b| self.step(b, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_format() {
        let cases: [(&str, Option<&[u8]>); 10] = [
            ("ctrl-p,ctrl-q", Some(&[0x10, 0x11])),
            ("a", Some(b"a")),
            ("ctrl-@", Some(&[0])),
            (
                "ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_",
                Some(&[27, 28, 29, 30, 31]),
            ),
            ("CTRL-A,x", Some(&[1, b'x'])),
            ("ctrl-a,,b", None),
            ("ctrl-1", None),
            ("ctrl", None),
            ("ab", None),
            ("ctrl-é", None),
        ];
        for (value, want) in cases {
            let got = value.parse::<DetachKeys>().ok().map(|k| k.0);
            assert_eq!(got.as_deref(), want, "{value}");
        }
        assert_eq!(
            "ctrl-p,zz".parse::<DetachKeys>().unwrap_err().to_string(),
            "invalid detach keys \"ctrl-p,zz\": unknown key \"zz\" (expected a single \
             character or ctrl-<a-z|@|[|\\|]|^|_>, comma-separated, e.g. ctrl-p,ctrl-q)"
        );
        assert_eq!(
            DetachKeys::from_flag(Some("")).unwrap(),
            DetachKeys::default()
        );
        assert_eq!(
            DetachKeys::from_flag(None).unwrap(),
            "ctrl-p,ctrl-q".parse().unwrap()
        );
    }

    #[test]
    fn the_matcher_finds_the_keys_across_chunks() {
        // (keys, chunks, bytes sent, detached)
        type Case = (&'static str, &'static [&'static [u8]], &'static [u8], bool);
        let cases: [Case; 8] = [
            ("ctrl-p,ctrl-q", &[b"abc"], b"abc", false),
            ("ctrl-p,ctrl-q", &[b"ab\x10\x11cd"], b"ab", true),
            ("ctrl-p,ctrl-q", &[b"x\x10", b"\x11rest"], b"x", true),
            // A lone Ctrl-P is held back until the next byte shows it was not the sequence.
            ("ctrl-p,ctrl-q", &[b"\x10"], b"", false),
            ("ctrl-p,ctrl-q", &[b"\x10", b"y"], b"\x10y", false),
            ("ctrl-p,ctrl-q", &[b"\x10\x10\x11"], b"\x10", true),
            ("a,a,b", &[b"aa", b"ab"], b"a", true),
            ("q", &[b"xyq!"], b"xy", true),
        ];
        for (keys, chunks, sent, detached) in cases {
            let mut matcher = keys.parse::<DetachKeys>().unwrap().matcher();
            let mut out = Vec::new();
            let mut done = false;
            for chunk in chunks {
                let (bytes, d) = matcher.feed(chunk);
                out.extend(bytes);
                if d {
                    done = true;
                    break;
                }
            }
            assert_eq!(
                (out.as_slice(), done),
                (sent, detached),
                "{keys} {chunks:?}"
            );
        }
    }
}
