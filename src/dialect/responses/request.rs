//! Responses requests to and from the internal representation (reference: dialects.md §1.B,
//! §3.5, §3.9, §5.5).

use super::items::{decode_input, encode_turns};
use super::tools::{decode_tool_choice, decode_tools, encode_tool_choice, encode_tools};
use crate::dialect::ir::{Block, OutputFormat, Reasoning, Request};
use crate::dialect::InvalidRequest;
use bytes::Bytes;
use serde_json::{json, Map, Value};

fn invalid(message: &'static str) -> InvalidRequest {
    InvalidRequest(message)
}

/// `v[key]` as `T`: absent or `null` is `None`, a value of another type is refused.
fn field<'a, T>(
    v: &'a Value,
    key: &str,
    read: impl Fn(&'a Value) -> Option<T>,
    message: &'static str,
) -> Result<Option<T>, InvalidRequest> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(x) => read(x).map(Some).ok_or(invalid(message)),
    }
}

fn output_format(text: &Value) -> Result<Option<OutputFormat>, InvalidRequest> {
    let f = &text["format"];
    Ok(match f["type"].as_str() {
        None if f.is_null() => None,
        Some("text") => Some(OutputFormat::Text),
        Some("json_object") => Some(OutputFormat::JsonObject),
        Some("json_schema") => Some(OutputFormat::JsonSchema {
            name: f["name"].as_str().unwrap_or("response").to_string(),
            schema: f
                .get("schema")
                .cloned()
                .ok_or(invalid("A json_schema format needs a schema."))?,
            strict: f["strict"].as_bool(),
        }),
        _ => {
            return Err(invalid(
                "'text.format.type' must be text, json_object or json_schema.",
            ))
        }
    })
}

/// The fields decoded into their own place; every other top-level field goes to `extras`.
const KNOWN: &[&str] = &[
    "model",
    "instructions",
    "input",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "temperature",
    "top_p",
    "stream",
    "stream_options",
    "text",
    "reasoning",
    "user",
    "previous_response_id",
    "conversation",
];

/// Decodes a Responses request body.
///
/// A request that points at stored state (`previous_response_id`, `conversation`,
/// `item_reference`) is refused: this gateway keeps no responses (§5.5), and Codex sends the
/// whole conversation with `store: false` anyway.
pub fn decode_request(body: &[u8]) -> Result<Request, InvalidRequest> {
    let v: Value = serde_json::from_slice(body).map_err(|_| {
        invalid("We could not parse the JSON body of your request: it must be a JSON object.")
    })?;
    let obj = v
        .as_object()
        .ok_or(invalid("The request body must be a JSON object."))?;
    if !v["previous_response_id"].is_null() {
        return Err(invalid(
            "previous_response_id is not supported: this gateway does not store responses. \
             Send the whole conversation in 'input' (with store: false) instead.",
        ));
    }
    if !v["conversation"].is_null() {
        return Err(invalid(
            "conversation is not supported: this gateway does not store conversations. \
             Send the whole conversation in 'input' instead.",
        ));
    }
    let model = v["model"]
        .as_str()
        .filter(|m| !m.is_empty())
        .ok_or(invalid("Missing required parameter: 'model'."))?;
    let stream = field(&v, "stream", Value::as_bool, "'stream' must be a boolean.")?;
    let mut req = Request {
        model: model.to_string(),
        stream: stream.unwrap_or(false),
        // Usage is always in the terminal event of a Responses stream: the client gets it.
        stream_usage: stream.unwrap_or(false),
        max_output_tokens: field(
            &v,
            "max_output_tokens",
            Value::as_u64,
            "'max_output_tokens' must be a positive integer.",
        )?,
        temperature: field(
            &v,
            "temperature",
            Value::as_f64,
            "'temperature' must be a number.",
        )?,
        top_p: field(&v, "top_p", Value::as_f64, "'top_p' must be a number.")?,
        parallel_tool_calls: field(
            &v,
            "parallel_tool_calls",
            Value::as_bool,
            "'parallel_tool_calls' must be a boolean.",
        )?,
        user: field(&v, "user", Value::as_str, "'user' must be a string.")?.map(str::to_string),
        tools: decode_tools(&v["tools"])?,
        tool_choice: decode_tool_choice(&v["tool_choice"])?,
        output_format: output_format(&v["text"])?,
        ..Request::default()
    };
    if let Some(r) = v.get("reasoning").filter(|r| !r.is_null()) {
        let effort = field(
            r,
            "effort",
            Value::as_str,
            "'reasoning.effort' must be a string.",
        )?;
        req.reasoning = Some(Reasoning {
            effort: effort.map(str::to_string),
            budget_tokens: None,
            enabled: effort != Some("none"),
        });
    }
    let instructions = field(
        &v,
        "instructions",
        Value::as_str,
        "'instructions' must be a string.",
    )?;
    if let Some(text) = instructions.filter(|t| !t.is_empty()) {
        req.system.push(Block::text(text));
    }
    decode_input(&v["input"], &mut req)?;
    req.extras = obj
        .iter()
        .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(req)
}

