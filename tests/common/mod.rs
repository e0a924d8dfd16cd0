//! Test harness: the real `tollgate` binary on ephemeral ports, in-process mock providers, and
//! RAII guards that stop everything when a test ends.

#![allow(dead_code)]

pub mod http;
pub mod redis;

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use tollgate_mock::{Behavior, MockConfig, MockProvider, Reset, ToolCall};

pub const KEY: &str = "sk-client-test";
pub const UPSTREAM_KEY: &str = "sk-upstream-test";

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A mock provider that requires `UPSTREAM_KEY` and calls itself `name`.
pub async fn mock(name: &str) -> MockProvider {
    MockProvider::start(MockConfig {
        name: name.into(),
        api_key: Some(UPSTREAM_KEY.into()),
        ..MockConfig::default()
    })
    .await
    .unwrap()
}

/// A provider entry for the config.
pub fn provider(name: &str, base_url: &str, models: &str, extra: &str) -> String {
    format!(
        "  - {{ name: {name}, dialect: openai, base_url: \"{base_url}\", api_key: {UPSTREAM_KEY}, models: {models}{sep}{extra} }}\n",
        sep = if extra.is_empty() { "" } else { ", " }
    )
}

/// The usual key: may use any model.
pub fn keys() -> String {
    format!("keys:\n  - {{ key: {KEY}, name: tester, models: [\"*\"] }}\n")
}

/// A gateway in front of `m` alone, serving gpt-4o-mini, with the usual key; `extra` adds
/// fields to the provider entry.
pub async fn gateway_for(m: &MockProvider, extra: &str) -> TestGateway {
    let yaml = format!(
        "providers:\n{}{}",
        provider(m.name(), &m.base_url(), "[gpt-4o-mini]", extra),
        keys()
    );
    TestGateway::start(&yaml).await
}

/// Makes `m` hold every stream open after its first content event, until the returned
/// semaphore is given permits.
pub fn held_streams(m: &MockProvider) -> std::sync::Arc<tokio::sync::Semaphore> {
    let hold = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
    m.set_default(Behavior {
        hold_after_first: Some(hold.clone()),
        ..Behavior::default()
    });
    hold
}

