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
criterion_main!(benches);
