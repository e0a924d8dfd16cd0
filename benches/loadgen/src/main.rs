//! tollgate-loadgen: the benchmark harness's own load client, for what generic load tools cannot
//! measure.
//!
//! - `stream`: CONNS connections, each sending the request again as soon as its answer ends, and
//!   timing the answer's server-sent events: time to the first event (TTFT) and the gap between
//!   two events. `--abort-every K` hangs up every K-th stream after its first event (a
//!   cancellation storm). `--ramp` spreads the connections' first requests over that long.
//! - `rate`: an open-loop rate. Each of CONNS connections sends on its own schedule, RATE/CONNS
//!   a second; latency counts from the moment a request was due, not from when it went out, so a
//!   stalled proxy cannot hide its stall by slowing the load (coordinated omission).
//!
//! Prints one JSON object: counts, req/s and latency percentiles in microseconds.
//!
//! Usage: tollgate-loadgen stream|rate --url URL (--body JSON | --body-file FILE)
//!            [--header 'Name: value']... [--conns N] [--duration SECS] [--rate R]
//!            [--abort-every K] [--ramp SECS] [--threads N]

mod http;
mod stats;

use http::{Conn, Request};
use serde_json::json;
use stats::Samples;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long past the run's end an answer may still take.
const GRACE: Duration = Duration::from_secs(30);

