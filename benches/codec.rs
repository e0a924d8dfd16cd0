//! Per-request and per-chunk costs of the OpenAI codec on the passthrough path.

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use tollgate::dialect::openai::{probe_request, request_for, ChatPassthrough};
use tollgate::dialect::sse::EventSplitter;
use tollgate::dialect::stream::StreamTranslator;
use tollgate::redact::{LineMasker, Redactor};

/// A provider key, and two client keys, as the redactor holds them.
fn redactor() -> Redactor {
    Redactor::new([
        "sk-proj-5f1b7c2d9e8a4b3c6d0e1f2a3b4c5d6e7f8091a2b3c4d5e6",
        "sk-client-0001-aaaaaaaaaaaa",
        "sk-client-0002-bbbbbbbbbbbb",
    ])
}

fn chat_body(bytes: usize) -> Bytes {
    let text = "lorem ipsum ".repeat(bytes / 12);
    Bytes::from(
        serde_json::json!({"model": "gpt-4o", "stream": true,
            "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": text}]})
        .to_string(),
    )
}

fn stream_bytes(events: usize) -> Bytes {
    let mut s = String::new();
    for i in 0..events {
        s.push_str(&format!(
            "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\" token{i}\"}},\"finish_reason\":null}}],\"usage\":null}}\n\n"
        ));
    }
    s.push_str("data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"gpt-4o-2024-08-06\",\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":100,\"total_tokens\":110}}\n\ndata: [DONE]\n\n");
    Bytes::from(s)
}

fn request_path(c: &mut Criterion) {
    let mut g = c.benchmark_group("request");
    for size in [1_000usize, 100_000, 1_000_000] {
        let body = chat_body(size);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_with_input(BenchmarkId::new("probe", size), &body, |b, body| {
            b.iter(|| probe_request(black_box(body)))
        });
        let req = probe_request(&body).unwrap_or_else(|e| panic!("{e:?}"));
        g.bench_with_input(BenchmarkId::new("rename", size), &body, |b, body| {
            b.iter(|| request_for(black_box(body), &req, "gpt-4o-2024-08-06"))
        });
    }
    g.finish();
}

fn stream_path(c: &mut Criterion) {
    let input = stream_bytes(100);
    // Providers' chunk boundaries fall anywhere: feed 97-byte pieces.
    let pieces: Vec<Bytes> = input.chunks(97).map(Bytes::copy_from_slice).collect();
    let mut g = c.benchmark_group("stream");
    g.throughput(Throughput::Bytes(input.len() as u64));
    g.bench_function("split_events", |b| {
        b.iter(|| {
            let mut s = EventSplitter::default();
            for p in &pieces {
                let _ = black_box(s.push(p.clone()));
            }
        })
    });
    let r = redactor();
    g.bench_function("mask_lines", |b| {
        b.iter(|| {
            let mut m = LineMasker::new(1 << 20);
            for p in &pieces {
                let _ = black_box(m.push(&r, p.clone()));
            }
        })
    });
    g.bench_function("mask_then_passthrough", |b| {
        b.iter(|| {
            let mut m = LineMasker::new(1 << 20);
            let mut t = ChatPassthrough::new(None, 1 << 20);
            for p in &pieces {
                if let Ok(Some(lines)) = m.push(&r, p.clone()) {
                    let _ = black_box(t.push(lines));
                }
            }
            black_box(t.finish())
        })
    });
    for (name, rename) in [
        ("passthrough", None),
        ("passthrough_rename", Some("gpt-4o")),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                let mut t = ChatPassthrough::new(rename, 1 << 20);
                for p in &pieces {
                    let _ = black_box(t.push(p.clone()));
                }
                black_box(t.finish())
            })
        });
    }
    g.finish();
}

fn answer_path(c: &mut Criterion) {
    let r = redactor();
    let mut g = c.benchmark_group("answer");
    for size in [1_000usize, 100_000] {
        let body = chat_body(size);
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_with_input(BenchmarkId::new("mask", size), &body, |b, body| {
            b.iter(|| r.mask(black_box(body.clone())))
        });
    }
    g.finish();
}

criterion_group!(benches, request_path, stream_path, answer_path);

mod convert {
    use super::*;
    use bytes::BytesMut;
    use tollgate::dialect::codec::{codec, Quirks, RouteFacts};
    use tollgate::dialect::convert::Converter;
    use tollgate::dialect::ir::{BlockKind, Delta, Event, Request, Stop};
    use tollgate::dialect::passthrough::Passthrough;
    use tollgate::dialect::stream::StreamEncoder;
    use tollgate::dialect::usage::Usage;
    use tollgate::dialect::Dialect;

