//! Chat Completions requests to and from the internal representation (reference: dialects.md
//! §1.A, §3.5–§3.9).

use crate::dialect::codec::Quirks;
use crate::dialect::ir::{
    Block, Extras, Media, OutputFormat, Reasoning, Request, Role, Tool, ToolCall, ToolChoice,
    ToolResult, Turn,
};
use crate::dialect::InvalidRequest;
use bytes::Bytes;
use serde_json::{json, Map, Value};

fn invalid(message: &'static str) -> InvalidRequest {
    InvalidRequest(message)
}

/// A message's `content` as blocks; empty texts are left out (Anthropic refuses them).
fn content_blocks(content: &Value) -> Result<Vec<Block>, InvalidRequest> {
    let parts = match content {
        Value::Null => return Ok(Vec::new()),
        Value::String(s) if s.is_empty() => return Ok(Vec::new()),
        Value::String(s) => return Ok(vec![Block::text(s.clone())]),
        Value::Array(parts) => parts,
        _ => return Err(invalid("'content' must be a string or an array of parts")),
    };
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        match part["type"].as_str() {
            Some("text") => {
                let text = part["text"].as_str().unwrap_or("");
                if !text.is_empty() {
                    out.push(Block::text(text));
                }
            }
            Some("image_url") => {
                let url = part["image_url"]["url"]
                    .as_str()
                    .ok_or(invalid("an image_url part needs image_url.url"))?;
                let mut extras = Extras::new();
                if let Some(detail) = part["image_url"].get("detail") {
                    extras.insert("detail".into(), detail.clone());
                }
                out.push(Block::Image {
                    source: Media::from_url(url),
                    extras,
                });
            }
            Some("file") => {
                let data = part["file"]["file_data"]
                    .as_str()
                    .ok_or(invalid("a file part needs file.file_data"))?;
                out.push(Block::File {
                    source: Media::from_url(data),
                    name: part["file"]["filename"].as_str().map(str::to_string),
                    extras: Extras::new(),
                });
            }
            _ => return Err(invalid("unsupported content part type")),
        }
    }
    Ok(out)
}

fn tool_call(call: &Value) -> Result<ToolCall, InvalidRequest> {
    let id = call["id"].as_str().unwrap_or("").to_string();
    let mut extras = Extras::new();
    let (name, arguments) = match call["type"].as_str() {
        Some("custom") => {
            extras.insert("type".into(), json!("custom"));
            (&call["custom"]["name"], &call["custom"]["input"])
        }
        _ => (&call["function"]["name"], &call["function"]["arguments"]),
    };
    let name = name
        .as_str()
        .ok_or(invalid("a tool call needs a function name"))?;
    let arguments = match arguments {
        Value::String(s) => s.clone(),
        Value::Null => "{}".to_string(),
        other => other.to_string(),
    };
    Ok(ToolCall {
        id,
        name: name.to_string(),
        arguments,
        extras,
    })
}

fn tool(t: &Value) -> Result<Tool, InvalidRequest> {
    let mut extras = Extras::new();
    let f = match t["type"].as_str() {
        Some("function") | None => &t["function"],
        Some("custom") => {
            extras.insert("type".into(), json!("custom"));
            &t["custom"]
        }
        Some(_) => return Err(invalid("unsupported tool type")),
    };
    let name = f["name"].as_str().ok_or(invalid("a tool needs a name"))?;
    if let Some(strict) = f.get("strict") {
        extras.insert("strict".into(), strict.clone());
    }
    Ok(Tool {
        name: name.to_string(),
        description: f["description"].as_str().map(str::to_string),
        parameters: f
            .get("parameters")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
        extras,
    })
}

fn tool_choice(v: &Value) -> Option<ToolChoice> {
    match v {
        Value::String(s) => match s.as_str() {
            "auto" => Some(ToolChoice::Auto),
            "required" => Some(ToolChoice::Required),
            "none" => Some(ToolChoice::None),
            _ => None,
        },
        Value::Object(_) => v["function"]["name"]
            .as_str()
            .or(v["name"].as_str())
            .map(|n| ToolChoice::Tool(n.to_string())),
        _ => None,
    }
}

