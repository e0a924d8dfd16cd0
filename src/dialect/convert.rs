//! A stream converted between two dialects: the provider's decoder into internal events, the
//! client's encoder out of them. Same-dialect streams pass through (`passthrough.rs`, which
//! runs one of these on the side only to watch the stream).

use super::errors::ErrorKind;
use super::ir::{Delta, Event, Stop};
use super::names::LongNames;
use super::stream::{
    Ended, StreamDecoder, StreamEncoder, StreamEnd, StreamFault, StreamTranslator,
};
use super::usage::Usage;
use bytes::{Bytes, BytesMut};

/// Any provider dialect's stream, written as any client dialect's.
pub struct Converter {
    decoder: Box<dyn StreamDecoder>,
    encoder: Box<dyn StreamEncoder>,
    events: Vec<Event>,
    usage: Option<Usage>,
    stop: Option<Stop>,
    errored: bool,
    output_bytes: u64,
    /// The provider's terminal event (or in-band error) has been read.
    complete: bool,
    /// What the end of a cut stream completed (an open block closed), for `fail` to send
    /// before the error: dropped, the client would miss events its encoder counted as sent.
    cut_tail: BytesMut,
    /// The client's names for tools that went up under short forms.
    names: LongNames,
}

impl Converter {
    pub fn new(decoder: Box<dyn StreamDecoder>, encoder: Box<dyn StreamEncoder>) -> Self {
        Converter {
            decoder,
            encoder,
            events: Vec::new(),
            usage: None,
            stop: None,
            errored: false,
            output_bytes: 0,
            complete: false,
            cut_tail: BytesMut::new(),
            names: LongNames::default(),
        }
    }

    /// Gives calls made under a tool's short form the client's name back.
    pub fn with_long_names(mut self, names: LongNames) -> Self {
        self.names = names;
        self
    }

    /// Encodes the events decoded so far; `None` when they make no bytes.
    fn drain(&mut self) -> Option<Bytes> {
        if self.events.is_empty() {
            return None;
        }
        let mut out = BytesMut::new();
        for mut event in self.events.drain(..) {
            self.names.restore_event(&mut event);
            match &event {
                Event::Usage(u) => self.usage = Some(*u),
                Event::Delta {
                    delta: Delta::Text(s) | Delta::Thinking(s) | Delta::ToolArguments(s),
                    ..
                } => self.output_bytes += s.len() as u64,
                Event::Stop(stop) => {
                    self.stop = Some(stop.clone());
                    self.complete = true;
                }
                Event::Error { .. } => {
                    self.errored = true;
                    self.complete = true;
                }
                _ => {}
            }
            self.encoder.push(&event, &mut out);
        }
        (!out.is_empty()).then(|| out.freeze())
    }
}

impl StreamTranslator for Converter {
    fn push(&mut self, chunk: Bytes) -> Result<Option<Bytes>, StreamFault> {
        self.decoder.push(chunk, &mut self.events)?;
        Ok(self.drain())
    }

    fn is_complete(&self) -> bool {
        self.complete
    }

    fn finish(&mut self) -> StreamEnd {
        let ended = self.decoder.finish(&mut self.events);
        let mut out = BytesMut::new();
        if let Some(b) = self.drain() {
            out.extend_from_slice(&b);
        }
        match ended {
            Ended::Complete => {
                self.encoder.finish(&mut out);
                StreamEnd::Complete((!out.is_empty()).then(|| out.freeze()))
            }
            Ended::Truncated => {
                self.cut_tail = out;
                StreamEnd::Truncated
            }
        }
    }

