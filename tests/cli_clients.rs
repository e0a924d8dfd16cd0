//! The vendors' own coding CLIs — Claude Code, Codex CLI and Gemini CLI — run against tollgate,
//! each in front of a provider of a *different* dialect, each through a whole tool round trip:
//! the provider asks for a shell tool, the CLI runs `echo` on this machine, sends the output
//! back, and the provider's final answer quotes it.
//!
//! The CLIs come from npm (`scripts/deps --test` installs them into `.tools/npm`);
//! `$TOLLGATE_CLI_BIN` names another folder holding `claude`, `codex` and `gemini`. Each runs
//! offline with a throwaway HOME: the settings below keep it from calling any host but
//! tollgate (see `shared/reference/real-clients.md`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The words the tool prints; the final answer must quote them.
const TOOL_OUTPUT: &str = "hello-from-tool";

fn bin(name: &str) -> PathBuf {
    let dir = std::env::var("TOLLGATE_CLI_BIN").map_or_else(
        |_| Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/npm/node_modules/.bin"),
        PathBuf::from,
    );
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/test, which installs the CLIs",
        path.display()
    );
    path
}

/// A gateway in front of one mock provider of `dialect` that serves every model and asks for
/// `tool` until the conversation carries its result.
async fn gateway(dialect: &str, tool: &str, arguments: Value) -> (MockProvider, TestGateway) {
    let m = mock(&format!("{dialect} provider")).await;
    m.set_default(Behavior {
        tool_call: Some(ToolCall {
            name: tool.into(),
            arguments,
        }),
        ..Behavior::default()
    });
    let base = match dialect {
        "openai" | "openai-responses" => m.base_url(),
        _ => format!("http://{}", m.addr()),
    };
    let yaml = format!(
        "providers:\n  - {{ name: upstream, dialect: {dialect}, base_url: \"{base}\", api_key: {UPSTREAM_KEY}, models: [\"*\"] }}\n{}",
        keys()
    );
    let gw = TestGateway::start(&yaml).await;
    (m, gw)
}

/// Runs the CLI to completion (at most 90 s) in a fresh HOME and working folder.
async fn run(mut cmd: Command, gw: &TestGateway) -> String {
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("the CLI starts");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the CLI failed ({:?} after {:?}):\n{stdout}\n{stderr}\n--- tollgate log ---\n{}",
        out.status,
        started.elapsed(),
        gw.log()
    );
    stdout
}

/// A command with a HOME of its own, run in `home` with no input, stopped after 90 s.
fn command(program: &Path, home: &Path) -> Command {
    let mut cmd = Command::new("timeout");
    cmd.arg("90")
        .arg(program)
        .current_dir(home)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("TERM", "dumb")
        .stdin(std::process::Stdio::null());
    cmd
}

/// What the provider saw: the last request must carry the tool's output back (in the
/// provider's own dialect); and what the CLI printed as its final answer, which must be the
/// provider's answer to that result (the mock answers `Tool said: <the result>`).
fn assert_round_trip(
    m: &MockProvider,
    final_answer: Option<String>,
    stdout: &str,
    gw: &TestGateway,
) {
    let generate: Vec<_> = m
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && !r.target.contains("count"))
        .collect();
    assert!(
        generate.len() >= 2,
        "one turn for the tool call and one for its result: {} requests\n{stdout}\n{}",
        generate.len(),
        gw.log()
    );
    let last = String::from_utf8_lossy(&generate[generate.len() - 1].body).into_owned();
    assert!(
        last.contains(TOOL_OUTPUT),
        "the tool's output reached the provider: {last}"
    );
    let answer = final_answer.unwrap_or_default();
    assert!(
        answer.starts_with("Tool said: ") && answer.contains(TOOL_OUTPUT),
        "the final answer quotes the tool's output: {answer:?}\n{stdout}\n{}",
        gw.log()
    );
}

/// The JSON lines of a CLI's event output.
fn events(stdout: &str) -> impl Iterator<Item = Value> + '_ {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
}