/// The request a client of `dialect` sends for `model`.
pub fn ask_in(dialect: &str, model: &str, stream: bool) -> (String, serde_json::Value) {
    let text = "say hi please";
    match dialect {
        "openai" => (
            "/v1/chat/completions".into(),
            serde_json::json!({"model": model, "stream": stream,
                "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}]}),
        ),
        "openai-responses" => (
            "/v1/responses".into(),
            serde_json::json!({"model": model, "stream": stream, "instructions": "Be brief.", "input": text}),
        ),
        "anthropic" => (
            "/v1/messages".into(),
            serde_json::json!({"model": model, "stream": stream, "max_tokens": 256, "system": "Be brief.",
                "messages": [{"role": "user", "content": text}]}),
        ),
        _ => (
            if stream {
                format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
            } else {
                format!("/v1beta/models/{model}:generateContent")
            },
            serde_json::json!({"systemInstruction": {"parts": [{"text": "Be brief."}]},
                "contents": [{"role": "user", "parts": [{"text": text}]}]}),
        ),
    }
}

/// One provider of each dialect on `m`, named `<prefix>-<dialect>` and serving the model of
/// the same name, as YAML list items.
pub fn providers_of_every_dialect(m: &MockProvider, prefix: &str) -> String {
    let host = format!("http://{}", m.addr());
    let mut yaml = String::new();
    for d in ["openai", "openai-responses", "anthropic", "gemini"] {
        let base = match d {
            "openai" | "openai-responses" => format!("{host}/v1"),
            _ => host.clone(),
        };
        yaml.push_str(&format!(
            "  - {{ name: {prefix}-{d}, dialect: {d}, base_url: \"{base}\", api_key: {UPSTREAM_KEY}, models: [{prefix}-{d}] }}\n"
        ));
    }
    yaml
}

/// Sends what a client of `dialect` sends for `model` (see [`ask_in`]); returns once the
/// response head has arrived.
pub async fn open_as(addr: SocketAddr, dialect: &str, model: &str, stream: bool) -> http::Conn {
    let (path, body) = ask_in(dialect, model, stream);
    let auth = format!("Bearer {KEY}");
    let headers = [
        ("authorization", auth.as_str()),
        ("anthropic-version", "2023-06-01"),
    ];
    http::Conn::open(addr, "POST", &path, &headers, body.to_string().as_bytes()).await
}

/// The same, read to its end.
pub async fn ask_as(addr: SocketAddr, dialect: &str, model: &str, stream: bool) -> http::Response {
    open_as(addr, dialect, model, stream).await.finish().await
}

/// `n` chat requests sent at once, spread over `addrs` in turn: their statuses.
pub async fn hellos_at_once(addrs: &[SocketAddr], n: usize) -> Vec<u16> {
    let asks: Vec<_> = (0..n)
        .map(|i| {
            let addr = addrs[i % addrs.len()];
            tokio::spawn(async move { http::chat(addr, KEY, &hello("gpt-4o-mini")).await.status })
        })
        .collect();
    let mut statuses = Vec::new();
    for a in asks {
        statuses.push(a.await.unwrap());
    }
    statuses
}

/// The lines of the usage ledger at `log` once it holds `n` of them (and not more).
pub async fn ledger_lines(log: &std::path::Path, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= n {
            assert_eq!(lines.len(), n, "{text}");
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} lines:\n{text}",
            lines.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The Python that runs the SDK clients and the Prometheus parser: `$TOLLGATE_PYTHON`, else
/// `.venv/bin/python` (what `scripts/test` installs), else `python3`.
pub fn python() -> String {
    if let Ok(p) = std::env::var("TOLLGATE_PYTHON") {
        return p;
    }
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python");
    if std::path::Path::new(venv).exists() {
        venv.to_string()
    } else {
        "python3".to_string()
    }
}

/// A one-turn chat request for `model`.
pub fn hello(model: &str) -> serde_json::Value {
    serde_json::json!({"model": model, "messages": [{"role": "user", "content": "say hi please"}]})
}

/// The same request, streamed.
pub fn streaming(model: &str) -> serde_json::Value {
    let mut b = hello(model);
    b["stream"] = serde_json::json!(true);
    b
}

/// Starts a streamed chat request and returns once the response head has arrived.
pub async fn open_stream(gw: &TestGateway, body: &serde_json::Value) -> http::Conn {
    let auth = format!("Bearer {KEY}");
    http::Conn::open(
        gw.addr,
        "POST",
        "/v1/chat/completions",
        &[("authorization", &auth)],
        body.to_string().as_bytes(),
    )
    .await
}

pub struct TestGateway {
    child: Option<Child>,
    pub addr: SocketAddr,
    pub admin: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl TestGateway {
    /// Starts tollgate with `body` (providers, keys, …) under generated listen addresses, and
    /// waits until it is ready. A `server:` section in `body` replaces the default one.
    pub async fn start(body: &str) -> TestGateway {
        let dir = tempfile::tempdir().unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let admin: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let server = if body.contains("\nserver:") || body.starts_with("server:") {
            String::new()
        } else {
            "server: { threads: 1, grace_period: 10s }\n".to_string()
        };
        let yaml = format!("listen: {addr}\nadmin_listen: {admin}\n{server}{body}");
        let conf = dir.path().join("tollgate.yaml");
        std::fs::File::create(&conf)
            .unwrap()
            .write_all(yaml.as_bytes())
            .unwrap();
        let log = dir.path().join("tollgate.log");
        let child = Command::new(env!("CARGO_BIN_EXE_tollgate"))
            .args(["serve", "-c"])
            .arg(&conf)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let mut gw = TestGateway {
            child: Some(child),
            addr,
            admin,
            log,
            _dir: dir,
        };
        gw.wait_ready().await;
        gw
    }

    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().unwrap()) {
                panic!(
                    "tollgate exited with {status} while starting:\n{}",
                    self.log()
                );
            }
            if http::probe(self.admin, "/readyz").await == Some(200) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("tollgate did not become ready:\n{}", self.log());
    }

    /// Everything tollgate logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log holds `needle` (a line is written just after its answer), and
    /// returns the whole log.
    pub async fn log_with(&self, needle: &str) -> String {
        self.log_lines_with(needle, 1).await
    }

    /// Waits until `n` lines of the log hold `needle`, and returns the whole log.
    pub async fn log_lines_with(&self, needle: &str, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.lines().filter(|l| l.contains(needle)).count() >= n {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "the log never said {needle:?} {n} times:\n{log}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{sig}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Waits for the process to exit; returns its exit code.
    pub async fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut().unwrap();
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("tollgate did not exit within {within:?}:\n{}", self.log());
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
