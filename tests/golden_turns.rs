//! Golden, codec-level tests for the canonical conversations T2, T4, T5, T6 and T8 of the
//! reference (dialects.md §6), for every client dialect against every provider dialect, same
//! dialect included (T1 and T3 are in `dialect_pairs.rs`). No servers: the codecs alone.
//!
//! * T2: a system prompt from every placement, and a three-turn history.
//! * T4: two parallel calls in one assistant turn, their results together (and reversed).
//! * T5: text, then a call, in one assistant turn.
//! * T6: a base64 PNG and an https JPEG, and a question; the JPEG inline for a Gemini provider,
//!   as the gateway fetches it (tests/media_fetch.rs fetches for real).
//! * T8: a stop sequence hit, and a `max_tokens` truncation.
//!
//! Every expectation is the exact JSON the reference asks for.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pairs;

use pairs::*;
use serde_json::{json, Value};
use tollgate::dialect::anthropic;
use tollgate::dialect::codec::codec;
use tollgate::dialect::ir::{BlockKind, Delta, Event, Media, Request, Stop};
use tollgate::dialect::stream::{Ended, StreamEnd, StreamTranslator};
use tollgate::dialect::usage::Usage;
use tollgate::dialect::Dialect;

// ---------------------------------------------------------------------------------------------
// Shared helpers.
// ---------------------------------------------------------------------------------------------

/// The `tools` member declaring `names` (all taking `weather_schema()`), in dialect `d`; the same
/// shape is what a provider of `d` must receive (§1.E "Tool decl.").
fn tools(d: Dialect, names: &[&str]) -> Value {
    match d {
        Chat => json!(names
            .iter()
            .map(|n| json!({"type":"function","function":{"name":n,"parameters":weather_schema()}}))
            .collect::<Vec<_>>()),
        Resp => json!(names
            .iter()
            .map(
                |n| json!({"type":"function","name":n,"parameters":weather_schema(),"strict":false})
            )
            .collect::<Vec<_>>()),
        Anthropic => json!(names
            .iter()
            .map(|n| json!({"name":n,"input_schema":weather_schema()}))
            .collect::<Vec<_>>()),
        Gemini => json!([{"functionDeclarations": names
            .iter()
            .map(|n| json!({"name":n,"parametersJsonSchema":weather_schema()}))
            .collect::<Vec<_>>()}]),
    }
}

// ---------------------------------------------------------------------------------------------
// T2: system prompt + three-turn history (§3.5, §1.E, §5.9).
// ---------------------------------------------------------------------------------------------

const SYS_1: &str = "You are terse.";
const SYS_2: &str = "Answer in French.";
const USER_1: &str = "Hi, I'm Ana.";
const ASSISTANT_1: &str = "Bonjour Ana !";
const USER_2: &str = "What's my name?";

/// One way a client of some dialect gives T2.
struct T2Client {
    dialect: Dialect,
    name: &'static str,
    body: Value,
    /// The system texts it gives, in order.
    system: &'static [&'static str],
    /// Anthropic `cache_control` marks on the second system block and the last user block.
    cached: bool,
}

fn t2_clients() -> Vec<T2Client> {
    let both: &'static [&'static str] = &[SYS_1, SYS_2];
    vec![
        T2Client {
            dialect: Chat,
            name: "Chat system + developer messages",
            // An empty text part in the last message: no dialect may get an empty block.
            body: json!({"model":CLIENT_MODEL,"messages":[
                {"role":"system","content":SYS_1},
                {"role":"developer","content":SYS_2},
                {"role":"user","content":USER_1},
                {"role":"assistant","content":ASSISTANT_1},
                {"role":"user","content":[{"type":"text","text":""},{"type":"text","text":USER_2}]}]}),
            system: both,
            cached: false,
        },
        T2Client {
            dialect: Chat,
            name: "Chat system first, developer message mid-conversation",
            body: json!({"model":CLIENT_MODEL,"messages":[
                {"role":"system","content":[{"type":"text","text":SYS_1}]},
                {"role":"user","content":USER_1},
                {"role":"assistant","content":ASSISTANT_1},
                {"role":"developer","content":SYS_2},
                {"role":"user","content":USER_2}]}),
            system: both,
            cached: false,
        },
        T2Client {
            dialect: Resp,
            name: "Responses instructions + developer item",
            body: json!({"model":CLIENT_MODEL,"instructions":SYS_1,"input":[
                {"type":"message","role":"developer","content":[{"type":"input_text","text":SYS_2}]},
                {"type":"message","role":"user","content":[{"type":"input_text","text":USER_1}]},
                {"type":"message","role":"assistant","content":[{"type":"output_text","text":ASSISTANT_1}]},
                {"role":"user","content":USER_2}]}),
            system: both,
            cached: false,
        },
        T2Client {
            dialect: Anthropic,
            name: "Anthropic system string",
            body: json!({"model":CLIENT_MODEL,"max_tokens":CLIENT_MAX,"system":SYS_1,"messages":[
                {"role":"user","content":USER_1},
                {"role":"assistant","content":ASSISTANT_1},
                {"role":"user","content":USER_2}]}),
            system: &[SYS_1],
            cached: false,
        },
        T2Client {
            dialect: Anthropic,
            name: "Anthropic system blocks with cache_control",
            body: json!({"model":CLIENT_MODEL,"max_tokens":CLIENT_MAX,
                "system":[{"type":"text","text":SYS_1},
                    {"type":"text","text":SYS_2,"cache_control":{"type":"ephemeral"}}],
                "messages":[
                    {"role":"user","content":[{"type":"text","text":USER_1}]},
                    {"role":"assistant","content":[{"type":"text","text":ASSISTANT_1}]},
                    {"role":"user","content":[{"type":"text","text":USER_2,"cache_control":{"type":"ephemeral"}}]}]}),
            system: both,
            cached: true,
        },
        T2Client {
            dialect: Gemini,
            name: "Gemini systemInstruction",
            body: json!({"systemInstruction":{"parts":[{"text":SYS_1},{"text":SYS_2}]},"contents":[
                {"role":"user","parts":[{"text":USER_1}]},
                {"role":"model","parts":[{"text":ASSISTANT_1}]},
                {"role":"user","parts":[{"text":USER_2}]}]}),
            system: both,
            cached: false,
        },
    ]
}

/// T2 as provider `p` must receive it: one system location in `p`'s place holding the texts in
/// order, the turns in order with the assistant's role in `p`'s words, Anthropic's cache marks
/// only for an Anthropic provider from an Anthropic client.
fn expected_t2(p: Dialect, client: &T2Client) -> Value {
    let joined = client.system.join("\n");
    let cached = client.cached && p == Anthropic;
    let body = match p {
        Chat => json!({"model":UP_MODEL,"messages":[
            {"role":"system","content":joined},
            {"role":"user","content":USER_1},
            {"role":"assistant","content":ASSISTANT_1},
            {"role":"user","content":USER_2}]}),
        Resp => json!({"model":UP_MODEL,"instructions":joined,"input":[
            {"role":"user","content":USER_1},
            {"role":"assistant","content":ASSISTANT_1},
            {"role":"user","content":USER_2}],"store":false}),
        Anthropic => {
            // A string, or text blocks (which keep `cache_control`): both are §3.5's.
            let system = match client.system {
                [only] => json!(only),
                texts => {
                    let mut blocks: Vec<Value> = texts
                        .iter()
                        .map(|t| json!({"type":"text","text":t}))
                        .collect();
                    if cached {
                        blocks[1]["cache_control"] = json!({"type":"ephemeral"});
                    }
                    json!(blocks)
                }
            };
            let last = if cached {
                json!([{"type":"text","text":USER_2,"cache_control":{"type":"ephemeral"}}])
            } else {
                json!(USER_2)
            };
            json!({"model":UP_MODEL,"system":system,"messages":[
                {"role":"user","content":USER_1},
                {"role":"assistant","content":ASSISTANT_1},
                {"role":"user","content":last}]})
        }
        Gemini => {
            let parts: Vec<Value> = client.system.iter().map(|t| json!({"text": t})).collect();
            json!({"systemInstruction":{"parts":parts},"contents":[
                {"role":"user","parts":[{"text":USER_1}]},
                {"role":"model","parts":[{"text":ASSISTANT_1}]},
                {"role":"user","parts":[{"text":USER_2}]}]})
        }
    };
    with_max_tokens(p, client.dialect, body)
}

/// The places a system prompt can take in `p`'s request, and how many of them `body` uses.
fn system_locations(p: Dialect, body: &Value) -> usize {
    match p {
        Chat => body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["role"] == "system" || m["role"] == "developer")
            .count(),
        Resp => {
            let items = body["input"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| m["role"] == "system" || m["role"] == "developer")
                .count();
            items + usize::from(body.get("instructions").is_some())
        }
        Anthropic => usize::from(body.get("system").is_some()),
        Gemini => usize::from(body.get("systemInstruction").is_some()),
    }
}

