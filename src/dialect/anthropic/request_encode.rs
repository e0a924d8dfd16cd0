//! The internal representation into a request an Anthropic provider accepts (reference:
//! dialects.md §1.C, §3.7, §5.9).

use super::blocks::{encode_block, CACHE_CONTROL};
use crate::dialect::ir::{Block, OutputFormat, Reasoning, Request, Role, ToolChoice};
use bytes::Bytes;
use serde_json::{json, Map, Value};

/// `max_tokens` when the client gave none: Anthropic requires it, and 4096 is within every
/// Claude model's output limit.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

/// Anthropic's smallest thinking budget.
const MIN_THINKING_BUDGET: u64 = 1024;

/// Text for a user turn put first when the conversation would otherwise start with the
/// assistant or be empty (LiteLLM's convention).
const PLACEHOLDER_USER_TEXT: &str = ".";

/// A thinking budget for a named effort, on the same scale the OpenAI codec reads budgets back
/// into efforts (< 2048 low, < 8192 medium, else high).
fn budget_for_effort(effort: Option<&str>) -> u64 {
    match effort {
        Some("minimal" | "low") => 1024,
        Some("high" | "xhigh" | "max") => 8192,
        _ => 4096,
    }
}

/// The `thinking` object and the `max_tokens` to send with it.
///
/// Anthropic wants a budget of at least 1024 and below `max_tokens`; a client's own limit is
/// kept and the budget fitted under it, and with no room left thinking is not asked for. Thinking
/// cannot be combined with a forced tool choice, so the forced tool wins; nor with a tool loop
/// whose last call was made without signed thinking, so the history wins.
fn thinking(req: &Request, messages: &[Value]) -> (Option<Value>, u64) {
    let max = req.max_output_tokens;
    let off = (None, max.unwrap_or(DEFAULT_MAX_TOKENS));
    let Some(r @ Reasoning { enabled: true, .. }) = &req.reasoning else {
        return off;
    };
    if !history_allows_thinking(messages) {
        return off;
    }
    let forced = matches!(
        req.tool_choice,
        Some(ToolChoice::Required | ToolChoice::Tool(_))
    );
    if forced && !req.tools.is_empty() {
        return off;
    }
    let wanted = r
        .budget_tokens
        .unwrap_or_else(|| budget_for_effort(r.effort.as_deref()))
        .max(MIN_THINKING_BUDGET);
    match max {
        Some(m) if m <= MIN_THINKING_BUDGET => off,
        Some(m) => (
            Some(json!({"type": "enabled", "budget_tokens": wanted.min(m - 1)})),
            m,
        ),
        None => (
            Some(json!({"type": "enabled", "budget_tokens": wanted})),
            wanted.saturating_add(DEFAULT_MAX_TOKENS),
        ),
    }
}

/// Whether the history can stand with thinking on: Anthropic wants the last assistant turn,
/// when it called tools, to begin with its signed thinking, which a turn produced by another
/// vendor never has (reference §5.9).
fn history_allows_thinking(messages: &[Value]) -> bool {
    let last = messages.iter().rev().find(|m| m["role"] == "assistant");
    let Some(blocks) = last.and_then(|m| m["content"].as_array()) else {
        return true;
    };
    let calls = blocks.iter().any(|b| b["type"] == "tool_use");
    let thinks_first = matches!(
        blocks.first().and_then(|b| b["type"].as_str()),
        Some("thinking" | "redacted_thinking")
    );
    !calls || thinks_first
}

/// One message's content: a string when it is a single plain text, blocks otherwise.
fn message(role: &str, blocks: Vec<Value>) -> Value {
    if let [only] = &blocks[..] {
        if only["type"] == "text"
            && only.get(CACHE_CONTROL).is_none()
            && only.get("citations").is_none()
        {
            return json!({"role": role, "content": only["text"]});
        }
    }
    json!({"role": role, "content": blocks})
}