fn output_format(v: &Value) -> Option<OutputFormat> {
    match v["type"].as_str()? {
        "text" => Some(OutputFormat::Text),
        "json_object" => Some(OutputFormat::JsonObject),
        "json_schema" => Some(OutputFormat::JsonSchema {
            name: v["json_schema"]["name"]
                .as_str()
                .unwrap_or("response")
                .to_string(),
            schema: v["json_schema"]["schema"].clone(),
            strict: v["json_schema"]["strict"].as_bool(),
        }),
        _ => None,
    }
}

/// The fields decoded into their own place; every other top-level field goes to `extras`.
const KNOWN: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_completion_tokens",
    "max_tokens",
    "temperature",
    "top_p",
    "stop",
    "stream",
    "stream_options",
    "response_format",
    "reasoning_effort",
    "user",
];

/// Decodes a Chat Completions request body.
pub fn decode_request(body: &[u8]) -> Result<Request, InvalidRequest> {
    let v: Value = serde_json::from_slice(body).map_err(|_| invalid("invalid JSON body"))?;
    let obj = v
        .as_object()
        .ok_or(invalid("the body must be a JSON object"))?;
    let model = v["model"]
        .as_str()
        .ok_or(invalid("you must provide a model parameter"))?;
    let mut req = Request {
        model: model.to_string(),
        stream: v["stream"].as_bool().unwrap_or(false),
        stream_usage: v["stream_options"]["include_usage"].as_bool() == Some(true),
        max_output_tokens: v["max_completion_tokens"]
            .as_u64()
            .or(v["max_tokens"].as_u64()),
        temperature: v["temperature"].as_f64(),
        top_p: v["top_p"].as_f64(),
        parallel_tool_calls: v["parallel_tool_calls"].as_bool(),
        tool_choice: tool_choice(&v["tool_choice"]),
        output_format: output_format(&v["response_format"]),
        user: v["user"].as_str().map(str::to_string),
        ..Request::default()
    };
    req.stop = match &v["stop"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|s| s.as_str().map(String::from))
            .collect(),
        _ => Vec::new(),
    };
    if let Some(effort) = v["reasoning_effort"].as_str() {
        req.reasoning = Some(Reasoning {
            effort: Some(effort.to_string()),
            budget_tokens: None,
            enabled: effort != "none",
        });
    }
    for t in v["tools"].as_array().into_iter().flatten() {
        req.tools.push(tool(t)?);
    }
    for m in v["messages"]
        .as_array()
        .ok_or(invalid("'messages' must be an array"))?
    {
        decode_message(m, &mut req)?;
    }
    req.extras = obj
        .iter()
        .filter(|(k, _)| !KNOWN.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok(req)
}

fn decode_message(m: &Value, req: &mut Request) -> Result<(), InvalidRequest> {
    match m["role"].as_str() {
        Some("system" | "developer") => req.system.extend(content_blocks(&m["content"])?),
        Some("user") => push(req, Role::User, content_blocks(&m["content"])?),
        Some("assistant") => {
            let mut blocks = Vec::new();
            let reasoning = m["reasoning_content"].as_str().or(m["reasoning"].as_str());
            if let Some(text) = reasoning.filter(|t| !t.is_empty()) {
                blocks.push(Block::Thinking {
                    text: text.to_string(),
                    signature: None,
                    extras: Extras::new(),
                });
            }
            blocks.extend(content_blocks(&m["content"])?);
            for call in m["tool_calls"].as_array().into_iter().flatten() {
                blocks.push(Block::ToolCall(tool_call(call)?));
            }
            push(req, Role::Assistant, blocks);
        }
        Some("tool") => {
            let call_id = m["tool_call_id"]
                .as_str()
                .ok_or(invalid("a tool message needs tool_call_id"))?;
            let result = Block::ToolResult(ToolResult {
                call_id: call_id.to_string(),
                name: m["name"].as_str().map(str::to_string),
                content: content_blocks(&m["content"])?,
                is_error: false,
            });
            push(req, Role::User, vec![result]);
        }
        _ => return Err(invalid("unsupported message role")),
    }
    Ok(())
}

