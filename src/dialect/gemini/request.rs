//! generateContent requests into the internal representation (reference: dialects.md §1.D,
//! §3.4, §3.5, §3.8).
//!
//! The model and the stream flag are in the URL, not the body. Fields the IR has no place for
//! are kept in `Request::extras` under their Gemini names, so a request that goes back out to
//! Gemini keeps them: `safetySettings` and other top-level fields as sent;
//! `tools` holds the built-in tools (`googleSearch`, `codeExecution`, …) that are not function
//! declarations; `generationConfig` and `toolConfig` hold the members the IR does not map.

use super::config::{decode_generation_config, decode_tool_config, decode_tools};
use super::parts::{field, read_part, synthesized_id, text_block, tool_call, Part};
use crate::dialect::ir::{Block, Request, Role, ToolResult, Turn};
use crate::dialect::InvalidRequest;
use serde_json::Value;

fn invalid(message: &'static str) -> InvalidRequest {
    InvalidRequest(message)
}

/// Top-level members decoded into their own place, in both spellings.
const KNOWN: &[&str] = &[
    "model",
    "contents",
    "systemInstruction",
    "system_instruction",
    "tools",
    "toolConfig",
    "tool_config",
    "generationConfig",
    "generation_config",
];

/// Decodes a generateContent body. `model` is the name in the URL path (a `models/` prefix is
/// dropped); `stream` is whether the method was `streamGenerateContent`.
pub fn decode_request(body: &[u8], model: &str, stream: bool) -> Result<Request, InvalidRequest> {
    let outer: Value =
        serde_json::from_slice(body).map_err(|_| invalid("Invalid JSON payload received."))?;
    // `:countTokens` may wrap a whole generateContent request.
    let v = match field(&outer, "generateContentRequest") {
        Some(inner) if field(&outer, "contents").is_none() => inner,
        _ => &outer,
    };
    let obj = v.as_object().ok_or(invalid(
        "Invalid JSON payload received. The body must be an object.",
    ))?;
    // Content cached at Google is a prompt no other provider can see: refused here, so the
    // request goes to Gemini providers only, as it came.
    if field(v, "cachedContent").is_some_and(|c| !c.is_null()) {
        return Err(invalid(
            "cachedContent refers to content cached by Google; only a Gemini provider can use it.",
        ));
    }
    let model = model.strip_prefix("models/").unwrap_or(model);
    if model.is_empty() {
        return Err(invalid("A model name is required in the request path."));
    }
    let mut req = Request {
        model: model.to_string(),
        stream,
        // A Gemini stream always carries usageMetadata.
        stream_usage: stream,
        ..Request::default()
    };
    let contents = field(v, "contents")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or(invalid("contents is not specified"))?;
    decode_contents(contents, &mut req)?;
    if let Some(system) = field(v, "systemInstruction") {
        for part in parts_of(system)? {
            match read_part(part).map_err(invalid)? {
                Part::Text { text: "", .. } => {}
                Part::Text { text, .. } => req.system.push(Block::text(text)),
                Part::Media(block) => req.system.push(block),
                _ => return Err(invalid("systemInstruction may only hold text")),
            }
        }
    }
    if let Some(tools) = field(v, "tools") {
        decode_tools(tools, &mut req)?;
    }
    if let Some(config) = field(v, "toolConfig") {
        decode_tool_config(config, &mut req)?;
    }
    if let Some(config) = field(v, "generationConfig") {
        decode_generation_config(config, &mut req)?;
    }
    for (k, value) in obj {
        if !KNOWN.contains(&k.as_str()) {
            req.extras.insert(k.clone(), value.clone());
        }
    }
    Ok(req)
}

/// A `Content`'s parts; Google's JSON parser also takes a lone part for a repeated field.
fn parts_of(content: &Value) -> Result<&[Value], InvalidRequest> {
    match field(content, "parts") {
        Some(Value::Array(parts)) => Ok(parts),
        Some(part @ Value::Object(_)) => Ok(std::slice::from_ref(part)),
        _ => Err(invalid("each content needs parts")),
    }
}