/// The turns as Anthropic messages.
///
/// Turns left empty by what Anthropic refuses are dropped and same-role neighbours merged; a
/// user turn lists its `tool_result` blocks first; the conversation starts with a user turn; a
/// final assistant turn (a prefill) ends without trailing whitespace, which Anthropic refuses.
fn messages(req: &Request) -> Vec<Value> {
    let mut turns: Vec<(Role, Vec<Value>)> = Vec::with_capacity(req.turns.len() + 1);
    for turn in &req.turns {
        let blocks: Vec<Value> = turn
            .blocks
            .iter()
            .filter(|b| match turn.role {
                Role::User => matches!(
                    b,
                    Block::Text { .. }
                        | Block::Image { .. }
                        | Block::File { .. }
                        | Block::ToolResult(_)
                ),
                Role::Assistant => matches!(
                    b,
                    Block::Text { .. }
                        | Block::Thinking { .. }
                        | Block::RedactedThinking { .. }
                        | Block::ToolCall(_)
                ),
            })
            .filter_map(encode_block)
            .collect();
        if blocks.is_empty() {
            continue;
        }
        match turns.last_mut() {
            Some((role, last)) if *role == turn.role => last.extend(blocks),
            _ => turns.push((turn.role, blocks)),
        }
    }
    if let Some((Role::Assistant, blocks)) = turns.last_mut() {
        trim_prefill(blocks);
        if blocks.is_empty() {
            turns.pop();
        }
    }
    if !matches!(turns.first(), Some((Role::User, _))) {
        turns.insert(
            0,
            (
                Role::User,
                vec![json!({"type": "text", "text": PLACEHOLDER_USER_TEXT})],
            ),
        );
    }
    turns
        .into_iter()
        .map(|(role, mut blocks)| match role {
            Role::User => {
                // A stable sort: results first, everything else after, each in its order.
                blocks.sort_by_key(|b| b["type"] != "tool_result");
                message("user", blocks)
            }
            Role::Assistant => message("assistant", blocks),
        })
        .collect()
}

/// Strips trailing whitespace from a prefill's last text block, dropping the block if nothing
/// is left.
fn trim_prefill(blocks: &mut Vec<Value>) {
    let Some(last) = blocks.last_mut() else {
        return;
    };
    if last["type"] != "text" {
        return;
    }
    let trimmed = last["text"].as_str().unwrap_or("").trim_end().to_string();
    if trimmed.is_empty() {
        blocks.pop();
    } else {
        last["text"] = json!(trimmed);
    }
}

/// An `input_schema` Anthropic accepts: an object schema.
fn input_schema(parameters: &Value) -> Value {
    match parameters {
        Value::Object(m) if m.get("type").is_none() => {
            let mut m = m.clone();
            m.insert("type".into(), json!("object"));
            Value::Object(m)
        }
        Value::Object(m) if m.get("type") == Some(&json!("object")) => parameters.clone(),
        // Anything else would be refused; an empty object schema at least keeps the tool.
        _ => json!({"type": "object", "properties": {}}),
    }
}

fn tools(req: &Request, body: &mut Map<String, Value>) {
    if req.tools.is_empty() {
        return;
    }
    let tools = req
        .tools
        .iter()
        .map(|t| {
            let mut tool = json!({"name": t.name});
            if let Some(d) = &t.description {
                tool["description"] = json!(d);
            }
            tool["input_schema"] = input_schema(&t.parameters);
            // `strict` is not sent: only some models take it, and the others refuse it.
            if let Some(mark) = t.extras.get(CACHE_CONTROL) {
                tool[CACHE_CONTROL] = mark.clone();
            }
            tool
        })
        .collect();
    body.insert("tools".into(), Value::Array(tools));
    let one_at_a_time = req.parallel_tool_calls == Some(false);
    let mut choice = match &req.tool_choice {
        Some(ToolChoice::None) => json!({"type": "none"}),
        Some(ToolChoice::Required) => json!({"type": "any"}),
        Some(ToolChoice::Tool(name)) => json!({"type": "tool", "name": name}),
        Some(ToolChoice::Auto) => json!({"type": "auto"}),
        None if one_at_a_time => json!({"type": "auto"}),
        None => return,
    };
    if one_at_a_time && choice["type"] != "none" {
        choice["disable_parallel_tool_use"] = json!(true);
    }
    body.insert("tool_choice".into(), choice);
}