/// Appends blocks as a turn, joining them to the previous turn of the same role: consecutive
/// tool messages are one turn of results, as the other dialects want them.
fn push(req: &mut Request, role: Role, blocks: Vec<Block>) {
    match req.turns.last_mut() {
        Some(last) if last.role == role => last.blocks.extend(blocks),
        _ => req.turns.push(Turn { role, blocks }),
    }
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

fn part(block: &Block) -> Option<Value> {
    match block {
        Block::Text { text, .. } => Some(json!({"type": "text", "text": text})),
        Block::Image { source, extras } => {
            let mut image = json!({"url": source.to_url()});
            if let Some(detail) = extras.get("detail") {
                image["detail"] = detail.clone();
            }
            Some(json!({"type": "image_url", "image_url": image}))
        }
        Block::File { source, name, .. } => {
            let mut file = json!({"file_data": source.to_url()});
            if let Some(n) = name {
                file["filename"] = json!(n);
            }
            Some(json!({"type": "file", "file": file}))
        }
        _ => None,
    }
}

/// A user message's content: a string when it is only text, parts otherwise.
fn user_content(blocks: &[&Block]) -> Value {
    if let [Block::Text { text, .. }] = blocks {
        return json!(text);
    }
    Value::Array(blocks.iter().filter_map(|b| part(b)).collect())
}

/// The readable reasoning of an assistant turn, as one `reasoning_content`.
fn joined_thinking(blocks: &[Block]) -> String {
    blocks
        .iter()
        .filter_map(|b| match b {
            Block::Thinking { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

fn encode_turn(turn: &Turn, messages: &mut Vec<Value>, quirks: Quirks) {
    match turn.role {
        Role::User => {
            // Results first, one tool message each, right after the call that asked for them.
            let mut images = Vec::new();
            for b in &turn.blocks {
                if let Block::ToolResult(r) = b {
                    let text = joined_text(&r.content);
                    let content = if r.is_error {
                        format!("[tool error] {text}")
                    } else {
                        text
                    };
                    messages.push(
                        json!({"role": "tool", "tool_call_id": r.call_id, "content": content}),
                    );
                    // Tool messages are text only: images in a result follow as a user message.
                    images.extend(
                        r.content
                            .iter()
                            .filter(|c| matches!(c, Block::Image { .. })),
                    );
                }
            }
            let rest: Vec<&Block> = turn
                .blocks
                .iter()
                .filter(|b| {
                    matches!(
                        b,
                        Block::Text { .. } | Block::Image { .. } | Block::File { .. }
                    )
                })
                .chain(images)
                .collect();
            if !rest.is_empty() {
                messages.push(json!({"role": "user", "content": user_content(&rest)}));
            }
        }
        Role::Assistant => {
            let text = joined_text(&turn.blocks);
            let calls: Vec<Value> = turn
                .blocks
                .iter()
                .filter_map(|b| match b {
                    Block::ToolCall(c) => Some(json!({"id": c.id, "type": "function",
                        "function": {"name": c.name, "arguments": c.arguments}})),
                    _ => None,
                })
                .collect();
            // A turn of thinking alone has nothing OpenAI can take.
            if text.is_empty() && calls.is_empty() {
                return;
            }
            let mut m = json!({"role": "assistant",
                "content": if text.is_empty() { Value::Null } else { json!(text) }});
            if !calls.is_empty() {
                m["tool_calls"] = Value::Array(calls);
            }
            // Every assistant message carries it, empty when the turn had no readable
            // reasoning (history from a model that did not think): DeepSeek's complaint is a
            // missing field.
            if quirks.reasoning_content {
                m["reasoning_content"] = json!(joined_thinking(&turn.blocks));
            }
            messages.push(m);
        }
    }
}

/// Encodes a request for a Chat Completions provider that knows the model as `model`.
///
/// Usage is always asked for in a stream, whatever the client asked (reference §0 rule 3):
/// the gateway meters every request, and strips the usage chunk if the client did not ask.
/// Thinking blocks are not sent, OpenAI having no field for them, unless the provider's quirks
/// ask for them as `reasoning_content`.
pub fn encode_request(req: &Request, model: &str, quirks: Quirks) -> Bytes {
    let mut messages = Vec::with_capacity(req.turns.len() + 1);
    let system = joined_text(&req.system);
    if !system.is_empty() {
        messages.push(json!({"role": "system", "content": system}));
    }
    for turn in &req.turns {
        encode_turn(turn, &mut messages, quirks);
    }
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(messages));
    if !req.tools.is_empty() {
        let tools = req
            .tools
            .iter()
            .map(|t| {
                let mut f = json!({"name": t.name, "parameters": t.parameters});
                if let Some(d) = &t.description {
                    f["description"] = json!(d);
                }
                json!({"type": "function", "function": f})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = &req.tool_choice {
            let c = match choice {
                ToolChoice::Auto => json!("auto"),
                ToolChoice::Required => json!("required"),
                ToolChoice::None => json!("none"),
                ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
            };
            body.insert("tool_choice".into(), c);
        }
        if let Some(p) = req.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(p));
        }
    }
    if let Some(n) = req.max_output_tokens {
        body.insert("max_completion_tokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        body.insert("temperature".into(), json!(t));
    }
    if let Some(p) = req.top_p {
        body.insert("top_p".into(), json!(p));
    }
    if !req.stop.is_empty() {
        // OpenAI takes at most four; more is a 400.
        let stop: Vec<&String> = req.stop.iter().take(4).collect();
        body.insert("stop".into(), json!(stop));
    }
    if let Some(f) = &req.output_format {
        let v = match f {
            OutputFormat::Text => json!({"type": "text"}),
            OutputFormat::JsonObject => json!({"type": "json_object"}),
            OutputFormat::JsonSchema {
                name,
                schema,
                strict,
            } => {
                let mut s = json!({"name": name, "schema": schema});
                if let Some(strict) = strict {
                    s["strict"] = json!(strict);
                }
                json!({"type": "json_schema", "json_schema": s})
            }
        };
        body.insert("response_format".into(), v);
    }
    if let Some(effort) = req.reasoning.as_ref().and_then(effort_for) {
        body.insert("reasoning_effort".into(), json!(effort));
    }
    if let Some(u) = &req.user {
        body.insert("user".into(), json!(u));
    }
    if req.stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Bytes::from(Value::Object(body).to_string())
}

/// OpenAI's `reasoning_effort` for a reasoning setting: the effort when the client named one,
/// otherwise one derived from a token budget (thresholds as LiteLLM maps Anthropic budgets).
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

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(v: Value) -> Request {
        decode_request(v.to_string().as_bytes()).unwrap()
    }

    fn encoded(req: &Request) -> Value {
        serde_json::from_slice(&encode_request(req, "up-model", Quirks::default())).unwrap()
    }

    /// Reference §6.1, T3 in the Chat dialect: the second request of a tool round trip.
    fn t3() -> Value {
        json!({"model":"m","messages":[
            {"role":"system","content":"You are terse."},
            {"role":"user","content":"Weather in Paris?"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"{\"temp_c\":18}"}],
            "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}]})
    }

    #[test]
    fn the_tool_round_trip_decodes_into_turns_of_blocks() {
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
                        name: None,
                        content: vec![Block::text("{\"temp_c\":18}")],
                        is_error: false,
                    })]
                },
            ]
        );
        assert_eq!(req.tools[0].name, "get_weather");
        assert_eq!(req.tools[0].parameters["required"], json!(["location"]));
    }

    #[test]
    fn the_tool_round_trip_encodes_back_to_the_same_conversation() {
        let mut expected = t3();
        expected["model"] = json!("up-model");
        assert_eq!(encoded(&decode(t3())), expected);
    }

    #[test]
    fn system_and_developer_messages_become_one_system_message() {
        let req = decode(json!({"model":"m","messages":[
            {"role":"developer","content":"Be brief."},
            {"role":"user","content":"hi"},
            {"role":"assistant","content":"hello"},
            {"role":"system","content":[{"type":"text","text":"Answer in French."}]},
            {"role":"user","content":"and now?"}]}));
        assert_eq!(req.system.len(), 2);
        assert_eq!(req.turns.len(), 3);
        let out = encoded(&req);
        assert_eq!(
            out["messages"],
            json!([{"role":"system","content":"Be brief.\nAnswer in French."},
                {"role":"user","content":"hi"},{"role":"assistant","content":"hello"},
                {"role":"user","content":"and now?"}])
        );
    }

    #[test]
    fn images_text_and_settings_survive_the_round_trip() {
        let body = json!({"model":"m","stream":true,"stream_options":{"include_usage":false},
            "max_tokens":100,"temperature":0.5,"top_p":0.9,"stop":"END","user":"u1",
            "reasoning_effort":"low","parallel_tool_calls":false,"seed":7,
            "response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object"},"strict":true}},
            "messages":[{"role":"user","content":[
                {"type":"text","text":"What is this?"},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}},
                {"type":"image_url","image_url":{"url":"https://x.test/a.jpg"}}]}]});
        let req = decode(body);
        assert!(req.stream && !req.stream_usage);
        assert_eq!(req.stop, vec!["END".to_string()]);
        assert_eq!(req.extras.get("seed"), Some(&json!(7)));
        assert_eq!(
            req.turns[0].blocks[1],
            Block::Image {
                source: Media::Base64 {
                    mime: "image/png".into(),
                    data: "AAAA".into()
                },
                extras: [("detail".to_string(), json!("low"))].into_iter().collect(),
            }
        );
        let out = encoded(&req);
        assert_eq!(
            out,
            json!({"model":"up-model","messages":[{"role":"user","content":[
                {"type":"text","text":"What is this?"},
                {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}},
                {"type":"image_url","image_url":{"url":"https://x.test/a.jpg"}}]}],
                "max_completion_tokens":100,"temperature":0.5,"top_p":0.9,"stop":["END"],
                "response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object"},"strict":true}},
                "reasoning_effort":"low","user":"u1","stream":true,"stream_options":{"include_usage":true}})
        );
    }

    #[test]
    fn results_with_images_and_errors_follow_the_dialect_rules() {
        let req = Request {
            model: "m".into(),
            turns: vec![Turn {
                role: Role::User,
                blocks: vec![
                    Block::ToolResult(ToolResult {
                        call_id: "toolu_1".into(),
                        name: None,
                        content: vec![
                            Block::text("failed"),
                            Block::Image {
                                source: Media::Url("https://x.test/s.png".into()),
                                extras: Extras::new(),
                            },
                        ],
                        is_error: true,
                    }),
                    Block::text("now what?"),
                ],
            }],
            ..Request::default()
        };
        assert_eq!(
            encoded(&req)["messages"],
            json!([{"role":"tool","tool_call_id":"toolu_1","content":"[tool error] failed"},
                {"role":"user","content":[{"type":"text","text":"now what?"},
                    {"type":"image_url","image_url":{"url":"https://x.test/s.png"}}]}])
        );
    }

    #[test]
    fn broken_requests_are_refused_not_guessed() {
        for body in [
            json!({"messages":[]}),
            json!({"model":"m"}),
            json!({"model":"m","messages":[{"role":"wizard","content":"x"}]}),
            json!({"model":"m","messages":[{"role":"user","content":[{"type":"input_audio"}]}]}),
            json!({"model":"m","messages":[{"role":"tool","content":"x"}]}),
        ] {
            assert!(
                decode_request(body.to_string().as_bytes()).is_err(),
                "{body}"
            );
        }
        assert!(decode_request(b"[").is_err());
    }
}
