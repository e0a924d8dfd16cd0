//! The internal representation as a generateContent body for a Gemini provider (reference:
//! dialects.md §1.D, §3.4, §3.5, §3.10, §5.7, §5.8).

use super::parts::{call_part, media_part, split_call_id, text_part, SIGNATURE, WIRE_ID};
use super::schema::for_gemini;
use crate::dialect::ir::{
    Block, OutputFormat, Reasoning, Request, Role, ToolCall, ToolChoice, ToolResult, Turn,
};
use bytes::Bytes;
use serde_json::{json, Map, Value};

/// Gemini takes at most five stop sequences.
const MAX_STOP_SEQUENCES: usize = 5;

/// The thinking budgets every Gemini 2.5 model accepts (Flash-Lite's floor, Flash's ceiling).
const MIN_THINKING_BUDGET: u64 = 512;
const MAX_THINKING_BUDGET: u64 = 24_576;

/// Encodes a request for a Gemini provider. The model and the stream flag go in the URL the
/// gateway builds (`models/{model}:generateContent` or `:streamGenerateContent?alt=sse`), so
/// `_model` is not written into the body.
///
/// Dropped by rule, for want of a Gemini field: `parallel_tool_calls`, `user`, thinking that
/// Gemini did not sign, redacted thinking, and every extras member of another dialect.
pub fn encode_request(req: &Request, _model: &str) -> Bytes {
    let mut body = Map::new();
    let system: Vec<Value> = req
        .system
        .iter()
        .filter_map(|b| match b {
            Block::Text { text, .. } if !text.is_empty() => Some(json!({"text": text})),
            other => media_of(other),
        })
        .collect();
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({"parts": system}));
    }
    let contents: Vec<Value> = req
        .turns
        .iter()
        .enumerate()
        .filter_map(|(i, turn)| content(turn, &req.turns[..i]))
        .collect();
    body.insert("contents".into(), Value::Array(contents));
    let has_functions = !req.tools.is_empty();
    if let Some(tools) = tools(req) {
        body.insert("tools".into(), tools);
    }
    let mut tool_config = extras_object(req, "toolConfig");
    if has_functions {
        if let Some(choice) = &req.tool_choice {
            tool_config.insert("functionCallingConfig".into(), calling_config(choice));
        }
    }
    if !tool_config.is_empty() {
        body.insert("toolConfig".into(), Value::Object(tool_config));
    }
    let config = generation_config(req);
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    // Gemini's own request-level fields, kept when the request came from a Gemini client.
    for key in ["safetySettings", "cachedContent", "labels"] {
        if let Some(v) = req.extras.get(key) {
            body.insert(key.into(), v.clone());
        }
    }
    Bytes::from(Value::Object(body).to_string())
}

/// An extras member that only Gemini writes, as an object (empty when absent).
fn extras_object(req: &Request, key: &str) -> Map<String, Value> {
    match req.extras.get(key) {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    }
}

