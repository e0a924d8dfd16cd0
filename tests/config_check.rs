//! `tollgate check`: every shipped config is valid, and a bad one is explained precisely.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn check(path: &std::path::Path, env: &[(&str, &str)]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["check", "-c"])
        .arg(path)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn check_yaml(yaml: &str, env: &[(&str, &str)]) -> (i32, String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, yaml).unwrap();
    let (code, out, err) = check(&path, env);
    (code, out, err, path.display().to_string())
}

#[test]
fn every_config_under_conf_is_valid() {
    let mut seen = 0;
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/conf")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let (code, out, err) = check(&path, &[]);
            assert_eq!(code, 0, "{}: {err}", path.display());
            assert!(out.starts_with("ok: "), "{out}");
            seen += 1;
        }
    }
    assert!(seen >= 2, "conf/ holds the default and the examples");
}

const GOOD_PROVIDER: &str =
    "  - { name: a, dialect: openai, base_url: http://127.0.0.1:1/v1, models: [m] }\n";

#[test]
fn a_bad_value_names_the_file_the_field_and_what_was_expected() {
    let yaml = format!(
        "listen: 127.0.0.1:8080\nproviders:\n{GOOD_PROVIDER}  - {{ name: b, dialect: cohere, base_url: http://x/v1, models: [m] }}\n"
    );
    let (code, _, err, file) = check_yaml(&yaml, &[]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        format!(
            "error: {file}: providers[1].dialect: unknown variant `cohere`, expected one of `openai`, `openai-responses`, `anthropic`, `gemini`"
        )
    );
}

#[test]
fn unknown_fields_are_rejected() {
    let yaml = format!("listen: 127.0.0.1:8080\nproviders:\n{GOOD_PROVIDER}keys:\n  - {{ key: sk-check-k1, name: n, modles: [x] }}\n");
    let (code, _, err, file) = check_yaml(&yaml, &[]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with(&format!(
            "error: {file}: keys[0].modles: unknown field `modles`, expected one of"
        )),
        "{err}"
    );
}