/// A model turn's calls, for matching the results that follow (reference §3.4 rule 3).
struct Call {
    id: String,
    name: String,
    answered: bool,
}

fn decode_contents(contents: &[Value], req: &mut Request) -> Result<(), InvalidRequest> {
    let mut calls: Vec<Call> = Vec::new();
    for (t, content) in contents.iter().enumerate() {
        let role = match field(content, "role").map(|r| r.as_str()) {
            None | Some(Some("user" | "function" | "")) => Role::User,
            Some(Some("model")) => Role::Assistant,
            _ => return Err(invalid("Please use a valid role: user, model.")),
        };
        let parts = parts_of(content)?;
        if parts.is_empty() {
            return Err(invalid("contents.parts must not be empty."));
        }
        if role == Role::Assistant {
            calls.clear();
        }
        let turn_key = t.to_string();
        let mut blocks = Vec::with_capacity(parts.len());
        let (mut n_calls, mut n_results) = (0, 0);
        for part in parts {
            match read_part(part).map_err(invalid)? {
                Part::Text {
                    text,
                    thought,
                    signature,
                } => blocks.extend(text_block(text, thought, signature)),
                Part::Media(block) => blocks.push(block),
                Part::Call {
                    id,
                    name,
                    args,
                    signature,
                } => {
                    if role != Role::Assistant {
                        return Err(invalid("functionCall parts belong in model turns"));
                    }
                    let call = tool_call(id, name, args, signature, || {
                        synthesized_id(&turn_key, n_calls)
                    });
                    n_calls += 1;
                    calls.push(Call {
                        id: call.id.clone(),
                        name: call.name.clone(),
                        answered: false,
                    });
                    blocks.push(Block::ToolCall(call));
                }
                Part::Response {
                    id,
                    name,
                    response,
                    parts,
                } => {
                    if role != Role::User {
                        return Err(invalid("functionResponse parts belong in user turns"));
                    }
                    let call_id = match_call(&mut calls, id, name)
                        .or(id.map(str::to_string))
                        .unwrap_or_else(|| synthesized_id(&turn_key, n_results));
                    n_results += 1;
                    blocks.push(Block::ToolResult(tool_result(
                        call_id, name, response, parts,
                    )?));
                }
                Part::Unsupported => {}
            }
        }
        match req.turns.last_mut() {
            // Consecutive contents of one role are one turn, as the other dialects want them.
            Some(last) if last.role == role => last.blocks.extend(blocks),
            _ => req.turns.push(Turn { role, blocks }),
        }
    }
    Ok(())
}

/// The id of the call a result answers: the call with the result's id when it has one,
/// otherwise the first unanswered call of that name in the last model turn.
fn match_call(calls: &mut [Call], id: Option<&str>, name: &str) -> Option<String> {
    let by_id = id.and_then(|id| calls.iter().position(|c| !c.answered && c.id == id));
    let at = by_id.or_else(|| calls.iter().position(|c| !c.answered && c.name == name))?;
    calls[at].answered = true;
    Some(calls[at].id.clone())
}