#[test]
fn t2_system_prompts_merge_into_the_providers_one_place_and_turns_keep_their_order() {
    // All 16 pairs, every way each client dialect can give a system prompt.
    for_each_pair(|c, p| {
        for client in t2_clients().iter().filter(|t| t.dialect == c) {
            let what = format!("T2 {} → {p}", client.name);
            let req = decode_request(c, &client.body, false);
            let got = encode_request(p, &req);
            assert_eq!(system_locations(p, &got), 1, "{what}\n{got}");
            let marks = got.to_string().contains("cache_control");
            assert_eq!(
                marks,
                client.cached && p == Anthropic,
                "{what}: cache_control only from an Anthropic client to an Anthropic provider\n{got}"
            );
            assert_json(&got, &expected_t2(p, client), &what);
        }
    });
}

// ---------------------------------------------------------------------------------------------
// T4 and T5 requests: history with parallel calls, or text then a call (§3.4, §3.6–§3.10).
// ---------------------------------------------------------------------------------------------

const QUESTION_2: &str = "Weather in Paris and Rome?";
const ARGS_PARIS: &str = ARGS;
const ARGS_ROME: &str = r#"{"location":"Rome"}"#;
const RESULT_PARIS: &str = r#"{"temp_c":18}"#;
const RESULT_ROME: &str = r#"{"temp_c":22}"#;
const LET_ME_CHECK: &str = "Let me check.";

/// The calls of a client's history: (args, result) for each, in call order.
const CALLS_2: [(&str, &str); 2] = [(ARGS_PARIS, RESULT_PARIS), (ARGS_ROME, RESULT_ROME)];

fn parse(s: &str) -> Value {
    serde_json::from_str(s).unwrap()
}

/// How a client's history gives its calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct History {
    /// How many calls of `CALLS_2` the assistant turn makes.
    calls: usize,
    /// Text before the calls in the assistant turn (T5).
    text: bool,
    /// The results come back in reverse call order.
    reverse: bool,
    /// A Gemini client gives its calls and results `id`s (otherwise it gives none).
    gemini_ids: bool,
}

impl History {
    fn result_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.calls).collect();
        if self.reverse {
            order.reverse();
        }
        order
    }
}

/// The ids a client's calls have: its own, or for a Gemini client without ids those the codec
/// gives them (turn 1, call k: §3.4 rule 3).
fn client_ids(c: Dialect, h: History) -> Vec<String> {
    (0..h.calls)
        .map(|k| match c {
            Chat | Resp => format!("call_{}", k + 1),
            Anthropic => format!("toolu_{}", k + 1),
            Gemini if h.gemini_ids => format!("fc_{}", k + 1),
            Gemini => format!("call_1_{k}"),
        })
        .collect()
}

/// T4/T5's history in dialect `d`, from a client of `c`: as that client sends it (`sent`, `d`
/// being `c`), or as provider `d` must receive it. Every call, in order, with the client's ids
/// (a Gemini provider is shown only ids a Gemini client gave, §3.4), each result matched to its
/// call by id. A Gemini provider shown no ids matches results by name and order (§3.4 table,
/// rule 2), so it must get them in call order.
fn history(d: Dialect, c: Dialect, h: History, sent: bool) -> Value {
    let ids = client_ids(c, h);
    let order = h.result_order();
    let tools = tools(d, &["get_weather"]);
    let model = if sent { CLIENT_MODEL } else { UP_MODEL };
    let body = match d {
        Chat => {
            let calls: Vec<Value> = (0..h.calls)
                .map(|k| {
                    json!({"id":ids[k],"type":"function",
                    "function":{"name":"get_weather","arguments":CALLS_2[k].0}})
                })
                .collect();
            let content = if h.text {
                json!(LET_ME_CHECK)
            } else {
                Value::Null
            };
            let mut messages = vec![
                user_turn(d, QUESTION_2),
                json!({"role":"assistant","content":content,"tool_calls":calls}),
            ];
            for &k in &order {
                messages.push(json!({"role":"tool","tool_call_id":ids[k],"content":CALLS_2[k].1}));
            }
            json!({"model":model,"messages":messages,"tools":tools})
        }
        Resp => {
            let mut input = vec![user_turn(d, QUESTION_2)];
            if h.text && sent {
                input.push(json!({"type":"message","role":"assistant",
                    "content":[{"type":"output_text","text":LET_ME_CHECK}]}));
            } else if h.text {
                input.push(json!({"role":"assistant","content":LET_ME_CHECK}));
            }
            for k in 0..h.calls {
                let mut call = json!({"type":"function_call","call_id":ids[k],
                    "name":"get_weather","arguments":CALLS_2[k].0});
                // The item ids a client keeps; the codec sends none.
                if sent {
                    call["id"] = json!(format!("fc_{k}"));
                }
                input.push(call);
            }
            for &k in &order {
                input.push(
                    json!({"type":"function_call_output","call_id":ids[k],"output":CALLS_2[k].1}),
                );
            }
            let mut body = json!({"model":model,"input":input,"tools":tools});
            if !sent {
                body["store"] = json!(false);
            }
            body
        }
        Anthropic => {
            let mut blocks = Vec::new();
            if h.text {
                blocks.push(json!({"type":"text","text":LET_ME_CHECK}));
            }
            for k in 0..h.calls {
                blocks.push(json!({"type":"tool_use","id":ids[k],"name":"get_weather",
                    "input":parse(CALLS_2[k].0)}));
            }
            let results: Vec<Value> = order
                .iter()
                .map(|&k| json!({"type":"tool_result","tool_use_id":ids[k],"content":CALLS_2[k].1}))
                .collect();
            json!({"model":model,"messages":[
                {"role":"user","content":QUESTION_2},
                {"role":"assistant","content":blocks},
                {"role":"user","content":results}],"tools":tools})
        }
        Gemini => {
            let shown = c == Gemini && h.gemini_ids;
            let mut parts = Vec::new();
            if h.text {
                parts.push(json!({"text":LET_ME_CHECK}));
            }
            for k in 0..h.calls {
                let mut call = json!({"name":"get_weather","args":parse(CALLS_2[k].0)});
                if shown {
                    call["id"] = json!(ids[k]);
                }
                let mut part = json!({ "functionCall": call });
                // Only Gemini's own signature means anything to Gemini (§3.10, §5.7).
                if k == 0 && c == Gemini {
                    part["thoughtSignature"] = json!(CLIENT_SIGNATURE);
                }
                parts.push(part);
            }
            let gemini_order: Vec<usize> = if shown || sent {
                order
            } else {
                (0..h.calls).collect()
            };
            let responses: Vec<Value> = gemini_order
                .iter()
                .map(|&k| {
                    let mut r = json!({"name":"get_weather","response":parse(CALLS_2[k].1)});
                    if shown {
                        r["id"] = json!(ids[k]);
                    }
                    json!({ "functionResponse": r })
                })
                .collect();
            json!({"contents":[
                user_turn(d, QUESTION_2),
                {"role":"model","parts":parts},
                {"role":"user","parts":responses}],"tools":tools})
        }
    };
    // A client's own limit is its own field (none but Anthropic's here).
    with_max_tokens(d, c, body)
}

fn check_history(c: Dialect, p: Dialect, h: History) {
    let req = decode_request(c, &history(c, c, h, true), false);
    assert_json(
        &encode_request(p, &req),
        &history(p, c, h, false),
        &format!("{c} → {p}, {h:?}"),
    );
}
const T4_IN_ORDER: History = History {
    calls: 2,
    text: false,
    reverse: false,
    gemini_ids: false,
};

#[test]
fn t4_parallel_calls_reach_every_provider_with_results_matched_by_id() {
    // All 16 pairs, results in call order; a Gemini client with and without ids.
    for_each_pair(|c, p| {
        check_history(c, p, T4_IN_ORDER);
        if c == Gemini {
            check_history(
                c,
                p,
                History {
                    gemini_ids: true,
                    ..T4_IN_ORDER
                },
            );
        }
    });
}

/// Results in reverse call order, matched by id: every provider but Gemini, which is shown no
/// ids (those are in `t4_reversed_results_reach_a_gemini_provider_in_call_order`), and a Gemini client with ids to every provider. A Gemini
/// client without ids cannot say which result is which but by order (§3.4), so it is not here.
#[test]
fn t4_results_in_reverse_order_stay_matched_to_their_calls_by_id() {
    let reverse = History {
        reverse: true,
        ..T4_IN_ORDER
    };
    for_pairs_to(&[Chat, Resp, Anthropic], |c, p| {
        let h = History {
            gemini_ids: c == Gemini,
            ..reverse
        };
        check_history(c, p, h);
    });
    for_listed_pairs(&[(Gemini, Gemini)], |c, p| {
        check_history(
            c,
            p,
            History {
                gemini_ids: true,
                ..reverse
            },
        );
    });
}

