//! A provider's event stream relayed to a client of the same dialect: byte for byte, whole
//! events at a time, but for the model name where the provider knows the model by another.
//!
//! The internal representation keeps what every dialect can say, so a same-dialect stream
//! sent through it would lose what only that dialect says (Anthropic's server-tool blocks and
//! citations, Responses' built-in tool items). Here the provider's bytes go to the client as
//! they came, and the same events feed a same-dialect [`Converter`] on the side, whose output
//! is dropped: it reads the usage, knows when the terminal event has passed, and can end the
//! stream in-band if the provider fails mid-way. (OpenAI Chat has its own cheaper relay,
//! `openai::ChatPassthrough`.)

use super::convert::Converter;
use super::errors::ErrorKind;
use super::ir::Stop;
use super::json::{splice, string_literal};
use super::sse::EventSplitter;
use super::stream::{StreamEnd, StreamFault, StreamTranslator};
use super::usage::Usage;
use bytes::{BufMut, Bytes, BytesMut};

pub struct Passthrough {
    splitter: EventSplitter,
    watch: Converter,
    rename: Option<Rename>,
}

/// The provider's name for the model and the client's, as JSON string literals.
struct Rename {
    upstream: String,
    client: String,
}

impl Passthrough {
    /// `watch` converts the dialect to itself; `rename` is `(provider's name, client's name)`
    /// when they differ; `max_event` bounds the bytes held for one unfinished event.
    pub fn new(watch: Converter, rename: Option<(&str, &str)>, max_event: usize) -> Self {
        Passthrough {
            splitter: EventSplitter::new(max_event),
            watch,
            rename: rename.map(|(upstream, client)| Rename {
                upstream: string_literal(upstream),
                client: string_literal(client),
            }),
        }
    }

    fn relay(&mut self, run: Bytes) -> Result<Bytes, StreamFault> {
        self.watch.push(run.clone())?;
        Ok(match &self.rename {
            Some(r) => rename_model(run, &r.upstream, &r.client),
            None => run,
        })
    }
}

impl StreamTranslator for Passthrough {
    fn push(&mut self, chunk: Bytes) -> Result<Option<Bytes>, StreamFault> {
        match self.splitter.push(chunk) {
            Ok(Some(run)) => self.relay(run).map(Some),
            Ok(None) => Ok(None),
            Err(e) => Err(StreamFault {
                kind: ErrorKind::BadUpstream,
                message: format!("The provider sent an event larger than {} bytes", e.limit),
            }),
        }
    }

    fn is_complete(&self) -> bool {
        self.watch.is_complete()
    }

    fn finish(&mut self) -> StreamEnd {
        // A last event without its blank line still counts; the client gets it properly ended.
        let tail = self.splitter.take_partial().and_then(|partial| {
            let mut out = BytesMut::from(&self.relay(partial).ok()?[..]);
            out.put_slice(b"\n\n");
            Some(out.freeze())
        });
        match self.watch.finish() {
            StreamEnd::Complete(_) => StreamEnd::Complete(tail),
            StreamEnd::Truncated => StreamEnd::Truncated,
        }
    }

    fn fail(&mut self, kind: ErrorKind, message: &str) -> Bytes {
        self.splitter.take_partial();
        self.watch.fail(kind, message)
    }

    fn usage(&self) -> Option<Usage> {
        self.watch.usage()
    }

    fn stop(&self) -> Option<Stop> {
        self.watch.stop()
    }

    fn errored(&self) -> bool {
        self.watch.errored()
    }

    fn output_bytes(&self) -> Option<u64> {
        self.watch.output_bytes()
    }
}

