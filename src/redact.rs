//! Masking every secret tollgate holds out of bytes it did not write itself.
//!
//! A provider, or a middlebox in front of it, may quote the request's `Authorization` header in
//! an error message, an event or a header. Everything a provider sends passes through a
//! [`Redactor`] before any other code sees it (the upstream exchange is the only reader of
//! provider bytes), and every log line passes through one before it is written. The redactor
//! knows every provider key and every client key written in the config.
//!
//! Secrets never contain a line break (they travel in header values), so a stream can be masked
//! line by line: a secret never straddles two lines, and [`LineMasker`] only holds back the tail
//! of an unfinished line, which the event framing above it would hold back anyway.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use bytes::{Bytes, BytesMut};
use std::borrow::Cow;

/// What a secret is replaced with. Valid inside a JSON string, a header value and a log line.
pub const MASK: &str = "[REDACTED]";

/// Finds and masks a fixed set of secrets, all at once, in one pass.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    finder: Option<AhoCorasick>,
}

impl Redactor {
    /// A redactor for `secrets`. Each is also looked for in its JSON-escaped spelling (`/` as
    /// `\/`, `"` as `\"`), the form an echo inside a JSON string takes.
    pub fn new<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut patterns: Vec<String> = Vec::new();
        for s in secrets.into_iter().filter(|s| !s.is_empty()) {
            let escaped = serde_json::Value::from(s).to_string();
            let escaped = &escaped[1..escaped.len() - 1];
            for form in [
                s.to_string(),
                escaped.to_string(),
                escaped.replace('/', "\\/"),
            ] {
                if !patterns.contains(&form) {
                    patterns.push(form);
                }
            }
        }
        if patterns.is_empty() {
            return Redactor { finder: None };
        }
        // Leftmost-longest: when one secret is a prefix of another, the longer one is masked
        // whole instead of leaving its tail behind.
        let finder = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .ok();
        Redactor { finder }
    }

    /// Whether `hay` contains a secret.
    pub fn finds(&self, hay: &[u8]) -> bool {
        self.finder.as_ref().is_some_and(|f| f.is_match(hay))
    }

    /// `bytes` with every secret replaced by [`MASK`]; shared, not copied, when there is none.
    ///
    /// A secret spelled with JSON `\u00XX` escapes is found too: when the bytes hold such
    /// escapes, they are also searched with every escape of a plain ASCII character written
    /// out, and if that finds a secret, that spelled-out form is what is returned, masked.
    pub fn mask(&self, bytes: Bytes) -> Bytes {
        let Some(f) = &self.finder else { return bytes };
        if memchr::memmem::find(&bytes, b"\\u00").is_some() {
            let plain = unescape_ascii(&bytes);
            if f.is_match(&plain[..]) {
                return replace(f, &plain);
            }
        }
        if !f.is_match(&bytes[..]) {
            return bytes;
        }
        replace(f, &bytes)
    }

    /// `text` with every secret replaced by [`MASK`].
    pub fn mask_str<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match &self.finder {
            Some(f) if f.is_match(text) => {
                let mut out = String::with_capacity(text.len());
                f.replace_all_with(text, &mut out, |_, _, dst| {
                    dst.push_str(MASK);
                    true
                });
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(text),
        }
    }
}

fn replace(f: &AhoCorasick, bytes: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(bytes.len());
    let mut at = 0;
    for m in f.find_iter(bytes) {
        out.extend_from_slice(&bytes[at..m.start()]);
        out.extend_from_slice(MASK.as_bytes());
        at = m.end();
    }
    out.extend_from_slice(&bytes[at..]);
    out.freeze()
}

/// `bytes` with each JSON escape `\u00XX` of a printable ASCII character other than `"` and
/// `\` written as that character: the same JSON, spelled so that a secret shows.
fn unescape_ascii(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let hex = bytes
                .get(i + 2..i + 6)
                .filter(|_| bytes[i + 1] == b'u')
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| {
                    u8::from_str_radix(h, 16)
                        .ok()
                        .filter(|_| h.starts_with("00"))
                });
            match hex {
                Some(c) if c.is_ascii_graphic() && c != b'"' && c != b'\\' || c == b' ' => {
                    out.push(c);
                    i += 6;
                }
                _ => {
                    // Any other escape is kept whole, so `\\u0041` stays an escaped backslash.
                    out.extend_from_slice(&bytes[i..(i + 2).min(bytes.len())]);
                    i += 2;
                }
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// A line of a provider's stream grew past its limit without ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong {
    pub limit: usize,
}

/// Masks a byte stream line by line, as its chunks arrive.
#[derive(Debug)]
pub struct LineMasker {
    carry: BytesMut,
    max_line: usize,
}

