//! An OpenAI Chat stream relayed to an OpenAI Chat client, and the one change its request
//! gets on the way up: the provider is always asked for usage.

use super::super::errors::{openai_body, ErrorKind};
use super::super::ir::Stop;
use super::super::json::{span_within, splice, string_literal, top_level_span, top_level_spans};
use super::super::sse::{parse_event, EventSplitter, Events};
use super::super::stream::{StreamEnd, StreamFault, StreamTranslator};
use super::super::usage::Usage;
use bytes::{BufMut, Bytes, BytesMut};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Whether a Chat request asks for usage in its stream (`stream_options.include_usage`).
pub fn asks_for_usage(body: &[u8]) -> bool {
    top_level_span(body, "stream_options").is_some_and(|span| {
        serde_json::from_slice::<Value>(&body[span])
            .is_ok_and(|o| o.get("include_usage") == Some(&Value::Bool(true)))
    })
}

/// A streamed Chat request, made to ask for usage, since without it OpenAI and most
/// compatible servers report none. A new member goes last, so the bytes before it — the
/// prompt — stay as they were; a body that already asks is shared, not copied.
pub fn asking_for_usage(body: &Bytes) -> Bytes {
    let Some(span) = top_level_span(body, "stream_options") else {
        let Some(end) = body.iter().rposition(|b| *b == b'}') else {
            return body.clone();
        };
        let empty = body[..end].iter().rev().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        let member: &[u8] = if empty {
            br#""stream_options":{"include_usage":true}"#
        } else {
            br#","stream_options":{"include_usage":true}"#
        };
        return splice(body, end..end, member);
    };
    let mut options = match serde_json::from_slice::<Value>(&body[span.clone()]) {
        Ok(Value::Object(o)) => o,
        _ => Map::new(),
    };
    if options.get("include_usage") == Some(&Value::Bool(true)) {
        return body.clone();
    }
    options.insert("include_usage".into(), Value::Bool(true));
    splice(body, span, Value::Object(options).to_string().as_bytes())
}

const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";

/// Relays an OpenAI Chat stream to an OpenAI Chat client: events pass through byte for byte,
/// except the model name when the provider knows the model by another name, and the
/// usage-only chunk when the client did not ask for usage. Usage and the `[DONE]` terminator
/// are read on the way.
pub struct ChatPassthrough {
    splitter: EventSplitter,
    /// The client's model name as a JSON literal, when it differs from the provider's.
    client_model: Option<String>,
    /// The client did not ask for usage: the chunk that carries only usage is not its to see.
    hide_usage: bool,
    usage: Option<Usage>,
    saw_done: bool,
    saw_error: bool,
    /// A choice finished for running out of tokens.
    saw_length: bool,
}

impl ChatPassthrough {
    /// `max_event` bounds the bytes held for one unfinished event.
    pub fn new(client_model: Option<&str>, max_event: usize) -> Self {
        Self {
            splitter: EventSplitter::new(max_event),
            client_model: client_model.map(string_literal),
            hide_usage: false,
            usage: None,
            saw_done: false,
            saw_error: false,
            saw_length: false,
        }
    }

    /// Leaves out the usage-only chunk (`"choices": []` with a `usage` object), for a client
    /// that did not ask for usage but whose provider was asked on its behalf.
    pub fn hiding_usage(mut self) -> Self {
        self.hide_usage = true;
        self
    }