/// §6 T4 "results matched by id not position (except D without ids)", §3.4 (D: matched by id
/// if present, else by name + order; rule 2: map results back to Gemini "by name and
/// position"): a Gemini provider is shown no ids from another dialect, so the gateway, which
/// knows each result's call by id, must put the results in call order.
#[test]
fn t4_reversed_results_reach_a_gemini_provider_in_call_order() {
    let reverse = History {
        reverse: true,
        ..T4_IN_ORDER
    };
    for_listed_pairs(
        &[(Chat, Gemini), (Resp, Gemini), (Anthropic, Gemini)],
        |c, p| check_history(c, p, reverse),
    );
}

/// §3.4 rule 3: a Gemini client's results without ids go to the call of the same name in the
/// turn before, whatever their order.
#[test]
fn t4_gemini_results_without_ids_match_their_calls_by_name() {
    let body = json!({"contents":[
        {"role":"user","parts":[{"text":"Weather and time in Paris?"}]},
        {"role":"model","parts":[
            {"functionCall":{"name":"get_weather","args":{"location":"Paris"}},"thoughtSignature":CLIENT_SIGNATURE},
            {"functionCall":{"name":"get_time","args":{"location":"Paris"}}}]},
        {"role":"user","parts":[
            {"functionResponse":{"name":"get_time","response":{"time":"14:00"}}},
            {"functionResponse":{"name":"get_weather","response":{"temp_c":18}}}]}],
        "tools":tools(Gemini, &["get_weather", "get_time"])});
    let time = r#"{"time":"14:00"}"#;
    // A Gemini client to every provider.
    let pairs: Vec<(Dialect, Dialect)> = ALL.iter().map(|&p| (Gemini, p)).collect();
    for_listed_pairs(&pairs, |c, p| {
        let req = decode_request(c, &body, false);
        let tools = tools(p, &["get_weather", "get_time"]);
        let want = match p {
            Chat => json!({"model":UP_MODEL,"messages":[
                {"role":"user","content":"Weather and time in Paris?"},
                {"role":"assistant","content":null,"tool_calls":[
                    {"id":"call_1_0","type":"function","function":{"name":"get_weather","arguments":ARGS_PARIS}},
                    {"id":"call_1_1","type":"function","function":{"name":"get_time","arguments":ARGS_PARIS}}]},
                {"role":"tool","tool_call_id":"call_1_1","content":time},
                {"role":"tool","tool_call_id":"call_1_0","content":RESULT_PARIS}],"tools":tools}),
            Resp => json!({"model":UP_MODEL,"input":[
                {"role":"user","content":"Weather and time in Paris?"},
                {"type":"function_call","call_id":"call_1_0","name":"get_weather","arguments":ARGS_PARIS},
                {"type":"function_call","call_id":"call_1_1","name":"get_time","arguments":ARGS_PARIS},
                {"type":"function_call_output","call_id":"call_1_1","output":time},
                {"type":"function_call_output","call_id":"call_1_0","output":RESULT_PARIS}],
                "tools":tools,"store":false}),
            Anthropic => {
                json!({"model":UP_MODEL,"max_tokens":anthropic::DEFAULT_MAX_TOKENS,"messages":[
                {"role":"user","content":"Weather and time in Paris?"},
                {"role":"assistant","content":[
                    {"type":"tool_use","id":"call_1_0","name":"get_weather","input":{"location":"Paris"}},
                    {"type":"tool_use","id":"call_1_1","name":"get_time","input":{"location":"Paris"}}]},
                {"role":"user","content":[
                    {"type":"tool_result","tool_use_id":"call_1_1","content":time},
                    {"type":"tool_result","tool_use_id":"call_1_0","content":RESULT_PARIS}]}],"tools":tools})
            }
            // Names tell the results apart: the client's order stands.
            Gemini => {
                let mut want = body.clone();
                want["tools"] = tools;
                want
            }
        };
        assert_json(&encode_request(p, &req), &want, &format!("{c} → {p}"));
    });
}

#[test]
fn t5_text_then_a_call_in_history_reaches_every_provider_in_one_assistant_turn() {
    // All 16 pairs: Chat keeps content and tool_calls in one message, Anthropic a text block
    // then a tool_use block, Responses a message item then a function_call item, Gemini a
    // text part then a functionCall part.
    for_each_pair(|c, p| {
        check_history(
            c,
            p,
            History {
                calls: 1,
                text: true,
                reverse: false,
                gemini_ids: false,
            },
        );
    });
}

// ---------------------------------------------------------------------------------------------
// Provider answers and streams from a script (§1, §2), and what each client must get (§3.2,
// §3.6–§3.9).
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    Text(&'static str),
    /// The call of `CALLS_2[k]`, the k-th call of the answer.
    Call(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// The model ended its turn (or called tools).
    Natural,
    /// The stop sequence `STOP_SEQUENCE` matched.
    StopSequence,
    /// The output limit was hit.
    MaxTokens,
}

#[derive(Debug, Clone, Copy)]
struct Script {
    pieces: &'static [Piece],
    ending: Ending,
}

impl Script {
    fn calls(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Call(_)))
    }

    fn text(&self) -> String {
        self.pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Text(t) => Some(*t),
                Piece::Call(_) => None,
            })
            .collect()
    }
}

const STOP_SEQUENCE: &str = "END";

/// T4: two parallel calls.
const T4: Script = Script {
    pieces: &[Piece::Call(0), Piece::Call(1)],
    ending: Ending::Natural,
};
/// T5: text, then a call.
const T5: Script = Script {
    pieces: &[Piece::Text(LET_ME_CHECK), Piece::Call(0)],
    ending: Ending::Natural,
};
/// T8: text cut by a stop sequence.
const T8_STOP: Script = Script {
    pieces: &[Piece::Text("Counting: one, two, three, ")],
    ending: Ending::StopSequence,
};
/// T8: text cut by the output limit.
const T8_LENGTH: Script = Script {
    pieces: &[Piece::Text("Once upon a time, there was")],
    ending: Ending::MaxTokens,
};

/// The id of the k-th call of a provider's answer, as clients see it: the provider's own; a
/// Gemini call has none, so the codec names it from the `responseId` ("P-1") and its position,
/// the first call's signature riding on it (§3.4 rules 2 and 5).
fn call_id(p: Dialect, k: usize) -> String {
    match p {
        Chat | Resp => format!("call_P{}", k + 1),
        Anthropic => format!("toolu_P{}", k + 1),
        Gemini if k == 0 => "call_P1_0__thought__Cv8-Ab_9zz".to_string(),
        Gemini => format!("call_P1_{k}"),
    }
}

/// The usage of every provider's answer.
const USAGE: Usage = Usage {
    input_total: 20,
    input_cache_read: 0,
    input_cache_write: 0,
    output_total: 9,
    output_reasoning: 0,
};

fn chat_finish(s: Script) -> &'static str {
    match s.ending {
        _ if s.calls() => "tool_calls",
        Ending::MaxTokens => "length",
        Ending::Natural | Ending::StopSequence => "stop",
    }
}

/// Anthropic's `stop_reason` and `stop_sequence` as provider `p` says them (when `p` is
/// Anthropic) or as an Anthropic client must get them from `p` (§3.2: only an Anthropic provider
/// can say a stop sequence matched).
fn anthropic_stop(s: Script, p: Dialect) -> (&'static str, Value) {
    match s.ending {
        _ if s.calls() => ("tool_use", Value::Null),
        Ending::MaxTokens => ("max_tokens", Value::Null),
        Ending::StopSequence if p == Anthropic => ("stop_sequence", json!(STOP_SEQUENCE)),
        Ending::Natural | Ending::StopSequence => ("end_turn", Value::Null),
    }
}

fn gemini_finish(s: Script) -> &'static str {
    match s.ending {
        Ending::MaxTokens => "MAX_TOKENS",
        Ending::Natural | Ending::StopSequence => "STOP",
    }
}

/// Responses' `status` and `incomplete_details`.
fn responses_status(s: Script) -> (&'static str, Value) {
    match s.ending {
        Ending::MaxTokens => ("incomplete", json!({"reason":"max_output_tokens"})),
        Ending::Natural | Ending::StopSequence => ("completed", Value::Null),
    }
}

/// The event that ends a Responses stream.
fn responses_terminal(s: Script) -> &'static str {
    match responses_status(s) {
        ("incomplete", _) => "response.incomplete",
        _ => "response.completed",
    }
}