/// `run` with every `"model": <upstream>` member's value replaced by `client`. A `"model"`
/// found unescaped is a key, never text: quotes inside JSON strings are escaped.
fn rename_model(run: Bytes, upstream: &str, client: &str) -> Bytes {
    const KEY: &[u8] = b"\"model\"";
    let skip_ws = |s: &[u8], at: usize| {
        at + s[at..]
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
            .unwrap_or(s.len() - at)
    };
    let mut spans = Vec::new();
    for at in memchr::memmem::find_iter(&run, KEY) {
        let colon = skip_ws(&run, at + KEY.len());
        if run.get(colon) != Some(&b':') {
            continue;
        }
        let value = skip_ws(&run, colon + 1);
        if run[value..].starts_with(upstream.as_bytes()) {
            spans.push(value..value + upstream.len());
        }
    }
    // Back to front, so earlier spans keep their offsets.
    spans
        .into_iter()
        .rev()
        .fold(run, |doc, span| splice(&doc, span, client.as_bytes()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::codec::{codec, RouteFacts};
    use crate::dialect::ir::Request;
    use crate::dialect::Dialect;

    /// An Anthropic stream with a server tool's blocks and a citation, which the internal
    /// representation does not carry.
    const ANTHROPIC: &str = "event: message_start\n\
data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-up\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"output_tokens\":1}}}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":\"web_search\",\"input\":{}}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"query\\\": \\\"\\\\\\\"model\\\\\\\": \\\\\\\"claude-up\\\\\\\"\\\"}\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":0}\n\n\
event: content_block_start\n\
data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"citations_delta\",\"citation\":{\"type\":\"web_search_result_location\",\"url\":\"https://example.com\"}}}\n\n\
event: content_block_delta\n\
data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\",\"text\":\"Found it.\"}}\n\n\
event: content_block_stop\n\
data: {\"type\":\"content_block_stop\",\"index\":1}\n\n\
event: message_delta\n\
data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":9}}\n\n\
event: message_stop\n\
data: {\"type\":\"message_stop\"}\n\n";

    fn anthropic(rename: Option<(&str, &str)>) -> Passthrough {
        let c = codec(Dialect::AnthropicMessages);
        let facts = RouteFacts::default();
        let watch = Converter::new(
            c.decoder(1 << 20),
            c.encoder("claude-client", 0, &Request::default(), &facts),
        );
        Passthrough::new(watch, rename, 1 << 20)
    }

    use crate::dialect::stream::push_in_two as run;

    #[test]
    fn the_stream_is_byte_exact_at_any_split_and_usage_is_read() {
        let input = ANTHROPIC.as_bytes();
        for cut in 0..=input.len() {
            let mut t = anthropic(None);
            assert_eq!(run(&mut t, input, cut), input, "cut {cut}");
            assert!(t.is_complete());
            assert_eq!(t.finish(), StreamEnd::Complete(None));
            let u = t.usage().unwrap();
            assert_eq!((u.input_total, u.output_total), (12, 9));
        }
    }

    #[test]
    fn only_the_model_member_is_renamed() {
        let mut t = anthropic(Some(("claude-up", "claude-client")));
        let out = String::from_utf8(run(&mut t, ANTHROPIC.as_bytes(), 100)).unwrap();
        let expected =
            ANTHROPIC.replacen("\"model\":\"claude-up\"", "\"model\":\"claude-client\"", 1);
        assert_eq!(out, expected);
        assert!(
            out.contains("claude-up"),
            "text that quotes it is left alone"
        );
        assert_eq!(
            &rename_model(
                Bytes::from_static(b"{\"model\" :\n \"a\",\"x\":\"a\"}"),
                "\"a\"",
                "\"bb\""
            )[..],
            b"{\"model\" :\n \"bb\",\"x\":\"a\"}"
        );
    }

    #[test]
    fn a_cut_stream_is_reported_and_ends_in_band() {
        let input = ANTHROPIC.as_bytes();
        let cut = input.len() - 120;
        let mut t = anthropic(None);
        let out = run(&mut t, &input[..cut], cut / 2);
        assert!(input.starts_with(&out));
        assert!(!t.is_complete());
        assert_eq!(t.finish(), StreamEnd::Truncated);
        let tail = String::from_utf8(t.fail(ErrorKind::Overloaded, "gone").to_vec()).unwrap();
        assert!(
            tail.ends_with("event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"gone\"}}\n\n"),
            "{tail}"
        );
    }

    #[test]
    fn a_last_event_without_its_blank_line_completes_the_stream() {
        let input = &ANTHROPIC.as_bytes()[..ANTHROPIC.len() - 1];
        let mut t = anthropic(None);
        let out = run(&mut t, input, 10);
        match t.finish() {
            StreamEnd::Complete(Some(tail)) => {
                assert_eq!([&out[..], &tail[..]].concat(), [input, b"\n\n"].concat());
            }
            other => panic!("{other:?}"),
        }
    }
}
