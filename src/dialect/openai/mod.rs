//! OpenAI Chat Completions (reference: dialects.md §1.A, §2.A, §4).

mod answer;
mod decoder;
mod encoder;
mod request;

pub use answer::{decode_answer, encode_answer, finish_reason, stop_from, usage_json};
pub use decoder::Decoder;
pub use encoder::Encoder;
pub use request::{decode_request, encode_request};

use super::errors::{openai_body, ErrorKind};
use super::json::{
    span_within, splice, string_literal, top_level_spans, unique_top_level_spans, SpanError,
};
use super::sse::{parse_event, EventSplitter, Events};
use super::stream::{StreamEnd, StreamFault, StreamTranslator};
use super::usage::Usage;
pub use super::InvalidRequest;
use bytes::{BufMut, Bytes, BytesMut};
use std::borrow::Cow;
use std::ops::Range;

/// The routing facts of a Chat Completions request, read without re-encoding the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRequest {
    pub model: String,
    pub stream: bool,
    /// Where the `model` value sits in the body, for a byte-exact rename.
    pub model_span: Range<usize>,
}

/// Reads `model` and `stream` from a Chat Completions body.
pub fn probe_request(body: &[u8]) -> Result<ChatRequest, InvalidRequest> {
    let [model, stream] =
        unique_top_level_spans(body, ["model", "stream"]).map_err(|e| match e {
            SpanError::Invalid => InvalidRequest(
                "We could not parse the JSON body of your request. (HINT: This likely means you \
             aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but \
             what was sent was not valid JSON.)",
            ),
            SpanError::Duplicate(0) => {
                InvalidRequest("The request body has more than one `model` member")
            }
            SpanError::Duplicate(_) => {
                InvalidRequest("The request body has more than one `stream` member")
            }
        })?;
    let model_span = model.ok_or(InvalidRequest("you must provide a model parameter"))?;
    let model: String = serde_json::from_slice(&body[model_span.clone()])
        .map_err(|_| InvalidRequest("'model' must be a string"))?;
    if model.is_empty() {
        return Err(InvalidRequest("you must provide a model parameter"));
    }
    let stream = match stream {
        None => false,
        Some(span) => serde_json::from_slice::<Option<bool>>(&body[span])
            .map_err(|_| InvalidRequest("'stream' must be a boolean"))?
            .unwrap_or(false),
    };
    Ok(ChatRequest {
        model,
        stream,
        model_span,
    })
}

/// The request body to send a provider that knows the model as `upstream_model`.
///
/// The body is shared, not copied, when the name is unchanged.
pub fn request_for(body: &Bytes, req: &ChatRequest, upstream_model: &str) -> Bytes {
    if upstream_model == req.model {
        body.clone()
    } else {
        splice(
            body,
            req.model_span.clone(),
            string_literal(upstream_model).as_bytes(),
        )
    }
}

/// A non-streaming answer, ready for the client, and the usage it reported.
#[derive(Debug)]
pub struct ChatAnswer {
    pub body: Bytes,
    pub usage: Option<Usage>,
}

/// Reads a provider's non-streaming answer; when the provider knew the model by another name,
/// the client's name is put back. `None` when the body is not a JSON object.
pub fn answer_for_client(body: Bytes, client_model: Option<&str>) -> Option<ChatAnswer> {
    let [model, usage] = top_level_spans(&body, ["model", "usage"])?;
    let usage = usage.and_then(|s| Usage::from_openai_json(&body[s]));
    let body = match (client_model, model) {
        (Some(name), Some(span)) => splice(&body, span, string_literal(name).as_bytes()),
        _ => body,
    };
    Some(ChatAnswer { body, usage })
}

const DONE_EVENT: &[u8] = b"data: [DONE]\n\n";

/// Relays an OpenAI Chat stream to an OpenAI Chat client: events pass through byte for byte,
/// except the model name when the provider knows the model by another name. Usage and the
/// `[DONE]` terminator are read on the way.
pub struct ChatPassthrough {
    splitter: EventSplitter,
    /// The client's model name as a JSON literal, when it differs from the provider's.
    client_model: Option<String>,
    usage: Option<Usage>,
    saw_done: bool,
    saw_error: bool,
}

impl ChatPassthrough {
    /// `max_event` bounds the bytes held for one unfinished event.
    pub fn new(client_model: Option<&str>, max_event: usize) -> Self {
        Self {
            splitter: EventSplitter::new(max_event),
            client_model: client_model.map(string_literal),
            usage: None,
            saw_done: false,
            saw_error: false,
        }
    }