/// A Responses response with its `incomplete_details`.
fn with_details(mut response: Value, details: Value) -> Value {
    response["incomplete_details"] = details;
    response
}

/// The assistant's message in a Chat answer from provider `p`, as it says it and as a client
/// must get it.
fn chat_message(p: Dialect, s: Script) -> Value {
    let text = s.text();
    let mut message = json!({"role":"assistant",
        "content":if text.is_empty() { Value::Null } else { json!(text) },"refusal":null});
    let calls: Vec<Value> = s
        .pieces
        .iter()
        .filter_map(|piece| match piece {
            Piece::Call(k) => Some(json!({"id":call_id(p, *k),"type":"function",
                "function":{"name":"get_weather","arguments":CALLS_2[*k].0}})),
            Piece::Text(_) => None,
        })
        .collect();
    if !calls.is_empty() {
        message["tool_calls"] = json!(calls);
    }
    message
}

/// The content of an Anthropic answer from provider `p`, as it says it and as a client must
/// get it.
fn anthropic_content(p: Dialect, s: Script) -> Value {
    let content: Vec<Value> = s
        .pieces
        .iter()
        .map(|piece| match piece {
            Piece::Text(t) => json!({"type":"text","text":t}),
            Piece::Call(k) => json!({"type":"tool_use","id":call_id(p, *k),
                "name":"get_weather","input":parse(CALLS_2[*k].0)}),
        })
        .collect();
    json!(content)
}

fn provider_answer(p: Dialect, s: Script) -> Value {
    match p {
        Chat => chat_answer(chat_message(p, s), chat_finish(s), chat_usage(&USAGE)),
        Resp => {
            let output: Vec<Value> = s
                .pieces
                .iter()
                .map(|piece| match piece {
                    Piece::Text(t) => json!({"id":"msg_P","type":"message","status":"completed",
                        "role":"assistant","content":[{"type":"output_text","annotations":[],"text":t}]}),
                    Piece::Call(k) => json!({"id":format!("fc_P{}", k + 1),"type":"function_call",
                        "status":"completed","arguments":CALLS_2[*k].0,"call_id":call_id(p, *k),
                        "name":"get_weather"}),
                })
                .collect();
            let (status, incomplete) = responses_status(s);
            let answer = responses_answer(status, json!(output), responses_usage(&USAGE));
            with_details(answer, incomplete)
        }
        Anthropic => {
            let (reason, sequence) = anthropic_stop(s, p);
            let usage = anthropic_usage(&USAGE, false);
            anthropic_answer(anthropic_content(p, s), reason, sequence, usage)
        }
        Gemini => {
            let parts: Vec<Value> = s.pieces.iter().map(|piece| gemini_part(*piece)).collect();
            gemini_answer(json!(parts), gemini_finish(s), gemini_usage(&USAGE, true))
        }
    }
}

/// A Gemini provider's part for a piece: the first call signed (§1.D).
fn gemini_part(piece: Piece) -> Value {
    match piece {
        Piece::Text(t) => json!({ "text": t }),
        Piece::Call(k) => {
            let mut part =
                json!({"functionCall":{"name":"get_weather","args":parse(CALLS_2[k].0)}});
            if k == 0 {
                part["thoughtSignature"] = json!(PROVIDER_SIGNATURE);
            }
            part
        }
    }
}

/// What of a client's answer these tests hold to: its content and how it ended.
fn answer_view(c: Dialect, a: &Value) -> Value {
    match c {
        Chat => json!({"choices":a["choices"].as_array().unwrap().len(),
            "message":a["choices"][0]["message"],"finish_reason":a["choices"][0]["finish_reason"]}),
        Resp => json!({"status":a["status"],"incomplete_details":a["incomplete_details"],
            "output":a["output"]}),
        Anthropic => json!({"content":a["content"],"stop_reason":a["stop_reason"],
            "stop_sequence":a["stop_sequence"]}),
        Gemini => json!({"candidates":a["candidates"].as_array().unwrap().len(),
            "content":a["candidates"][0]["content"],"finishReason":a["candidates"][0]["finishReason"]}),
    }
}

/// A call as a Gemini client must see it: the provider's id when it has one (ours are not
/// shown), the signature where Gemini put it.
fn gemini_client_call(p: Dialect, k: usize) -> Value {
    let mut call = serde_json::Map::new();
    if p != Gemini {
        call.insert("id".into(), json!(call_id(p, k)));
    }
    call.insert("name".into(), json!("get_weather"));
    call.insert("args".into(), parse(CALLS_2[k].0));
    let mut part = json!({ "functionCall": call });
    if p == Gemini && k == 0 {
        part["thoughtSignature"] = json!(PROVIDER_SIGNATURE);
    }
    part
}

/// The Responses output items a client must get; `actual` lends the message items' ids (made
/// up by the codec), whose prefix is checked.
fn responses_output(p: Dialect, s: Script, actual: &Value) -> Value {
    let items: Vec<Value> = s
        .pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| match piece {
            Piece::Text(t) => {
                let id = actual[i]["id"].as_str().unwrap_or("");
                assert!(id.starts_with("msg_"), "{actual}");
                json!({"id":id,"type":"message","status":"completed","role":"assistant",
                    "content":[{"type":"output_text","annotations":[],"text":t}]})
            }
            Piece::Call(k) => {
                let id = call_id(p, *k);
                json!({"id":format!("fc_{id}"),"type":"function_call","status":"completed",
                    "arguments":CALLS_2[*k].0,"call_id":id,"name":"get_weather"})
            }
        })
        .collect();
    json!(items)
}

/// The parts a Gemini client must get.
fn gemini_client_parts(p: Dialect, s: Script) -> Vec<Value> {
    s.pieces
        .iter()
        .map(|piece| match piece {
            Piece::Text(t) => json!({ "text": t }),
            Piece::Call(k) => gemini_client_call(p, *k),
        })
        .collect()
}

fn expected_answer_view(c: Dialect, p: Dialect, s: Script, actual: &Value) -> Value {
    match c {
        Chat => json!({"choices":1,"message":chat_message(p, s),"finish_reason":chat_finish(s)}),
        Resp => {
            let (status, incomplete) = responses_status(s);
            json!({"status":status,"incomplete_details":incomplete,
                "output":responses_output(p, s, &actual["output"])})
        }
        Anthropic => {
            let (reason, sequence) = anthropic_stop(s, p);
            json!({"content":anthropic_content(p, s),"stop_reason":reason,"stop_sequence":sequence})
        }
        Gemini => {
            json!({"candidates":1,"content":{"role":"model","parts":gemini_client_parts(p, s)},
            "finishReason":gemini_finish(s)})
        }
    }
}

/// A T1-like request from client `c` declaring get_weather: what the client's answer and
/// stream are written for.
fn client_request(c: Dialect, stream: bool) -> Request {
    let mut body = ask(c, QUESTION_2);
    body["tools"] = tools(c, &["get_weather"]);
    if stream && c != Gemini {
        body["stream"] = json!(true);
    }
    decode_request(c, &body, stream)
}

/// What the client's own decoder reads back from what it was sent: its blocks (text, or a
/// call's id, name and parsed arguments) and its stop reason.
#[derive(Debug, Clone, PartialEq)]
struct Said {
    blocks: Vec<Value>,
    stop: Option<Stop>,
}

/// What client `c` must read back from provider `p`'s answer to script `s`. The stop reason as
/// the client's dialect can say it (§3.2).
fn expected_said(c: Dialect, p: Dialect, s: Script) -> Said {
    let mut blocks: Vec<Value> = Vec::new();
    for piece in s.pieces {
        match piece {
            Piece::Text(t) => blocks.push(json!({ "text": t })),
            Piece::Call(k) => blocks.push(json!({"id":call_id(p, *k),"name":"get_weather",
                "args":parse(CALLS_2[*k].0)})),
        }
    }
    let stop = match s.ending {
        _ if s.calls() => Stop::ToolUse,
        Ending::MaxTokens => Stop::MaxTokens,
        Ending::StopSequence if c == Anthropic && p == Anthropic => {
            Stop::StopSequence(Some(STOP_SEQUENCE.to_string()))
        }
        Ending::Natural | Ending::StopSequence => Stop::EndTurn,
    };
    Said {
        blocks,
        stop: Some(stop),
    }
}

fn said_of_answer(c: Dialect, body: &Value) -> Said {
    let a = decode_answer(c, body);
    let mut blocks: Vec<Value> = Vec::new();
    for b in &a.blocks {
        match b {
            tollgate::dialect::ir::Block::Text { text, .. } => push_text(&mut blocks, text),
            tollgate::dialect::ir::Block::ToolCall(call) => {
                blocks.push(json!({"id":call.id,"name":call.name,"args":parse(&call.arguments)}))
            }
            other => panic!("{c}: unexpected block {other:?}"),
        }
    }
    Said {
        blocks,
        stop: Some(a.stop),
    }
}