/// Encodes a request for an Anthropic provider that knows the model as `model`.
///
/// Left out by rule: the client's extra top-level fields (their meaning belongs to the client's
/// dialect: OpenAI's `metadata` or `service_tier` would be refused here), system blocks other
/// than text, `top_p` when `temperature` is set (newer models refuse both), sampling settings
/// when thinking is on (Anthropic allows none of them then), a JSON-object output format
/// (Anthropic has only schemas), and reasoning efforts as such (only some models take
/// `output_config.effort`; a thinking budget works on all that think).
pub fn encode_request(req: &Request, model: &str) -> Bytes {
    let messages = messages(req);
    let (thinking, max_tokens) = thinking(req, &messages);
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("max_tokens".into(), json!(max_tokens));
    let system: Vec<Value> = req
        .system
        .iter()
        .filter(|b| matches!(b, Block::Text { .. }))
        .filter_map(encode_block)
        .collect();
    match &system[..] {
        [] => {}
        [only] if only.get(CACHE_CONTROL).is_none() => {
            body.insert("system".into(), only["text"].clone());
        }
        _ => {
            body.insert("system".into(), Value::Array(system));
        }
    }
    body.insert("messages".into(), Value::Array(messages));
    tools(req, &mut body);
    if thinking.is_none() {
        if let Some(t) = req.temperature {
            body.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
        } else if let Some(p) = req.top_p {
            body.insert("top_p".into(), json!(p));
        }
        if let Some(k) = req.top_k {
            body.insert("top_k".into(), json!(k));
        }
    }
    // Anthropic refuses stop sequences made of whitespace only.
    let stops: Vec<&String> = req.stop.iter().filter(|s| !s.trim().is_empty()).collect();
    if !stops.is_empty() {
        body.insert("stop_sequences".into(), json!(stops));
    }
    if let Some(t) = thinking {
        body.insert("thinking".into(), t);
    }
    if let Some(OutputFormat::JsonSchema { schema, .. }) = &req.output_format {
        body.insert(
            "output_config".into(),
            json!({"format": {"type": "json_schema", "schema": schema}}),
        );
    }
    if let Some(u) = &req.user {
        body.insert("metadata".into(), json!({"user_id": u}));
    }
    if req.stream {
        body.insert("stream".into(), json!(true));
    }
    Bytes::from(Value::Object(body).to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::anthropic::decode_request;
    use crate::dialect::ir::{Extras, Media, Tool, ToolCall, ToolResult, Turn};

    fn encoded(req: &Request) -> Value {
        serde_json::from_slice(&encode_request(req, "up-model")).unwrap()
    }

    fn decode(v: &Value) -> Request {
        decode_request(v.to_string().as_bytes()).unwrap()
    }

    /// Reference §6.1, T3 in the Anthropic dialect.
    fn t3() -> Value {
        json!({"model":"m","max_tokens":1024,"system":"You are terse.","messages":[
            {"role":"user","content":"Weather in Paris?"},
            {"role":"assistant","content":[{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"Paris"}}]},
            {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":"{\"temp_c\":18}"}]}],
            "tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}]})
    }

    #[test]
    fn t3_encodes_back_to_the_same_conversation() {
        let mut expected = t3();
        expected["model"] = json!("up-model");
        assert_eq!(encoded(&decode(&t3())), expected);
    }

    #[test]
    fn t1_without_max_tokens_gets_the_default() {
        let req = Request {
            model: "m".into(),
            turns: vec![Turn {
                role: Role::User,
                blocks: vec![Block::text("say hi")],
            }],
            stream: true,
            ..Request::default()
        };
        assert_eq!(
            encoded(&req),
            json!({"model":"up-model","max_tokens":4096,"messages":[{"role":"user","content":"say hi"}],"stream":true})
        );
    }

    #[test]
    fn t2_cache_marks_and_block_systems_survive() {
        let body = json!({"model":"m","max_tokens":10,
            "system":[{"type":"text","text":"one"},{"type":"text","text":"two","cache_control":{"type":"ephemeral"}}],
            "messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},
                {"role":"user","content":[{"type":"text","text":"again","cache_control":{"type":"ephemeral"}}]}],
            "tools":[{"name":"f","description":"d","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}}]});
        let mut expected = body.clone();
        expected["model"] = json!("up-model");
        assert_eq!(encoded(&decode(&body)), expected);
    }

    fn call(id: &str, name: &str, args: &str) -> Block {
        Block::ToolCall(ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: args.into(),
            extras: Extras::new(),
        })
    }

    fn result(id: &str, text: &str) -> Block {
        Block::ToolResult(ToolResult {
            call_id: id.into(),
            name: None,
            content: vec![Block::text(text)],
            is_error: false,
        })
    }

    /// T4 and T5 as another dialect's decoder leaves them: text and two calls in one turn,
    /// results split across turns with text between, results in reverse order.
    #[test]
    fn t4_t5_results_come_first_in_one_user_turn() {
        let req = Request {
            model: "m".into(),
            system: vec![Block::text("A"), Block::text("B")],
            turns: vec![
                Turn {
                    role: Role::User,
                    blocks: vec![Block::text("Weather in Paris and Rome?")],
                },
                Turn {
                    role: Role::Assistant,
                    blocks: vec![
                        Block::Thinking {
                            text: "reasoning from elsewhere".into(),
                            signature: None,
                            extras: Extras::new(),
                        },
                        Block::text("Let me check."),
                        call("call_1", "get_weather", "{\"location\":\"Paris\"}"),
                        call("functions.get_weather:1", "get_weather", "{\"location\":"),
                    ],
                },
                Turn {
                    role: Role::User,
                    blocks: vec![result("functions.get_weather:1", "{\"temp_c\":21}")],
                },
                Turn {
                    role: Role::User,
                    blocks: vec![Block::text("Thanks"), result("call_1", "{\"temp_c\":18}")],
                },
            ],
            ..Request::default()
        };
        assert_eq!(
            encoded(&req)["messages"],
            json!([
                {"role":"user","content":"Weather in Paris and Rome?"},
                {"role":"assistant","content":[
                    {"type":"text","text":"Let me check."},
                    {"type":"tool_use","id":"call_1","name":"get_weather","input":{"location":"Paris"}},
                    {"type":"tool_use","id":"functions_get_weather_1","name":"get_weather","input":{"raw_input":"{\"location\":"}}]},
                {"role":"user","content":[
                    {"type":"tool_result","tool_use_id":"functions_get_weather_1","content":"{\"temp_c\":21}"},
                    {"type":"tool_result","tool_use_id":"call_1","content":"{\"temp_c\":18}"},
                    {"type":"text","text":"Thanks"}]}])
        );
        assert_eq!(
            encoded(&req)["system"],
            json!([{"type":"text","text":"A"},{"type":"text","text":"B"}])
        );
    }

    #[test]
    fn the_conversation_starts_with_the_user_and_a_prefill_is_trimmed() {
        let req = Request {
            turns: vec![
                Turn {
                    role: Role::Assistant,
                    blocks: vec![Block::text("Hello.")],
                },
                Turn {
                    role: Role::User,
                    blocks: vec![Block::text(""), Block::text("Answer in JSON")],
                },
                Turn {
                    role: Role::Assistant,
                    blocks: vec![Block::text("{ \n")],
                },
            ],
            ..Request::default()
        };
        assert_eq!(
            encoded(&req)["messages"],
            json!([{"role":"user","content":"."},{"role":"assistant","content":"Hello."},
                {"role":"user","content":"Answer in JSON"},{"role":"assistant","content":"{"}])
        );
        assert_eq!(
            encoded(&Request::default())["messages"],
            json!([{"role":"user","content":"."}])
        );
    }

    fn with_tools(req: Request) -> Request {
        Request {
            tools: vec![Tool {
                name: "f".into(),
                description: None,
                parameters: Value::Null,
                extras: Extras::new(),
            }],
            ..req
        }
    }

    #[test]
    fn tool_choices_and_parallel_flag_map() {
        for (choice, parallel, expected) in [
            (None, None, None),
            (
                None,
                Some(false),
                Some(json!({"type":"auto","disable_parallel_tool_use":true})),
            ),
            (Some(ToolChoice::Auto), None, Some(json!({"type":"auto"}))),
            (
                Some(ToolChoice::Required),
                Some(false),
                Some(json!({"type":"any","disable_parallel_tool_use":true})),
            ),
            (
                Some(ToolChoice::None),
                Some(false),
                Some(json!({"type":"none"})),
            ),
            (
                Some(ToolChoice::Tool("f".into())),
                Some(true),
                Some(json!({"type":"tool","name":"f"})),
            ),
        ] {
            let req = with_tools(Request {
                tool_choice: choice.clone(),
                parallel_tool_calls: parallel,
                ..Request::default()
            });
            let out = encoded(&req);
            assert_eq!(
                out.get("tool_choice").cloned(),
                expected,
                "{choice:?} {parallel:?}"
            );
            assert_eq!(
                out["tools"],
                json!([{"name":"f","input_schema":{"type":"object","properties":{}}}])
            );
        }
        let no_tools = Request {
            tool_choice: Some(ToolChoice::Required),
            ..Request::default()
        };
        assert!(encoded(&no_tools).get("tool_choice").is_none());
    }

    #[test]
    fn sampling_is_clamped_and_thinking_fits_under_max_tokens() {
        let req = Request {
            temperature: Some(1.7),
            top_p: Some(0.9),
            top_k: Some(5),
            stop: vec!["END".into(), " \n".into()],
            user: Some("u1".into()),
            ..Request::default()
        };
        let out = encoded(&req);
        assert_eq!(out["temperature"], json!(1.0));
        assert!(out.get("top_p").is_none(), "not both temperature and top_p");
        assert_eq!(out["top_k"], json!(5));
        assert_eq!(out["stop_sequences"], json!(["END"]));
        assert_eq!(out["metadata"], json!({"user_id":"u1"}));

        let effort = |e: &str, max: Option<u64>| Request {
            reasoning: Some(Reasoning {
                effort: Some(e.into()),
                budget_tokens: None,
                enabled: true,
            }),
            max_output_tokens: max,
            temperature: Some(0.2),
            ..Request::default()
        };
        let out = encoded(&effort("high", None));
        assert_eq!(
            out["thinking"],
            json!({"type":"enabled","budget_tokens":8192})
        );
        assert_eq!(out["max_tokens"], json!(8192 + 4096));
        assert!(
            out.get("temperature").is_none(),
            "thinking takes no temperature"
        );
        let mut huge = effort("high", None);
        huge.reasoning = Some(Reasoning {
            effort: None,
            budget_tokens: Some(u64::MAX),
            enabled: true,
        });
        assert_eq!(encoded(&huge)["max_tokens"], json!(u64::MAX), "no overflow");
        let out = encoded(&effort("high", Some(3000)));
        assert_eq!(
            out["thinking"],
            json!({"type":"enabled","budget_tokens":2999})
        );
        assert_eq!(out["max_tokens"], json!(3000));
        let out = encoded(&effort("low", Some(1000)));
        assert!(out.get("thinking").is_none(), "no room to think");
        assert_eq!(out["temperature"], json!(0.2));
        let mut forced = with_tools(effort("low", None));
        forced.tool_choice = Some(ToolChoice::Tool("f".into()));
        assert!(encoded(&forced).get("thinking").is_none());
        let mut foreign_loop = effort("low", None);
        foreign_loop.turns = vec![
            Turn {
                role: Role::User,
                blocks: vec![Block::text("Weather?")],
            },
            Turn {
                role: Role::Assistant,
                blocks: vec![call("call_1", "get_weather", "{}")],
            },
            Turn {
                role: Role::User,
                blocks: vec![result("call_1", "sunny")],
            },
        ];
        assert!(
            encoded(&foreign_loop).get("thinking").is_none(),
            "an unsigned tool turn cannot be continued with thinking"
        );
        let Block::ToolCall(signed_call) = call("toolu_1", "get_weather", "{}") else {
            unreachable!()
        };
        foreign_loop.turns[1].blocks = vec![
            Block::Thinking {
                text: "t".into(),
                signature: Some("sig".into()),
                extras: Extras::new(),
            },
            Block::ToolCall(signed_call),
        ];
        assert!(encoded(&foreign_loop).get("thinking").is_some());
        let off = Request {
            reasoning: Some(Reasoning {
                effort: Some("none".into()),
                budget_tokens: None,
                enabled: false,
            }),
            ..Request::default()
        };
        assert!(encoded(&off).get("thinking").is_none());
    }

    #[test]
    fn media_results_and_output_formats_follow_the_dialect_rules() {
        let req = Request {
            turns: vec![Turn {
                role: Role::User,
                blocks: vec![
                    Block::Image {
                        source: Media::from_url("data:image/png;base64,AAAA"),
                        extras: [("detail".to_string(), json!("low"))].into_iter().collect(),
                    },
                    Block::File {
                        source: Media::from_url("data:application/msword;base64,AAAA"),
                        name: Some("a.doc".into()),
                        extras: Extras::new(),
                    },
                    Block::ToolResult(ToolResult {
                        call_id: "c".into(),
                        name: Some("f".into()),
                        content: vec![],
                        is_error: true,
                    }),
                ],
            }],
            output_format: Some(OutputFormat::JsonSchema {
                name: "r".into(),
                schema: json!({"type":"object"}),
                strict: Some(true),
            }),
            ..Request::default()
        };
        let out = encoded(&req);
        assert_eq!(
            out["messages"],
            json!([{"role":"user","content":[
                {"type":"tool_result","tool_use_id":"c","is_error":true},
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":"AAAA"}}]}])
        );
        assert_eq!(
            out["output_config"],
            json!({"format":{"type":"json_schema","schema":{"type":"object"}}})
        );
        let json_object = Request {
            output_format: Some(OutputFormat::JsonObject),
            ..Request::default()
        };
        assert!(encoded(&json_object).get("output_config").is_none());
    }

    #[test]
    fn client_extras_are_not_forwarded() {
        let mut req = Request::default();
        req.extras.insert("service_tier".into(), json!("flex"));
        assert!(encoded(&req).get("service_tier").is_none());
    }
}