/// One turn as a `Content`; `None` when nothing in it can go to Gemini (a turn of redacted
/// thinking), since Gemini refuses a content without parts.
fn content(turn: &Turn, before: &[Turn]) -> Option<Value> {
    let mut parts = Vec::with_capacity(turn.blocks.len());
    let role = match turn.role {
        Role::User => {
            // Results first, as Gemini matches them to the calls of the turn before. Without
            // ids it matches them by name, then position: results for several calls of one
            // name go in the order of those calls.
            let mut results: Vec<&ToolResult> = turn
                .blocks
                .iter()
                .filter_map(|b| match b {
                    Block::ToolResult(r) => Some(r),
                    _ => None,
                })
                .collect();
            if by_position(&results, before) {
                results.sort_by_key(|r| call_position(before, &r.call_id));
            }
            let mut media = Vec::new();
            for r in results {
                let call = find_call(before, &r.call_id);
                let name = call
                    .map(|c| c.name.as_str())
                    .or(r.name.as_deref())
                    .unwrap_or(&r.call_id);
                let mut fr = Map::new();
                if let Some(id) = call.and_then(|c| c.extras.get(WIRE_ID)) {
                    fr.insert("id".into(), id.clone());
                }
                fr.insert("name".into(), json!(name));
                fr.insert("response".into(), response_object(&r.content, r.is_error));
                parts.push(json!({"functionResponse": fr}));
                // Images a tool returned follow its result as parts of the same turn.
                media.extend(r.content.iter().filter_map(media_of));
            }
            parts.extend(media);
            for b in &turn.blocks {
                match b {
                    Block::Text { text, extras } => parts.extend(text_part(text, false, extras)),
                    Block::Image { .. } | Block::File { .. } => parts.extend(media_of(b)),
                    _ => {}
                }
            }
            "user"
        }
        Role::Assistant => {
            for b in &turn.blocks {
                match b {
                    Block::Text { text, extras } => parts.extend(text_part(text, false, extras)),
                    // Only thoughts Gemini signed mean anything to it: another vendor's
                    // reasoning, and its signatures, cannot be replayed (reference §3.10).
                    Block::Thinking { text, extras, .. } if extras.contains_key(SIGNATURE) => {
                        parts.extend(text_part(text, true, extras))
                    }
                    Block::ToolCall(call) => {
                        let id = call.extras.get(WIRE_ID).and_then(Value::as_str);
                        parts.push(call_part(call, id, history_args(&call.arguments)));
                    }
                    Block::Image { .. } | Block::File { .. } => parts.extend(media_of(b)),
                    _ => {}
                }
            }
            "model"
        }
    };
    (!parts.is_empty()).then(|| json!({"role": role, "parts": parts}))
}

fn media_of(b: &Block) -> Option<Value> {
    match b {
        Block::Image { source, extras } => Some(media_part(source, extras, true)),
        Block::File { source, extras, .. } => Some(media_part(source, extras, false)),
        _ => None,
    }
}

/// The call a result answers, looked up from the nearest turn back: a dialect without Gemini's
/// ids may repeat an id in two turns, and the result belongs to the latest call.
/// Whether Gemini can only tell these results apart by their order: it sees no ids for their
/// calls, and two of them share a name.
fn by_position(results: &[&ToolResult], before: &[Turn]) -> bool {
    let calls: Vec<Option<&ToolCall>> = results
        .iter()
        .map(|r| find_call(before, &r.call_id))
        .collect();
    let ided = calls
        .iter()
        .any(|c| c.is_some_and(|c| c.extras.contains_key(WIRE_ID)));
    let names: Vec<&str> = calls.iter().flatten().map(|c| c.name.as_str()).collect();
    let repeated = names
        .iter()
        .enumerate()
        .any(|(i, n)| names[..i].contains(n));
    !ided && repeated
}

/// Where the call `call_id` stands among the calls of the last assistant turn (results of
/// unknown calls go last, in their own order).
fn call_position(before: &[Turn], call_id: &str) -> usize {
    let calls = before
        .iter()
        .rev()
        .find(|t| t.role == Role::Assistant)
        .into_iter()
        .flat_map(|t| &t.blocks)
        .filter_map(|b| match b {
            Block::ToolCall(c) => Some(c),
            _ => None,
        });
    calls
        .enumerate()
        .find(|(_, c)| c.id == call_id || split_call_id(&c.id).0 == call_id)
        .map_or(usize::MAX, |(i, _)| i)
}

fn find_call<'a>(before: &'a [Turn], call_id: &str) -> Option<&'a ToolCall> {
    before.iter().rev().find_map(|t| {
        t.blocks.iter().find_map(|b| match b {
            Block::ToolCall(c) if c.id == call_id || split_call_id(&c.id).0 == call_id => Some(c),
            _ => None,
        })
    })
}

/// A past call's arguments as the object Gemini wants. Empty arguments are `{}`; arguments that
/// are not a JSON object (a model's malformed call, a custom tool's free text) are kept as text
/// under `arguments`, so the model still sees what it sent.
fn history_args(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({"arguments": arguments}),
    }
}

