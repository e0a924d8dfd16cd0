//! `input` items to and from turns of blocks (reference: dialects.md §1.B, §3.4, §3.9).
//!
//! Responses lists a conversation as flat items: messages, `function_call`,
//! `function_call_output`, `reasoning`, custom tool calls… The internal representation has
//! turns: consecutive items of one side join one turn, so several calls become one assistant
//! turn and their outputs one user turn, as every other dialect wants them.

use super::reasoning;
use super::tools::{call_shape, custom_arguments, custom_input, flat_name};
use crate::dialect::ir::{Block, Extras, Media, Request, Role, ToolCall, ToolResult, Turn};
use crate::dialect::InvalidRequest;
use serde_json::{json, Value};

fn invalid(message: &'static str) -> InvalidRequest {
    InvalidRequest(message)
}

/// Items that only OpenAI's servers can act on: calls of built-in tools and server-side
/// state. They are dropped (see `tools.rs`), with the outputs that answer them.
const SERVER_ITEMS: &[&str] = &[
    "web_search_call",
    "file_search_call",
    "computer_call",
    "computer_call_output",
    "code_interpreter_call",
    "image_generation_call",
    "local_shell_call",
    "local_shell_call_output",
    "shell_call",
    "shell_call_output",
    "apply_patch_call",
    "apply_patch_call_output",
    "mcp_call",
    "mcp_list_tools",
    "mcp_approval_request",
    "mcp_approval_response",
    "tool_search_call",
    "tool_search_output",
    "compaction",
    "compaction_summary",
];

fn image(part: &Value) -> Result<Block, InvalidRequest> {
    let url = match (part["image_url"].as_str(), part.get("file_id")) {
        (Some(url), _) => url,
        (None, Some(Value::String(_))) => return Err(invalid(
            "Images given by file_id cannot be served here: send image_url (a URL or a data URL).",
        )),
        _ => return Err(invalid("An input_image part needs image_url.")),
    };
    let mut extras = Extras::new();
    if let Some(detail) = part.get("detail").filter(|d| !d.is_null()) {
        extras.insert("detail".into(), detail.clone());
    }
    Ok(Block::Image {
        source: Media::from_url(url),
        extras,
    })
}

fn file(part: &Value) -> Result<Block, InvalidRequest> {
    let name = part["filename"].as_str().map(str::to_string);
    let source = match (part["file_data"].as_str(), part["file_url"].as_str()) {
        (Some(data), _) if data.starts_with("data:") => Media::from_url(data),
        // Bare base64: the type follows the file name, as OpenAI reads it.
        (Some(data), _) => Media::Base64 {
            mime: match name.as_deref() {
                Some(n) if n.to_ascii_lowercase().ends_with(".pdf") => "application/pdf",
                _ => "application/octet-stream",
            }
            .to_string(),
            data: data.to_string(),
        },
        (None, Some(url)) => Media::Url(url.to_string()),
        (None, None) => {
            return Err(invalid(
                "Files given by file_id cannot be served here: send file_data or file_url.",
            ))
        }
    };
    Ok(Block::File {
        source,
        name,
        extras: Extras::new(),
    })
}

/// A message's `content` (or a tool output's parts) as blocks; empty texts are left out.
pub(crate) fn content_blocks(content: &Value) -> Result<Vec<Block>, InvalidRequest> {
    let parts = match content {
        Value::Null => return Ok(Vec::new()),
        Value::String(s) if s.is_empty() => return Ok(Vec::new()),
        Value::String(s) => return Ok(vec![Block::text(s.clone())]),
        Value::Array(parts) => parts,
        _ => return Err(invalid("'content' must be a string or an array of parts.")),
    };
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        let text = match part["type"].as_str() {
            Some("input_text" | "output_text" | "text") => part["text"].as_str(),
            Some("refusal") => part["refusal"].as_str(),
            Some("input_image") => {
                out.push(image(part)?);
                continue;
            }
            Some("input_file") => {
                out.push(file(part)?);
                continue;
            }
            _ => return Err(invalid("Unsupported content part type.")),
        };
        let text = text.ok_or(invalid("A text part needs text."))?;
        if !text.is_empty() {
            out.push(Block::text(text));
        }
    }
    Ok(out)
}

