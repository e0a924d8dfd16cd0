//! Messages requests from clients into the internal representation (reference: dialects.md
//! §1.C, §3.5, §3.6).

use super::blocks::{decode_block, CallNames, CACHE_CONTROL};
use crate::dialect::ir::{
    Block, Extras, OutputFormat, Reasoning, Request, Role, Tool, ToolChoice, Turn,
};
use crate::dialect::InvalidRequest;
use serde_json::{json, Map, Value};

fn invalid(message: &'static str) -> InvalidRequest {
    InvalidRequest(message)
}

/// A member that is present and not `null`.
fn member<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn opt_u64(
    obj: &Map<String, Value>,
    key: &str,
    msg: &'static str,
) -> Result<Option<u64>, InvalidRequest> {
    member(obj, key)
        .map(|v| v.as_u64().ok_or(invalid(msg)))
        .transpose()
}

fn opt_f64(
    obj: &Map<String, Value>,
    key: &str,
    msg: &'static str,
) -> Result<Option<f64>, InvalidRequest> {
    member(obj, key)
        .map(|v| v.as_f64().ok_or(invalid(msg)))
        .transpose()
}

/// A message's or the system's `content`: a string or an array of blocks.
fn content(v: &Value, names: &mut CallNames) -> Result<Vec<Block>, InvalidRequest> {
    match v {
        Value::String(s) if s.is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![Block::text(s.clone())]),
        Value::Array(blocks) => {
            let mut out = Vec::with_capacity(blocks.len());
            for b in blocks {
                out.extend(decode_block(b, names)?);
            }
            Ok(out)
        }
        _ => Err(invalid(
            "content must be a string or an array of content blocks",
        )),
    }
}

/// System blocks: Anthropic allows only text there.
fn system(v: &Value, names: &mut CallNames) -> Result<Vec<Block>, InvalidRequest> {
    let blocks = content(v, names)?;
    if blocks.iter().all(|b| matches!(b, Block::Text { .. })) {
        Ok(blocks)
    } else {
        Err(invalid("system blocks must be text"))
    }
}

/// A custom tool; `None` for a server tool (`web_search_*`, `bash_*`, …), which only Anthropic
/// can run and which has no place in the IR.
fn tool(t: &Value) -> Result<Option<Tool>, InvalidRequest> {
    let obj = t.as_object().ok_or(invalid("a tool must be an object"))?;
    match member(obj, "type").map(Value::as_str) {
        None | Some(Some("custom")) => {}
        Some(_) => return Ok(None),
    }
    let name = member(obj, "name")
        .and_then(Value::as_str)
        .ok_or(invalid("a tool needs a name"))?;
    let mut extras = Extras::new();
    for key in [CACHE_CONTROL, "strict"] {
        if let Some(v) = member(obj, key) {
            extras.insert(key.to_string(), v.clone());
        }
    }
    Ok(Some(Tool {
        name: name.to_string(),
        description: member(obj, "description")
            .and_then(Value::as_str)
            .map(str::to_string),
        parameters: member(obj, "input_schema")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        extras,
    }))
}

/// `tool_choice`, and whether it turned parallel calls off.
fn tool_choice(v: &Value) -> Result<(Option<ToolChoice>, Option<bool>), InvalidRequest> {
    let choice = match v["type"].as_str() {
        Some("auto") => ToolChoice::Auto,
        Some("any") => ToolChoice::Required,
        Some("none") => ToolChoice::None,
        Some("tool") => ToolChoice::Tool(
            v["name"]
                .as_str()
                .ok_or(invalid("tool_choice of type tool needs a name"))?
                .to_string(),
        ),
        _ => return Err(invalid("tool_choice.type must be auto, any, none or tool")),
    };
    let parallel = (v["disable_parallel_tool_use"].as_bool() == Some(true)).then_some(false);
    Ok((Some(choice), parallel))
}

/// `thinking` together with `output_config.effort`.
fn reasoning(
    thinking: Option<&Value>,
    effort: Option<&str>,
) -> Result<Option<Reasoning>, InvalidRequest> {
    let effort = effort.map(str::to_string);
    let Some(t) = thinking else {
        return Ok(effort.map(|e| Reasoning {
            effort: Some(e),
            budget_tokens: None,
            enabled: true,
        }));
    };
    let (enabled, budget_tokens) = match t["type"].as_str() {
        Some("enabled") => (true, t["budget_tokens"].as_u64()),
        Some("adaptive") => (true, None),
        Some("disabled") => (false, None),
        _ => {
            return Err(invalid(
                "thinking.type must be enabled, adaptive or disabled",
            ))
        }
    };
    Ok(Some(Reasoning {
        effort,
        budget_tokens,
        enabled,
    }))
}

