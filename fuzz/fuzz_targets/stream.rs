//! A provider's stream, cut anywhere, converted for a client of any dialect: no panic, the
//! provider decoder keeps the event grammar every encoder relies on, and the client gets a
//! stream it can parse however the provider's ended.
//!
//! Input: byte 0 picks the pair and options, bytes 1..=4 are chunk sizes (cycled), byte 5 the
//! SSE splitter's limit; the rest is the provider's body.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use tollgate::dialect::codec::{codec, RouteFacts};
use tollgate::dialect::convert::Converter;
use tollgate::dialect::errors::ErrorKind;
use tollgate::dialect::ir::{BlockKind, Delta, Event, Request};
use tollgate::dialect::stream::{Ended, StreamDecoder, StreamEnd, StreamFault, StreamTranslator};
use tollgate_fuzz::{assert_client_stream, check_splitter, chunks, CREATED, DIALECTS, MODEL};

const HEADER: usize = 6;

fuzz_target!(|data: &[u8]| {
    if data.len() < HEADER {
        return;
    }
    let (head, body) = data.split_at(HEADER);
    let flags = head[0];
    let sizes = &head[1..5];
    let provider = DIALECTS[usize::from(flags & 3)];
    let client = DIALECTS[usize::from((flags >> 2) & 3)];
    let sse = flags & 0x10 != 0;
    // A small limit reaches the too-large-event fault that real limits (MiBs) never do here.
    let max_event = if flags & 0x20 != 0 { 256 } else { 1 << 20 };
    let req = Request {
        model: "client-model".into(),
        stream: true,
        stream_usage: flags & 0x40 != 0,
        ..Request::default()
    };
    let route = RouteFacts {
        model: Some("client-model".into()),
        stream: true,
        sse,
    };

    let decoder = Box::new(Checked::new(codec(provider).decoder(max_event)));
    let encoder = codec(client).encoder(MODEL, CREATED, &req, &route);
    let mut t = Converter::new(decoder, encoder);
    let what = format!("{provider} → {client} (sse: {sse})");
    let out = relay(&mut t, chunks(body, sizes));
    assert_client_stream(&out, client, sse, &what);

    check_splitter(chunks(body, sizes), usize::from(head[5]) + 1);
});

/// Feeds `chunks` as the gateway's relay loop does, and returns all the client is sent.
fn relay(t: &mut dyn StreamTranslator, chunks: impl Iterator<Item = Bytes>) -> BytesMut {
    let mut out = BytesMut::new();
    for chunk in chunks {
        match t.push(chunk) {
            Ok(sent) => {
                out.extend_from_slice(&sent.unwrap_or_default());
                if t.is_complete() {
                    if let StreamEnd::Complete(Some(tail)) = t.finish() {
                        out.extend_from_slice(&tail);
                    }
                    return out;
                }
            }
            Err(fault) => {
                out.extend_from_slice(&t.fail(fault.kind, &fault.message));
                return out;
            }
        }
    }
    match t.finish() {
        StreamEnd::Complete(tail) => out.extend_from_slice(&tail.unwrap_or_default()),
        StreamEnd::Truncated => out.extend_from_slice(&t.fail(ErrorKind::BadUpstream, "cut")),
    }
    out
}

/// A provider decoder whose every event is checked against the grammar of `ir::Event`.
struct Checked {
    inner: Box<dyn StreamDecoder>,
    /// The open block: its index and kind.
    open: Option<(usize, Kind)>,
    next_index: usize,
    /// `Stop` or `Error` has been emitted.
    ended: bool,
    /// Every event so far, for the panic message.
    seen: Vec<Event>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Thinking,
    RedactedThinking,
    ToolCall,
}

impl Checked {
    fn new(inner: Box<dyn StreamDecoder>) -> Self {
        Checked {
            inner,
            open: None,
            next_index: 0,
            ended: false,
            seen: Vec::new(),
        }
    }

    fn check(&mut self, events: &[Event]) {
        for e in events {
            self.seen.push(e.clone());
            let ok = self.accept(e);
            assert!(
                ok,
                "the decoder broke the event grammar at the last of {:#?}",
                self.seen
            );
        }
    }

    fn accept(&mut self, e: &Event) -> bool {
        match e {
            // `Start` may be missing (a bare `[DONE]` ends an OpenAI stream that never began;
            // every encoder starts its stream on whatever comes first), but never late or twice.
            Event::Start { .. } => self.seen.len() == 1,
            Event::BlockStart { index, block } => {
                let ok = !self.ended && self.open.is_none() && *index == self.next_index;
                let kind = match block {
                    BlockKind::Text => Kind::Text,
                    BlockKind::Thinking => Kind::Thinking,
                    BlockKind::RedactedThinking { .. } => Kind::RedactedThinking,
                    BlockKind::ToolCall { .. } => Kind::ToolCall,
                };
                self.open = Some((*index, kind));
                self.next_index = index + 1;
                ok
            }
            Event::Delta { index, delta } => {
                let fits = match delta {
                    Delta::Text(_) => Kind::Text,
                    Delta::Thinking(_) | Delta::Signature(_) => Kind::Thinking,
                    Delta::ToolArguments(_) => Kind::ToolCall,
                };
                !self.ended && self.open == Some((*index, fits))
            }
            Event::BlockStop { index } => {
                let ok = !self.ended && self.open.map(|(i, _)| i) == Some(*index);
                self.open = None;
                ok
            }
            // A snapshot may follow the stop: OpenAI sends usage after `finish_reason`.
            Event::Usage(_) => true,
            Event::Stop(_) => {
                let ok = !self.ended && self.open.is_none();
                self.ended = true;
                ok
            }
            Event::Error { .. } => {
                let ok = !self.ended;
                self.ended = true;
                ok
            }
        }
    }
}

impl StreamDecoder for Checked {
    fn push(&mut self, chunk: Bytes, out: &mut Vec<Event>) -> Result<(), StreamFault> {
        let from = out.len();
        let result = self.inner.push(chunk, out);
        self.check(&out[from..]);
        result
    }

    fn finish(&mut self, out: &mut Vec<Event>) -> Ended {
        let from = out.len();
        let ended = self.inner.finish(out);
        self.check(&out[from..]);
        assert!(
            ended == Ended::Truncated || self.ended,
            "the decoder called a stream without Stop or Error complete: {:#?}",
            self.seen
        );
        ended
    }
}
