//! What admission costs a request: checking and taking a key's and its group's limits (rpm,
//! concurrency, tpm), then ending the lease and settling the tokens, in the in-process store.

#![allow(clippy::expect_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::path::Path;
use tollgate::config::Config;
use tollgate::limits::Limiter;

const CONFIG: &str = "
listen: 127.0.0.1:1
providers:
  - { name: p, dialect: openai, base_url: http://127.0.0.1:1/v1, models: [\"*\"] }
keys:
  - { key: sk-bench-key-1, name: k, group: g, limits: { rpm: 1000000000, concurrency: 1000000, tpm: 4000000000 } }
groups:
  g: { limits: { rpm: 1000000000, rpd: 1000000000 } }
";

fn admission(c: &mut Criterion) {
    let config = Config::parse(Path::new("bench.yaml"), CONFIG, &|_| None).expect("config");
    let limiter = Limiter::new(&config);
    let key = &config.keys[0];
    let scopes = limiter.client_scopes(&key.name);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut g = c.benchmark_group("admission");
    g.bench_function("local_admit_and_settle", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (mut permit, quota) = limiter
                    .admit(black_box(&scopes), black_box(1200), None)
                    .await
                    .expect("admitted");
                black_box(quota);
                permit.end_lease();
                permit.settle(Some(300));
            })
        })
    });
    g.bench_function("local_no_limits", |b| {
        b.iter(|| {
            rt.block_on(async {
                let (permit, _) = limiter
                    .admit(black_box(&[]), 0, None)
                    .await
                    .expect("admitted");
                black_box(permit);
            })
        })
    });
    g.finish();
}

criterion_group!(benches, admission);
criterion_main!(benches);