/// A `functionResponse` as a result. Per the genai docs the `output` key holds the output and
/// `error` the error details, otherwise the whole object is the output; a lone `result` is
/// unwrapped too (reference §3.8), so other dialects get the tool's text and not an envelope.
fn tool_result(
    call_id: String,
    name: &str,
    response: &Value,
    parts: &[Value],
) -> Result<ToolResult, InvalidRequest> {
    let obj = response.as_object();
    let (value, is_error) = match obj {
        Some(o) if o.contains_key("error") && !o.contains_key("output") => (&o["error"], true),
        Some(o) if o.len() == 1 && o.contains_key("output") => (&o["output"], false),
        Some(o) if o.len() == 1 && o.contains_key("result") => (&o["result"], false),
        _ => (response, false),
    };
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut content = Vec::new();
    if !text.is_empty() {
        content.push(Block::text(text));
    }
    for part in parts {
        match read_part(part).map_err(invalid)? {
            Part::Media(block) => content.push(block),
            Part::Text { text, .. } if !text.is_empty() => content.push(Block::text(text)),
            _ => {}
        }
    }
    Ok(ToolResult {
        call_id,
        name: Some(name.to_string()),
        content,
        is_error,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::ir::{Extras, ToolCall};
    use serde_json::json;

    fn decode(v: Value) -> Request {
        decode_request(v.to_string().as_bytes(), "models/gemini-2.5-flash", false).unwrap()
    }

    fn user(blocks: Vec<Block>) -> Turn {
        Turn {
            role: Role::User,
            blocks,
        }
    }

    fn model(blocks: Vec<Block>) -> Turn {
        Turn {
            role: Role::Assistant,
            blocks,
        }
    }

    fn call(id: &str, name: &str, args: &str, extras: Value) -> Block {
        Block::ToolCall(ToolCall {
            id: id.into(),
            name: name.into(),
            arguments: args.into(),
            extras: extras.as_object().cloned().unwrap_or_default(),
        })
    }

    fn result(call_id: &str, name: &str, text: &str) -> Block {
        Block::ToolResult(ToolResult {
            call_id: call_id.into(),
            name: Some(name.into()),
            content: vec![Block::text(text)],
            is_error: false,
        })
    }

    #[test]
    fn a_single_question_decodes_with_model_and_stream_from_the_path() {
        // T1, as the google-genai SDK sends it.
        let body = br#"{"contents": [{"parts": [{"text": "say hi"}], "role": "user"}]}"#;
        let req = decode_request(body, "gemini-2.5-flash", true).unwrap();
        assert_eq!(req.model, "gemini-2.5-flash");
        assert!(req.stream && req.stream_usage);
        assert_eq!(req.turns, vec![user(vec![Block::text("say hi")])]);
        assert!(req.system.is_empty() && req.tools.is_empty() && req.extras.is_empty());
        let wrapped = br#"{"generateContentRequest": {"model": "models/gemini-2.5-flash",
            "contents": [{"parts": [{"text": "say hi"}], "role": "user"}]}}"#;
        let counted = decode_request(wrapped, "gemini-2.5-flash", false).unwrap();
        assert_eq!(counted.turns, req.turns, "countTokens' wrapped form");
    }

    #[test]
    fn the_tool_round_trip_gets_stable_ids_and_results_matched_by_name() {
        // T3 (reference §6.1): Gemini sent the call without an id.
        let req = decode(super::super::provider_request::tests::t3());
        assert_eq!(req.system, vec![Block::text("You are terse.")]);
        assert_eq!(
            req.turns,
            vec![
                user(vec![Block::text("Weather in Paris?")]),
                model(vec![call(
                    "call_1_0",
                    "get_weather",
                    r#"{"location":"Paris"}"#,
                    json!({"thoughtSignature": "c2lnLTE="})
                )]),
                user(vec![result("call_1_0", "get_weather", r#"{"temp_c":18}"#)]),
            ]
        );
        assert_eq!(req.tools.len(), 1);
        assert_eq!(
            req.tools[0].parameters,
            json!({"type":"object","properties":{"location":{"type":"string"}},"required":["location"]})
        );
    }

    #[test]
    fn system_instruction_and_history_keep_their_places() {
        // T2, in both spellings Google's parser accepts, with a lone part object.
        for body in [
            json!({"systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}, {"text": "Answer in French."}]},
                "contents": [{"role": "user", "parts": [{"text": "hi"}]},
                    {"role": "model", "parts": [{"text": "hello"}]},
                    {"role": "user", "parts": [{"text": "and now?"}]}]}),
            json!({"system_instruction": {"parts": [{"text": "Be brief."}, {"text": "Answer in French."}]},
                "contents": [{"role": "user", "parts": {"text": "hi"}},
                    {"role": "model", "parts": [{"text": "hello"}]},
                    {"parts": [{"text": "and now?"}]}]}),
        ] {
            let req = decode(body);
            assert_eq!(
                req.system,
                vec![Block::text("Be brief."), Block::text("Answer in French.")]
            );
            assert_eq!(
                req.turns,
                vec![
                    user(vec![Block::text("hi")]),
                    model(vec![Block::text("hello")]),
                    user(vec![Block::text("and now?")])
                ]
            );
        }
    }

    #[test]
    fn parallel_calls_are_matched_by_id_or_else_by_name_and_position() {
        // T4: two calls to one function, answered in order; ids synthesized per position.
        let req = decode(json!({"contents": [
            {"role": "user", "parts": [{"text": "Paris and Rome?"}]},
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}, "thoughtSignature": "c2ln"},
                {"functionCall": {"name": "get_weather", "args": {"location": "Rome"}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"output": "18C"}}},
                {"functionResponse": {"name": "get_weather", "response": {"output": "24C"}}}]}]}));
        assert_eq!(
            req.turns[2].blocks,
            vec![
                result("call_1_0", "get_weather", "18C"),
                result("call_1_1", "get_weather", "24C")
            ]
        );
        // Different functions answered in reverse order: matched by name.
        let req = decode(json!({"contents": [
            {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {}}},
                {"functionCall": {"name": "get_time", "args": {}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"name": "get_time", "response": {"result": "noon"}}},
                {"functionResponse": {"name": "get_weather", "response": {"result": "rain"}}}]}]}));
        assert_eq!(
            req.turns[1].blocks,
            vec![
                result("call_0_1", "get_time", "noon"),
                result("call_0_0", "get_weather", "rain")
            ]
        );
        // Ids Gemini gave win over positions, and are remembered as Gemini's.
        let req = decode(json!({"contents": [
            {"role": "model", "parts": [
                {"functionCall": {"id": "a", "name": "get_weather", "args": {}}},
                {"functionCall": {"id": "b", "name": "get_weather", "args": {}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "b", "name": "get_weather", "response": {"t": 2}}},
                {"functionResponse": {"id": "a", "name": "get_weather", "response": {"t": 1}}}]}]}));
        assert_eq!(
            req.turns[0].blocks[0],
            call("a", "get_weather", "{}", json!({"functionCall.id": "a"}))
        );
        assert_eq!(
            req.turns[1].blocks,
            vec![
                result("b", "get_weather", r#"{"t":2}"#),
                result("a", "get_weather", r#"{"t":1}"#)
            ]
        );
    }

    #[test]
    fn a_result_whose_id_matches_no_call_falls_back_to_its_name() {
        // Gemini CLI gives results ids of its own when the call had none (gemini-cli #6974).
        let req = decode(json!({"contents": [
            {"role": "model", "parts": [{"functionCall": {"name": "ls", "args": {}}}]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "ls-1755899286321", "name": "ls", "response": {"error": "denied"}}},
                {"functionResponse": {"name": "orphan", "response": {}}}]}]}));
        assert_eq!(
            req.turns[1].blocks,
            vec![
                Block::ToolResult(ToolResult {
                    call_id: "call_0_0".into(),
                    name: Some("ls".into()),
                    content: vec![Block::text("denied")],
                    is_error: true
                }),
                Block::ToolResult(ToolResult {
                    call_id: "call_1_1".into(),
                    name: Some("orphan".into()),
                    content: vec![Block::text("{}")],
                    is_error: false
                }),
            ]
        );
    }

    #[test]
    fn text_then_call_thoughts_and_media_become_blocks_in_order() {
        // T5, with a thought summary, an empty signed part and both kinds of media.
        let req = decode(json!({"contents": [
            {"role": "user", "parts": [{"text": "What is this?"},
                {"inlineData": {"mimeType": "image/png", "data": "iVBO"}},
                {"fileData": {"mimeType": "application/pdf", "fileUri": "https://x.test/a.pdf"}}]},
            {"role": "model", "parts": [{"text": "Thinking it over", "thought": true},
                {"text": "Let me check."}, {"functionCall": {"name": "look", "args": {"q": 1}}},
                {"text": "", "thoughtSignature": "c2ln"}, {"executableCode": {"code": "print(1)"}}]}]}));
        assert_eq!(
            req.turns[0].blocks[1],
            Block::Image {
                source: crate::dialect::ir::Media::Base64 {
                    mime: "image/png".into(),
                    data: "iVBO".into()
                },
                extras: Extras::new()
            }
        );
        assert!(
            matches!(&req.turns[0].blocks[2], Block::File { extras, .. } if extras["mimeType"] == "application/pdf")
        );
        let blocks = &req.turns[1].blocks;
        assert_eq!(blocks.len(), 4, "{blocks:?}");
        assert!(matches!(&blocks[0], Block::Thinking { text, .. } if text == "Thinking it over"));
        assert_eq!(blocks[1], Block::text("Let me check."));
        assert_eq!(blocks[2], call("call_1_0", "look", r#"{"q":1}"#, json!({})));
        assert!(
            matches!(&blocks[3], Block::Text { text, extras } if text.is_empty() && extras["thoughtSignature"] == "c2ln")
        );
    }

    #[test]
    fn malformed_requests_are_refused_not_guessed() {
        let cases = [
            (
                json!([]),
                "Invalid JSON payload received. The body must be an object.",
            ),
            (json!({}), "contents is not specified"),
            (json!({"contents": []}), "contents is not specified"),
            (
                json!({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]}),
                "Please use a valid role: user, model.",
            ),
            (
                json!({"contents": [{"role": "user", "parts": []}]}),
                "contents.parts must not be empty.",
            ),
            (
                json!({"contents": [{"role": "user"}]}),
                "each content needs parts",
            ),
            (
                json!({"contents": [{"parts": [{"thought": true}]}]}),
                "required oneof field 'data' must have one initialized field",
            ),
            (
                json!({"contents": [{"role": "user", "parts": [{"functionCall": {"name": "f"}}]}]}),
                "functionCall parts belong in model turns",
            ),
            (
                json!({"contents": [{"role": "model", "parts": [{"functionResponse": {"name": "f"}}]}]}),
                "functionResponse parts belong in user turns",
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{"description": "d"}]}]}),
                "function_declarations.name: Name cannot be empty.",
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"maxOutputTokens": -5}}),
                "maxOutputTokens must be a positive integer",
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "generationConfig": {"temperature": "hot"}}),
                "temperature must be a number",
            ),
            (
                json!({"contents": [{"parts": [{"text": "x"}]}], "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}}),
                "functionCallingConfig.mode is not a known mode",
            ),
        ];
        for (body, message) in cases {
            let err = decode_request(body.to_string().as_bytes(), "m", false).unwrap_err();
            assert_eq!(err.0, message, "{body}");
        }
        assert_eq!(
            decode_request(b"{", "m", false).unwrap_err().0,
            "Invalid JSON payload received."
        );
        assert_eq!(
            decode_request(
                br#"{"contents":[{"parts":[{"text":"x"}]}]}"#,
                "models/",
                false
            )
            .unwrap_err()
            .0,
            "A model name is required in the request path."
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let t3 = super::super::provider_request::tests::t3().to_string();
        let t3 = t3.as_bytes();
        for cut in 0..t3.len() {
            let _ = decode_request(&t3[..cut], "m", false);
        }
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..2000 {
            let mut body = t3.to_vec();
            for _ in 0..rng.usize(1..8) {
                let at = rng.usize(..body.len());
                body[at] = *rng.choice(b"{}[]\":,0a-\\ ".iter()).unwrap_or(&b'x');
            }
            let _ = decode_request(&body, "m", rng.bool());
            let noise: Vec<u8> = (0..rng.usize(0..64)).map(|_| rng.u8(..)).collect();
            let _ = decode_request(&noise, "m", false);
        }
    }
}