impl LineMasker {
    /// `max_line` bounds the unfinished line held between chunks.
    pub fn new(max_line: usize) -> Self {
        LineMasker {
            carry: BytesMut::new(),
            max_line,
        }
    }

    /// Takes one chunk and returns its complete lines, masked; the unfinished tail is kept.
    pub fn push(&mut self, r: &Redactor, mut chunk: Bytes) -> Result<Option<Bytes>, LineTooLong> {
        let ready = match memchr::memrchr2(b'\n', b'\r', &chunk) {
            None => {
                self.carry.extend_from_slice(&chunk);
                None
            }
            Some(end) if self.carry.is_empty() => {
                let lines = chunk.split_to(end + 1);
                self.carry.extend_from_slice(&chunk);
                Some(lines)
            }
            Some(end) => {
                self.carry.extend_from_slice(&chunk[..=end]);
                let lines = self.carry.split().freeze();
                self.carry.extend_from_slice(&chunk[end + 1..]);
                Some(lines)
            }
        };
        if self.carry.len() > self.max_line {
            return Err(LineTooLong {
                limit: self.max_line,
            });
        }
        Ok(ready.map(|lines| r.mask(lines)))
    }

    /// The unfinished last line, masked, once the stream has ended.
    pub fn finish(&mut self, r: &Redactor) -> Option<Bytes> {
        (!self.carry.is_empty()).then(|| r.mask(self.carry.split().freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(r: &Redactor, s: &str) -> String {
        String::from_utf8(r.mask(Bytes::copy_from_slice(s.as_bytes())).to_vec()).unwrap()
    }

    #[test]
    fn every_secret_and_its_json_spelling_is_masked() {
        let r = Redactor::new(["sk-up/stream", "sk-client"]);
        assert_eq!(
            masked(
                &r,
                r#"{"message":"Bearer sk-up/stream and sk-up\/stream, sk-client"}"#
            ),
            r#"{"message":"Bearer [REDACTED] and [REDACTED], [REDACTED]"}"#
        );
        assert_eq!(r.mask_str("key=sk-client;"), "key=[REDACTED];");
        assert!(r.finds(b"..sk-client.."));
        assert!(!r.finds(b"sk-clien"));
    }

    #[test]
    fn a_secret_spelled_with_unicode_escapes_is_found() {
        let r = Redactor::new(["sk-up-1"]);
        assert_eq!(
            masked(&r, r#"{"m":"Bearer sk-\u0075p-1 \\u0041 \u00e9 \u0022"}"#),
            r#"{"m":"Bearer [REDACTED] \\u0041 \u00e9 \u0022"}"#
        );
        // Escapes without a secret behind them are left as they came.
        assert_eq!(masked(&r, r#"{"m":"\u0041"}"#), r#"{"m":"\u0041"}"#);
    }

    #[test]
    fn the_longest_overlapping_secret_is_masked_whole() {
        let r = Redactor::new(["sk-abc", "sk-abcdef"]);
        assert_eq!(masked(&r, "sk-abcdef sk-abc"), "[REDACTED] [REDACTED]");
    }

    #[test]
    fn nothing_to_mask_shares_the_bytes() {
        let r = Redactor::new(["sk-secret"]);
        let b = Bytes::from_static(b"data: {}\n\n");
        assert_eq!(r.mask(b.clone()).as_ptr(), b.as_ptr());
        assert_eq!(Redactor::new([""]).mask_str("x"), "x");
    }

    #[test]
    fn a_secret_split_across_chunks_is_still_masked() {
        let r = Redactor::new(["sk-0123456789"]);
        let text = "data: {\"e\":\"sk-0123456789\"}\n\ndata: sk-0123456789\r\n\r\n";
        for cut in 0..=text.len() {
            for cut2 in cut..=text.len() {
                let mut m = LineMasker::new(1024);
                let mut out = Vec::new();
                for part in [&text[..cut], &text[cut..cut2], &text[cut2..]] {
                    if let Some(b) = m.push(&r, Bytes::copy_from_slice(part.as_bytes())).unwrap() {
                        out.extend_from_slice(&b);
                    }
                }
                if let Some(b) = m.finish(&r) {
                    out.extend_from_slice(&b);
                }
                assert_eq!(
                    String::from_utf8(out).unwrap(),
                    "data: {\"e\":\"[REDACTED]\"}\n\ndata: [REDACTED]\r\n\r\n",
                    "cut at {cut} and {cut2}"
                );
            }
        }
    }

    #[test]
    fn a_line_that_never_ends_is_bounded() {
        let r = Redactor::default();
        let mut m = LineMasker::new(8);
        assert_eq!(m.push(&r, Bytes::from_static(b"abcd")), Ok(None));
        assert_eq!(
            m.push(&r, Bytes::from_static(b"efghi")),
            Err(LineTooLong { limit: 8 })
        );
    }
}
