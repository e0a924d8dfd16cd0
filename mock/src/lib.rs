//! A scriptable mock LLM provider for tollgate's tests, demo and benchmarks, speaking all four
//! dialects: OpenAI Chat Completions (`{prefix}/chat/completions`), OpenAI Responses
//! (`{prefix}/responses`), Anthropic Messages (`/v1/messages`, `/v1/messages/count_tokens`) and
//! Gemini (`/{v1beta,v1}/models/{model}:generateContent`, `:streamGenerateContent`,
//! `:countTokens`), each with its own auth header, error shape and event grammar.
//!
//! It speaks HTTP/1.1 on a raw socket so that every behaviour a real provider can show is under
//! the test's control: latency before the header, pauses between events, events split across
//! writes, error statuses, held streams, connection resets, tool calls, and hostile answers.
//! Its answers are written from the dialects reference (§1, §2, §4), never from tollgate's own
//! codecs: usage only where each dialect puts it, each dialect's terminal event.

mod anthropic;
mod extra_usage;
mod gemini;
mod http1;
mod openai;
mod responses;

use bytes::Bytes;
pub use extra_usage::ExtraUsage;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore};
use tokio::task::JoinHandle;

/// How the connection is broken, if at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reset {
    #[default]
    Never,
    /// Close with RST right after the request was read: no response at all.
    BeforeHeader,
    /// Close with RST after the first content event of a stream.
    AfterFirstEvent,
}

/// Builds a whole response, status line to body, from the request it answers: how a test plays
/// a hostile provider (one that echoes the request's headers back, sends a broken header block,
/// redirects, or never ends a line).
#[derive(Clone)]
pub struct Wire(pub Arc<WireFn>);

/// The function behind a [`Wire`].
pub type WireFn = dyn Fn(&Recorded) -> Vec<u8> + Send + Sync;

impl Wire {
    pub fn new(f: impl Fn(&Recorded) -> Vec<u8> + Send + Sync + 'static) -> Self {
        Wire(Arc::new(f))
    }
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Wire(..)")
    }
}

/// A tool call the mock makes instead of answering in text.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    pub name: String,
    /// The arguments, as a JSON object.
    pub arguments: serde_json::Value,
}

/// What the mock does for one request.
#[derive(Debug, Clone)]
pub struct Behavior {
    /// Prompt-cache and reasoning tokens to report on top of the answer's own counts.
    pub extra_usage: Option<ExtraUsage>,
    /// 200 answers normally; anything else answers an OpenAI-shaped error with this status.
    pub status: u16,
    /// Wait before the response header.
    pub header_delay: Duration,
    /// Wait between two stream events.
    pub event_delay: Duration,
    /// In a stream, after the first content event, wait until this is released.
    pub hold_after_first: Option<Arc<Semaphore>>,
    pub reset: Reset,
    /// Write each event in two parts, cut in the middle of its JSON.
    pub split_events: bool,
    /// End the body cleanly but early: no finish chunk, no usage chunk, no `data: [DONE]`.
    pub cut_stream: bool,
    /// The assistant's answer; default: `Hello from <provider name>!`.
    pub reply: Option<String>,
    /// Answer with this tool call, in the dialect's own form, unless the request's last turn
    /// carries a tool result: then the answer is the text `Tool said: <the result's text>`.
    pub tool_call: Option<ToolCall>,
    /// Answer with exactly this content type and body instead (for broken providers).
    pub raw: Option<(String, Bytes)>,
    /// Send `103 Early Hints` before the real answer.
    pub early_hints: bool,
    /// In a stream, wait this long after `data: [DONE]` before ending the body.
    pub linger_after_done: Duration,
    /// Write exactly these bytes as the response (nothing else of this behaviour applies but
    /// `header_delay`, `trickle`, `endless`, `event_delay` and `keep_open`).
    pub wire: Option<Wire>,
    /// Write the `wire` bytes one at a time, this long apart.
    pub trickle: Option<Duration>,
    /// After `wire`, write these bytes again and again (`event_delay` apart) until the peer
    /// stops taking them.
    pub endless: Option<Bytes>,
    /// After `wire`, keep the connection open until the peer closes it.
    pub keep_open: bool,
}

