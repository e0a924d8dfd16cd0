//! The official Python SDKs — openai (Chat Completions and Responses), anthropic and
//! google-genai — run against tollgate, each in front of providers of every dialect (see the
//! scripts in tests/sdk/).
//!
//! The interpreter is `$TOLLGATE_PYTHON`, else `.venv/bin/python` (what `scripts/test`
//! installs), else `python3`; it must have the `openai`, `anthropic` and `google-genai` packages.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

/// A gateway with a provider of every dialect for `m-<dialect>` (a mock that answers in text)
/// and for `t-<dialect>` (a mock that calls get_weather until it sees the result).
async fn gateway() -> (MockProvider, MockProvider, TestGateway) {
    let plain = mock("plain").await;
    let tools = mock("tools").await;
    tools.set_default(Behavior {
        tool_call: Some(ToolCall {
            name: "get_weather".into(),
            arguments: serde_json::json!({"city": "Paris"}),
        }),
        ..Behavior::default()
    });
    let mut yaml = String::from("providers:\n");
    yaml.push_str(&providers_of_every_dialect(&plain, "m"));
    yaml.push_str(&providers_of_every_dialect(&tools, "t"));
    yaml.push_str(&keys());
    let gw = TestGateway::start(&yaml).await;
    (plain, tools, gw)
}

/// Runs `script` with the gateway's address, and checks it printed `done`.
async fn run(script: &str, base_url: String, gw: &TestGateway, done: &str) {
    let path = format!("{}/tests/sdk/{script}", env!("CARGO_MANIFEST_DIR"));
    let py = python();
    let cmd_py = py.clone();
    // The mock providers live on this test's runtime, so the SDK runs off it.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&cmd_py)
            .arg(path)
            .env("TOLLGATE_BASE_URL", base_url)
            .env("TOLLGATE_KEY", KEY)
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("cannot run {py}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(done),
        "{script} failed ({py}; run scripts/test to install the SDKs):\n{stdout}\n{stderr}\n--- tollgate log ---\n{}",
        gw.log()
    );
}

#[tokio::test]
async fn anthropic_sdk_against_every_provider_dialect() {
    let (_plain, _tools, gw) = gateway().await;
    let base = format!("http://{}", gw.addr);
    run(
        "anthropic_messages.py",
        base,
        &gw,
        "anthropic sdk: messages, streams, tool round trips and errors ok",
    )
    .await;
}

#[tokio::test]
async fn google_genai_sdk_against_every_provider_dialect() {
    let (_plain, _tools, gw) = gateway().await;
    let base = format!("http://{}", gw.addr);
    run(
        "google_genai.py",
        base,
        &gw,
        "google-genai sdk: v1 and v1beta, streams, tool round trips and errors ok",
    )
    .await;
}

#[tokio::test]
async fn openai_sdk_responses_against_every_provider_dialect() {
    let (_plain, _tools, gw) = gateway().await;
    let base = format!("http://{}/v1", gw.addr);
    run(
        "openai_responses.py",
        base,
        &gw,
        "openai sdk responses: text, streams and tool round trips ok",
    )
    .await;
}

#[tokio::test]
async fn openai_sdk_chat_against_every_provider_dialect() {
    let (_plain, _tools, gw) = gateway().await;
    let base = format!("http://{}/v1", gw.addr);
    run(
        "openai_chat_dialects.py",
        base,
        &gw,
        "openai sdk chat: text, streams, usage and tool round trips ok",
    )
    .await;
}