/// Appends text, joining it to a text block just before (a stream's pieces are one text).
fn push_text(blocks: &mut Vec<Value>, text: &str) {
    match blocks.last_mut() {
        Some(Value::Object(last)) if last.contains_key("text") => {
            let joined = format!("{}{text}", last["text"].as_str().unwrap());
            last.insert("text".into(), json!(joined));
        }
        _ => blocks.push(json!({ "text": text })),
    }
}

/// Reads a client's stream back with its own decoder, checking the events' invariants (start
/// first, one block at a time, indices counting up, a stop after the last block).
fn said_of_stream(c: Dialect, bytes: &str) -> Said {
    let (events, ended) = decode_stream(c, bytes.as_bytes(), 5);
    assert_eq!(ended, Ended::Complete, "{c}\n{bytes}");
    assert!(
        matches!(events.first(), Some(Event::Start { .. })),
        "{events:?}"
    );
    let mut said = Said {
        blocks: Vec::new(),
        stop: None,
    };
    let (mut open, mut next) = (None, 0);
    let mut args = String::new();
    let mut call: Option<(String, String)> = None;
    for e in &events[1..] {
        assert!(said.stop.is_none(), "{c}: {e:?} after the stop");
        match e {
            Event::BlockStart { index, block } => {
                assert_eq!((open, *index), (None, next), "{c}: {events:?}");
                open = Some(*index);
                next += 1;
                match block {
                    BlockKind::ToolCall { id, name, .. } => {
                        call = Some((id.clone(), name.clone()));
                        args.clear();
                    }
                    BlockKind::Text => {}
                    other => panic!("{c}: unexpected block {other:?}"),
                }
            }
            Event::Delta { index, delta } => {
                assert_eq!(open, Some(*index), "{c}: a delta outside its block");
                match delta {
                    Delta::Text(t) => push_text(&mut said.blocks, t),
                    Delta::ToolArguments(a) => args.push_str(a),
                    other => panic!("{c}: unexpected delta {other:?}"),
                }
            }
            Event::BlockStop { index } => {
                assert_eq!(open, Some(*index), "{c}: {events:?}");
                open = None;
                if let Some((id, name)) = call.take() {
                    said.blocks
                        .push(json!({"id":id,"name":name,"args":parse(&args)}));
                }
            }
            Event::Usage(_) => {}
            Event::Stop(s) => {
                assert_eq!(open, None, "{c}: stop with a block open");
                said.stop = Some(s.clone());
            }
            Event::Start { .. } | Event::Error { .. } => panic!("{c}: {e:?}\n{bytes}"),
        }
    }
    said
}

fn check_answer(c: Dialect, p: Dialect, s: Script) {
    let what = format!("{s:?} answer {p} → {c}");
    let req = client_request(c, false);
    let answer = decode_answer(p, &provider_answer(p, s));
    let got = encode_answer(c, &answer, &req);
    assert_json(
        &answer_view(c, &got),
        &expected_answer_view(c, p, s, &got),
        &what,
    );
    assert_eq!(said_of_answer(c, &got), expected_said(c, p, s), "{what}");
}

// --- Provider streams ------------------------------------------------------------------------

/// Arguments in three fragments, cut mid-token.
fn fragments(args: &str) -> [&str; 3] {
    let (a, b) = (args.len() / 3, 2 * args.len() / 3);
    [&args[..a], &args[a..b], &args[b..]]
}

fn provider_stream(p: Dialect, s: Script) -> String {
    match p {
        Chat => {
            let mut deltas = Vec::new();
            let mut tool_index = 0;
            for piece in s.pieces {
                match piece {
                    Piece::Text(t) => deltas.extend(halves(t).map(|h| json!({ "content": h }))),
                    Piece::Call(k) => {
                        let id = call_id(p, *k);
                        let args = fragments(CALLS_2[*k].0);
                        deltas.extend(chat_call_deltas(tool_index, &id, &args));
                        tool_index += 1;
                    }
                }
            }
            let mut events = vec![chat_role_chunk()];
            events.extend(deltas.into_iter().map(|d| chat_chunk(d, Value::Null)));
            events.extend(chat_tail(chat_finish(s), chat_usage(&USAGE)));
            events.concat()
        }
        Resp => {
            let start = responses_answer("in_progress", json!([]), Value::Null);
            let mut stream = ResponsesStream::new(&with_details(start, Value::Null));
            let mut output = Vec::new();
            for (i, piece) in s.pieces.iter().enumerate() {
                output.push(match piece {
                    Piece::Text(t) => stream.message(i, &halves(t)),
                    Piece::Call(k) => {
                        let (item_id, args) = (format!("fc_P{}", k + 1), CALLS_2[*k].0);
                        stream.call(i, &item_id, &call_id(p, *k), args, &fragments(args))
                    }
                });
            }
            let (status, incomplete) = responses_status(s);
            let done = responses_answer(status, json!(output), responses_usage(&USAGE));
            stream.push(json!({"type":responses_terminal(s),
                "response":with_details(done, incomplete)}));
            stream.events.concat()
        }
        Anthropic => {
            let mut events = anthropic_start(&USAGE);
            for (i, piece) in s.pieces.iter().enumerate() {
                events.extend(match piece {
                    Piece::Text(t) => anthropic_text_block(i, &halves(t)),
                    Piece::Call(k) => {
                        let args = [&[""][..], &fragments(CALLS_2[*k].0)].concat();
                        anthropic_call_block(i, &call_id(p, *k), &args)
                    }
                });
            }
            let (reason, sequence) = anthropic_stop(s, p);
            events.extend(anthropic_tail(
                reason,
                sequence,
                anthropic_usage(&USAGE, false),
            ));
            events.concat()
        }
        Gemini => {
            // Gemini writes CRLF; text comes in pieces, calls whole, parallel ones together.
            let mut events = Vec::new();
            let mut calls = Vec::new();
            for piece in s.pieces {
                match piece {
                    Piece::Text(t) => {
                        for h in halves(t) {
                            let usage = gemini_usage(&USAGE, false);
                            events.push(gemini_chunk(json!([{ "text": h }]), None, usage));
                        }
                    }
                    Piece::Call(_) => calls.push(gemini_part(*piece)),
                }
            }
            // The calls and the finish in one chunk, as Gemini sends them.
            if calls.is_empty() {
                calls.push(json!({"text":""}));
            }
            let finish = Some(gemini_finish(s));
            events.push(gemini_chunk(
                json!(calls),
                finish,
                gemini_usage(&USAGE, true),
            ));
            events.concat()
        }
    }
}

/// Runs a provider's stream through a converter to a client in pieces of `piece` bytes, as the
/// relay does, and returns the client's bytes; the stream must end complete.
fn convert(c: Dialect, p: Dialect, req: &Request, input: &str, piece: usize) -> String {
    let mut conv = converter(c, p, req);
    let got = relay(&mut conv, input, piece);
    match got.end {
        StreamEnd::Complete(_) => assert!(conv.is_complete(), "{p} → {c}: not complete"),
        StreamEnd::Truncated => panic!("{p} → {c}: the provider's stream was judged cut"),
    }
    got.out
}

/// The JSON of each event of a client stream, with its SSE name; Chat's `[DONE]` is checked to
/// end the stream and left out.
fn stream_events(c: Dialect, out: &str) -> Vec<(Option<String>, Value)> {
    let mut events = sse(out);
    if c == Chat {
        assert_eq!(
            events.pop().map(|e| e.1).as_deref(),
            Some("[DONE]"),
            "{out}"
        );
    }
    events
        .into_iter()
        .map(|(n, d)| (n, serde_json::from_str(&d).unwrap()))
        .collect()
}

