//! Server-sent events framing, as a byte stream with a carry-over buffer.
//!
//! Providers split events across network reads anywhere, including inside a `\r\n` pair or a
//! multi-byte character, and use `\n`, `\r\n` or `\r` line endings. [`EventSplitter`] turns
//! arbitrary chunks into runs of whole events without copying when a chunk ends on an event
//! boundary (the common case), and [`Events`] / [`parse_event`] read the events of a run.

use bytes::{Bytes, BytesMut};
use std::borrow::Cow;

/// Line-ending state carried between scans, so a scan can resume where the last one stopped.
#[derive(Debug, Default, Clone, Copy)]
struct LineState {
    /// Bytes seen on the current line, not counting its terminator.
    line_len: usize,
    /// The previous byte was a `\r` that ended a line; a `\n` right after it belongs to it.
    after_cr: bool,
    /// The line the pending `\r` ended was empty, so that `\r` ended an event.
    cr_ended_event: bool,
}

impl LineState {
    /// Scans `buf[from..]` and returns the end of the last event boundary found in it.
    fn scan(&mut self, buf: &[u8], from: usize) -> Option<usize> {
        let mut last = None;
        let mut i = from;
        while i < buf.len() {
            let Some(off) = memchr::memchr2(b'\r', b'\n', &buf[i..]) else {
                if i < buf.len() {
                    self.line_len += buf.len() - i;
                    self.after_cr = false;
                }
                break;
            };
            let at = i + off;
            if at > i {
                self.line_len += at - i;
                self.after_cr = false;
            }
            if buf[at] == b'\n' && self.after_cr {
                // Second half of a `\r\n`: the line already ended at the `\r`.
                self.after_cr = false;
                if self.cr_ended_event {
                    last = Some(at + 1);
                }
            } else {
                let ended_event = self.line_len == 0;
                self.after_cr = buf[at] == b'\r';
                self.cr_ended_event = self.after_cr && ended_event;
                if ended_event {
                    last = Some(at + 1);
                }
                self.line_len = 0;
            }
            i = at + 1;
        }
        last
    }
}

/// Splits a byte stream into runs of complete events.
#[derive(Debug)]
pub struct EventSplitter {
    carry: BytesMut,
    state: LineState,
    max_event: usize,
}

/// An event grew past the splitter's limit without ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventTooLarge {
    pub limit: usize,
}

impl Default for EventSplitter {
    fn default() -> Self {
        Self::new(usize::MAX)
    }
}

impl EventSplitter {
    /// A splitter that holds at most `max_event` bytes of an unfinished event, so a provider
    /// that never ends an event cannot grow the gateway's memory without bound.
    pub fn new(max_event: usize) -> Self {
        EventSplitter {
            carry: BytesMut::new(),
            state: LineState::default(),
            max_event,
        }
    }

    /// Feeds one chunk and returns every event it completes, as one run of bytes exactly as
    /// received. Bytes of an unfinished event are kept for the next call.
    pub fn push(&mut self, mut chunk: Bytes) -> Result<Option<Bytes>, EventTooLarge> {
        let run = if self.carry.is_empty() {
            match self.state.scan(&chunk, 0) {
                Some(end) => {
                    let run = chunk.split_to(end);
                    self.carry.extend_from_slice(&chunk);
                    Some(run)
                }
                None => {
                    self.carry.extend_from_slice(&chunk);
                    None
                }
            }
        } else {
            let from = self.carry.len();
            self.carry.extend_from_slice(&chunk);
            self.state
                .scan(&self.carry, from)
                .map(|end| self.carry.split_to(end).freeze())
        };
        if self.carry.len() > self.max_event {
            return Err(EventTooLarge {
                limit: self.max_event,
            });
        }
        Ok(run)
    }

    /// Bytes of an event that never finished (the stream ended without its blank line).
    pub fn take_partial(&mut self) -> Option<Bytes> {
        if self.carry.is_empty() {
            None
        } else {
            self.state = LineState::default();
            Some(self.carry.split().freeze())
        }
    }

    /// Whether an unfinished event is being held.
    pub fn has_partial(&self) -> bool {
        !self.carry.is_empty()
    }
}

/// Iterates over the events of a run produced by [`EventSplitter::push`]; each item is one
/// event's bytes including its terminating blank line.
pub struct Events {
    rest: Bytes,
}

impl Events {
    pub fn new(run: Bytes) -> Self {
        Self { rest: run }
    }
}

impl Iterator for Events {
    type Item = Bytes;

    fn next(&mut self) -> Option<Bytes> {
        if self.rest.is_empty() {
            return None;
        }
        let mut state = LineState::default();
        // The first boundary, not the last: scan line by line until one is found.
        let mut from = 0;
        loop {
            let next_nl = memchr::memchr2(b'\r', b'\n', &self.rest[from..]).map(|o| from + o);
            let Some(at) = next_nl else {
                let all = self.rest.len();
                return Some(self.rest.split_to(all));
            };
            // Include a `\n` that completes a `\r\n` in the same step.
            let upto = if self.rest[at] == b'\r' && self.rest.get(at + 1) == Some(&b'\n') {
                at + 2
            } else {
                at + 1
            };
            if let Some(end) = state.scan(&self.rest[..upto], from) {
                return Some(self.rest.split_to(end));
            }
            from = upto;
        }
    }
}