/// A tool output: a string, parts, or (older Codex) `{content, success}`.
fn output_blocks(output: &Value) -> Result<(Vec<Block>, bool), InvalidRequest> {
    match output {
        Value::Object(o) => {
            let failed = o.get("success").and_then(Value::as_bool) == Some(false);
            let content = o.get("content").unwrap_or(&Value::Null);
            Ok((content_blocks(content)?, failed))
        }
        Value::Null | Value::String(_) | Value::Array(_) => Ok((content_blocks(output)?, false)),
        _ => Err(invalid(
            "A tool output must be a string or an array of parts.",
        )),
    }
}

/// Appends blocks as a turn, joining them to the previous turn of the same role.
fn push(req: &mut Request, role: Role, blocks: Vec<Block>) {
    if blocks.is_empty() {
        return;
    }
    match req.turns.last_mut() {
        Some(last) if last.role == role => last.blocks.extend(blocks),
        _ => req.turns.push(Turn { role, blocks }),
    }
}

/// What decoding the items has learnt so far.
#[derive(Default)]
struct History {
    /// Calls of dropped built-in tools, whose outputs are dropped with them.
    dropped: Vec<String>,
    /// The name of each call, for the results that answer it (Gemini matches by name).
    names: Vec<(String, String)>,
}

/// A `function_call` or `custom_tool_call` item as a call: custom input wrapped as
/// `{"input": …}`, a namespace folded into the name (see `tools.rs`).
pub(crate) fn tool_call(item: &Value, custom: bool) -> Result<ToolCall, InvalidRequest> {
    let id = item["call_id"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or(invalid("A tool call item needs call_id."))?;
    let name = item["name"]
        .as_str()
        .filter(|s| !s.is_empty())
        .ok_or(invalid("A tool call item needs a name."))?;
    let mut extras = Extras::new();
    let arguments = if custom {
        extras.insert("type".into(), json!("custom"));
        custom_arguments(item["input"].as_str().unwrap_or(""))
    } else {
        match &item["arguments"] {
            Value::String(s) => s.clone(),
            Value::Null => "{}".to_string(),
            other => other.to_string(),
        }
    };
    let name = match item["namespace"].as_str().filter(|s| !s.is_empty()) {
        Some(ns) => {
            extras.insert("namespace".into(), json!(ns));
            flat_name(ns, name)
        }
        None => name.to_string(),
    };
    Ok(ToolCall {
        id: id.to_string(),
        name,
        arguments,
        extras,
    })
}

fn decode_item(item: &Value, req: &mut Request, h: &mut History) -> Result<(), InvalidRequest> {
    let ty = match item["type"].as_str() {
        Some(t) => t,
        // An "easy" message leaves its type out.
        None if item.get("role").is_some() => "message",
        None => return Err(invalid("Each input item needs a type.")),
    };
    match ty {
        "message" => {
            let blocks = content_blocks(&item["content"])?;
            match item["role"].as_str() {
                Some("system" | "developer") => req.system.extend(blocks),
                Some("user") => push(req, Role::User, blocks),
                Some("assistant") => push(req, Role::Assistant, blocks),
                _ => return Err(invalid("A message's role must be user, assistant, system or developer.")),
            }
        }
        "function_call" | "custom_tool_call" => {
            let c = tool_call(item, ty == "custom_tool_call")?;
            h.names.push((c.id.clone(), c.name.clone()));
            push(req, Role::Assistant, vec![Block::ToolCall(c)]);
        }
        "function_call_output" | "custom_tool_call_output" => {
            let call_id = item["call_id"]
                .as_str()
                .ok_or(invalid("A tool output item needs call_id."))?;
            if h.dropped.iter().any(|d| d == call_id) {
                return Ok(());
            }
            let (content, is_error) = output_blocks(&item["output"])?;
            let name = h
                .names
                .iter()
                .find(|(id, _)| id == call_id)
                .map(|(_, n)| n.clone());
            let result = Block::ToolResult(ToolResult {
                call_id: call_id.to_string(),
                name,
                content,
                is_error,
            });
            push(req, Role::User, vec![result]);
        }
        "reasoning" => {
            push(
                req,
                Role::Assistant,
                reasoning::decode_reasoning(item).into_iter().collect(),
            );
        }
        "item_reference" => {
            return Err(invalid(
                "item_reference needs stored responses, which this gateway does not keep: send the items themselves.",
            ))
        }
        t if SERVER_ITEMS.contains(&t) => {
            if let Some(id) = item["call_id"].as_str() {
                h.dropped.push(id.to_string());
            }
        }
        _ => return Err(invalid("Unsupported input item type.")),
    }
    Ok(())
}

/// Decodes `input` into `req.turns` (and system items into `req.system`).
pub(crate) fn decode_input(input: &Value, req: &mut Request) -> Result<(), InvalidRequest> {
    match input {
        Value::String(s) => {
            push(req, Role::User, content_blocks(&json!(s))?);
            Ok(())
        }
        Value::Array(items) => {
            let mut h = History::default();
            for item in items {
                if !item.is_object() {
                    return Err(invalid("Each input item must be an object."));
                }
                decode_item(item, req, &mut h)?;
            }
            Ok(())
        }
        Value::Null => Err(invalid("Missing required parameter: 'input'.")),
        _ => Err(invalid("'input' must be a string or an array of items.")),
    }
}

fn input_part(block: &Block) -> Option<Value> {
    match block {
        Block::Text { text, .. } => Some(json!({"type": "input_text", "text": text})),
        Block::Image { source, extras } => {
            let detail = extras.get("detail").cloned().unwrap_or(json!("auto"));
            Some(json!({"type": "input_image", "image_url": source.to_url(), "detail": detail}))
        }
        Block::File { source, name, .. } => Some(match source {
            Media::Base64 { .. } => json!({"type": "input_file", "file_data": source.to_url(),
                "filename": name.as_deref().unwrap_or("file")}),
            Media::Url(u) => json!({"type": "input_file", "file_url": u}),
        }),
        _ => None,
    }
}

/// A message item: plain text as a string, anything else as parts.
fn message(role: &str, blocks: &[&Block]) -> Option<Value> {
    if let [Block::Text { text, .. }] = blocks {
        return Some(json!({"role": role, "content": text}));
    }
    let parts: Vec<Value> = blocks
        .iter()
        .filter_map(|b| match (role, b) {
            ("assistant", Block::Text { text, .. }) => {
                Some(json!({"type": "output_text", "text": text}))
            }
            ("assistant", _) => None,
            _ => input_part(b),
        })
        .collect();
    (!parts.is_empty()).then(|| json!({"role": role, "content": parts}))
}

/// A tool result's `output`: a string when it is only text, parts otherwise. Responses has no
/// error flag, so an error says so in its text (as the Chat codec does).
fn output(r: &ToolResult) -> Value {
    let prefix = if r.is_error { "[tool error] " } else { "" };
    let only_text = r.content.iter().all(|b| matches!(b, Block::Text { .. }));
    if only_text {
        let text: Vec<&str> = r
            .content
            .iter()
            .filter_map(|b| match b {
                Block::Text { text, .. } => Some(text.as_str()),
                _ => None,
            })
            .collect();
        return json!(format!("{prefix}{}", text.join("\n")));
    }
    let mut parts: Vec<Value> = r.content.iter().filter_map(input_part).collect();
    if r.is_error {
        parts.insert(0, json!({"type": "input_text", "text": prefix.trim_end()}));
    }
    Value::Array(parts)
}

fn call_item(c: &ToolCall) -> Value {
    let shape = call_shape(&c.name, &c.extras);
    let mut item = if shape.custom {
        json!({"type": "custom_tool_call", "call_id": c.id, "name": shape.name,
            "input": custom_input(&c.arguments)})
    } else {
        json!({"type": "function_call", "call_id": c.id, "name": shape.name,
            "arguments": c.arguments})
    };
    if let Some(ns) = shape.namespace {
        item["namespace"] = json!(ns);
    }
    item
}

/// Encodes turns as `input` items for a Responses provider.
pub(crate) fn encode_turns(turns: &[Turn]) -> Vec<Value> {
    let mut items = Vec::new();
    let mut custom_calls: Vec<&str> = Vec::new();
    for turn in turns {
        match turn.role {
            Role::User => {
                // Outputs first, right after the calls they answer; then the rest.
                for b in &turn.blocks {
                    if let Block::ToolResult(r) = b {
                        let ty = if custom_calls.contains(&r.call_id.as_str()) {
                            "custom_tool_call_output"
                        } else {
                            "function_call_output"
                        };
                        items.push(json!({"type": ty, "call_id": r.call_id, "output": output(r)}));
                    }
                }
                let rest: Vec<&Block> = turn
                    .blocks
                    .iter()
                    .filter(|b| !matches!(b, Block::ToolResult(_)))
                    .collect();
                items.extend(message("user", &rest));
            }
            Role::Assistant => {
                let mut text: Vec<&Block> = Vec::new();
                for b in &turn.blocks {
                    match b {
                        Block::Text { .. } => text.push(b),
                        Block::ToolCall(c) => {
                            items.extend(message("assistant", &std::mem::take(&mut text)));
                            if call_shape(&c.name, &c.extras).custom {
                                custom_calls.push(&c.id);
                            }
                            items.push(call_item(c));
                        }
                        Block::Thinking { .. } => {
                            items.extend(message("assistant", &std::mem::take(&mut text)));
                            items.extend(reasoning::input_item(b));
                        }
                        _ => {}
                    }
                }
                items.extend(message("assistant", &text));
            }
        }
    }
    items
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn decode(input: Value) -> Result<Request, InvalidRequest> {
        let mut req = Request::default();
        decode_input(&input, &mut req).map(|()| req)
    }

    #[test]
    fn parallel_calls_join_one_turn_and_results_match_by_id_in_any_order() {
        let req = decode(json!([
            {"role":"user","content":"Weather in Paris and Rome?"},
            {"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"{\"location\":\"Paris\"}"},
            {"type":"function_call","id":"fc_2","call_id":"call_2","name":"get_weather","arguments":"{\"location\":\"Rome\"}"},
            {"type":"function_call_output","call_id":"call_2","output":"{\"temp_c\":22}"},
            {"type":"function_call_output","call_id":"call_1","output":"{\"temp_c\":18}"}
        ]))
        .unwrap();
        assert_eq!(req.turns.len(), 3);
        let ids: Vec<_> = req.turns[1]
            .blocks
            .iter()
            .map(|b| match b {
                Block::ToolCall(c) => c.id.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(ids, ["call_1", "call_2"], "call_id, never the fc_ item id");
        assert_eq!(
            req.turns[2].blocks[0],
            Block::ToolResult(ToolResult {
                call_id: "call_2".into(),
                name: Some("get_weather".into()),
                content: vec![Block::text("{\"temp_c\":22}")],
                is_error: false,
            })
        );
        let items = encode_turns(&req.turns);
        assert_eq!(
            Value::Array(items),
            json!([
                {"role":"user","content":"Weather in Paris and Rome?"},
                {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"location\":\"Paris\"}"},
                {"type":"function_call","call_id":"call_2","name":"get_weather","arguments":"{\"location\":\"Rome\"}"},
                {"type":"function_call_output","call_id":"call_2","output":"{\"temp_c\":22}"},
                {"type":"function_call_output","call_id":"call_1","output":"{\"temp_c\":18}"}
            ])
        );
    }

    #[test]
    fn text_then_a_call_is_one_assistant_turn() {
        let req = decode(json!([
            {"role":"user","content":[{"type":"input_text","text":"Weather?"}]},
            {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Let me check.","annotations":[]}]},
            {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{}"}
        ]))
        .unwrap();
        assert_eq!(req.turns.len(), 2);
        assert_eq!(req.turns[1].blocks[0], Block::text("Let me check."));
        assert!(matches!(&req.turns[1].blocks[1], Block::ToolCall(c) if c.name == "get_weather"));
        assert_eq!(
            Value::Array(encode_turns(&req.turns))[1],
            json!({"role":"assistant","content":"Let me check."})
        );
    }

    #[test]
    fn built_in_calls_are_dropped_with_their_outputs() {
        let req = decode(json!([
            {"role":"user","content":"ls"},
            {"type":"local_shell_call","call_id":"sh_1","status":"completed","action":{"type":"exec","command":["ls"]}},
            {"type":"function_call_output","call_id":"sh_1","output":"a.txt"},
            {"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search","query":"x"}},
            {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Done."}]}
        ]))
        .unwrap();
        assert_eq!(
            req.turns,
            vec![
                Turn {
                    role: Role::User,
                    blocks: vec![Block::text("ls")]
                },
                Turn {
                    role: Role::Assistant,
                    blocks: vec![Block::text("Done.")]
                }
            ]
        );
    }

    #[test]
    fn images_files_and_tool_output_parts() {
        let req = decode(json!([
            {"role":"user","content":[
                {"type":"input_text","text":"What is this?"},
                {"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"low"},
                {"type":"input_file","file_data":"data:application/pdf;base64,JVBER","filename":"a.pdf"}]},
            {"type":"function_call","call_id":"c","name":"shot","arguments":"{}"},
            {"type":"function_call_output","call_id":"c","output":[
                {"type":"input_text","text":"here"},
                {"type":"input_image","image_url":"https://x.test/s.png"}]}
        ]))
        .unwrap();
        assert_eq!(
            Value::Array(encode_turns(&req.turns)),
            json!([
                {"role":"user","content":[
                    {"type":"input_text","text":"What is this?"},
                    {"type":"input_image","image_url":"data:image/png;base64,AAAA","detail":"low"},
                    {"type":"input_file","file_data":"data:application/pdf;base64,JVBER","filename":"a.pdf"}]},
                {"type":"function_call","call_id":"c","name":"shot","arguments":"{}"},
                {"type":"function_call_output","call_id":"c","output":[
                    {"type":"input_text","text":"here"},
                    {"type":"input_image","image_url":"https://x.test/s.png","detail":"auto"}]}
            ])
        );
    }

    #[test]
    fn malformed_items_are_refused() {
        for input in [
            json!([{"type":"function_call","name":"f","arguments":"{}"}]),
            json!([{"type":"function_call","call_id":"c","arguments":"{}"}]),
            json!([{"role":"wizard","content":"x"}]),
            json!([{"content":"no type, no role"}]),
            json!([{"type":"item_reference","id":"msg_1"}]),
            json!([{"type":"hologram"}]),
            json!([{"role":"user","content":[{"type":"input_image","file_id":"file_1"}]}]),
            json!([{"role":"user","content":[{"type":"input_audio"}]}]),
            json!([{"role":"user","content":7}]),
            json!(["text"]),
            json!(5),
            Value::Null,
        ] {
            assert!(decode(input.clone()).is_err(), "{input}");
        }
    }

    #[test]
    fn errors_in_results_are_said_in_text() {
        let r = ToolResult {
            call_id: "c".into(),
            name: None,
            content: vec![Block::text("boom")],
            is_error: true,
        };
        assert_eq!(output(&r), json!("[tool error] boom"));
        let (blocks, failed) = output_blocks(&json!({"content":"nope","success":false})).unwrap();
        assert_eq!((blocks, failed), (vec![Block::text("nope")], true));
    }
}