    fn fail(&mut self, kind: ErrorKind, message: &str) -> Bytes {
        let mut out = std::mem::take(&mut self.cut_tail);
        if let Some(b) = self.drain() {
            out.extend_from_slice(&b);
        }
        self.encoder.fail(kind, message, &mut out);
        out.freeze()
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn stop(&self) -> Option<Stop> {
        self.stop.clone()
    }

    fn errored(&self) -> bool {
        self.errored
    }

    fn output_bytes(&self) -> Option<u64> {
        Some(self.output_bytes)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::openai;

    fn chat_to_chat(include_usage: bool) -> Converter {
        Converter::new(
            Box::new(openai::Decoder::new(1 << 20)),
            Box::new(openai::Encoder::new("client-model", 9, include_usage)),
        )
    }

    const PROVIDER: &str = concat!(
        "data: {\"id\":\"chatcmpl-U\",\"model\":\"up\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-U\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"chatcmpl-U\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"chatcmpl-U\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\n",
        "data: [DONE]\n\n"
    );

    #[test]
    fn a_stream_goes_through_the_internal_events_and_out_whole() {
        let mut c = chat_to_chat(false);
        let mut out = Vec::new();
        for piece in PROVIDER.as_bytes().chunks(7) {
            if let Some(b) = c.push(Bytes::copy_from_slice(piece)).unwrap() {
                out.extend_from_slice(&b);
            }
        }
        assert!(c.is_complete());
        match c.finish() {
            StreamEnd::Complete(Some(tail)) => out.extend_from_slice(&tail),
            other => panic!("{other:?}"),
        }
        let env = r#""id":"chatcmpl-U","object":"chat.completion.chunk","created":9,"model":"client-model""#;
        assert_eq!(
            String::from_utf8(out).unwrap(),
            [
                format!(r#"data: {{{env},"choices":[{{"index":0,"delta":{{"role":"assistant","content":"","refusal":null}},"logprobs":null,"finish_reason":null}}]}}"#),
                format!(r#"data: {{{env},"choices":[{{"index":0,"delta":{{"content":"Hi"}},"logprobs":null,"finish_reason":null}}]}}"#),
                format!(r#"data: {{{env},"choices":[{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"stop"}}]}}"#),
                "data: [DONE]".to_string(),
            ]
            .map(|l| format!("{l}\n\n"))
            .concat()
        );
        assert_eq!(
            c.usage(),
            Some(Usage {
                input_total: 3,
                output_total: 1,
                ..Usage::default()
            })
        );
    }

    #[test]
    fn a_cut_stream_is_truncated_and_fails_in_the_client_dialect() {
        let mut c = chat_to_chat(true);
        let cut = &PROVIDER[..PROVIDER
            .find("data: {\"id\":\"chatcmpl-U\",\"choices\":[{\"index\":0,\"delta\":{},")
            .unwrap()];
        let first = c.push(Bytes::copy_from_slice(cut.as_bytes())).unwrap();
        assert!(first.is_some());
        assert!(!c.is_complete());
        assert_eq!(c.finish(), StreamEnd::Truncated);
        let tail = String::from_utf8(c.fail(ErrorKind::BadUpstream, "cut").to_vec()).unwrap();
        assert!(
            tail.starts_with("data: {\"error\":{\"message\":\"cut\""),
            "{tail}"
        );
        assert!(tail.ends_with("data: [DONE]\n\n"));
    }

    #[test]
    fn what_the_end_of_a_cut_stream_closes_goes_out_before_the_error() {
        // A Gemini stream cut mid-text: only its end closes the open text block, and the
        // Responses client must see that item done before `response.failed` lists it.
        let mut c = Converter::new(
            Box::new(crate::dialect::gemini::Decoder::new(1 << 20)),
            Box::new(crate::dialect::responses::Encoder::new("m", 9)),
        );
        let chunk = "data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"Hi\"}]},\"index\":0}],\"responseId\":\"r\"}\r\n\r\n";
        let mut out = c.push(Bytes::from(chunk)).unwrap().unwrap().to_vec();
        assert_eq!(c.finish(), StreamEnd::Truncated);
        out.extend_from_slice(&c.fail(ErrorKind::BadUpstream, "cut"));
        let out = String::from_utf8(out).unwrap();
        let names: Vec<&str> = out
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("event: ")?.split('\n').next())
            .collect();
        assert_eq!(
            names[names.len() - 5..],
            [
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "error",
                "response.failed"
            ]
        );
        for (i, n) in out.match_indices("\"sequence_number\":").enumerate() {
            let rest = &out[n.0 + n.1.len()..];
            assert!(rest.starts_with(&format!("{i}}}")), "sequence {i}: {out}");
        }
    }
}