/// `output_config.format` (or the older top-level `output_format`).
fn output_format(v: &Value) -> Option<OutputFormat> {
    match v["type"].as_str()? {
        "json_schema" => Some(OutputFormat::JsonSchema {
            name: v["name"].as_str().unwrap_or("response").to_string(),
            schema: v["schema"].clone(),
            strict: None,
        }),
        _ => None,
    }
}

/// The fields decoded into their own place; every other top-level field goes to `extras`.
const KNOWN: &[&str] = &[
    "model",
    "max_tokens",
    "system",
    "messages",
    "tools",
    "tool_choice",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "stream",
    "thinking",
    "output_config",
    "output_format",
    "metadata",
];

/// Decodes a Messages request body (`/v1/messages`, also what `count_tokens` sends, which has
/// no `max_tokens`).
pub fn decode_request(body: &[u8]) -> Result<Request, InvalidRequest> {
    let v: Value = serde_json::from_slice(body).map_err(|_| invalid("invalid JSON body"))?;
    let obj = v
        .as_object()
        .ok_or(invalid("the body must be a JSON object"))?;
    let model = member(obj, "model")
        .and_then(Value::as_str)
        .ok_or(invalid("model: Field required"))?;
    let stream = member(obj, "stream")
        .map(|s| {
            s.as_bool()
                .ok_or(invalid("stream: Input should be a valid boolean"))
        })
        .transpose()?
        .unwrap_or(false);
    let mut req = Request {
        model: model.to_string(),
        stream,
        // Anthropic streams always carry usage.
        stream_usage: stream,
        max_output_tokens: opt_u64(
            obj,
            "max_tokens",
            "max_tokens: Input should be a valid integer",
        )?,
        temperature: opt_f64(
            obj,
            "temperature",
            "temperature: Input should be a valid number",
        )?,
        top_p: opt_f64(obj, "top_p", "top_p: Input should be a valid number")?,
        top_k: opt_u64(obj, "top_k", "top_k: Input should be a valid integer")?,
        user: v["metadata"]["user_id"].as_str().map(str::to_string),
        ..Request::default()
    };
    if let Some(stops) = member(obj, "stop_sequences") {
        let stops = stops
            .as_array()
            .ok_or(invalid("stop_sequences must be an array of strings"))?;
        for s in stops {
            let s = s
                .as_str()
                .ok_or(invalid("stop_sequences must be an array of strings"))?;
            req.stop.push(s.to_string());
        }
    }
    req.reasoning = reasoning(
        member(obj, "thinking"),
        v["output_config"]["effort"].as_str(),
    )?;
    req.output_format =
        output_format(&v["output_config"]["format"]).or_else(|| output_format(&v["output_format"]));
    let mut server_tools = Vec::new();
    if let Some(tools) = member(obj, "tools") {
        for t in tools.as_array().ok_or(invalid("tools must be an array"))? {
            match tool(t)? {
                Some(t) => req.tools.push(t),
                None => server_tools.extend(t["name"].as_str()),
            }
        }
    }
    if let Some(choice) = member(obj, "tool_choice") {
        (req.tool_choice, req.parallel_tool_calls) = tool_choice(choice)?;
        // Forcing a server tool that was left out would make the provider refuse the request.
        if matches!(&req.tool_choice, Some(ToolChoice::Tool(n)) if server_tools.contains(&n.as_str()))
        {
            req.tool_choice = None;
        }
    }
    let mut names = CallNames::new();
    if let Some(s) = member(obj, "system") {
        req.system = system(s, &mut names)?;
    }
    let messages = member(obj, "messages")
        .ok_or(invalid("messages: Field required"))?
        .as_array()
        .ok_or(invalid("messages must be an array"))?;
    for m in messages {
        let role = m["role"].as_str();
        let blocks = content(
            m.get("content").ok_or(invalid("a message needs content"))?,
            &mut names,
        )?;
        match role {
            Some("user") => push(&mut req, Role::User, blocks),
            Some("assistant") => push(&mut req, Role::Assistant, blocks),
            // Claude Code's mid-conversation system messages (a beta): system text, wherever
            // it stands, joins the system prompt.
            Some("system") => {
                if !blocks.iter().all(|b| matches!(b, Block::Text { .. })) {
                    return Err(invalid("system blocks must be text"));
                }
                req.system.extend(blocks);
            }
            _ => return Err(invalid("a message role must be user or assistant")),
        }
    }
    req.extras = obj
        .iter()
        .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(req)
}

