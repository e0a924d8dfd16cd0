//! This codec against the Chat Completions one, through the internal representation
//! (reference: dialects.md §3.9 "Responses client (Codex) → Chat upstream", §6.2 "A→B",
//! "B→A").

#![allow(clippy::unwrap_used)]

use super::*;
use crate::dialect::convert::Converter;
use crate::dialect::errors::ErrorKind;
use crate::dialect::openai;
use crate::dialect::stream::{StreamEnd, StreamTranslator};
use bytes::Bytes;
use serde_json::{json, Value};

fn run(c: &mut Converter, input: &str) -> (String, StreamEnd) {
    let mut out = Vec::new();
    for piece in input.as_bytes().chunks(5) {
        if let Some(b) = c.push(Bytes::copy_from_slice(piece)).unwrap() {
            out.extend_from_slice(&b);
        }
    }
    let end = c.finish();
    if let StreamEnd::Complete(Some(tail)) = &end {
        out.extend_from_slice(tail);
    }
    (String::from_utf8(out).unwrap(), end)
}

/// Every event's name (which must equal its JSON `type`) and data.
fn events(stream: &str) -> Vec<(String, Value)> {
    stream
        .split("\n\n")
        .filter(|e| !e.is_empty())
        .map(|e| {
            let (name, data) = e.split_once("\ndata: ").unwrap();
            let name = name.strip_prefix("event: ").unwrap().to_string();
            let data: Value = serde_json::from_str(data).unwrap();
            assert_eq!(data["type"], name.as_str());
            (name, data)
        })
        .collect()
}

/// A Chat provider's stream: text, then two parallel calls, then the usage chunk.
const CHAT: &str = concat!(
    "data: {\"id\":\"chatcmpl-U\",\"model\":\"up\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-U\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Checking.\"},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-U\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-U\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"location\\\":\\\"Paris\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-U\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{\\\"location\\\":\\\"Rome\\\"}\"}}]},\"finish_reason\":null}]}\n\n",
    "data: {\"id\":\"chatcmpl-U\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"chatcmpl-U\",\"choices\":[],\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":12,\"total_tokens\":42,\"prompt_tokens_details\":{\"cached_tokens\":8}}}\n\n",
    "data: [DONE]\n\n"
);

#[test]
fn a_chat_provider_streams_to_codex_in_the_responses_grammar() {
    let mut c = Converter::new(
        Box::new(openai::Decoder::new(1 << 20)),
        Box::new(Encoder::new("gpt-5", 9)),
    );
    let (out, end) = run(&mut c, CHAT);
    assert!(matches!(end, StreamEnd::Complete(_)));
    let ev = events(&out);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    for (i, (_, e)) in ev.iter().enumerate() {
        assert_eq!(e["sequence_number"], i as u64);
    }
    // Distinct output indices, item ids consistent from added to done, call ids from Chat.
    assert_eq!(ev[8].1["output_index"], 1);
    assert_eq!(ev[12].1["output_index"], 2);
    assert_eq!(ev[9].1["item_id"], ev[11].1["item"]["id"]);
    let done = &ev[16].1["response"];
    assert_eq!(done["id"], "resp_chatcmpl-U");
    assert_eq!(done["model"], "gpt-5");
    assert_eq!(
        done["output"][1],
        json!({"id":"fc_call_a","type":"function_call","status":"completed",
            "arguments":"{\"location\":\"Paris\"}","call_id":"call_a","name":"get_weather"})
    );
    assert_eq!(done["output"][2]["call_id"], "call_b");
    assert_eq!(
        done["usage"],
        json!({"input_tokens":30,"input_tokens_details":{"cached_tokens":8},"output_tokens":12,
            "output_tokens_details":{"reasoning_tokens":0},"total_tokens":42})
    );
}

#[test]
fn a_cut_chat_stream_fails_the_codex_stream_with_response_failed() {
    let mut c = Converter::new(
        Box::new(openai::Decoder::new(1 << 20)),
        Box::new(Encoder::new("gpt-5", 9)),
    );
    let cut = &CHAT[..CHAT
        .find("data: {\"id\":\"chatcmpl-U\",\"choices\":[{\"index\":0,\"delta\":{},")
        .unwrap()];
    let (out, end) = run(&mut c, cut);
    assert_eq!(end, StreamEnd::Truncated);
    let tail = String::from_utf8(c.fail(ErrorKind::BadUpstream, "cut").to_vec()).unwrap();
    let ev = events(&format!("{out}{tail}"));
    let last: Vec<&str> = ev.iter().rev().take(2).map(|(n, _)| n.as_str()).collect();
    assert_eq!(last, ["response.failed", "error"]);
    assert!(!out.contains("response.completed"));
}