/// One parsed event.
#[derive(Debug, PartialEq, Eq)]
pub struct Event<'a> {
    /// The `event:` field, if any.
    pub name: Option<&'a [u8]>,
    /// The `data:` lines, joined with `\n`.
    pub data: Cow<'a, [u8]>,
}

/// Parses one event's fields. Returns `None` for events without data (comments, keep-alives).
pub fn parse_event(event: &[u8]) -> Option<Event<'_>> {
    let mut name = None;
    let mut data: Option<Cow<'_, [u8]>> = None;
    let mut rest = event;
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr2(b'\r', b'\n', rest) {
            Some(at) => {
                let skip = if rest[at] == b'\r' && rest.get(at + 1) == Some(&b'\n') {
                    2
                } else {
                    1
                };
                (&rest[..at], &rest[at + skip..])
            }
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        if line.is_empty() || line[0] == b':' {
            continue;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(c) => {
                let v = &line[c + 1..];
                (&line[..c], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &line[line.len()..]),
        };
        match field {
            b"data" => {
                data = Some(match data {
                    None => Cow::Borrowed(value),
                    Some(prev) => {
                        let mut joined = prev.into_owned();
                        joined.push(b'\n');
                        joined.extend_from_slice(value);
                        Cow::Owned(joined)
                    }
                })
            }
            b"event" => name = Some(value),
            _ => {}
        }
    }
    data.map(|data| Event { name, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_all(input: &[u8], cuts: &[usize]) -> (Vec<u8>, Vec<Vec<u8>>) {
        let mut s = EventSplitter::default();
        let mut out = Vec::new();
        let mut events = Vec::new();
        let mut prev = 0;
        for &c in cuts.iter().chain(std::iter::once(&input.len())) {
            if let Some(run) = s.push(Bytes::copy_from_slice(&input[prev..c])).unwrap() {
                out.extend_from_slice(&run);
                events.extend(Events::new(run).map(|e| e.to_vec()));
            }
            prev = c;
        }
        if let Some(p) = s.take_partial() {
            out.extend_from_slice(&p);
        }
        (out, events)
    }

    #[test]
    fn whole_events_pass_without_copy_and_tails_are_carried() {
        let mut s = EventSplitter::default();
        let run = s
            .push(Bytes::from_static(b"data: a\n\ndata: b"))
            .unwrap()
            .unwrap();
        assert_eq!(&run[..], b"data: a\n\n");
        assert!(s.has_partial());
        assert_eq!(s.push(Bytes::from_static(b"\n")), Ok(None));
        let run = s
            .push(Bytes::from_static(b"\ndata: c\n\n"))
            .unwrap()
            .unwrap();
        assert_eq!(&run[..], b"data: b\n\ndata: c\n\n");
        assert!(!s.has_partial());
    }

    #[test]
    fn every_line_ending_and_every_split_point_gives_the_same_events() {
        for sep in [&b"\n"[..], b"\r\n", b"\r"] {
            let join = |lines: &[&[u8]]| -> Vec<u8> {
                let mut v = Vec::new();
                for l in lines {
                    v.extend_from_slice(l);
                    v.extend_from_slice(sep);
                }
                v
            };
            let input = join(&[
                b"event: x",
                b"data: 1",
                b"",
                b": ping",
                b"",
                b"data: 2",
                b"data: 3",
                b"",
            ]);
            for cut in 0..=input.len() {
                let (out, events) = split_all(&input, &[cut]);
                assert_eq!(
                    out, input,
                    "bytes must pass unchanged (sep {sep:?}, cut {cut})"
                );
                let parsed: Vec<_> = events
                    .iter()
                    .filter_map(|e| {
                        parse_event(e).map(|p| (p.name.map(<[u8]>::to_vec), p.data.into_owned()))
                    })
                    .collect();
                assert_eq!(
                    parsed,
                    vec![
                        (Some(b"x".to_vec()), b"1".to_vec()),
                        (None, b"2\n3".to_vec())
                    ],
                    "sep {sep:?}, cut {cut}"
                );
            }
        }
    }

    #[test]
    fn an_event_that_never_ends_is_bounded() {
        let mut s = EventSplitter::new(10);
        assert_eq!(s.push(Bytes::from_static(b"data: 1234")), Ok(None));
        assert_eq!(
            s.push(Bytes::from_static(b"5")),
            Err(EventTooLarge { limit: 10 })
        );
        let mut s = EventSplitter::new(10);
        assert!(s
            .push(Bytes::from_static(b"data: a long but finished event\n\n"))
            .is_ok());
    }

    #[test]
    fn parse_event_strips_one_space_and_ignores_comments() {
        let e = parse_event(b": keepalive\ndata:  two spaces\n\n").unwrap();
        assert_eq!(&e.data[..], b" two spaces");
        assert_eq!(parse_event(b": only a comment\n\n"), None);
    }
}