/// Appends blocks as a turn, joining them to the previous turn of the same role, as Anthropic
/// itself does with consecutive turns of one role. A turn with nothing left in it is not kept.
fn push(req: &mut Request, role: Role, blocks: Vec<Block>) {
    if blocks.is_empty() {
        return;
    }
    match req.turns.last_mut() {
        Some(last) if last.role == role => last.blocks.extend(blocks),
        _ => req.turns.push(Turn { role, blocks }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::ir::{ToolCall, ToolResult};

    fn decode(v: Value) -> Request {
        decode_request(v.to_string().as_bytes()).unwrap()
    }

    fn ephemeral() -> Extras {
        [(CACHE_CONTROL.to_string(), json!({"type":"ephemeral"}))]
            .into_iter()
            .collect()
    }

    #[test]
    fn t1_a_single_question() {
        let req = decode(json!({"model":"claude-sonnet-4-5","max_tokens":64,
            "messages":[{"role":"user","content":"say hi"}]}));
        assert_eq!(
            req,
            Request {
                model: "claude-sonnet-4-5".into(),
                max_output_tokens: Some(64),
                turns: vec![Turn {
                    role: Role::User,
                    blocks: vec![Block::text("say hi")]
                }],
                ..Request::default()
            }
        );
    }

    #[test]
    fn t2_system_from_every_placement_in_order() {
        let req = decode(json!({"model":"m","max_tokens":10,
            "system":[{"type":"text","text":"billing header"},
                {"type":"text","text":"You are terse.","cache_control":{"type":"ephemeral"}}],
            "messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"},
                {"role":"user","content":[{"type":"text","text":"and now?","cache_control":{"type":"ephemeral"}}]},
                {"role":"system","content":"Agents: claude, Explore."}]}));
        assert_eq!(
            req.system,
            vec![
                Block::text("billing header"),
                Block::Text {
                    text: "You are terse.".into(),
                    extras: ephemeral()
                },
                Block::text("Agents: claude, Explore."),
            ]
        );
        assert_eq!(req.turns.len(), 3);
        assert_eq!(
            req.turns[2].blocks,
            vec![Block::Text {
                text: "and now?".into(),
                extras: ephemeral()
            }]
        );
        let plain = decode(json!({"model":"m","max_tokens":10,"system":"Be brief.",
            "messages":[{"role":"user","content":"hi"}]}));
        assert_eq!(plain.system, vec![Block::text("Be brief.")]);
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
    fn t3_the_tool_round_trip_decodes_into_turns_of_blocks() {
        let req = decode(t3());
        assert_eq!(req.system, vec![Block::text("You are terse.")]);
        assert_eq!(req.max_output_tokens, Some(1024));
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
                        id: "toolu_1".into(),
                        name: "get_weather".into(),
                        arguments: "{\"location\":\"Paris\"}".into(),
                        extras: Extras::new(),
                    })]
                },
                Turn {
                    role: Role::User,
                    blocks: vec![Block::ToolResult(ToolResult {
                        call_id: "toolu_1".into(),
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
                extras: Extras::new(),
            }]
        );
    }

    /// The shape of a real Claude Code request (fixtures/client-requests/claude-code.jsonl),
    /// texts shortened.
    #[test]
    fn a_claude_code_request_decodes_whole() {
        let req = decode(json!({"model":"claude-opus-4-8",
            "messages":[{"role":"user","content":[{"type":"text","text":"<system-reminder>date</system-reminder>\n\n"},
                {"type":"text","text":"say hi","cache_control":{"type":"ephemeral"}}]},
                {"role":"system","content":"Available agent types for the Agent tool: claude"}],
            "system":[{"type":"text","text":"x-anthropic-billing-header: cc_version=2.1.197.123;"},
                {"type":"text","text":"You are a Claude agent.","cache_control":{"type":"ephemeral"}}],
            "tools":[{"name":"Bash","description":"Executes a bash command.","input_schema":{"type":"object","properties":{"command":{"type":"string"}},"required":["command"]}}],
            "metadata":{"user_id":"{\"device_id\":\"d6\",\"session_id\":\"98\"}"},
            "max_tokens":64000,"thinking":{"type":"adaptive"},
            "context_management":{"edits":[{"type":"clear_thinking_20251015","keep":"all"}]},
            "output_config":{"effort":"high"},"stream":true}));
        assert!(req.stream && req.stream_usage);
        assert_eq!(req.max_output_tokens, Some(64000));
        assert_eq!(req.system.len(), 3);
        assert_eq!(req.turns.len(), 1);
        assert_eq!(req.turns[0].blocks.len(), 2);
        assert_eq!(req.tools[0].name, "Bash");
        assert_eq!(
            req.reasoning,
            Some(Reasoning {
                effort: Some("high".into()),
                budget_tokens: None,
                enabled: true
            })
        );
        assert_eq!(
            req.user.as_deref(),
            Some("{\"device_id\":\"d6\",\"session_id\":\"98\"}")
        );
        assert_eq!(
            req.extras.keys().collect::<Vec<_>>(),
            vec!["context_management"]
        );
    }

    #[test]
    fn settings_map_to_their_places() {
        let req = decode(
            json!({"model":"m","max_tokens":100,"temperature":0.5,"top_p":0.9,"top_k":40,
            "stop_sequences":["END"],"thinking":{"type":"enabled","budget_tokens":2048},
            "tool_choice":{"type":"any","disable_parallel_tool_use":true},
            "output_config":{"format":{"type":"json_schema","schema":{"type":"object"}}},
            "tools":[{"name":"f","input_schema":{"type":"object"},"cache_control":{"type":"ephemeral"}},
                {"type":"web_search_20250305","name":"web_search","max_uses":5}],
            "messages":[{"role":"user","content":"x"}]}),
        );
        assert_eq!(req.temperature, Some(0.5));
        assert_eq!((req.top_p, req.top_k), (Some(0.9), Some(40)));
        assert_eq!(req.stop, vec!["END".to_string()]);
        assert_eq!(req.tool_choice, Some(ToolChoice::Required));
        assert_eq!(req.parallel_tool_calls, Some(false));
        assert_eq!(req.tools.len(), 1, "the server tool is left out");
        assert_eq!(req.tools[0].extras, ephemeral());
        assert_eq!(
            req.reasoning,
            Some(Reasoning {
                effort: None,
                budget_tokens: Some(2048),
                enabled: true
            })
        );
        assert_eq!(
            req.output_format,
            Some(OutputFormat::JsonSchema {
                name: "response".into(),
                schema: json!({"type":"object"}),
                strict: None
            })
        );
        let forced = decode(json!({"model":"m","max_tokens":1,"messages":[],
            "tools":[{"type":"web_search_20250305","name":"web_search"}],
            "tool_choice":{"type":"tool","name":"web_search"}}));
        assert_eq!(forced.tool_choice, None, "forcing a dropped server tool");
    }

    #[test]
    fn count_tokens_bodies_have_no_max_tokens() {
        let req = decode(json!({"model":"m","messages":[{"role":"user","content":"say hi"}]}));
        assert_eq!(req.max_output_tokens, None);
    }

    #[test]
    fn broken_requests_are_refused_not_guessed() {
        for body in [
            json!({"messages":[]}),
            json!({"model":"m"}),
            json!({"model":"m","messages":{}}),
            json!({"model":"m","max_tokens":"many","messages":[]}),
            json!({"model":"m","max_tokens":-1,"messages":[]}),
            json!({"model":"m","messages":[{"role":"wizard","content":"x"}]}),
            json!({"model":"m","messages":[{"role":"user"}]}),
            json!({"model":"m","messages":[{"role":"user","content":5}]}),
            json!({"model":"m","messages":[{"role":"user","content":[{"type":"audio"}]}]}),
            json!({"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]}),
            json!({"model":"m","messages":[],"system":[{"type":"image","source":{"type":"url","url":"u"}}]}),
            json!({"model":"m","messages":[],"stop_sequences":"END"}),
            json!({"model":"m","messages":[],"tool_choice":{"type":"sometimes"}}),
            json!({"model":"m","messages":[],"thinking":{"type":"maybe"}}),
            json!({"model":"m","messages":[],"stream":"yes"}),
        ] {
            assert!(
                decode_request(body.to_string().as_bytes()).is_err(),
                "{body}"
            );
        }
        assert!(decode_request(b"[").is_err());
        assert!(decode_request(b"[]").is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let seed = t3().to_string().into_bytes();
        for cut in 0..seed.len() {
            let _ = decode_request(&seed[..cut]);
            let mut flipped = seed.clone();
            flipped[cut] ^= 0x5a;
            let _ = decode_request(&flipped);
        }
        let mut x: u32 = 1;
        for len in 0..512 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                    (x >> 16) as u8
                })
                .collect();
            let _ = decode_request(&bytes);
        }
    }
}