    /// Reads one event: what the client gets of it.
    fn inspect(&mut self, event: &Bytes) -> Verdict {
        let Some(parsed) = parse_event(event) else {
            return Verdict::Keep;
        };
        let data: &[u8] = &parsed.data;
        if data == b"[DONE]" {
            self.saw_done = true;
            return Verdict::Keep;
        }
        // Most events need no parse at all: with `include_usage` every chunk carries
        // `"usage":null`, and only the last one an object.
        let has_usage = has_object_member(data, b"\"usage\"");
        self.saw_length = self.saw_length || finished_for_length(data);
        let maybe_error = memchr::memmem::find(data, b"\"error\"").is_some();
        if self.client_model.is_none() && !has_usage && !maybe_error {
            return Verdict::Keep;
        }
        let Some([model, usage, error, choices]) =
            top_level_spans(data, ["model", "usage", "error", "choices"])
        else {
            return Verdict::Keep;
        };
        if error.is_some() {
            self.saw_error = true;
        }
        if let Some(u) = usage.and_then(|s| Usage::from_openai_json(&data[s])) {
            self.usage = Some(u);
            let no_choices = choices.is_some_and(|c| is_empty_array(&data[c]));
            if self.hide_usage && no_choices {
                return Verdict::Drop;
            }
        }
        let (Some(name), Some(span)) = (self.client_model.as_deref(), model) else {
            return Verdict::Keep;
        };
        Verdict::Replace(match &parsed.data {
            Cow::Borrowed(d) => {
                let at = span_within(event, d).start;
                splice(event, at + span.start..at + span.end, name.as_bytes())
            }
            // Several `data:` lines: re-frame the renamed JSON, one `data:` field per line.
            Cow::Owned(d) => {
                let renamed = splice(d, span, name.as_bytes());
                let mut out = BytesMut::with_capacity(renamed.len() + 32);
                if let Some(n) = parsed.name {
                    out.put_slice(b"event: ");
                    out.put_slice(n);
                    out.put_slice(b"\n");
                }
                for line in renamed.split(|b| *b == b'\n') {
                    out.put_slice(b"data: ");
                    out.put_slice(line);
                    out.put_slice(b"\n");
                }
                out.put_slice(b"\n");
                out.freeze()
            }
        })
    }

    /// Inspects every event of a run; the run itself is passed on, not copied, unless an event
    /// in it changed.
    fn relay_run(&mut self, run: Bytes) -> Bytes {
        let mut out: Option<BytesMut> = None;
        let mut kept = 0;
        for event in Events::new(run.clone()) {
            let verdict = self.inspect(&event);
            if let (Verdict::Keep, None) = (&verdict, &out) {
                kept += event.len();
                continue;
            }
            let out = out.get_or_insert_with(|| {
                let mut o = BytesMut::with_capacity(run.len() + 64);
                o.put_slice(&run[..kept]);
                o
            });
            match verdict {
                Verdict::Keep => out.put_slice(&event),
                Verdict::Replace(b) => out.put_slice(&b),
                Verdict::Drop => {}
            }
        }
        out.map_or(run, BytesMut::freeze)
    }
}

/// What the client gets of one event.
enum Verdict {
    Keep,
    Replace(Bytes),
    Drop,
}

fn is_empty_array(value: &[u8]) -> bool {
    let mut inner = value.iter().filter(|b| !b.is_ascii_whitespace());
    inner.next() == Some(&b'[') && inner.next() == Some(&b']') && inner.next().is_none()
}

impl StreamTranslator for ChatPassthrough {
    fn push(&mut self, chunk: Bytes) -> Result<Option<Bytes>, StreamFault> {
        match self.splitter.push(chunk) {
            Ok(run) => Ok(run.map(|run| self.relay_run(run))),
            Err(e) => Err(StreamFault {
                kind: ErrorKind::BadUpstream,
                message: format!("The provider sent an event larger than {} bytes", e.limit),
            }),
        }
    }

    fn is_complete(&self) -> bool {
        self.saw_done
    }

    fn finish(&mut self) -> StreamEnd {
        // A last event without its blank line still counts; the client gets it properly ended.
        let mut tail = self.splitter.take_partial().map(|partial| {
            let mut out = BytesMut::from(&self.relay_run(partial)[..]);
            out.put_slice(b"\n\n");
            out
        });
        if self.saw_done {
            StreamEnd::Complete(tail.map(BytesMut::freeze))
        } else if self.saw_error {
            self.saw_done = true;
            let mut out = tail.take().unwrap_or_default();
            out.put_slice(DONE_EVENT);
            StreamEnd::Complete(Some(out.freeze()))
        } else {
            StreamEnd::Truncated
        }
    }

