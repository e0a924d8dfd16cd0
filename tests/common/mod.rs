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
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "the log never said {needle:?}:\n{log}"
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
