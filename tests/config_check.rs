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
    let (code, out, _, _) = check_yaml(yaml, &[("TOLLGATE_TEST_UNSET_KEY", "sk-x")]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn limits_that_are_not_enforced_yet_are_said_so() {
    let yaml = format!(
        "listen: 127.0.0.1:1\nproviders:\n{GOOD_PROVIDER}keys:\n  - {{ key: sk-check-k1, name: n, limits: {{ rpm: 5 }}, budget_usd: 1.5 }}\n"
    );
    let (code, out, err, file) = check_yaml(&yaml, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        format!("ok: {file} (1 providers, 1 keys)\nnote: configured but not enforced by this version: limits, budget_usd\n")
    );
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
            "listen: 127.0.0.1:1\nproviders:\n  - { name: a, dialect: anthropic, base_url: http://x, models: [m] }\n".into(),
            "providers[0].dialect: expected `openai`: the `anthropic` provider dialect is not implemented in this version".into(),
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
