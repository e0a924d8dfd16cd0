//! Whole generateContent answers to and from the internal representation (reference:
//! dialects.md §1.D, §3.2, §3.3, §3.8).

use super::parts::{
    call_id_with_signature, call_part, id_key, is_synthesized, media_part, read_part,
    split_call_id, synthesized_id, text_block, text_part, tool_call, Part,
};
use super::usage::{from_metadata, metadata};
use crate::dialect::ir::{Answer, Block, Stop, ToolCall};
use bytes::Bytes;
use serde_json::{json, Map, Value};

/// A `finishReason` as a stop reason (reference §3.2). Gemini has no tool-use reason: a turn
/// that called functions says `STOP`, so `called` says whether it did.
///
/// Where peers disagree: `RECITATION` withholds the text like a filter does, so it is one;
/// `OTHER` and the function-call failures end the turn without content (Portkey, and `end_turn`
/// for Anthropic clients).
pub fn stop_from(finish_reason: Option<&str>, called: bool) -> Stop {
    match finish_reason {
        Some("MAX_TOKENS") => Stop::MaxTokens,
        Some(
            "SAFETY"
            | "BLOCKLIST"
            | "PROHIBITED_CONTENT"
            | "SPII"
            | "IMAGE_SAFETY"
            | "IMAGE_PROHIBITED_CONTENT"
            | "LANGUAGE"
            | "RECITATION"
            | "IMAGE_RECITATION",
        ) => Stop::ContentFilter,
        Some("STOP") | None if called => Stop::ToolUse,
        _ => Stop::EndTurn,
    }
}

/// The `finishReason` for a stop reason. Tool use, stop sequences and pauses are all `STOP`
/// in Gemini's words.
pub fn finish_reason(stop: &Stop) -> &'static str {
    match stop {
        Stop::EndTurn | Stop::StopSequence(_) | Stop::ToolUse | Stop::Paused => "STOP",
        Stop::MaxTokens => "MAX_TOKENS",
        Stop::ContentFilter => "SAFETY",
    }
}

/// The blocks of a candidate's parts, in order. Calls without an id get `call_<key>_<n>`, `n`
/// counting from `first_call`, so a streamed answer names its calls as the whole one would.
pub(crate) fn answer_blocks(
    parts: &[Value],
    key: &str,
    first_call: usize,
    blocks: &mut Vec<Block>,
) -> usize {
    let mut n = first_call;
    for part in parts {
        // A provider's part that cannot be read is skipped rather than failing the answer.
        match read_part(part) {
            Ok(Part::Text {
                text,
                thought,
                signature,
            }) => blocks.extend(text_block(text, thought, signature)),
            Ok(Part::Media(block)) => blocks.push(block),
            Ok(Part::Call {
                id,
                name,
                args,
                signature,
            }) => {
                let mut call = tool_call(id, name, args, signature, || synthesized_id(key, n));
                // A client of another dialect sends back only the call's id: the signature
                // rides on it, or Gemini refuses the call on the next turn (§3.4 rule 5, §5.7).
                if let Some(s) = signature {
                    call.id = call_id_with_signature(&call.id, s);
                }
                n += 1;
                blocks.push(Block::ToolCall(call));
            }
            _ => {}
        }
    }
    n
}

/// Decodes a provider's answer; `None` when it is not a generateContent response.
pub fn decode_answer(body: &[u8]) -> Option<Answer> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let candidates = v.get("candidates").and_then(Value::as_array);
    let blocked = v.pointer("/promptFeedback/blockReason").is_some();
    if candidates.is_none() && !blocked {
        return None;
    }
    let id = v["responseId"].as_str().unwrap_or("");
    let candidate = candidates.and_then(|c| c.first());
    let mut blocks = Vec::new();
    if let Some(parts) = candidate.and_then(|c| c.pointer("/content/parts")?.as_array()) {
        answer_blocks(parts, &id_key(id), 0, &mut blocks);
    }
    let called = blocks.iter().any(|b| matches!(b, Block::ToolCall(_)));
    let stop = match candidate {
        Some(c) => stop_from(c["finishReason"].as_str(), called),
        // The prompt itself was blocked: there is no candidate to read.
        None => Stop::ContentFilter,
    };
    Some(Answer {
        id: id.to_string(),
        model: v["modelVersion"].as_str().unwrap_or("").to_string(),
        blocks,
        stop,
        usage: v.get("usageMetadata").and_then(from_metadata),
    })
}