/// The texts of `blocks`, joined.
fn joined_text(blocks: &[Block]) -> String {
    blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// OpenAI's `reasoning.effort` for a reasoning setting: the client's effort, or one derived
/// from a token budget (thresholds as the Chat codec and LiteLLM use).
fn effort_for(r: &Reasoning) -> Option<String> {
    if !r.enabled {
        return r.effort.clone().filter(|e| e == "none");
    }
    if let Some(e) = &r.effort {
        return Some(e.clone());
    }
    Some(
        match r.budget_tokens {
            Some(b) if b < 2048 => "low",
            Some(b) if b < 8192 => "medium",
            Some(_) => "high",
            None => "medium",
        }
        .to_string(),
    )
}

/// Encodes a request for a Responses provider that knows the model as `model`.
///
/// What Responses cannot take is dropped: stop sequences and `top_k` (no such parameters),
/// thinking blocks without OpenAI's own `encrypted_content`. Every system prompt becomes
/// `instructions`. `store` is always false: the gateway keeps no state, and nothing may refer
/// to stored items later (§5.5); reasoning is asked for in its encrypted form instead. Usage
/// needs no asking: it is always in the terminal event.
pub fn encode_request(req: &Request, model: &str) -> Bytes {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    let system = joined_text(&req.system);
    if !system.is_empty() {
        body.insert("instructions".into(), json!(system));
    }
    body.insert("input".into(), Value::Array(encode_turns(&req.turns)));
    if !req.tools.is_empty() {
        body.insert("tools".into(), Value::Array(encode_tools(&req.tools)));
        if let Some(choice) = &req.tool_choice {
            body.insert("tool_choice".into(), encode_tool_choice(choice, &req.tools));
        }
        if let Some(p) = req.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(p));
        }
    }
    if let Some(n) = req.max_output_tokens {
        body.insert("max_output_tokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if let Some(f) = &req.output_format {
        let format = match f {
            OutputFormat::Text => json!({"type": "text"}),
            OutputFormat::JsonObject => json!({"type": "json_object"}),
            OutputFormat::JsonSchema {
                name,
                schema,
                strict,
            } => {
                let mut s = json!({"type": "json_schema", "name": name, "schema": schema});
                if let Some(strict) = strict {
                    s["strict"] = json!(strict);
                }
                s
            }
        };
        body.insert("text".into(), json!({ "format": format }));
    }
    if let Some(r) = &req.reasoning {
        if let Some(effort) = effort_for(r) {
            let mut reasoning = json!({ "effort": effort });
            // Ask for the readable summary, so clients that show thinking have some to show.
            if r.enabled {
                reasoning["summary"] = json!("auto");
            }
            body.insert("reasoning".into(), reasoning);
            // With `store: false` the reasoning can only be replayed on the next turn (which
            // tool loops need) if its encrypted form comes back, as Codex asks.
            body.insert("include".into(), json!(["reasoning.encrypted_content"]));
        }
    }
    if let Some(u) = &req.user {
        body.insert("user".into(), json!(u));
    }
    body.insert("store".into(), json!(false));
    if req.stream {
        body.insert("stream".into(), json!(true));
    }
    Bytes::from(Value::Object(body).to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::ir::{Extras, Role, Tool, ToolCall, ToolChoice, ToolResult, Turn};

    fn decode(v: Value) -> Request {
        decode_request(v.to_string().as_bytes()).unwrap()
    }

    fn encoded(req: &Request) -> Value {
        serde_json::from_slice(&encode_request(req, "up-model")).unwrap()
    }

    /// Reference §6.1, T3 in the Responses dialect: the second request of a tool round trip.
    fn t3() -> Value {
        json!({"model":"m","instructions":"You are terse.","input":[
            {"role":"user","content":"Weather in Paris?"},
            {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"location\":\"Paris\"}"},
            {"type":"function_call_output","call_id":"call_1","output":"{\"temp_c\":18}"}],
            "tools":[{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]},"strict":false}]})
    }

    #[test]
    fn t3_decodes_into_turns_of_blocks() {
        let req = decode(t3());
        assert_eq!(req.model, "m");
        assert_eq!(req.system, vec![Block::text("You are terse.")]);
        assert_eq!(
            req.turns,
            vec![
                Turn {
                    role: Role::User,
                    blocks: vec![Block::text("Weather in Paris?")]
                },
                Turn {
                    role: Role::Assistant,
                    blocks: vec![Block::ToolCall(ToolCall {
                        id: "call_1".into(),
                        name: "get_weather".into(),
                        arguments: "{\"location\":\"Paris\"}".into(),
                        extras: Extras::new(),
                    })]
                },
                Turn {
                    role: Role::User,
                    blocks: vec![Block::ToolResult(ToolResult {
                        call_id: "call_1".into(),
                        name: Some("get_weather".into()),
                        content: vec![Block::text("{\"temp_c\":18}")],
                        is_error: false,
                    })]
                },
            ]
        );
        assert_eq!(
            req.tools,
            vec![Tool {
                name: "get_weather".into(),
                description: None,
                parameters: json!({"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}),
                extras: [("strict".to_string(), json!(false))].into_iter().collect(),
            }]
        );
        assert!(req.extras.is_empty());
    }

    #[test]
    fn t3_encodes_back_to_the_same_conversation() {
        let mut expected = t3();
        expected["model"] = json!("up-model");
        expected["store"] = json!(false);
        assert_eq!(encoded(&decode(t3())), expected);
    }

    #[test]
    fn t1_a_string_input_is_one_user_turn() {
        let req = decode(json!({"model":"gpt-4o-mini","input":"say hi","stream":true}));
        assert!(req.stream && req.stream_usage);
        assert_eq!(
            req.turns,
            vec![Turn {
                role: Role::User,
                blocks: vec![Block::text("say hi")]
            }]
        );
        assert_eq!(
            encoded(&req),
            json!({"model":"up-model","input":[{"role":"user","content":"say hi"}],"store":false,"stream":true})
        );
    }

    #[test]
    fn t2_instructions_and_developer_items_are_all_system_and_turns_keep_their_order() {
        let req = decode(json!({"model":"m","instructions":"Be brief.","input":[
            {"type":"message","role":"developer","content":[{"type":"input_text","text":"Answer in French."}]},
            {"role":"user","content":"hi"},
            {"role":"assistant","content":"bonjour"},
            {"role":"system","content":"Never use English."},
            {"role":"user","content":"and now?"}]}));
        assert_eq!(
            req.system,
            vec![
                Block::text("Be brief."),
                Block::text("Answer in French."),
                Block::text("Never use English.")
            ]
        );
        let roles: Vec<_> = req.turns.iter().map(|t| t.role).collect();
        assert_eq!(roles, [Role::User, Role::Assistant, Role::User]);
        let out = encoded(&req);
        assert_eq!(
            out["instructions"],
            "Be brief.\nAnswer in French.\nNever use English."
        );
        assert_eq!(
            out["input"],
            json!([{"role":"user","content":"hi"},{"role":"assistant","content":"bonjour"},
                {"role":"user","content":"and now?"}])
        );
    }

    /// T14: what Codex sends (§1.B "Codex request shape"), abridged.
    fn codex() -> Value {
        json!({"model":"gpt-5","instructions":"You are Codex.","input":[
            {"type":"message","role":"developer","content":[{"type":"input_text","text":"<permissions>"}]},
            {"type":"message","role":"user","content":[{"type":"input_text","text":"add a file"}]},
            {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Use apply_patch."}],"encrypted_content":"gAAAAB"},
            {"type":"custom_tool_call","id":"ctc_1","status":"completed","call_id":"call_p","name":"apply_patch","input":"*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"},
            {"type":"custom_tool_call_output","call_id":"call_p","output":"Success."},
            {"type":"function_call","call_id":"call_s","name":"spawn_agent","namespace":"multi_agent_v1","arguments":"{\"task\":\"x\"}"},
            {"type":"function_call_output","call_id":"call_s","output":"spawned"}],
            "tools":[
                {"type":"function","name":"exec_command","description":"Run.","strict":false,"parameters":{"type":"object","properties":{"cmd":{"type":"string"}},"required":["cmd"]}},
                {"type":"custom","name":"apply_patch","description":"Edit files.","format":{"type":"grammar","syntax":"lark","definition":"start: begin_patch"}},
                {"type":"namespace","name":"multi_agent_v1","description":"Sub-agents.","tools":[{"type":"function","name":"spawn_agent","strict":false,"parameters":{"type":"object","properties":{"task":{"type":"string"}}}}]},
                {"type":"web_search","external_web_access":false}],
            "tool_choice":"auto","parallel_tool_calls":true,
            "reasoning":{"effort":"high","summary":"auto"},"store":false,"stream":true,
            "include":["reasoning.encrypted_content"],"prompt_cache_key":"thread-1"})
    }

    #[test]
    fn t14_codex_requests_flatten_into_turns_tools_and_extras() {
        let req = decode(codex());
        assert_eq!(req.system.len(), 2);
        assert_eq!(
            req.tools
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["exec_command", "apply_patch", "multi_agent_v1__spawn_agent"],
            "web_search is built in: dropped"
        );
        assert_eq!(req.tool_choice, Some(ToolChoice::Auto));
        assert_eq!(
            req.reasoning,
            Some(Reasoning {
                effort: Some("high".into()),
                budget_tokens: None,
                enabled: true
            })
        );
        assert_eq!(req.extras.get("store"), Some(&json!(false)));
        assert_eq!(req.extras.get("prompt_cache_key"), Some(&json!("thread-1")));
        let assistant = &req.turns[1];
        assert_eq!(assistant.role, Role::Assistant);
        assert!(
            matches!(&assistant.blocks[0], Block::Thinking { text, signature: None, extras }
            if text == "Use apply_patch." && extras.get("encrypted_content") == Some(&json!("gAAAAB")))
        );
        assert_eq!(
            assistant.blocks[1],
            Block::ToolCall(ToolCall {
                id: "call_p".into(),
                name: "apply_patch".into(),
                arguments:
                    r#"{"input":"*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"}"#.into(),
                extras: [("type".to_string(), json!("custom"))]
                    .into_iter()
                    .collect(),
            })
        );
        let spawn = &req.turns[3].blocks[0];
        assert!(
            matches!(spawn, Block::ToolCall(c) if c.name == "multi_agent_v1__spawn_agent"
            && c.extras.get("namespace") == Some(&json!("multi_agent_v1")))
        );

        // And out to a Responses provider: custom calls, namespaces and OpenAI's reasoning
        // blob as they came; the built-in tool is gone.
        let out = encoded(&req);
        assert_eq!(
            out["input"],
            json!([
                {"role":"user","content":"add a file"},
                {"type":"reasoning","summary":[{"type":"summary_text","text":"Use apply_patch."}],"encrypted_content":"gAAAAB"},
                {"type":"custom_tool_call","call_id":"call_p","name":"apply_patch","input":"*** Begin Patch\n*** Add File: a.txt\n+hi\n*** End Patch"},
                {"type":"custom_tool_call_output","call_id":"call_p","output":"Success."},
                {"type":"function_call","call_id":"call_s","name":"spawn_agent","arguments":"{\"task\":\"x\"}","namespace":"multi_agent_v1"},
                {"type":"function_call_output","call_id":"call_s","output":"spawned"}
            ])
        );
        let mut tools = codex()["tools"].clone();
        tools.as_array_mut().unwrap().pop();
        assert_eq!(out["tools"], tools);
        assert_eq!(out["reasoning"], json!({"effort":"high","summary":"auto"}));
        assert_eq!(out["instructions"], "You are Codex.\n<permissions>");
    }

    #[test]
    fn t14_stored_state_is_refused_with_a_clear_message() {
        let mut body = codex();
        body["previous_response_id"] = json!("resp_123");
        let err = decode_request(body.to_string().as_bytes()).unwrap_err();
        assert!(
            err.0.starts_with("previous_response_id is not supported"),
            "{}",
            err.0
        );
        let mut body = codex();
        body["conversation"] = json!("conv_1");
        assert!(decode_request(body.to_string().as_bytes()).is_err());
        // null is the same as absent.
        let mut body = codex();
        body["previous_response_id"] = Value::Null;
        assert!(decode_request(body.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn settings_map_both_ways_and_what_responses_lacks_is_dropped() {
        let req = decode(
            json!({"model":"m","input":"x","max_output_tokens":100,"temperature":0.5,
            "top_p":0.9,"user":"u1","parallel_tool_calls":false,
            "tools":[{"type":"function","name":"f","parameters":{"type":"object"}}],
            "tool_choice":{"type":"function","name":"f"},
            "text":{"format":{"type":"json_schema","name":"r","schema":{"type":"object"},"strict":true},"verbosity":"low"},
            "reasoning":{"effort":"low"}}),
        );
        assert_eq!(req.max_output_tokens, Some(100));
        assert_eq!(req.tool_choice, Some(ToolChoice::Tool("f".into())));
        assert_eq!(
            req.output_format,
            Some(OutputFormat::JsonSchema {
                name: "r".into(),
                schema: json!({"type":"object"}),
                strict: Some(true)
            })
        );
        let mut req = req;
        req.stop = vec!["END".into()];
        req.top_k = Some(5);
        assert_eq!(
            encoded(&req),
            json!({"model":"up-model","input":[{"role":"user","content":"x"}],
                "tools":[{"type":"function","name":"f","parameters":{"type":"object"},"strict":false}],
                "tool_choice":{"type":"function","name":"f"},"parallel_tool_calls":false,
                "max_output_tokens":100,"temperature":0.5,"top_p":0.9,
                "text":{"format":{"type":"json_schema","name":"r","schema":{"type":"object"},"strict":true}},
                "reasoning":{"effort":"low","summary":"auto"},
                "include":["reasoning.encrypted_content"],"user":"u1","store":false})
        );
    }

    #[test]
    fn thinking_from_other_providers_and_budgets() {
        let req = Request {
            model: "m".into(),
            turns: vec![
                Turn {
                    role: Role::User,
                    blocks: vec![Block::text("hi")],
                },
                Turn {
                    role: Role::Assistant,
                    blocks: vec![
                        Block::Thinking {
                            text: "Claude thought".into(),
                            signature: Some("sig".into()),
                            extras: Extras::new(),
                        },
                        Block::RedactedThinking { data: "x".into() },
                        Block::text("hello"),
                    ],
                },
            ],
            reasoning: Some(Reasoning {
                effort: None,
                budget_tokens: Some(10_000),
                enabled: true,
            }),
            ..Request::default()
        };
        let out = encoded(&req);
        assert_eq!(
            out["input"],
            json!([{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}])
        );
        assert_eq!(out["reasoning"], json!({"effort":"high","summary":"auto"}));
    }

    #[test]
    fn broken_requests_are_refused_not_guessed() {
        for body in [
            json!({"input":"x"}),
            json!({"model":"","input":"x"}),
            json!({"model":"m"}),
            json!({"model":"m","input":"x","stream":"yes"}),
            json!({"model":"m","input":"x","max_output_tokens":-1}),
            json!({"model":"m","input":"x","instructions":["a"]}),
            json!({"model":"m","input":"x","text":{"format":{"type":"yaml"}}}),
            json!({"model":"m","input":"x","tools":[{"type":"custom"}]}),
            json!({"model":"m","input":"x","tool_choice":"maybe"}),
            json!({"model":"m","input":"x","reasoning":{"effort":3}}),
            json!(["not an object"]),
        ] {
            assert!(
                decode_request(body.to_string().as_bytes()).is_err(),
                "{body}"
            );
        }
        assert!(decode_request(b"{").is_err());
    }

    /// The captured Codex CLI request (fixtures/client-requests), when the fixture is present.
    #[test]
    fn the_real_codex_request_decodes() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/fixtures/client-requests/codex-cli.jsonl"
        );
        let Ok(raw) = std::fs::read_to_string(path) else {
            return;
        };
        for line in raw.lines().filter(|l| !l.trim().is_empty()) {
            let record: Value = serde_json::from_str(line).unwrap();
            let req = decode(record["body"].clone());
            assert!(req.stream);
            assert!(!req.system.is_empty(), "developer items are system prompts");
            assert!(req.turns.iter().all(|t| !t.blocks.is_empty()));
            assert!(
                req.tools.iter().any(|t| t.name.contains("__")),
                "namespaces flattened"
            );
            assert!(req.tools.iter().all(|t| t.name != "web_search"));
            let again: Value = serde_json::from_slice(&encode_request(&req, "x")).unwrap();
            assert_eq!(again["store"], json!(false));
        }
    }
}