/// What of a client's stream these tests hold to, in each dialect's own grammar.
///
/// * Chat: one choice per chunk; the content; each tool call by its `index`, with the `id`,
///   `type` and name of its first fragment and its arguments joined; the finish reasons.
/// * Responses: the terminal event and its status, `incomplete_details` and output; the items
///   of `output_item.done` and their `output_index`es.
/// * Anthropic: the block events in order ("start 0 text", "stop 0", …), each block whole, and
///   `message_delta.delta`.
/// * Gemini: every chunk's parts in order (adjacent texts joined), the finish reasons, and
///   whether only the last chunk has one.
fn stream_view(c: Dialect, out: &str) -> Value {
    let events = stream_events(c, out);
    match c {
        Chat => {
            let mut content = String::new();
            let mut calls: Vec<Value> = Vec::new();
            let mut finishes = Vec::new();
            for (_, v) in &events {
                let choices = v["choices"].as_array().unwrap();
                assert!(choices.len() <= 1, "one choice per chunk: {v}");
                let Some(choice) = choices.first() else {
                    continue;
                };
                assert_eq!(choice["index"], 0, "{v}");
                if let Some(t) = choice["delta"]["content"].as_str() {
                    content.push_str(t);
                }
                for tc in choice["delta"]["tool_calls"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    let i = tc["index"].as_u64().expect("every fragment has its index") as usize;
                    if i == calls.len() {
                        calls.push(json!({"index":i,"id":tc["id"],"type":tc["type"],
                            "name":tc["function"]["name"],"arguments":""}));
                    }
                    assert!(i < calls.len(), "index {i} before {}: {out}", calls.len());
                    let joined = format!(
                        "{}{}",
                        calls[i]["arguments"].as_str().unwrap(),
                        tc["function"]["arguments"].as_str().unwrap_or("")
                    );
                    calls[i]["arguments"] = json!(joined);
                }
                if !choice["finish_reason"].is_null() {
                    finishes.push(choice["finish_reason"].clone());
                }
            }
            json!({"content":content,"tool_calls":calls,"finish_reasons":finishes})
        }
        Resp => {
            let (name, last) = events.last().unwrap();
            let done: Vec<&Value> = events
                .iter()
                .filter(|(n, _)| n.as_deref() == Some("response.output_item.done"))
                .map(|(_, v)| v)
                .collect();
            json!({"terminal":name,"status":last["response"]["status"],
                "incomplete_details":last["response"]["incomplete_details"],
                "output":last["response"]["output"],
                "done_items":done.iter().map(|v| v["item"].clone()).collect::<Vec<_>>(),
                "done_indices":done.iter().map(|v| v["output_index"].clone()).collect::<Vec<_>>()})
        }
        Anthropic => {
            let mut order = Vec::new();
            let mut blocks: Vec<Value> = Vec::new();
            let mut partial = String::new();
            let mut delta = Value::Null;
            for (name, v) in &events {
                match name.as_deref().unwrap() {
                    "content_block_start" => {
                        let block = &v["content_block"];
                        order.push(format!(
                            "start {} {}",
                            v["index"],
                            block["type"].as_str().unwrap()
                        ));
                        blocks.push(block.clone());
                        partial.clear();
                    }
                    "content_block_delta" => {
                        let d = &v["delta"];
                        let last = blocks.last_mut().unwrap();
                        match d["type"].as_str().unwrap() {
                            "text_delta" => {
                                let t = format!(
                                    "{}{}",
                                    last["text"].as_str().unwrap(),
                                    d["text"].as_str().unwrap()
                                );
                                last["text"] = json!(t);
                            }
                            "input_json_delta" => {
                                partial.push_str(d["partial_json"].as_str().unwrap())
                            }
                            other => panic!("unexpected delta {other}: {out}"),
                        }
                    }
                    "content_block_stop" => {
                        order.push(format!("stop {}", v["index"]));
                        let last = blocks.last_mut().unwrap();
                        if last["type"] == "tool_use" && !partial.is_empty() {
                            last["input"] = parse(&partial);
                        }
                    }
                    "message_delta" => delta = v["delta"].clone(),
                    _ => {}
                }
            }
            json!({"order":order,"blocks":blocks,"message_delta":delta})
        }
        Gemini => {
            let mut parts: Vec<Value> = Vec::new();
            let mut finishes = Vec::new();
            for (i, (_, v)) in events.iter().enumerate() {
                let candidate = &v["candidates"][0];
                for part in candidate["content"]["parts"].as_array().unwrap() {
                    let plain = part.as_object().unwrap().len() == 1 && part["text"].is_string();
                    match parts.last_mut() {
                        Some(last)
                            if plain
                                && last.as_object().unwrap().len() == 1
                                && last["text"].is_string() =>
                        {
                            let t = format!(
                                "{}{}",
                                last["text"].as_str().unwrap(),
                                part["text"].as_str().unwrap()
                            );
                            last["text"] = json!(t);
                        }
                        _ => parts.push(part.clone()),
                    }
                }
                if let Some(f) = candidate.get("finishReason") {
                    finishes.push(json!({"chunk": i + 1 == events.len(), "finishReason": f}));
                }
            }
            // The last chunk's empty text is Gemini's own way to end: not content.
            if parts.last() == Some(&json!({"text":""})) {
                parts.pop();
            }
            json!({"parts":parts,"finishes":finishes})
        }
    }
}

fn expected_stream_view(c: Dialect, p: Dialect, s: Script, out: &str) -> Value {
    match c {
        Chat => {
            let calls: Vec<Value> = s
                .pieces
                .iter()
                .filter_map(|piece| match piece {
                    Piece::Call(k) => Some(*k),
                    Piece::Text(_) => None,
                })
                .enumerate()
                .map(|(i, k)| {
                    json!({"index":i,"id":call_id(p, k),"type":"function",
                    "name":"get_weather","arguments":CALLS_2[k].0})
                })
                .collect();
            json!({"content":s.text(),"tool_calls":calls,"finish_reasons":[chat_finish(s)]})
        }
        Resp => {
            let (status, incomplete) = responses_status(s);
            let terminal = responses_terminal(s);
            let events = stream_events(c, out);
            let output = &events.last().unwrap().1["response"]["output"];
            let items = responses_output(p, s, output);
            let indices: Vec<usize> = (0..s.pieces.len()).collect();
            json!({"terminal":terminal,"status":status,"incomplete_details":incomplete,
                "output":items,"done_items":items,"done_indices":indices})
        }
        Anthropic => {
            let mut order = Vec::new();
            let mut blocks = Vec::new();
            for (i, piece) in s.pieces.iter().enumerate() {
                match piece {
                    Piece::Text(t) => {
                        order.push(format!("start {i} text"));
                        blocks.push(json!({"type":"text","text":t}));
                    }
                    Piece::Call(k) => {
                        order.push(format!("start {i} tool_use"));
                        blocks.push(json!({"type":"tool_use","id":call_id(p, *k),
                            "name":"get_weather","input":parse(CALLS_2[*k].0)}));
                    }
                }
                // Each block stops before the next starts (§2.C, §6 T5).
                order.push(format!("stop {i}"));
            }
            let (reason, sequence) = anthropic_stop(s, p);
            json!({"order":order,"blocks":blocks,
                "message_delta":{"stop_reason":reason,"stop_sequence":sequence}})
        }
        Gemini => json!({"parts":gemini_client_parts(p, s),
            "finishes":[{"chunk":true,"finishReason":gemini_finish(s)}]}),
    }
}