    const DIALECTS: [Dialect; 4] = [
        Dialect::OpenAiChat,
        Dialect::OpenAiResponses,
        Dialect::AnthropicMessages,
        Dialect::Gemini,
    ];

    /// The first request of the captured Claude Code session, when the shared fixtures are there.
    fn claude_code_request() -> Option<Bytes> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/client-requests/claude-code.jsonl"
        );
        let text = std::fs::read_to_string(path).ok()?;
        let first: serde_json::Value = serde_json::from_str(text.lines().next()?).ok()?;
        Some(Bytes::from(first["body"].to_string()))
    }

    pub fn request(c: &mut Criterion) {
        let Some(body) = claude_code_request() else {
            return;
        };
        let client = codec(Dialect::AnthropicMessages);
        let facts = RouteFacts::default();
        let ir = client
            .decode_request(&body, &facts)
            .unwrap_or_else(|e| panic!("{e:?}"));
        let mut g = c.benchmark_group("claude_code_request");
        g.throughput(Throughput::Bytes(body.len() as u64));
        g.bench_function("decode", |b| {
            b.iter(|| client.decode_request(black_box(&body), &facts))
        });
        for d in DIALECTS {
            g.bench_function(BenchmarkId::new("decode_and_encode_for", d.name()), |b| {
                b.iter(|| {
                    let ir = client
                        .decode_request(black_box(&body), &facts)
                        .unwrap_or_default();
                    codec(d).encode_request(&ir, "model-x", Quirks::default())
                })
            });
        }
        drop(ir);
        g.finish();
    }

    /// A 100-event answer (text, then a tool call), as IR events.
    fn events() -> Vec<Event> {
        let mut out = vec![
            Event::Start {
                id: "id-1".into(),
                model: "m".into(),
            },
            Event::BlockStart {
                index: 0,
                block: BlockKind::Text,
            },
        ];
        for i in 0..96 {
            out.push(Event::Delta {
                index: 0,
                delta: Delta::Text(format!(" token{i}")),
            });
        }
        out.push(Event::BlockStop { index: 0 });
        out.push(Event::Usage(Usage {
            input_total: 100,
            output_total: 97,
            ..Usage::default()
        }));
        out.push(Event::Stop(Stop::EndTurn));
        out
    }

    /// The answer as a provider of `d` streams it.
    fn provider_stream(d: Dialect) -> Bytes {
        let facts = RouteFacts {
            sse: true,
            stream: true,
            ..RouteFacts::default()
        };
        let req = Request {
            stream: true,
            stream_usage: true,
            ..Request::default()
        };
        let mut enc: Box<dyn StreamEncoder> = codec(d).encoder("m", 1, &req, &facts);
        let mut out = BytesMut::new();
        for e in events() {
            enc.push(&e, &mut out);
        }
        enc.finish(&mut out);
        out.freeze()
    }

    pub fn streams(c: &mut Criterion) {
        let facts = RouteFacts {
            sse: true,
            stream: true,
            ..RouteFacts::default()
        };
        let req = Request {
            stream: true,
            ..Request::default()
        };
        let mut g = c.benchmark_group("stream_translation");
        g.throughput(Throughput::Elements(events().len() as u64));
        for p in DIALECTS {
            let input = provider_stream(p);
            let pieces: Vec<Bytes> = input.chunks(97).map(Bytes::copy_from_slice).collect();
            for client in DIALECTS {
                let id = format!("{}_to_{}", p.name(), client.name());
                g.bench_function(id, |b| {
                    b.iter(|| {
                        // What the gateway runs for the pair: a relay of the provider's bytes
                        // for one dialect, a conversion otherwise.
                        let convert = Converter::new(
                            codec(p).decoder(1 << 20),
                            codec(client).encoder("m", 1, &req, &facts),
                        );
                        let mut t: Box<dyn StreamTranslator> = match (p, client) {
                            (Dialect::OpenAiChat, Dialect::OpenAiChat) => {
                                Box::new(ChatPassthrough::new(None, 1 << 20))
                            }
                            _ if p == client => Box::new(Passthrough::new(convert, None, 1 << 20)),
                            _ => Box::new(convert),
                        };
                        for piece in &pieces {
                            let _ = black_box(t.push(piece.clone()));
                        }
                        black_box(t.finish())
                    })
                });
            }
        }
        g.finish();
    }
}

criterion_group!(conversions, convert::request, convert::streams);
criterion_main!(benches, conversions);