    fn fail(&mut self, kind: ErrorKind, message: &str) -> Bytes {
        self.splitter.take_partial();
        self.saw_done = true;
        let mut out = BytesMut::new();
        out.put_slice(b"data: ");
        out.put_slice(openai_body(kind, message).to_string().as_bytes());
        out.put_slice(b"\n\n");
        out.put_slice(DONE_EVENT);
        out.freeze()
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn stop(&self) -> Option<Stop> {
        self.saw_length.then_some(Stop::MaxTokens)
    }

    fn errored(&self) -> bool {
        self.saw_error
    }
}

/// Whether a chunk says `"finish_reason": "length"`. Quotes inside JSON strings are escaped,
/// so an unescaped `"finish_reason"` is a key.
pub(crate) fn finished_for_length(data: &[u8]) -> bool {
    memchr::memmem::find_iter(data, b"\"finish_reason\"").any(|at| {
        let rest = &data[at + 15..];
        let value = rest
            .iter()
            .position(|b| !b.is_ascii_whitespace() && *b != b':')
            .map_or(&[][..], |i| &rest[i..]);
        value.starts_with(b"\"length\"")
    })
}

/// Whether `data` has a `"key": {` anywhere: a cheap test before parsing for an object value.
fn has_object_member(data: &[u8], key: &[u8]) -> bool {
    let skip_ws = |s: &[u8]| {
        s.iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(s.len())
    };
    memchr::memmem::find_iter(data, key).any(|at| {
        let rest = &data[at + key.len()..];
        let rest = &rest[skip_ws(rest)..];
        match rest.strip_prefix(b":") {
            Some(value) => value.get(skip_ws(value)) == Some(&b'{'),
            None => false,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_members_are_told_from_nulls_cheaply() {
        assert!(has_object_member(br#"{"usage" : {"a":1}}"#, b"\"usage\""));
        assert!(!has_object_member(br#"{"usage":null}"#, b"\"usage\""));
        assert!(!has_object_member(br#"{"usage"}"#, b"\"usage\""));
    }

    const STREAM: &[u8] = b"data: {\"id\":\"c\",\"model\":\"up\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"model\":\"up\",\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1,\"total_tokens\":3}}\n\n\
data: [DONE]\n\n";

    use crate::dialect::stream::push_in_two as run;

    #[test]
    fn passthrough_is_byte_exact_at_any_split() {
        for cut in 0..=STREAM.len() {
            let mut t = ChatPassthrough::new(None, 1 << 20);
            assert_eq!(run(&mut t, STREAM, cut), STREAM, "cut {cut}");
            assert_eq!(t.finish(), StreamEnd::Complete(None));
            assert_eq!(t.usage().unwrap().input_total, 2);
        }
    }

    #[test]
    fn passthrough_renames_the_model_in_every_chunk() {
        let mut t = ChatPassthrough::new(Some("gpt-4o"), 1 << 20);
        let out = run(&mut t, STREAM, 40);
        let expected = String::from_utf8(STREAM.to_vec())
            .unwrap()
            .replace("\"up\"", "\"gpt-4o\"");
        assert_eq!(String::from_utf8(out).unwrap(), expected);
        assert_eq!(t.usage().unwrap().output_total, 1);
    }

    #[test]
    fn a_cut_stream_is_reported_and_ends_with_an_error_and_done() {
        let mut t = ChatPassthrough::new(None, 1 << 20);
        let cut = STREAM.len() - DONE_EVENT.len() - 10;
        t.push(Bytes::copy_from_slice(&STREAM[..cut])).unwrap();
        assert_eq!(t.finish(), StreamEnd::Truncated);
        let tail = t.fail(ErrorKind::BadUpstream, "upstream closed");
        assert_eq!(
            &tail[..],
            &b"data: {\"error\":{\"message\":\"upstream closed\",\"type\":\"server_error\",\"param\":null,\"code\":\"bad_upstream_response\"}}\n\ndata: [DONE]\n\n"[..]
        );
    }

    #[test]
    fn a_last_event_without_its_blank_line_still_completes_the_stream() {
        let mut t = ChatPassthrough::new(None, 1 << 20);
        let body = &STREAM[..STREAM.len() - 1];
        let out = run(&mut t, body, 10);
        assert!(!t.is_complete());
        assert_eq!(
            t.finish(),
            StreamEnd::Complete(Some(Bytes::from_static(b"data: [DONE]\n\n\n")))
        );
        assert_eq!(
            [&out[..], b"data: [DONE]\n\n\n"].concat()[..body.len()],
            body[..]
        );
    }

    #[test]
    fn multi_line_events_keep_a_data_field_per_line_when_renamed() {
        let mut t = ChatPassthrough::new(Some("gpt-4o"), 1 << 20);
        let out = t
            .push(Bytes::from_static(
                b"data: {\"id\":\"c\",\"model\":\"up\",\ndata: \"choices\":[]}\n\n",
            ))
            .unwrap()
            .unwrap();
        assert_eq!(
            &out[..],
            b"data: {\"id\":\"c\",\"model\":\"gpt-4o\",\ndata: \"choices\":[]}\n\n"
        );
    }

    #[test]
    fn done_marks_the_stream_complete_and_oversized_events_fail() {
        let mut t = ChatPassthrough::new(None, 64);
        t.push(Bytes::from_static(b"data: [DONE]\n\n")).unwrap();
        assert!(t.is_complete());
        let mut t = ChatPassthrough::new(None, 64);
        let err = t.push(Bytes::from(vec![b'x'; 65])).unwrap_err();
        assert_eq!(
            err.message,
            "The provider sent an event larger than 64 bytes"
        );
    }

    #[test]
    fn an_upstream_error_event_is_terminal() {
        let mut t = ChatPassthrough::new(None, 1 << 20);
        t.push(Bytes::from_static(b"data: {\"error\":{\"message\":\"boom\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n")).unwrap();
        assert_eq!(
            t.finish(),
            StreamEnd::Complete(Some(Bytes::from_static(DONE_EVENT)))
        );
    }

    #[test]
    fn usage_is_asked_for_after_the_prompt_without_touching_it() {
        let ask = |body: &'static str| {
            let asked = asks_for_usage(body.as_bytes());
            let out = asking_for_usage(&Bytes::from_static(body.as_bytes()));
            (String::from_utf8(out.to_vec()).unwrap(), asked)
        };
        assert_eq!(
            ask(r#"{"model":"m","messages":[],"stream":true}  "#),
            (
                r#"{"model":"m","messages":[],"stream":true,"stream_options":{"include_usage":true}}  "#
                    .into(),
                false
            )
        );
        assert_eq!(
            ask(r#"{"model":"m","stream":true,"stream_options":{"include_usage":false,"include_obfuscation":false}}"#),
            (
                r#"{"model":"m","stream":true,"stream_options":{"include_usage":true,"include_obfuscation":false}}"#
                    .into(),
                false
            )
        );
        assert_eq!(
            ask(r#"{"model":"m","stream_options":null,"stream":true}"#),
            (
                r#"{"model":"m","stream_options":{"include_usage":true},"stream":true}"#.into(),
                false
            )
        );
        let asked = r#"{"model":"m","stream":true,"stream_options":{"include_usage":true}}"#;
        assert_eq!(ask(asked), (asked.into(), true));
        let body = Bytes::from_static(asked.as_bytes());
        assert_eq!(asking_for_usage(&body).as_ptr(), body.as_ptr(), "no copy");
    }

    #[test]
    fn the_usage_only_chunk_is_hidden_from_a_client_that_did_not_ask() {
        for cut in 0..=STREAM.len() {
            let mut t = ChatPassthrough::new(None, 1 << 20).hiding_usage();
            let out = run(&mut t, STREAM, cut);
            let first = STREAM.iter().position(|b| *b == b'\n').unwrap() + 2;
            let expected = [&STREAM[..first], DONE_EVENT].concat();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(expected).unwrap(),
                "cut {cut}"
            );
            assert_eq!(t.finish(), StreamEnd::Complete(None));
            assert_eq!(t.usage().unwrap().input_total, 2, "still read");
        }
        // Servers that put usage on the chunk with the finish reason keep it there.
        let last = Bytes::from_static(b"data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}\n\n");
        let mut t = ChatPassthrough::new(None, 1 << 20).hiding_usage();
        assert_eq!(t.push(last.clone()).unwrap(), Some(last));
        assert_eq!(t.stop(), None);
        assert_eq!(t.usage().unwrap().output_total, 1);
    }
}
