//! The official `openai` Python SDK runs against tollgate (see tests/sdk/openai_chat.py).
//!
//! The interpreter is `$TOLLGATE_PYTHON`, else `.venv/bin/python` (what `scripts/test`
//! installs), else `python3`; it must have the `openai` package.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;

#[tokio::test]
async fn openai_python_sdk_chat_stream_models_and_errors() {
    let m = mock("sdk-mock").await;
    let yaml = format!(
        "providers:\n{}{}",
        provider(
            "sdk",
            &m.base_url(),
            "[gpt-4o, gpt-4o-mini]",
            "model_map: { gpt-4o: gpt-4o-2024-08-06 }"
        ),
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/sdk/openai_chat.py");
    let py = python();
    let base_url = format!("http://{}/v1", gw.addr);
    let cmd_py = py.clone();
    // The mock provider lives on this test's runtime, so the SDK runs off it.
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&cmd_py)
            .arg(script)
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
        out.status.success(),
        "the openai SDK script failed ({py}; run scripts/test to install the SDK):\n{stdout}\n{stderr}\n--- tollgate log ---\n{}",
        gw.log()
    );
    assert!(
        stdout.contains("openai sdk: chat, stream, models and errors ok"),
        "{stdout}"
    );
    let upstream: Vec<_> = m
        .requests()
        .iter()
        .map(|r| r.json()["model"].clone())
        .collect();
    assert_eq!(
        upstream[0], "gpt-4o-2024-08-06",
        "the SDK's model was renamed upstream"
    );
}