impl Default for Behavior {
    fn default() -> Self {
        Behavior {
            extra_usage: None,
            status: 200,
            header_delay: Duration::ZERO,
            event_delay: Duration::ZERO,
            hold_after_first: None,
            reset: Reset::Never,
            split_events: false,
            cut_stream: false,
            reply: None,
            tool_call: None,
            raw: None,
            early_hints: false,
            linger_after_done: Duration::ZERO,
            wire: None,
            trickle: None,
            endless: None,
            keep_open: false,
        }
    }
}

impl Behavior {
    pub fn status(status: u16) -> Self {
        Behavior {
            status,
            ..Self::default()
        }
    }

    /// Answers with the bytes `f` builds from the request.
    pub fn wire(f: impl Fn(&Recorded) -> Vec<u8> + Send + Sync + 'static) -> Self {
        Behavior {
            wire: Some(Wire::new(f)),
            ..Self::default()
        }
    }
}

/// A request as the mock received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// Settings fixed for the mock's lifetime.
#[derive(Debug, Clone)]
pub struct MockConfig {
    /// Shown in default replies, so tests can tell providers apart.
    pub name: String,
    /// The key clients must send as `Authorization: Bearer`; `None` accepts anything.
    pub api_key: Option<String>,
    /// The path prefix of the API, like `/v1`.
    pub prefix: String,
    /// Models listed by `GET /models`.
    pub models: Vec<String>,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            name: "mock".into(),
            api_key: None,
            prefix: "/v1".into(),
            models: vec!["gpt-4o-mini".into()],
        }
    }
}

pub(crate) struct State {
    pub config: MockConfig,
    pub default: Mutex<Behavior>,
    pub script: Mutex<VecDeque<Behavior>>,
    pub requests: Mutex<Vec<Recorded>>,
    pub record: bool,
    pub seen: Notify,
    /// Writes that failed because the peer had gone: how a test sees tollgate hang up.
    pub broken_writes: std::sync::atomic::AtomicUsize,
}

impl State {
    fn next_behavior(&self) -> Behavior {
        let scripted = self.script.lock().ok().and_then(|mut s| s.pop_front());
        scripted.unwrap_or_else(|| self.default.lock().map(|d| d.clone()).unwrap_or_default())
    }
}

/// A running mock provider; stops when dropped.
pub struct MockProvider {
    addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl MockProvider {
    /// Starts on an ephemeral loopback port.
    pub async fn start(config: MockConfig) -> std::io::Result<Self> {
        Self::start_on(
            "127.0.0.1:0".parse().map_err(std::io::Error::other)?,
            config,
            true,
        )
        .await
    }

    /// Starts on `addr`; `record` keeps every request for inspection (off for load tests).
    pub async fn start_on(
        addr: SocketAddr,
        config: MockConfig,
        record: bool,
    ) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State {
            config,
            default: Mutex::new(Behavior::default()),
            script: Mutex::new(VecDeque::new()),
            requests: Mutex::new(Vec::new()),
            record,
            seen: Notify::new(),
            broken_writes: Default::default(),
        });
        let task = tokio::spawn(http1::serve(listener, state.clone()));
        Ok(MockProvider { addr, state, task })
    }

    /// The name it answers with (`Hello from <name>!`).
    pub fn name(&self) -> &str {
        &self.state.config.name
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to give tollgate, e.g. `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}{}", self.addr, self.state.config.prefix)
    }

    /// What every request gets when nothing is scripted.
    pub fn set_default(&self, b: Behavior) {
        if let Ok(mut d) = self.state.default.lock() {
            *d = b;
        }
    }

    /// What the next request gets (queued, first in first out).
    pub fn push(&self, b: Behavior) {
        if let Ok(mut s) = self.state.script.lock() {
            s.push_back(b);
        }
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state
            .requests
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// How many of its writes failed because tollgate had closed the connection.
    pub fn broken_writes(&self) -> usize {
        self.state
            .broken_writes
            .load(std::sync::atomic::Ordering::Acquire)
    }

    /// Waits until at least `n` requests have arrived.
    pub async fn wait_for_requests(&self, n: usize) {
        loop {
            let seen = self.state.seen.notified();
            if self.requests().len() >= n {
                return;
            }
            seen.await;
        }
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}