fn check_stream(c: Dialect, p: Dialect, s: Script) {
    let what = format!("{s:?} stream {p} → {c}");
    let req = client_request(c, true);
    let transcript = provider_stream(p, s);
    // The provider's stream, as its own decoder reads it, is what the script says.
    assert_eq!(
        said_of_stream(p, &transcript),
        expected_said(p, p, s),
        "{what}: the provider's stream itself\n{transcript}"
    );
    let out = convert(c, p, &req, &transcript, 7);
    for piece in [1, usize::MAX] {
        assert_eq!(
            convert(c, p, &req, &transcript, piece),
            out,
            "{what}: pieces of {piece} bytes"
        );
    }
    assert_json(
        &stream_view(c, &out),
        &expected_stream_view(c, p, s, &out),
        &format!("{what}\n{out}"),
    );
    assert_eq!(
        said_of_stream(c, &out),
        expected_said(c, p, s),
        "{what}: read back by the client's decoder\n{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// T4 and T5 answers, whole and streamed.
// ---------------------------------------------------------------------------------------------

#[test]
fn t4_two_parallel_calls_reach_every_client_as_its_dialect_wants_them() {
    // All 16 pairs. Chat: one message with both tool_calls; Responses: two function_call
    // items; Anthropic: two tool_use blocks; Gemini: two functionCall parts, the first signed.
    for_each_pair(|c, p| check_answer(c, p, T4));
}

#[test]
fn t4_two_parallel_calls_stream_to_every_client_as_its_dialect_wants_them() {
    // All 16 pairs. Chat: indices 0 and 1 in one choice; Anthropic: blocks 0 and 1, each
    // stopped before the next; Responses: two function_call items at output_index 0 and 1;
    // Gemini: both calls whole in the last chunk.
    for_each_pair(|c, p| check_stream(c, p, T4));
}

/// §6 T3/T4 "ids echoed unchanged": both calls a client got from a provider go back to it on
/// the next turn as the same calls, each result matched to its call by id (sent in call order:
/// reversed results are `t4_results_in_reverse_order_…`'s).
#[test]
fn t4_both_calls_come_back_to_their_provider_through_any_client() {
    for_each_pair(|c, p| {
        let req = client_request(c, false);
        let answer = decode_answer(p, &provider_answer(p, T4));
        let client_answer = encode_answer(c, &answer, &req);
        let next = match c {
            Chat => {
                let message = &client_answer["choices"][0]["message"];
                let mut messages =
                    vec![json!({"role":"user","content":QUESTION_2}), message.clone()];
                for (k, tc) in message["tool_calls"].as_array().unwrap().iter().enumerate() {
                    messages.push(
                        json!({"role":"tool","tool_call_id":tc["id"],"content":CALLS_2[k].1}),
                    );
                }
                json!({"model":CLIENT_MODEL,"messages":messages,"tools":tools(c, &["get_weather"])})
            }
            Resp => {
                let mut input = vec![json!({"role":"user","content":QUESTION_2})];
                let output = client_answer["output"].as_array().unwrap();
                input.extend(output.iter().cloned());
                for (k, item) in output.iter().enumerate() {
                    input.push(
                        json!({"type":"function_call_output","call_id":item["call_id"],
                        "output":CALLS_2[k].1}),
                    );
                }
                json!({"model":CLIENT_MODEL,"input":input,"tools":tools(c, &["get_weather"])})
            }
            Anthropic => {
                let content = client_answer["content"].as_array().unwrap();
                let results: Vec<Value> = content
                    .iter()
                    .enumerate()
                    .map(|(k, b)| {
                        json!({"type":"tool_result","tool_use_id":b["id"],
                        "content":CALLS_2[k].1})
                    })
                    .collect();
                json!({"model":CLIENT_MODEL,"max_tokens":CLIENT_MAX,"messages":[
                    {"role":"user","content":QUESTION_2},
                    {"role":"assistant","content":content},
                    {"role":"user","content":results}],"tools":tools(c, &["get_weather"])})
            }
            Gemini => {
                let content = client_answer["candidates"][0]["content"].clone();
                let responses: Vec<Value> = content["parts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .map(|(k, part)| {
                        let mut r = json!({"name":"get_weather","response":parse(CALLS_2[k].1)});
                        if let Some(id) = part["functionCall"].get("id") {
                            r["id"] = id.clone();
                        }
                        json!({ "functionResponse": r })
                    })
                    .collect();
                json!({"contents":[
                    {"role":"user","parts":[{"text":QUESTION_2}]},
                    content,
                    {"role":"user","parts":responses}],"tools":tools(c, &["get_weather"])})
            }
        };
        let next = decode_request(c, &next, false);
        let ids: Vec<String> = (0..2).map(|k| call_id(p, k)).collect();
        let body = match p {
            Chat => json!({"model":UP_MODEL,"messages":[
                {"role":"user","content":QUESTION_2},
                {"role":"assistant","content":null,"tool_calls":[
                    {"id":ids[0],"type":"function","function":{"name":"get_weather","arguments":ARGS_PARIS}},
                    {"id":ids[1],"type":"function","function":{"name":"get_weather","arguments":ARGS_ROME}}]},
                {"role":"tool","tool_call_id":ids[0],"content":RESULT_PARIS},
                {"role":"tool","tool_call_id":ids[1],"content":RESULT_ROME}],
                "tools":tools(p, &["get_weather"])}),
            Resp => json!({"model":UP_MODEL,"input":[
                {"role":"user","content":QUESTION_2},
                {"type":"function_call","call_id":ids[0],"name":"get_weather","arguments":ARGS_PARIS},
                {"type":"function_call","call_id":ids[1],"name":"get_weather","arguments":ARGS_ROME},
                {"type":"function_call_output","call_id":ids[0],"output":RESULT_PARIS},
                {"type":"function_call_output","call_id":ids[1],"output":RESULT_ROME}],
                "tools":tools(p, &["get_weather"]),"store":false}),
            Anthropic => json!({"model":UP_MODEL,"messages":[
                {"role":"user","content":QUESTION_2},
                {"role":"assistant","content":[
                    {"type":"tool_use","id":ids[0],"name":"get_weather","input":{"location":"Paris"}},
                    {"type":"tool_use","id":ids[1],"name":"get_weather","input":{"location":"Rome"}}]},
                {"role":"user","content":[
                    {"type":"tool_result","tool_use_id":ids[0],"content":RESULT_PARIS},
                    {"type":"tool_result","tool_use_id":ids[1],"content":RESULT_ROME}]}],
                "tools":tools(p, &["get_weather"])}),
            // No ids Gemini did not issue; its signature back on the first call only (§5.7).
            Gemini => json!({"contents":[
                {"role":"user","parts":[{"text":QUESTION_2}]},
                {"role":"model","parts":[
                    {"functionCall":{"name":"get_weather","args":{"location":"Paris"}},
                        "thoughtSignature":PROVIDER_SIGNATURE},
                    {"functionCall":{"name":"get_weather","args":{"location":"Rome"}}}]},
                {"role":"user","parts":[
                    {"functionResponse":{"name":"get_weather","response":{"temp_c":18}}},
                    {"functionResponse":{"name":"get_weather","response":{"temp_c":22}}}]}],
                "tools":tools(p, &["get_weather"])}),
        };
        assert_json(
            &encode_request(p, &next),
            &with_max_tokens(p, c, body),
            &format!("next turn {p} → {c} → {p}"),
        );
    });
}

#[test]
fn t5_text_then_a_call_reaches_every_client_in_one_turn() {
    // All 16 pairs. Chat: content and tool_calls in one message; Responses: a message item
    // then a function_call item; Anthropic: a text block then a tool_use block; Gemini: a
    // text part then a functionCall part.
    for_each_pair(|c, p| check_answer(c, p, T5));
}

#[test]
fn t5_text_then_a_call_streams_to_every_client_with_the_text_closed_first() {
    // All 16 pairs. Anthropic: the text block stops before the tool block starts; Chat: content
    // deltas and tool_calls deltas in the one choice; Responses: the message item done before
    // the function_call item is added; Gemini: text chunks, then the functionCall.
    for_each_pair(|c, p| check_stream(c, p, T5));
}

// ---------------------------------------------------------------------------------------------
// T6: images (§1.E "Images in", §3.6–§3.9).
// ---------------------------------------------------------------------------------------------

const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
const JPEG_URL: &str = "https://example.com/photos/cat.jpg";
const IMAGE_QUESTION: &str = "What is in these two images?";

fn png_data_url() -> String {
    format!("data:image/png;base64,{PNG_B64}")
}

fn t6_request(c: Dialect) -> Value {
    match c {
        Chat => json!({"model":CLIENT_MODEL,"messages":[{"role":"user","content":[
            {"type":"image_url","image_url":{"url":png_data_url()}},
            {"type":"image_url","image_url":{"url":JPEG_URL}},
            {"type":"text","text":IMAGE_QUESTION}]}]}),
        Resp => json!({"model":CLIENT_MODEL,"input":[{"role":"user","content":[
            {"type":"input_image","image_url":png_data_url(),"detail":"auto"},
            {"type":"input_image","image_url":JPEG_URL,"detail":"auto"},
            {"type":"input_text","text":IMAGE_QUESTION}]}]}),
        Anthropic => json!({"model":CLIENT_MODEL,"max_tokens":CLIENT_MAX,"messages":[
            {"role":"user","content":[
                {"type":"image","source":{"type":"base64","media_type":"image/png","data":PNG_B64}},
                {"type":"image","source":{"type":"url","url":JPEG_URL}},
                {"type":"text","text":IMAGE_QUESTION}]}]}),
        Gemini => json!({"contents":[{"role":"user","parts":[
            {"inlineData":{"mimeType":"image/png","data":PNG_B64}},
            {"fileData":{"mimeType":"image/jpeg","fileUri":JPEG_URL}},
            {"text":IMAGE_QUESTION}]}]}),
    }
}

/// The JPEG's bytes as the gateway fetched them (tests/media_fetch.rs fetches for real).
const FETCHED_JPEG_B64: &str = "/9j/4AAQSkZJRgABAgD//oCBdG9sbGdhdGU=";

/// The user turn's parts as provider `p` must receive them from client `c`: the base64 PNG
/// inline (a data URL for OpenAI's dialects), the JPEG by URL where the dialect takes URLs and
/// inline, fetched, for Gemini (§6 T6: "URL must be fetched for D upstream").
fn expected_t6_parts(p: Dialect, c: Dialect) -> [Value; 3] {
    match p {
        Chat => {
            // Responses' `detail` maps to Chat's (§3.9); the others have none.
            let image = |url: String| {
                let mut image = json!({ "url": url });
                if c == Resp {
                    image["detail"] = json!("auto");
                }
                json!({"type":"image_url","image_url":image})
            };
            [
                image(png_data_url()),
                image(JPEG_URL.to_string()),
                json!({"type":"text","text":IMAGE_QUESTION}),
            ]
        }
        Resp => [
            json!({"type":"input_image","image_url":png_data_url(),"detail":"auto"}),
            json!({"type":"input_image","image_url":JPEG_URL,"detail":"auto"}),
            json!({"type":"input_text","text":IMAGE_QUESTION}),
        ],
        Anthropic => [
            json!({"type":"image","source":{"type":"base64","media_type":"image/png","data":PNG_B64}}),
            json!({"type":"image","source":{"type":"url","url":JPEG_URL}}),
            json!({"type":"text","text":IMAGE_QUESTION}),
        ],
        Gemini => [
            json!({"inlineData":{"mimeType":"image/png","data":PNG_B64}}),
            if c == Gemini {
                // A Gemini client's own fileData means what it says to Gemini.
                json!({"fileData":{"mimeType":"image/jpeg","fileUri":JPEG_URL}})
            } else {
                json!({"inlineData":{"mimeType":"image/jpeg","data":FETCHED_JPEG_B64}})
            },
            json!({"text":IMAGE_QUESTION}),
        ],
    }
}

/// What the gateway does before encoding for provider `p`: every URL `p`'s codec says it
/// cannot take is replaced by the bytes fetched from it.
fn fetch_for(p: Dialect, req: &mut Request) {
    for m in req.media_mut() {
        let Media::Url(url) = &*m.source else {
            continue;
        };
        if !codec(p).takes_media_url(url, m.extras) {
            assert_eq!(url, JPEG_URL);
            *m.source = Media::Base64 {
                mime: "image/jpeg".into(),
                data: FETCHED_JPEG_B64.into(),
            };
        }
    }
}

/// Provider `p`'s request for T6 from client `c`, after the gateway fetched what `p` cannot.
fn t6_provider_request(c: Dialect, p: Dialect) -> Value {
    let mut req = decode_request(c, &t6_request(c), false);
    fetch_for(p, &mut req);
    encode_request(p, &req)
}

#[test]
fn t6_a_base64_png_and_an_https_jpeg_reach_every_provider_in_its_image_form() {
    // All 16 pairs, the whole request each.
    for_each_pair(|c, p| {
        let what = format!("T6 {c} → {p}");
        let got = t6_provider_request(c, p);
        let parts = expected_t6_parts(p, c);
        let body = match p {
            Chat => json!({"model":UP_MODEL,"messages":[{"role":"user","content":parts}]}),
            Resp => {
                json!({"model":UP_MODEL,"input":[{"role":"user","content":parts}],"store":false})
            }
            Anthropic => json!({"model":UP_MODEL,"messages":[{"role":"user","content":parts}]}),
            Gemini => json!({"contents":[{"role":"user","parts":parts}]}),
        };
        assert_json(&got, &with_max_tokens(p, c, body), &what);
    });
}

// ---------------------------------------------------------------------------------------------
// T8: stop sequences and max tokens (§1.E "Max output", "Stop", §3.2).
// ---------------------------------------------------------------------------------------------

const T8_QUESTION: &str = "Count to ten.";
const T8_MAX: u64 = 16;

fn t8_request(c: Dialect, stops: &[&str]) -> Value {
    match c {
        Chat => json!({"model":CLIENT_MODEL,"messages":[{"role":"user","content":T8_QUESTION}],
            "stop":stops,"max_tokens":T8_MAX}),
        // Responses has no stop parameter (§1.B).
        Resp => json!({"model":CLIENT_MODEL,"input":T8_QUESTION,"max_output_tokens":T8_MAX}),
        Anthropic => json!({"model":CLIENT_MODEL,"max_tokens":T8_MAX,"stop_sequences":stops,
            "messages":[{"role":"user","content":T8_QUESTION}]}),
        Gemini => json!({"contents":[{"role":"user","parts":[{"text":T8_QUESTION}]}],
            "generationConfig":{"stopSequences":stops,"maxOutputTokens":T8_MAX}}),
    }
}

/// T8's request as provider `p` must get it: the limit in `p`'s field, and the client's stop
/// sequences (none from a Responses client) in `p`'s, at most as many as `p` takes (OpenAI 4,
/// Gemini 5: §5.11, §3.8); Responses has no stop parameter, so they are dropped.
fn expected_t8(p: Dialect, c: Dialect, stops: &[&str]) -> Value {
    let stops: Vec<&str> = if c == Resp { vec![] } else { stops.to_vec() };
    let cut = |n: usize| stops.iter().take(n).copied().collect::<Vec<_>>();
    let mut body = match p {
        Chat => json!({"model":UP_MODEL,"messages":[{"role":"user","content":T8_QUESTION}],
            "max_completion_tokens":T8_MAX}),
        Resp => json!({"model":UP_MODEL,"input":[{"role":"user","content":T8_QUESTION}],
            "max_output_tokens":T8_MAX,"store":false}),
        Anthropic => json!({"model":UP_MODEL,"max_tokens":T8_MAX,
            "messages":[{"role":"user","content":T8_QUESTION}]}),
        Gemini => json!({"contents":[{"role":"user","parts":[{"text":T8_QUESTION}]}],
            "generationConfig":{"maxOutputTokens":T8_MAX}}),
    };
    if !stops.is_empty() {
        match p {
            Chat => body["stop"] = json!(cut(4)),
            Resp => {}
            Anthropic => body["stop_sequences"] = json!(stops),
            Gemini => body["generationConfig"]["stopSequences"] = json!(cut(5)),
        }
    }
    body
}

fn check_t8(c: Dialect, p: Dialect, stops: &[&str]) {
    let req = decode_request(c, &t8_request(c, stops), false);
    assert_json(
        &encode_request(p, &req),
        &expected_t8(p, c, stops),
        &format!("T8 {c} → {p}"),
    );
}

/// Many stop sequences: an Anthropic client's six, and a Gemini client's five (as many as it
/// may give).
fn many_stops(c: Dialect) -> &'static [&'static str] {
    const SIX: [&str; 6] = ["END", "###", "STOP", "Q:", "User:", "Done."];
    if c == Gemini {
        &SIX[..5]
    } else {
        &SIX
    }
}