/// An OpenAI Responses stream: a reasoning item, text, a call.
fn responses_stream() -> String {
    let ev = [
        json!({"type":"response.created","sequence_number":0,"response":{"id":"resp_Z","model":"gpt-5","status":"in_progress","output":[]}}),
        json!({"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[]}}),
        json!({"type":"response.reasoning_summary_text.delta","sequence_number":2,"item_id":"rs_1","output_index":0,"summary_index":0,"delta":"Think."}),
        json!({"type":"response.output_item.done","sequence_number":3,"output_index":0,"item":{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"Think."}],"encrypted_content":"gAAA"}}),
        json!({"type":"response.output_item.added","sequence_number":4,"output_index":1,"item":{"id":"fc_1","type":"function_call","call_id":"call_1","name":"get_weather","arguments":""}}),
        json!({"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":1,"delta":"{\"location\":\"Paris\"}"}),
        json!({"type":"response.output_item.done","sequence_number":6,"output_index":1,"item":{"id":"fc_1","type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"location\":\"Paris\"}"}}),
        json!({"type":"response.completed","sequence_number":7,"response":{"id":"resp_Z","status":"completed","output":[],"usage":{"input_tokens":20,"output_tokens":9,"total_tokens":29}}}),
    ];
    ev.iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect()
}

#[test]
fn a_responses_provider_streams_to_a_chat_client_with_call_ids_not_item_ids() {
    let mut c = Converter::new(
        Box::new(Decoder::new(1 << 20)),
        Box::new(openai::Encoder::new("gpt-5", 9, true)),
    );
    let (out, end) = run(&mut c, &responses_stream());
    assert!(matches!(end, StreamEnd::Complete(_)));
    let chunks: Vec<Value> = out
        .split("\n\n")
        .filter_map(|e| e.strip_prefix("data: "))
        .filter(|d| *d != "[DONE]")
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let deltas: Vec<&Value> = chunks
        .iter()
        .filter_map(|c| c["choices"].get(0).map(|ch| &ch["delta"]))
        .collect();
    assert_eq!(deltas[1], &json!({"reasoning_content":"Think."}));
    assert_eq!(
        deltas[2],
        &json!({"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]})
    );
    assert_eq!(
        chunks.iter().rev().nth(1).unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
    assert_eq!(chunks.last().unwrap()["usage"]["total_tokens"], 29);
    assert!(out.ends_with("data: [DONE]\n\n"));
}

#[test]
fn a_codex_request_becomes_a_chat_request_a_chat_provider_accepts() {
    let body = json!({"model":"gpt-5","instructions":"You are Codex.","input":[
        {"type":"message","role":"developer","content":[{"type":"input_text","text":"<rules>"}]},
        {"type":"message","role":"user","content":[{"type":"input_text","text":"fix it"}]},
        {"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAA"},
        {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Patching."}]},
        {"type":"custom_tool_call","call_id":"call_p","name":"apply_patch","input":"*** Begin Patch"},
        {"type":"function_call","call_id":"call_e","name":"exec_command","arguments":"{\"cmd\":\"ls\"}"},
        {"type":"custom_tool_call_output","call_id":"call_p","output":"Done!"},
        {"type":"function_call_output","call_id":"call_e","output":"a.txt"}],
        "tools":[
            {"type":"function","name":"exec_command","parameters":{"type":"object","properties":{"cmd":{"type":"string"}}},"strict":false},
            {"type":"custom","name":"apply_patch","description":"Edit files."},
            {"type":"web_search"}],
        "tool_choice":"auto","parallel_tool_calls":true,"store":false,"stream":true,
        "include":["reasoning.encrypted_content"]});
    let req = decode_request(body.to_string().as_bytes()).unwrap();
    let chat: Value =
        serde_json::from_slice(&openai::encode_request(&req, "up", Default::default())).unwrap();
    assert_eq!(
        chat["messages"],
        json!([
            {"role":"system","content":"You are Codex.\n<rules>"},
            {"role":"user","content":"fix it"},
            {"role":"assistant","content":"Patching.","tool_calls":[
                {"id":"call_p","type":"function","function":{"name":"apply_patch","arguments":"{\"input\":\"*** Begin Patch\"}"}},
                {"id":"call_e","type":"function","function":{"name":"exec_command","arguments":"{\"cmd\":\"ls\"}"}}]},
            {"role":"tool","tool_call_id":"call_p","content":"Done!"},
            {"role":"tool","tool_call_id":"call_e","content":"a.txt"}
        ]),
        "consecutive calls merged into one assistant message with the text before them"
    );
    let tools = chat["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 2, "the built-in web_search is dropped");
    assert_eq!(
        tools[1]["function"]["parameters"]["required"],
        json!(["input"])
    );
    assert_eq!(chat["stream_options"], json!({"include_usage": true}));
    assert!(chat.get("store").is_none() && chat.get("include").is_none());
}