/// Claude Code (Anthropic Messages, `stream: true`, `?beta=true`) with its `Bash` tool.
async fn claude_code(dialect: &str) {
    let (m, gw) = gateway(
        dialect,
        "Bash",
        json!({"command": format!("echo {TOOL_OUTPUT}"), "description": "Print a word"}),
    )
    .await;
    let home = tempfile::tempdir().unwrap();
    let mut cmd = command(&bin("claude"), home.path());
    cmd.env("ANTHROPIC_BASE_URL", format!("http://{}", gw.addr))
        .env("ANTHROPIC_AUTH_TOKEN", KEY)
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .env("DISABLE_AUTOUPDATER", "1")
        .args(["-p", "run the echo tool", "--model", "claude-sonnet-4-5"])
        .args(["--allowedTools", "Bash(echo:*)"])
        .args(["--output-format", "stream-json", "--verbose"]);
    let stdout = run(cmd, &gw).await;
    let result = events(&stdout)
        .find(|e| e["type"] == "result")
        .and_then(|e| e["result"].as_str().map(str::to_owned));
    assert_round_trip(&m, result, &stdout, &gw);
}

/// Codex CLI (OpenAI Responses, streamed) with its `exec_command` tool.
async fn codex(dialect: &str) {
    let (m, gw) = gateway(
        dialect,
        "exec_command",
        json!({"cmd": format!("echo {TOOL_OUTPUT}")}),
    )
    .await;
    let home = tempfile::tempdir().unwrap();
    let codex_home = home.path().join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            r#"model = "gpt-5"
model_provider = "tollgate"
[analytics]
enabled = false
[features]
plugins = false
[model_providers.tollgate]
name = "tollgate"
base_url = "http://{}/v1"
env_key = "TOLLGATE_KEY"
wire_api = "responses"
request_max_retries = 0
stream_max_retries = 0
"#,
            gw.addr
        ),
    )
    .unwrap();
    let mut cmd = command(&bin("codex"), home.path());
    cmd.env("CODEX_HOME", &codex_home)
        .env("TOLLGATE_KEY", KEY)
        .args([
            "exec",
            "--skip-git-repo-check",
            "--json",
            "run the echo tool",
        ]);
    let stdout = run(cmd, &gw).await;
    let message = events(&stdout)
        .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
        .last()
        .and_then(|e| e["item"]["text"].as_str().map(str::to_owned));
    assert_round_trip(&m, message, &stdout, &gw);
}

/// Gemini CLI (Gemini `streamGenerateContent?alt=sse` on v1beta) with `run_shell_command`,
/// which it offers in `--yolo` mode.
async fn gemini_cli(dialect: &str) {
    let (m, gw) = gateway(
        dialect,
        "run_shell_command",
        json!({"command": format!("echo {TOOL_OUTPUT}"), "description": "Print a word"}),
    )
    .await;
    let home = tempfile::tempdir().unwrap();
    let settings = home.path().join(".gemini");
    std::fs::create_dir_all(&settings).unwrap();
    std::fs::write(
        settings.join("settings.json"),
        json!({"security": {"auth": {"selectedType": "gemini-api-key"}},
               "privacy": {"usageStatisticsEnabled": false},
               "telemetry": {"enabled": false},
               "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false}})
        .to_string(),
    )
    .unwrap();
    let mut cmd = command(&bin("gemini"), home.path());
    cmd.env("GOOGLE_GEMINI_BASE_URL", format!("http://{}", gw.addr))
        .env("GEMINI_API_KEY", KEY)
        .env("GEMINI_CLI_TRUST_WORKSPACE", "true")
        .args(["-m", "gemini-2.5-flash", "-p", "run the echo tool"])
        .args(["--yolo", "--output-format", "json"]);
    let stdout = run(cmd, &gw).await;
    let response = serde_json::from_str::<Value>(&stdout)
        .ok()
        .and_then(|v| v["response"].as_str().map(str::to_owned));
    assert_round_trip(&m, response, &stdout, &gw);
}

#[tokio::test]
async fn claude_code_against_an_openai_chat_provider() {
    claude_code("openai").await;
}

#[tokio::test]
async fn claude_code_against_an_openai_responses_provider() {
    claude_code("openai-responses").await;
}

#[tokio::test]
async fn claude_code_against_a_gemini_provider() {
    claude_code("gemini").await;
}

#[tokio::test]
async fn codex_against_an_openai_chat_provider() {
    codex("openai").await;
}

#[tokio::test]
async fn codex_against_an_anthropic_provider() {
    codex("anthropic").await;
}

#[tokio::test]
async fn codex_against_a_gemini_provider() {
    codex("gemini").await;
}

#[tokio::test]
async fn gemini_cli_against_an_openai_chat_provider() {
    gemini_cli("openai").await;
}

#[tokio::test]
async fn gemini_cli_against_an_openai_responses_provider() {
    gemini_cli("openai-responses").await;
}

#[tokio::test]
async fn gemini_cli_against_an_anthropic_provider() {
    gemini_cli("anthropic").await;
}