#[test]
fn a_missing_environment_variable_is_named() {
    let yaml = "listen: 127.0.0.1:8080\nproviders:\n  - { name: a, dialect: openai, base_url: http://127.0.0.1:1/v1, api_key: \"${TOLLGATE_TEST_UNSET_KEY}\", models: [m] }\n";
    let (code, _, err, file) = check_yaml(yaml, &[]);
    assert_eq!(code, 2);
    assert_eq!(
        err.trim(),
        format!("error: {file}: providers[0].api_key: environment variable TOLLGATE_TEST_UNSET_KEY is not set")
    );
    let (code, out, _, _) = check_yaml(yaml, &[("TOLLGATE_TEST_UNSET_KEY", "sk-x-long-enough")]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn limits_and_budgets_check_without_notes() {
    // Everything configured is enforced: nothing is said beyond `ok`.
    let yaml = format!(
        "listen: 127.0.0.1:1\nproviders:\n{GOOD_PROVIDER}keys:\n  - {{ key: sk-check-k1, name: n, limits: {{ rpm: 5, rpd: 100, concurrency: 2, tpm: 9000 }}, budget_usd: 1.5 }}\n"
    );
    let (code, out, err, file) = check_yaml(&yaml, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, format!("ok: {file} (1 providers, 1 keys)\n"));
}

#[test]
fn work_stealing_is_a_flag() {
    for value in ["true", "false"] {
        let yaml = format!(
            "listen: 127.0.0.1:1\nserver: {{ threads: 4, work_stealing: {value} }}\nproviders:\n{GOOD_PROVIDER}"
        );
        let (code, _, err, _) = check_yaml(&yaml, &[]);
        assert_eq!(code, 0, "{err}");
    }
    let yaml = format!(
        "listen: 127.0.0.1:1\nserver: {{ work_stealing: sometimes }}\nproviders:\n{GOOD_PROVIDER}"
    );
    let (code, _, err, _) = check_yaml(&yaml, &[]);
    assert_eq!(code, 2);
    assert!(err.contains("work_stealing"), "{err}");
}

#[test]
fn every_provider_dialect_is_accepted() {
    for dialect in ["openai", "openai-responses", "anthropic", "gemini"] {
        let yaml = format!("listen: 127.0.0.1:1\nproviders:\n  - {{ name: a, dialect: {dialect}, base_url: http://x, models: [m] }}\n");
        let (code, out, err, _) = check_yaml(&yaml, &[]);
        assert_eq!(code, 0, "{dialect}: {out}{err}");
    }
}

#[test]
fn semantic_errors_name_their_field() {
    let cases = [
        (
            format!("listen: nowhere\nproviders:\n{GOOD_PROVIDER}"),
            "listen: expected an address like 127.0.0.1:8080, got `nowhere`".to_string(),
        ),
        (
            "listen: 127.0.0.1:1\nproviders:\n  - { name: a, dialect: openai, base_url: ftp://x, models: [m] }\n".into(),
            "providers[0].base_url: expected an http:// or https:// URL like https://api.openai.com/v1, got `ftp://x`".into(),
        ),
        (
            format!("listen: 127.0.0.1:1\nproviders:\n{GOOD_PROVIDER}keys:\n  - {{ key: sk-check-k1, name: n, group: vip }}\n"),
            "keys[0].group: expected a group declared under `groups`, got `vip`".into(),
        ),
        (
            format!("listen: 127.0.0.1:1\nproviders:\n{GOOD_PROVIDER}keys:\n  - {{ key_sha256: abc, name: n }}\n"),
            "keys[0].key_sha256: expected 64 hex digits (the SHA-256 of the key)".into(),
        ),
        (
            format!("listen: 127.0.0.1:1\nproviders:\n{GOOD_PROVIDER}{GOOD_PROVIDER}"),
            "providers[1].name: duplicate provider name `a`".into(),
        ),
        (
            "listen: 127.0.0.1:1\nproviders:\n  - { name: a, dialect: openai, base_url: http://x/v1, models: [m], timeouts: { idle: soon } }\n".into(),
            "providers[0].timeouts.idle: ".into(),
        ),
        (
            "listen: 127.0.0.1:1\nproviders:\n  - { name: a, dialect: anthropic, base_url: http://x, models: [m], reasoning_content: true }\n".into(),
            "providers[0].reasoning_content: only a provider of dialect `openai` takes `reasoning_content`".into(),
        ),
        (
            format!("listen: 127.0.0.1:1\nproviders:\n{GOOD_PROVIDER}keys:\n  - {{ key: sk-check-k1, name: n, limits: {{ rpm: 0 }} }}\n"),
            "keys[0].limits.rpm: expected at least 1".into(),
        ),
        (
            "listen: 127.0.0.1:1\nproviders:\n  - { name: a, dialect: openai, base_url: http://x/v1, models: [m], limits: { tpm: 0 } }\n".into(),
            "providers[0].limits.tpm: expected at least 1".into(),
        ),
        (
            format!("listen: 127.0.0.1:1\nmedia: {{ max_bytes: 0 }}\nproviders:\n{GOOD_PROVIDER}"),
            "media.max_bytes: expected at least 1".into(),
        ),
        (
            format!("listen: 127.0.0.1:1\nmedia: {{ timeout: 0s }}\nproviders:\n{GOOD_PROVIDER}"),
            "media.timeout: expected a duration above zero, like 10s".into(),
        ),
    ];
    for (yaml, expected) in cases {
        let (code, _, err, file) = check_yaml(&yaml, &[]);
        assert_eq!(code, 2, "{yaml}");
        assert!(
            err.starts_with(&format!("error: {file}: {expected}")),
            "expected {expected:?}, got {err:?}"
        );
    }
}

#[test]
fn secrets_too_short_to_mask_are_refused() {
    for (entry, at) in [
        (
            "providers:\n  - { name: a, dialect: openai, base_url: http://127.0.0.1:1/v1, api_key: sk-1234, models: [m] }\n",
            "providers[0].api_key",
        ),
        (
            "providers:\n  - { name: a, dialect: openai, base_url: http://127.0.0.1:1/v1, models: [m] }\nkeys:\n  - { key: short, name: n }\n",
            "keys[0].key",
        ),
    ] {
        let (code, _, err, file) = check_yaml(&format!("listen: 127.0.0.1:1\n{entry}"), &[]);
        assert_eq!(code, 2);
        assert_eq!(
            err.trim(),
            format!("error: {file}: {at}: expected a secret of at least 8 characters")
        );
    }
}

#[test]
fn hardening_limits_are_validated() {
    for (server, at, expected) in [
        (
            "max_event_bytes: 0",
            "server.max_event_bytes",
            "expected at least 1",
        ),
        (
            "max_connections: 0",
            "server.max_connections",
            "expected at least 1",
        ),
        (
            "max_header_bytes: 2000000",
            "server.max_header_bytes",
            "expected at most 1048575",
        ),
        (
            "header_timeout: 0s",
            "server.header_timeout",
            "expected a duration above zero, like 30s",
        ),
        (
            "client_write_timeout: 0s",
            "server.client_write_timeout",
            "expected a duration above zero, like 30s",
        ),
    ] {
        let yaml =
            format!("listen: 127.0.0.1:1\nserver: {{ {server} }}\nproviders:\n{GOOD_PROVIDER}");
        let (code, _, err, file) = check_yaml(&yaml, &[]);
        assert_eq!(code, 2, "{server}");
        assert_eq!(err.trim(), format!("error: {file}: {at}: {expected}"));
    }
    let yaml = "listen: 127.0.0.1:1\nserver: { max_buffered_bytes: 1000000, body_timeout: 5s, max_connections: 100 }\nproviders:\n  - { name: a, dialect: openai, base_url: http://127.0.0.1:1/v1, models: [m], timeouts: { total: 10m } }\n";
    let (code, out, err, _) = check_yaml(yaml, &[]);
    assert_eq!(code, 0, "{out}{err}");
}