/// A call's arguments as the `args` object Gemini clients expect; `None` when they are not a
/// JSON object, which no Gemini client could use.
pub(crate) fn call_args(arguments: &str) -> Option<Value> {
    if arguments.trim().is_empty() {
        return Some(json!({}));
    }
    serde_json::from_str::<Value>(arguments)
        .ok()
        .filter(Value::is_object)
}

/// A tool call as a `functionCall` part for a Gemini client. The id is shown unless it is one
/// of ours: Gemini clients echo a shown id back in their `functionResponse`. A signature riding
/// on the id goes on the part instead, where Gemini clients keep it.
pub(crate) fn client_call_part(call: &ToolCall, args: Value) -> Value {
    let (id, _) = split_call_id(&call.id);
    let id = (!is_synthesized(id)).then_some(id);
    call_part(call, id, args)
}

/// Encodes an answer for a Gemini client that asked for `model`. Gemini does not stamp answers
/// with a time, so `_created` is unused.
///
/// A call whose arguments are not a JSON object is left out and the answer ends with
/// `MALFORMED_FUNCTION_CALL`, what Gemini itself says of such a call (reference §3.8).
pub fn encode_answer(a: &Answer, model: &str, _created: u64) -> Bytes {
    let mut parts = Vec::with_capacity(a.blocks.len());
    let mut malformed = false;
    for b in &a.blocks {
        match b {
            Block::Text { text, extras } => parts.extend(text_part(text, false, extras)),
            Block::Thinking { text, extras, .. } => parts.extend(text_part(text, true, extras)),
            Block::ToolCall(call) => match call_args(&call.arguments) {
                Some(args) => parts.push(client_call_part(call, args)),
                None => malformed = true,
            },
            Block::Image { source, extras } => parts.push(media_part(source, extras, true)),
            Block::File { source, extras, .. } => parts.push(media_part(source, extras, false)),
            Block::RedactedThinking { .. } | Block::ToolResult(_) => {}
        }
    }
    let reason = if malformed {
        "MALFORMED_FUNCTION_CALL"
    } else {
        finish_reason(&a.stop)
    };
    let mut body = Map::new();
    body.insert(
        "candidates".into(),
        json!([{"content": {"role": "model", "parts": parts}, "finishReason": reason, "index": 0}]),
    );
    if let Some(u) = &a.usage {
        body.insert("usageMetadata".into(), metadata(u));
    }
    body.insert("modelVersion".into(), json!(model));
    if !a.id.is_empty() {
        body.insert("responseId".into(), json!(a.id));
    }
    Bytes::from(Value::Object(body).to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::ir::{Extras, Media};
    use crate::dialect::usage::Usage;

    fn decode(v: Value) -> Answer {
        decode_answer(v.to_string().as_bytes()).unwrap()
    }

    fn encoded(a: &Answer) -> Value {
        serde_json::from_slice(&encode_answer(a, "client-model", 1_700_000_000)).unwrap()
    }

    #[test]
    fn a_text_answer_decodes_and_encodes_back() {
        // T1 as Gemini answers it.
        let body = json!({"candidates":[{"content":{"role":"model","parts":[{"text":"Hi there!"}]},
            "finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":3,"thoughtsTokenCount":20,"totalTokenCount":26},
            "modelVersion":"gemini-2.5-flash","responseId":"8fQfaMnmBYXd"});
        let a = decode(body.clone());
        assert_eq!(
            a,
            Answer {
                id: "8fQfaMnmBYXd".into(),
                model: "gemini-2.5-flash".into(),
                blocks: vec![Block::text("Hi there!")],
                stop: Stop::EndTurn,
                usage: Some(Usage {
                    input_total: 3,
                    input_cache_read: 0,
                    input_cache_write: 0,
                    output_total: 23,
                    output_reasoning: 20
                }),
            }
        );
        let mut expected = body;
        expected["modelVersion"] = json!("client-model");
        assert_eq!(encoded(&a), expected);
    }

    #[test]
    fn calls_without_ids_get_ids_from_the_response_and_say_tool_use() {
        // T5: text then a call, the call signed, no id from Gemini.
        let body = json!({"candidates":[{"content":{"role":"model","parts":[
                {"text":"Let me check.","thought":true},{"text":"Let me check."},
                {"functionCall":{"name":"get_weather","args":{"location":"Paris"}},"thoughtSignature":"c2ln"},
                {"functionCall":{"name":"get_weather","args":{"location":"Rome"}}}]},
            "finishReason":"STOP","index":0}],"modelVersion":"gemini-3","responseId":"r-1/x"});
        let a = decode(body);
        assert_eq!(a.stop, Stop::ToolUse);
        let ids: Vec<_> = a
            .blocks
            .iter()
            .filter_map(|b| match b {
                Block::ToolCall(c) => Some(c.id.as_str()),
                _ => None,
            })
            .collect();
        // The signed call carries its signature in its id too, for clients that keep only ids.
        assert_eq!(ids, ["call_r1x_0__thought__c2ln", "call_r1x_1"]);
        // Back to a Gemini client: our ids are not shown, the signature is where it was.
        assert_eq!(
            encoded(&a)["candidates"][0]["content"]["parts"],
            json!([{"text":"Let me check.","thought":true},{"text":"Let me check."},
                {"functionCall":{"name":"get_weather","args":{"location":"Paris"}},"thoughtSignature":"c2ln"},
                {"functionCall":{"name":"get_weather","args":{"location":"Rome"}}}])
        );
    }

    #[test]
    fn a_signature_comes_back_on_the_id_alone_through_a_client_of_another_dialect() {
        let body = json!({"candidates":[{"content":{"role":"model","parts":[
                {"functionCall":{"id":"fc-7","name":"get_weather","args":{"location":"Paris"}},
                    "thoughtSignature":"Cv8+Ab/9zz=="}]},
            "finishReason":"STOP","index":0}],"responseId":"r-1"});
        let a = decode(body);
        let Block::ToolCall(call) = &a.blocks[0] else {
            panic!("{a:?}")
        };
        assert_eq!(call.id, "fc-7__thought__Cv8-Ab_9zz");
        // A Gemini client sees Gemini's id, and the signature on its part.
        assert_eq!(
            encoded(&a)["candidates"][0]["content"]["parts"][0],
            json!({"functionCall":{"id":"fc-7","name":"get_weather","args":{"location":"Paris"}},
                "thoughtSignature":"Cv8+Ab/9zz=="})
        );
        // Another dialect's client keeps only the id: the next turn's call, rebuilt from it,
        // goes back to Gemini signed as Gemini signed it.
        let echoed = ToolCall {
            id: call.id.clone(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
            extras: Extras::new(),
        };
        assert_eq!(
            call_part(&echoed, None, json!({"location":"Paris"})),
            json!({"functionCall":{"name":"get_weather","args":{"location":"Paris"}},
                "thoughtSignature":"Cv8+Ab/9zz=="})
        );
    }

    #[test]
    fn another_dialects_answer_keeps_its_ids_and_malformed_calls_are_refused() {
        let call = |arguments: &str| {
            Block::ToolCall(ToolCall {
                id: "call_abc".into(),
                name: "f".into(),
                arguments: arguments.into(),
                extras: Extras::new(),
            })
        };
        let mut a = Answer {
            id: "chatcmpl-1".into(),
            model: "gpt-x".into(),
            blocks: vec![
                Block::Thinking {
                    text: "hmm".into(),
                    signature: Some("claude-sig".into()),
                    extras: Extras::new(),
                },
                call(""),
                Block::Image {
                    source: Media::Base64 {
                        mime: "image/png".into(),
                        data: "iVBO".into(),
                    },
                    extras: Extras::new(),
                },
            ],
            stop: Stop::ToolUse,
            usage: None,
        };
        assert_eq!(
            encoded(&a),
            json!({"candidates":[{"content":{"role":"model","parts":[
                    {"text":"hmm","thought":true},
                    {"functionCall":{"id":"call_abc","name":"f","args":{}}},
                    {"inlineData":{"mimeType":"image/png","data":"iVBO"}}]},
                "finishReason":"STOP","index":0}],
                "modelVersion":"client-model","responseId":"chatcmpl-1"})
        );
        a.blocks = vec![call("{\"a\":"), call("[1]")];
        let out = encoded(&a);
        assert_eq!(
            out["candidates"][0]["finishReason"],
            "MALFORMED_FUNCTION_CALL"
        );
        assert_eq!(out["candidates"][0]["content"]["parts"], json!([]));
    }

    #[test]
    fn finish_reasons_map_both_ways() {
        let cases = [
            (Some("STOP"), false, Stop::EndTurn),
            (Some("STOP"), true, Stop::ToolUse),
            (None, true, Stop::ToolUse),
            (Some("MAX_TOKENS"), true, Stop::MaxTokens),
            (Some("SAFETY"), false, Stop::ContentFilter),
            (Some("PROHIBITED_CONTENT"), false, Stop::ContentFilter),
            (Some("RECITATION"), false, Stop::ContentFilter),
            (Some("OTHER"), false, Stop::EndTurn),
            (Some("MALFORMED_FUNCTION_CALL"), false, Stop::EndTurn),
            (Some("FINISH_REASON_UNSPECIFIED"), false, Stop::EndTurn),
        ];
        for (reason, called, stop) in cases {
            assert_eq!(stop_from(reason, called), stop, "{reason:?} {called}");
        }
        assert_eq!(finish_reason(&Stop::ToolUse), "STOP");
        assert_eq!(
            finish_reason(&Stop::StopSequence(Some("END".into()))),
            "STOP"
        );
        assert_eq!(finish_reason(&Stop::MaxTokens), "MAX_TOKENS");
        assert_eq!(finish_reason(&Stop::ContentFilter), "SAFETY");
    }

    #[test]
    fn a_blocked_prompt_is_a_content_filter_stop() {
        let a = decode(json!({"promptFeedback":{"blockReason":"SAFETY"},
            "usageMetadata":{"promptTokenCount":7,"totalTokenCount":7}}));
        assert_eq!(a.stop, Stop::ContentFilter);
        assert!(a.blocks.is_empty());
        assert_eq!(a.usage.unwrap().input_total, 7);
        assert_eq!(decode_answer(br#"{"error":{"code":400}}"#), None);
        assert_eq!(decode_answer(b"[]"), None);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let body = json!({"candidates":[{"content":{"role":"model","parts":[{"text":"a"},
            {"functionCall":{"name":"f","args":{"x":[1,{"y":null}]}}}]},"finishReason":"STOP"}],
            "usageMetadata":{"promptTokenCount":1},"responseId":"r"})
        .to_string();
        let body = body.as_bytes();
        let mut rng = fastrand::Rng::with_seed(11);
        for cut in 0..body.len() {
            let _ = decode_answer(&body[..cut]);
        }
        for _ in 0..2000 {
            let mut b = body.to_vec();
            for _ in 0..rng.usize(1..6) {
                let at = rng.usize(..b.len());
                b[at] = *rng.choice(b"{}[]\":,1tn ".iter()).unwrap_or(&b'x');
            }
            if let Some(a) = decode_answer(&b) {
                let _ = encode_answer(&a, "m", 0);
            }
        }
    }
}
