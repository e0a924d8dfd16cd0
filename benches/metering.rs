//! What metering adds to a request: pricing its usage, reserving its worst case in its key's
//! balance and charging the real cost, and writing its ledger line (on the writer thread).

#![allow(clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::Path;
use tollgate::config::Config;
use tollgate::dialect::usage::Usage;
use tollgate::limits::{Charge, Limiter};
use tollgate::metering::ledger::{Entry, Record, Tokens};
use tollgate::metering::PriceBook;

const CONFIG: &str = "
listen: 127.0.0.1:1
providers:
  - { name: p, dialect: openai, base_url: http://127.0.0.1:1/v1, models: [\"*\"] }
keys:
  - { key: sk-bench-key-1, name: k, group: g, budget_usd: 1000000 }
groups:
  g: { price_multiplier: 1.25 }
pricing:
  gpt-4o: { input: 2.50, cached_input: 1.25, output: 10.00 }
";

fn metering(c: &mut Criterion) {
    let config = Config::parse(Path::new("bench.yaml"), CONFIG, &|_| None).expect("config");
    let prices = PriceBook::new(&config);
    let limiter = Limiter::new(&config);
    let usage = Usage {
        input_total: 1200,
        input_cache_read: 800,
        input_cache_write: 0,
        output_total: 300,
        output_reasoning: 100,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("metering");
    g.bench_function("cost", |b| {
        b.iter(|| prices.cost(black_box("gpt-4o"), Some("g"), black_box(&usage)))
    });
    g.bench_function("reserve_and_charge", |b| {
        b.iter(|| {
            rt.block_on(async {
                let charge = Charge {
                    account: Charge::account_of("k"),
                    budget: 1_000_000_000_000,
                    reserve: prices
                        .worst_case("gpt-4o", Some("g"), 1200, 4096)
                        .expect("priced"),
                };
                let (mut permit, _) = limiter
                    .admit(&[], 0, Some(black_box(&charge)))
                    .await
                    .expect("admitted");
                permit.charge(black_box(4_063));
            })
        })
    });
    let record = Record {
        ts: "2026-11-22T22:40:01.123Z".into(),
        request_id: "9f2c0e7a1b3d4c5e6f708192a3b4c5d6".into(),
        key: "k".into(),
        group: Some("g".into()),
        dialect: "anthropic",
        model: Some("claude-sonnet-4-5".into()),
        provider: Some("openai-main".into()),
        provider_dialect: Some("openai"),
        upstream_model: Some("gpt-4o".into()),
        stream: true,
        status: 200,
        end: "completed",
        usage: Some(Tokens {
            input: 1200,
            cache_read: 800,
            cache_write: 0,
            output: 300,
            reasoning: 100,
        }),
        estimated: false,
        cost_micro_usd: Some(4_063),
        ms: 412,
        ttft_ms: Some(180),
        upstream_ms: Some(405),
        attempts: 1,
    };
    let entry = Entry::Request(Box::new(record));
    let mut line = Vec::with_capacity(1024);
    g.bench_function("ledger_line", |b| {
        b.iter(|| {
            line.clear();
            serde_json::to_writer(&mut line, black_box(&entry)).expect("serialised");
            black_box(line.len())
        })
    });
    g.finish();
}

criterion_group!(benches, metering);
criterion_main!(benches);
