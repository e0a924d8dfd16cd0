//! The header phase of a client connection: from a request's first byte to the blank line that
//! ends its header block. Pingora bounds each read of a header (60 s) and the whole block (1 MiB)
//! but not the time the block takes, so a client trickling one byte at a time holds a
//! connection and its buffer for ever. This tracks the phase byte by byte, without copying.

use std::time::Duration;

/// What a client connection may cost.
#[derive(Debug, Clone, Copy)]
pub struct ConnRules {
    /// The largest header block.
    pub max_header_bytes: usize,
    /// From a header block's first byte to its end.
    pub header_timeout: Duration,
    /// The longest any write to the client may wait for it to read.
    pub write_timeout: Duration,
}

/// How a header block broke its rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    TooLarge,
    TooSlow,
}

/// Where the scan is within a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum At {
    /// Before the request line: empty lines there are ignored (RFC 9112 §2.2).
    Start,
    InLine,
    LineStart,
    /// A `\r` at the start of a line: a `\n` now ends the block.
    LineStartCr,
}

/// The scan of one header block.
#[derive(Debug)]
pub struct HeaderScan {
    at: At,
    bytes: usize,
    /// The start of the request line, kept to answer in the client's dialect.
    head: Vec<u8>,
    done: bool,
}

/// How much of the request line is kept: enough for any path tollgate serves.
const HEAD_KEPT: usize = 256;

impl Default for HeaderScan {
    fn default() -> Self {
        HeaderScan {
            at: At::Start,
            bytes: 0,
            head: Vec::new(),
            done: false,
        }
    }
}

impl HeaderScan {
    /// Whether the block has ended.
    pub fn done(&self) -> bool {
        self.done
    }

    /// Whether any byte of a request has arrived yet.
    pub fn started(&self) -> bool {
        self.bytes > 0
    }

    /// Feeds bytes just read; fails once the block is larger than `max_bytes`. Bytes after the
    /// end of the block (the start of the body) are not counted.
    pub fn feed(&mut self, data: &[u8], max_bytes: usize) -> Result<(), Violation> {
        if self.done {
            return Ok(());
        }
        let mut used = data.len();
        for (i, &b) in data.iter().enumerate() {
            self.at = match (self.at, b) {
                (At::Start, b'\r' | b'\n') => At::Start,
                (At::LineStart | At::LineStartCr, b'\n') => {
                    self.done = true;
                    used = i + 1;
                    break;
                }
                (At::InLine, b'\n') => At::LineStart,
                (At::LineStart, b'\r') => At::LineStartCr,
                (At::InLine, b'\r') => At::InLine,
                _ => At::InLine,
            };
        }
        self.bytes = self.bytes.saturating_add(used);
        if self.head.len() < HEAD_KEPT {
            let take = (HEAD_KEPT - self.head.len()).min(used);
            self.head.extend_from_slice(&data[..take]);
        }
        if self.bytes > max_bytes {
            return Err(Violation::TooLarge);
        }
        Ok(())
    }

    /// The request target's path, as far as it arrived.
    pub fn path(&self) -> &str {
        let line = self
            .head
            .iter()
            .position(|b| *b != b'\r' && *b != b'\n')
            .map_or(&[][..], |s| &self.head[s..]);
        let line = line.split(|b| *b == b'\n').next().unwrap_or(&[]);
        let target = line.split(|b| *b == b' ').nth(1).unwrap_or(&[]);
        let path = target.split(|b| *b == b'?').next().unwrap_or(&[]);
        std::str::from_utf8(path).unwrap_or("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(parts: &[&[u8]], max: usize) -> (HeaderScan, Result<(), Violation>) {
        let mut s = HeaderScan::default();
        for p in parts {
            if let Err(e) = s.feed(p, max) {
                return (s, Err(e));
            }
        }
        (s, Ok(()))
    }

    #[test]
    fn the_block_ends_at_the_first_empty_line_whatever_the_line_endings() {
        for block in [
            &b"GET / HTTP/1.1\r\nhost: a\r\n\r\n"[..],
            b"GET / HTTP/1.1\nhost: a\n\n",
            b"\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        ] {
            for cut in 0..block.len() {
                let (s, r) = scan(&[&block[..cut], &block[cut..]], 1024);
                assert_eq!(r, Ok(()));
                assert!(
                    s.done(),
                    "{:?} cut at {cut}",
                    String::from_utf8_lossy(block)
                );
            }
            let (s, _) = scan(&[&block[..block.len() - 1]], 1024);
            assert!(!s.done());
        }
    }

    #[test]
    fn only_the_block_counts_toward_the_cap() {
        let mut body = b"POST /v1/messages HTTP/1.1\r\nx: y\r\n\r\n".to_vec();
        let block = body.len();
        body.extend_from_slice(&[b'x'; 4096]);
        let (s, r) = scan(&[&body], block);
        assert_eq!(r, Ok(()));
        assert!(s.done());
        assert_eq!(s.path(), "/v1/messages");
        let (_, r) = scan(&[&body], block - 1);
        assert_eq!(r, Err(Violation::TooLarge));
    }

    #[test]
    fn a_header_that_never_ends_is_refused_at_the_cap() {
        let (s, r) = scan(
            &[
                b"GET /v1beta/models/g:generateContent?key=k HTTP/1.1\r\n",
                &[b'a'; 100],
            ],
            120,
        );
        assert_eq!(r, Err(Violation::TooLarge));
        assert_eq!(s.path(), "/v1beta/models/g:generateContent");
    }
}
