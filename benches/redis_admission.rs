//! What an admission costs against Redis: one script call per request, measured one at a time
//! (latency, p50 and p99) and from 32 tasks at once (throughput), against a `redis-server` the
//! bench starts on a free loopback port. Prints a skip when `redis-server` is not installed.
//!
//!   cargo bench --bench redis_admission

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tollgate::config::Config;
use tollgate::limits::Limiter;

const ROUNDS: usize = 20_000;

fn config(port: u16) -> Config {
    let yaml = format!(
        "
listen: 127.0.0.1:1
state: {{ backend: redis, redis_url: \"redis://127.0.0.1:{port}/0\", on_redis_error: fail_closed }}
providers:
  - {{ name: p, dialect: openai, base_url: http://127.0.0.1:1/v1, models: [\"*\"] }}
keys:
  - {{ key: sk-bench-key-1, name: k, group: g, limits: {{ rpm: 1000000000, concurrency: 1000000, tpm: 4000000000 }} }}
groups:
  g: {{ limits: {{ rpm: 1000000000, rpd: 1000000000 }} }}
"
    );
    Config::parse(Path::new("bench.yaml"), &yaml, &|_| None).expect("config")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let Ok(mut redis) = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
        ])
        .args(["--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
    else {
        println!("redis_admission: skipped (no redis-server; scripts/deps --test installs it)");
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let config = config(port);
        let limiter = Arc::new(Limiter::new(&config));
        let key = &config.keys[0];
        let scopes = limiter.client_scopes(&key.name);
        // Warm up: connection, script load.
        for _ in 0..1000 {
            let (mut p, _) = limiter.admit(&scopes, 1200, None).await.expect("admitted");
            p.settle(Some(300));
        }
        let mut took = Vec::with_capacity(ROUNDS);
        for _ in 0..ROUNDS {
            let t = Instant::now();
            let (mut p, _) = limiter.admit(&scopes, 1200, None).await.expect("admitted");
            took.push(t.elapsed());
            p.settle(Some(300));
        }
        took.sort_unstable();
        let mean = took.iter().sum::<Duration>() / ROUNDS as u32;
        println!(
            "redis admission, one at a time ({ROUNDS}): p50 {:?}, p99 {:?}, mean {:?}",
            percentile(&took, 0.50),
            percentile(&took, 0.99),
            mean
        );
        let started = Instant::now();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (limiter, scopes) = (limiter.clone(), scopes.clone());
                tokio::spawn(async move {
                    for _ in 0..ROUNDS / 32 {
                        let (mut p, _) =
                            limiter.admit(&scopes, 1200, None).await.expect("admitted");
                        p.settle(Some(300));
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
        let n = (ROUNDS / 32) * 32;
        let per_s = n as f64 / started.elapsed().as_secs_f64();
        println!(
            "redis admission, 32 tasks at once: {per_s:.0} admissions/s (each with its settlement)"
        );
        // For the harness's report (benches/run).
        let us = |d: Duration| (d.as_secs_f64() * 1e7).round() / 10.0;
        println!(
            "{{\"p50_us\":{},\"p99_us\":{},\"mean_us\":{},\"per_s\":{per_s:.0}}}",
            us(percentile(&took, 0.50)),
            us(percentile(&took, 0.99)),
            us(mean)
        );
    });
    let _ = redis.kill();
    let _ = redis.wait();
}