    /// Reads one event; returns its rewritten bytes when the model name had to change.
    fn inspect(&mut self, event: &Bytes) -> Option<Bytes> {
        let parsed = parse_event(event)?;
        let data: &[u8] = &parsed.data;
        if data == b"[DONE]" {
            self.saw_done = true;
            return None;
        }
        // Most events need no parse at all: with `include_usage` every chunk carries
        // `"usage":null`, and only the last one an object.
        let has_usage = has_object_member(data, b"\"usage\"");
        let maybe_error = memchr::memmem::find(data, b"\"error\"").is_some();
        if self.client_model.is_none() && !has_usage && !maybe_error {
            return None;
        }
        let [model, usage, error] = top_level_spans(data, ["model", "usage", "error"])?;
        if error.is_some() {
            self.saw_error = true;
        }
        if let Some(u) = usage.and_then(|s| Usage::from_openai_json(&data[s])) {
            self.usage = Some(u);
        }
        let (name, span) = (self.client_model.as_deref()?, model?);
        Some(match &parsed.data {
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

    /// Inspects (and renames) every event of a run.
    fn relay_run(&mut self, run: Bytes) -> Bytes {
        if self.client_model.is_none() {
            for event in Events::new(run.clone()) {
                self.inspect(&event);
            }
            return run;
        }
        let mut out = BytesMut::with_capacity(run.len() + 64);
        for event in Events::new(run) {
            match self.inspect(&event) {
                Some(rewritten) => out.put_slice(&rewritten),
                None => out.put_slice(&event),
            }
        }
        out.freeze()
    }
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

    #[test]
    fn probe_reads_model_and_stream() {
        let body = br#"{"messages":[{"role":"user","content":"\"model\":\"x\""}],"model":"gpt-4o","stream":true}"#;
        let req = probe_request(body).unwrap();
        assert_eq!(req.model, "gpt-4o");
        assert!(req.stream);
        assert_eq!(&body[req.model_span.clone()], br#""gpt-4o""#);
        assert!(
            !probe_request(br#"{"model":"m","stream":null}"#)
                .unwrap()
                .stream
        );
    }

    #[test]
    fn probe_rejects_what_openai_rejects() {
        assert_eq!(
            probe_request(b"{\"messages\":[]}").unwrap_err().0,
            "you must provide a model parameter"
        );
        assert!(probe_request(b"not json")
            .unwrap_err()
            .0
            .starts_with("We could not parse"));
        assert_eq!(
            probe_request(br#"{"model":5}"#).unwrap_err().0,
            "'model' must be a string"
        );
        assert_eq!(
            probe_request(br#"{"model":"m","stream":"yes"}"#)
                .unwrap_err()
                .0,
            "'stream' must be a boolean"
        );
    }

    #[test]
    fn rename_keeps_every_other_byte() {
        let body = Bytes::from_static(br#"{ "model" : "gpt-4o",  "messages": [] }"#);
        let req = probe_request(&body).unwrap();
        assert_eq!(
            request_for(&body, &req, "gpt-4o").as_ptr(),
            body.as_ptr(),
            "no copy when unchanged"
        );
        assert_eq!(
            &request_for(&body, &req, "gpt-4o-2024-08-06")[..],
            br#"{ "model" : "gpt-4o-2024-08-06",  "messages": [] }"#
        );
    }

    #[test]
    fn answers_get_the_client_model_back_and_report_usage() {
        let body = Bytes::from_static(
            br#"{"id":"c","model":"gpt-4o-2024-08-06","usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#,
        );
        let a = answer_for_client(body, Some("gpt-4o")).unwrap();
        assert_eq!(
            &a.body[..],
            br#"{"id":"c","model":"gpt-4o","usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8}}"#
        );
        assert_eq!(a.usage.unwrap().output_total, 5);
        assert!(answer_for_client(Bytes::from_static(b"<html>"), None).is_none());
    }

    const STREAM: &[u8] = b"data: {\"id\":\"c\",\"model\":\"up\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}],\"usage\":null}\n\n\
data: {\"id\":\"c\",\"model\":\"up\",\"choices\":[],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1,\"total_tokens\":3}}\n\n\
data: [DONE]\n\n";

    fn run(t: &mut ChatPassthrough, input: &[u8], cut: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for part in [&input[..cut], &input[cut..]] {
            if let Some(b) = t.push(Bytes::copy_from_slice(part)).unwrap() {
                out.extend_from_slice(&b);
            }
        }
        out
    }

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
}