/// A result's content as `functionResponse.response`, which must be an object. A JSON object
/// goes as itself; anything else is wrapped as `{"result": …}` (reference §3.10), errors as
/// `{"error": …}`. An object holding `$ref` is wrapped too: Gemini reads `$ref` in a response as
/// a reference to a media part and refuses the request (vercel/ai #14369).
fn response_object(content: &[Block], is_error: bool) -> Value {
    let text = content
        .iter()
        .filter_map(|b| match b {
            Block::Text { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n");
    if is_error {
        return json!({"error": text});
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) if !has_ref(&v) => v,
        _ => json!({"result": text}),
    }
}

fn has_ref(v: &Value) -> bool {
    match v {
        Value::Object(m) => m.contains_key("$ref") || m.values().any(has_ref),
        Value::Array(a) => a.iter().any(has_ref),
        _ => false,
    }
}

/// Function declarations in one `tools` entry, then Gemini's built-in tools if the client was a
/// Gemini client that asked for them.
fn tools(req: &Request) -> Option<Value> {
    let mut entries = Vec::new();
    if !req.tools.is_empty() {
        let decls: Vec<Value> = req
            .tools
            .iter()
            .map(|t| {
                let mut d = Map::new();
                d.insert("name".into(), json!(t.name));
                if let Some(desc) = &t.description {
                    d.insert("description".into(), json!(desc));
                }
                // `parameters` takes only an OpenAPI subset and refuses common JSON Schema
                // keywords; `parametersJsonSchema` takes JSON Schema (reference §5.8).
                d.insert("parametersJsonSchema".into(), for_gemini(&t.parameters));
                for key in ["behavior", "response", "responseJsonSchema"] {
                    if let Some(v) = t.extras.get(key) {
                        d.insert(key.into(), v.clone());
                    }
                }
                Value::Object(d)
            })
            .collect();
        entries.push(json!({"functionDeclarations": decls}));
    }
    if let Some(Value::Array(builtin)) = req.extras.get("tools") {
        // Another dialect's extras may hold its own tools under the same name; those have a
        // `type`, Gemini's never do.
        entries.extend(
            builtin
                .iter()
                .filter(|t| t.as_object().is_some_and(|o| !o.contains_key("type")))
                .cloned(),
        );
    }
    (!entries.is_empty()).then_some(Value::Array(entries))
}

fn calling_config(choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => json!({"mode": "AUTO"}),
        ToolChoice::Required => json!({"mode": "ANY"}),
        ToolChoice::None => json!({"mode": "NONE"}),
        ToolChoice::Tool(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
    }
}

fn generation_config(req: &Request) -> Map<String, Value> {
    let mut c = Map::new();
    if let Some(n) = req.max_output_tokens {
        c.insert("maxOutputTokens".into(), json!(n));
    }
    if let Some(t) = req.temperature {
        c.insert("temperature".into(), json!(t.clamp(0.0, 2.0)));
    }
    if let Some(p) = req.top_p {
        c.insert("topP".into(), json!(p));
    }
    if let Some(k) = req.top_k {
        c.insert("topK".into(), json!(k));
    }
    if !req.stop.is_empty() {
        let stop: Vec<&String> = req.stop.iter().take(MAX_STOP_SEQUENCES).collect();
        c.insert("stopSequences".into(), json!(stop));
    }
    match &req.output_format {
        Some(OutputFormat::JsonObject) => {
            c.insert("responseMimeType".into(), json!("application/json"));
        }
        Some(OutputFormat::JsonSchema { schema, .. }) => {
            c.insert("responseMimeType".into(), json!("application/json"));
            c.insert("responseJsonSchema".into(), schema.clone());
        }
        Some(OutputFormat::Text) | None => {}
    }
    let mut extras = extras_object(req, "generationConfig");
    let mut thinking = req
        .reasoning
        .as_ref()
        .and_then(thinking_config)
        .unwrap_or_default();
    // The client's own thinkingConfig members (includeThoughts) override the derived ones.
    if let Some(Value::Object(own)) = extras.shift_remove("thinkingConfig") {
        thinking.extend(own);
    }
    if !thinking.is_empty() {
        c.insert("thinkingConfig".into(), Value::Object(thinking));
    }
    for (k, v) in extras {
        c.entry(k).or_insert(v);
    }
    c
}

/// `thinkingConfig` for a reasoning setting, as a budget: every Gemini model takes
/// `thinkingBudget`, while `thinkingLevel` is refused by the 2.5 models.
fn thinking_config(r: &Reasoning) -> Option<Map<String, Value>> {
    let mut c = Map::new();
    if !r.enabled {
        // Only a budget of 0 said in so many words is sent: some models cannot stop thinking
        // and refuse it, so a disabled setting from another dialect leaves the default.
        if r.budget_tokens == Some(0) {
            c.insert("thinkingBudget".into(), json!(0));
            return Some(c);
        }
        return None;
    }
    let budget = match (r.budget_tokens, r.effort.as_deref()) {
        (Some(b), _) => json!(b.clamp(MIN_THINKING_BUDGET, MAX_THINKING_BUDGET)),
        (None, Some(effort)) => json!(effort_budget(effort)),
        (None, None) => json!(-1),
    };
    c.insert("thinkingBudget".into(), budget);
    c.insert("includeThoughts".into(), json!(true));
    Some(c)
}

/// Google's own mapping of OpenAI's `reasoning_effort` to budgets (Gemini OpenAI-compatibility
/// docs); an unknown effort lets the model decide (-1).
fn effort_budget(effort: &str) -> i64 {
    match effort {
        "minimal" | "low" => 1024,
        "medium" => 8192,
        "high" | "xhigh" | "max" => MAX_THINKING_BUDGET as i64,
        _ => -1,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(super) mod tests {
    use super::*;
    use crate::dialect::gemini::decode_request;
    use crate::dialect::ir::{Extras, Media, Tool, ToolResult};

    /// Reference §6.1, T3 in the Gemini dialect, with the signature Gemini gave the call.
    pub(crate) fn t3() -> Value {
        json!({"systemInstruction":{"parts":[{"text":"You are terse."}]},"contents":[
            {"role":"user","parts":[{"text":"Weather in Paris?"}]},
            {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"location":"Paris"}},"thoughtSignature":"c2lnLTE="}]},
            {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp_c":18}}}]}],
            "tools":[{"functionDeclarations":[{"name":"get_weather","parametersJsonSchema":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}]}]})
    }

    fn encoded(req: &Request) -> Value {
        serde_json::from_slice(&encode_request(req, "gemini-2.5-flash")).unwrap()
    }

    fn round_trip(body: Value) -> Value {
        encoded(&decode_request(body.to_string().as_bytes(), "m", false).unwrap())
    }

    #[test]
    fn the_tool_round_trip_encodes_back_to_the_same_body() {
        assert_eq!(round_trip(t3()), t3());
        // T1 and T2 likewise.
        let t1 = json!({"contents":[{"role":"user","parts":[{"text":"say hi"}]}]});
        assert_eq!(round_trip(t1.clone()), t1);
        let t2 = json!({"systemInstruction":{"parts":[{"text":"Be brief."}]},"contents":[
            {"role":"user","parts":[{"text":"hi"}]},{"role":"model","parts":[{"text":"hello"}]},
            {"role":"user","parts":[{"text":"and now?"}]}]});
        assert_eq!(round_trip(t2.clone()), t2);
    }

    #[test]
    fn an_openai_tool_round_trip_reaches_gemini_with_names_and_no_foreign_ids() {
        let chat = json!({"model":"m","messages":[
            {"role":"system","content":"You are terse."},
            {"role":"user","content":"Weather in Paris?"},
            {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}]},
            {"role":"tool","tool_call_id":"call_1","content":"{\"temp_c\":18}"}],
            "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"location":{"type":"string"}},"required":["location"]}}}],
            "parallel_tool_calls":false,"seed":7,"user":"u1"});
        let req = crate::dialect::openai::decode_request(chat.to_string().as_bytes()).unwrap();
        let mut expected = t3();
        expected["contents"][1]["parts"][0]
            .as_object_mut()
            .unwrap()
            .shift_remove("thoughtSignature");
        assert_eq!(encoded(&req), expected);
    }

    #[test]
    fn ids_and_signatures_go_back_only_where_gemini_gave_them() {
        let body = json!({"contents":[
            {"role":"model","parts":[
                {"functionCall":{"id":"g1","name":"a","args":{}},"thoughtSignature":"c2ln"},
                {"functionCall":{"name":"b","args":{}}}]},
            {"role":"user","parts":[
                {"functionResponse":{"id":"g1","name":"a","response":{"ok":true}}},
                {"functionResponse":{"name":"b","response":{"ok":false}}}]}]});
        assert_eq!(round_trip(body.clone()), body);
        // A signature carried on the id by a client dialect with nowhere else to keep it.
        let req = Request {
            turns: vec![
                Turn {
                    role: Role::Assistant,
                    blocks: vec![Block::ToolCall(ToolCall {
                        id: "call_9__thought__c2ln".into(),
                        name: "a".into(),
                        arguments: "{}".into(),
                        extras: Extras::new(),
                    })],
                },
                Turn {
                    role: Role::User,
                    blocks: vec![Block::ToolResult(ToolResult {
                        call_id: "call_9__thought__c2ln".into(),
                        name: None,
                        content: vec![Block::text("done")],
                        is_error: false,
                    })],
                },
            ],
            ..Request::default()
        };
        assert_eq!(
            encoded(&req)["contents"],
            json!([{"role":"model","parts":[{"functionCall":{"name":"a","args":{}},"thoughtSignature":"c2ln"}]},
                {"role":"user","parts":[{"functionResponse":{"name":"a","response":{"result":"done"}}}]}])
        );
    }

    #[test]
    fn results_become_response_objects_gemini_accepts() {
        let result = |text: &str, is_error: bool| {
            Block::ToolResult(ToolResult {
                call_id: "c".into(),
                name: Some("f".into()),
                content: vec![
                    Block::text(text),
                    Block::Image {
                        source: Media::Base64 {
                            mime: "image/png".into(),
                            data: "iVBO".into(),
                        },
                        extras: Extras::new(),
                    },
                ],
                is_error,
            })
        };
        let req = Request {
            turns: vec![Turn {
                role: Role::User,
                blocks: vec![
                    Block::text("and?"),
                    result("plain text", false),
                    result("boom", true),
                    result(r##"{"schema":{"$ref":"#/x"}}"##, false),
                    result("[1,2]", false),
                ],
            }],
            ..Request::default()
        };
        let image = json!({"inlineData":{"mimeType":"image/png","data":"iVBO"}});
        assert_eq!(
            encoded(&req)["contents"][0]["parts"],
            json!([
                {"functionResponse":{"name":"f","response":{"result":"plain text"}}},
                {"functionResponse":{"name":"f","response":{"error":"boom"}}},
                {"functionResponse":{"name":"f","response":{"result":"{\"schema\":{\"$ref\":\"#/x\"}}"}}},
                {"functionResponse":{"name":"f","response":{"result":"[1,2]"}}},
                image, image, image, image,
                {"text":"and?"}])
        );
    }

    #[test]
    fn other_vendors_reasoning_is_left_out_and_empty_turns_dropped() {
        let req = Request {
            turns: vec![
                Turn {
                    role: Role::Assistant,
                    blocks: vec![
                        Block::Thinking {
                            text: "claude thoughts".into(),
                            signature: Some("EqQB".into()),
                            extras: Extras::new(),
                        },
                        Block::RedactedThinking { data: "x".into() },
                    ],
                },
                Turn {
                    role: Role::Assistant,
                    blocks: vec![
                        Block::Thinking {
                            text: "gemini thoughts".into(),
                            signature: None,
                            extras: json!({"thoughtSignature": "c2ln"})
                                .as_object()
                                .cloned()
                                .unwrap(),
                        },
                        Block::ToolCall(ToolCall {
                            id: "x".into(),
                            name: "patch".into(),
                            arguments: "*** Begin Patch".into(),
                            extras: Extras::new(),
                        }),
                        Block::Image {
                            source: Media::Url("https://x.test/cat.webp".into()),
                            extras: Extras::new(),
                        },
                    ],
                },
            ],
            ..Request::default()
        };
        assert_eq!(
            encoded(&req)["contents"],
            json!([{"role":"model","parts":[
                {"text":"gemini thoughts","thought":true,"thoughtSignature":"c2ln"},
                {"functionCall":{"name":"patch","args":{"arguments":"*** Begin Patch"}}},
                {"fileData":{"mimeType":"image/webp","fileUri":"https://x.test/cat.webp"}}]}])
        );
    }

    #[test]
    fn settings_map_and_only_gemini_extras_go_back() {
        let mut req = decode_request(
            json!({"contents":[{"parts":[{"text":"x"}]}],
                "tools":[{"functionDeclarations":[{"name":"f","description":"does f","behavior":"NON_BLOCKING",
                    "parametersJsonSchema":{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":false}}]},
                    {"googleSearch":{}}],
                "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}},
                "generationConfig":{"temperature":1,"seed":7,"thinkingConfig":{"includeThoughts":false,"thinkingBudget":2048}},
                "safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}]})
            .to_string()
            .as_bytes(),
            "m",
            false,
        )
        .unwrap();
        req.stop = (1..=6).map(|i| format!("s{i}")).collect();
        req.output_format = Some(OutputFormat::JsonObject);
        assert_eq!(
            encoded(&req),
            json!({"contents":[{"role":"user","parts":[{"text":"x"}]}],
                "tools":[{"functionDeclarations":[{"name":"f","description":"does f",
                    "parametersJsonSchema":{"type":"object","additionalProperties":false},"behavior":"NON_BLOCKING"}]},
                    {"googleSearch":{}}],
                "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}},
                "generationConfig":{"temperature":1.0,"stopSequences":["s1","s2","s3","s4","s5"],
                    "responseMimeType":"application/json",
                    "thinkingConfig":{"thinkingBudget":2048,"includeThoughts":false},"seed":7},
                "safetySettings":[{"category":"HARM_CATEGORY_HARASSMENT","threshold":"BLOCK_NONE"}]})
        );
        // Another dialect's leftovers, even under Gemini's names, do not leak.
        let mut other = Request {
            turns: vec![Turn {
                role: Role::User,
                blocks: vec![Block::text("x")],
            }],
            tools: vec![Tool {
                name: "f".into(),
                description: None,
                parameters: json!({"type":"object"}),
                extras: json!({"strict": true}).as_object().cloned().unwrap(),
            }],
            tool_choice: Some(ToolChoice::Auto),
            parallel_tool_calls: Some(false),
            user: Some("u".into()),
            temperature: Some(3.5),
            ..Request::default()
        };
        other
            .extras
            .insert("tools".into(), json!([{"type": "web_search"}]));
        other.extras.insert("seed".into(), json!(1));
        assert_eq!(
            encoded(&other),
            json!({"contents":[{"role":"user","parts":[{"text":"x"}]}],
                "tools":[{"functionDeclarations":[{"name":"f","parametersJsonSchema":{"type":"object"}}]}],
                "toolConfig":{"functionCallingConfig":{"mode":"AUTO"}},
                "generationConfig":{"temperature":2.0}})
        );
    }

    #[test]
    fn reasoning_from_other_dialects_becomes_a_budget_every_model_takes() {
        let thinking = |effort: Option<&str>, budget: Option<u64>, enabled: bool| {
            let req = Request {
                reasoning: Some(Reasoning {
                    effort: effort.map(str::to_string),
                    budget_tokens: budget,
                    enabled,
                }),
                ..Request::default()
            };
            encoded(&req)["generationConfig"]["thinkingConfig"].clone()
        };
        assert_eq!(
            thinking(Some("low"), None, true),
            json!({"thinkingBudget":1024,"includeThoughts":true})
        );
        assert_eq!(thinking(Some("high"), None, true)["thinkingBudget"], 24576);
        assert_eq!(thinking(None, Some(31999), true)["thinkingBudget"], 24576);
        assert_eq!(thinking(None, Some(100), true)["thinkingBudget"], 512);
        assert_eq!(thinking(None, None, true)["thinkingBudget"], -1);
        assert_eq!(thinking(Some("none"), None, false), Value::Null);
        assert_eq!(thinking(None, Some(0), false), json!({"thinkingBudget":0}));
    }
}