struct Args {
    mode: String,
    url: String,
    body: Vec<u8>,
    headers: Vec<String>,
    conns: usize,
    duration: Duration,
    rate: f64,
    abort_every: usize,
    /// Connections start evenly over this long, as real streams do, not all in one instant.
    ramp: Duration,
    threads: usize,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or("give a mode: stream or rate")?;
    if mode != "stream" && mode != "rate" {
        return Err(format!("unknown mode {mode}: stream or rate"));
    }
    let mut a = Args {
        mode,
        url: String::new(),
        body: Vec::new(),
        headers: Vec::new(),
        conns: 16,
        duration: Duration::from_secs(10),
        rate: 0.0,
        abort_every: 0,
        ramp: Duration::ZERO,
        threads: 1,
    };
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        let num = |v: String| match v.parse::<f64>() {
            Ok(n) if n.is_finite() && n >= 0.0 => Ok(n),
            Ok(_) => Err(format!("{arg}: give a number of zero or more")),
            Err(e) => Err(format!("{arg}: {e}")),
        };
        match arg.as_str() {
            "--url" => a.url = value()?,
            "--body" => a.body = value()?.into_bytes(),
            "--body-file" => {
                let path = value()?;
                a.body = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
            }
            "--header" => a.headers.push(value()?),
            "--conns" => a.conns = num(value()?)? as usize,
            "--duration" => a.duration = Duration::from_secs_f64(num(value()?)?),
            "--rate" => a.rate = num(value()?)?,
            "--abort-every" => a.abort_every = num(value()?)? as usize,
            "--ramp" => a.ramp = Duration::from_secs_f64(num(value()?)?),
            "--threads" => a.threads = num(value()?)? as usize,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.url.is_empty() || a.conns == 0 {
        return Err("--url and a non-zero --conns are needed".into());
    }
    if a.mode == "rate" && a.rate <= 0.0 {
        return Err("rate mode needs --rate".into());
    }
    Ok(a)
}

/// What one connection's worker saw.
#[derive(Default)]
struct Tally {
    ok: u64,
    failed: u64,
    aborted: u64,
    /// Connections that broke or were refused.
    io_errors: u64,
    latency: Samples,
    ttft: Samples,
    gaps: Samples,
}

impl Tally {
    fn merge(&mut self, o: Tally) {
        self.ok += o.ok;
        self.failed += o.failed;
        self.aborted += o.aborted;
        self.io_errors += o.io_errors;
        self.latency.merge(o.latency);
        self.ttft.merge(o.ttft);
        self.gaps.merge(o.gaps);
    }
}

/// Keeps one connection busy until `end`; `due(k)` is when its k-th request is due (`None`: at
/// once, closed loop).
async fn worker(
    req: Arc<Request>,
    end: Instant,
    due: impl Fn(u64) -> Option<Instant>,
    abort_every: usize,
    index: usize,
    start_at: Instant,
) -> Tally {
    let mut t = Tally::default();
    tokio::time::sleep_until(start_at.into()).await;
    let mut conn: Option<Conn> = None;
    let mut k: u64 = 0;
    // When the connection's last exchange ended.
    let mut free_since = start_at;
    loop {
        let due_at = due(k);
        // A request the answer before it kept waiting counts from when it was due; one that
        // waited for its time counts from when it went out (the timer wakes up to a millisecond
        // late, and that is not the server's doing).
        let mut late_by_server = false;
        if let Some(at) = due_at {
            if at >= end {
                break;
            }
            late_by_server = free_since > at;
            if Instant::now() < at {
                tokio::time::sleep_until(at.into()).await;
            }
        } else if Instant::now() >= end {
            break;
        }
        // Which streams are cut is spread over connections and over time.
        let abort = abort_every > 0 && (k as usize + index) % abort_every == abort_every - 1;
        k += 1;
        // A new connection's setup is part of what its request waits for.
        let sent = Instant::now();
        let c = match conn.take() {
            Some(c) => c,
            None => match Conn::open(req.addr).await {
                Ok(c) => c,
                Err(_) => {
                    t.io_errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let mut c = c;
        let start = match due_at {
            Some(at) if late_by_server => at,
            _ => sent,
        };
        let mut last: Option<Instant> = None;
        let (ttft, gaps) = (&mut t.ttft, &mut t.gaps);
        // Nothing waits for ever: an answer still unfinished this long after the run's end is
        // a failure.
        let deadline = end + GRACE;
        let result = tokio::time::timeout_at(
            deadline.into(),
            c.exchange(&req, |at| {
                match last {
                    None => ttft.add(at - start),
                    Some(prev) => gaps.add(at - prev),
                }
                last = Some(at);
                if abort {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            }),
        )
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()));
        free_since = Instant::now();
        match result {
            Ok(Some(outcome)) => {
                if (200..300).contains(&outcome.status) {
                    t.ok += 1;
                    t.latency.add(Instant::now() - start);
                } else {
                    t.failed += 1;
                }
                if outcome.reusable {
                    conn = Some(c);
                }
            }
            Ok(None) => t.aborted += 1,
            Err(_) => t.io_errors += 1,
        }
        // A rate the server cannot keep up with is not caught up on for ever.
        if Instant::now() > end + GRACE {
            break;
        }
    }
    t
}

async fn run(a: Args) -> Result<serde_json::Value, String> {
    let req = Arc::new(Request::post(&a.url, &a.body, &a.headers)?);
    let begin = Instant::now() + Duration::from_millis(20);
    let end = begin + a.duration;
    let mut tasks = Vec::with_capacity(a.conns);
    for i in 0..a.conns {
        let req = req.clone();
        let (mode_rate, rate, conns) = (a.mode == "rate", a.rate, a.conns);
        // Connection i sends at begin + (k·conns + i)/rate: together, evenly `rate` a second.
        let due = move |k: u64| {
            mode_rate.then(|| {
                begin + Duration::from_secs_f64((k as f64 * conns as f64 + i as f64) / rate)
            })
        };
        let start_at = begin + a.ramp.mul_f64(i as f64 / a.conns as f64);
        tasks.push(tokio::spawn(worker(
            req,
            end,
            due,
            a.abort_every,
            i,
            start_at,
        )));
    }
    let mut all = Tally::default();
    for t in tasks {
        all.merge(t.await.map_err(|e| e.to_string())?);
    }
    let secs = (Instant::now() - begin)
        .as_secs_f64()
        .max(a.duration.as_secs_f64());
    Ok(json!({
        "mode": a.mode,
        "conns": a.conns,
        "duration_s": a.duration.as_secs_f64(),
        "target_rate": if a.mode == "rate" { json!(a.rate) } else { json!(null) },
        "ok": all.ok,
        "failed": all.failed,
        "aborted": all.aborted,
        "io_errors": all.io_errors,
        "rps": ((all.ok as f64 / secs) * 10.0).round() / 10.0,
        "events": all.gaps.len() + all.ttft.len(),
        "latency_us": all.latency.summary(),
        "ttft_us": all.ttft.summary(),
        "gap_us": all.gaps.summary(),
    }))
}

fn main() {
    let a = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("tollgate-loadgen: {e}");
            std::process::exit(2);
        }
    };
    let rt = if a.threads > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(a.threads)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let result = rt
        .map_err(|e| e.to_string())
        .and_then(|rt| rt.block_on(run(a)));
    match result {
        Ok(v) => println!("{v}"),
        Err(e) => {
            eprintln!("tollgate-loadgen: {e}");
            std::process::exit(1);
        }
    }
}