#[test]
fn t8_stop_sequences_and_max_tokens_reach_every_provider_in_its_fields() {
    // All 16 pairs, two stop sequences.
    for_each_pair(|c, p| check_t8(c, p, &[STOP_SEQUENCE, "###"]));
}

/// Many stop sequences: a Gemini client's five and an Anthropic client's six, to a Gemini
/// provider (which takes five: the sixth is dropped), an Anthropic provider (all kept) and a
/// Responses provider (none: it has no stop parameter). The Chat provider's limit of four is
/// `t8_a_chat_provider_gets_at_most_four_stop_sequences`'s.
#[test]
fn t8_more_stop_sequences_than_a_provider_takes_are_cut_to_its_limit() {
    for_listed_pairs(
        &[
            (Gemini, Gemini),
            (Gemini, Anthropic),
            (Gemini, Resp),
            (Anthropic, Gemini),
            (Anthropic, Anthropic),
            (Anthropic, Resp),
        ],
        |c, p| check_t8(c, p, many_stops(c)),
    );
}

/// §5.11 "OpenAI allows ≤4 `stop` sequences, Gemini ≤5"; §3.8 "`stopSequences` (≤5) → `stop`
/// (≤4): truncate safely"; §3.6 "`stop_sequences` → `stop` (OpenAI accepts ≤4)": a Chat
/// provider must get at most four.
#[test]
fn t8_a_chat_provider_gets_at_most_four_stop_sequences() {
    for_listed_pairs(&[(Gemini, Chat), (Anthropic, Chat)], |c, p| {
        check_t8(c, p, many_stops(c));
    });
}

#[test]
fn t8_a_stop_sequence_hit_reaches_every_client_as_its_stop_reason() {
    // Providers Chat, Anthropic and Gemini: Responses has no stop parameter (§1.B), so a
    // Responses provider never stops on a sequence. The matched string reaches an Anthropic
    // client only from an Anthropic provider (§3.2); the others say `stop`/`end_turn`/`STOP`.
    for_pairs_to(&[Chat, Anthropic, Gemini], |c, p| {
        check_answer(c, p, T8_STOP);
        check_stream(c, p, T8_STOP);
    });
}

#[test]
fn t8_a_max_tokens_cut_reaches_every_client_as_its_stop_reason() {
    // All 16 pairs: `length`, Responses `incomplete` / `max_output_tokens`
    // (`response.incomplete` when streamed), `max_tokens`, `MAX_TOKENS`.
    for_each_pair(|c, p| {
        check_answer(c, p, T8_LENGTH);
        check_stream(c, p, T8_LENGTH);
    });
}
