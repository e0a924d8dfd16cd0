//! Gemini generateContent (`:generateContent`, `:streamGenerateContent`, `:countTokens`), as the
//! real API answers (dialects reference §1.D, §2.D, §4, §5.12): the model comes from the path, the
//! key from `x-goog-api-key` or `?key=`, a bad key is a 400, usage is always there, and a stream is
//! CRLF-framed SSE under `?alt=sse` and a JSON array written as it goes without it.

use crate::http1::{
    after_first_content, end_chunked, reason, write_chunk, write_event, write_whole,
};
use crate::openai::{reply_text, words};
use crate::{Behavior, Recorded, State, ToolCall};
use serde_json::{json, Value};
use std::io;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Real ids are opaque; a fixed one lets a test expect whole bodies.
pub const RESPONSE_ID: &str = "mock-gemini-response";

/// What a function call costs in candidate tokens, by the mock's count.
const TOOL_CALL_TOKENS: u64 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Generate,
    Stream { sse: bool },
    CountTokens,
}

/// The model and method of `POST /{v1beta,v1}/models/{model}:{method}`.
fn route(req: &Recorded) -> Option<(&str, Method)> {
    if req.method != "POST" {
        return None;
    }
    let (path, query) = req.target.split_once('?').unwrap_or((&req.target, ""));
    let rest = path
        .strip_prefix("/v1beta/models/")
        .or_else(|| path.strip_prefix("/v1/models/"))?;
    let (model, method) = rest.rsplit_once(':')?;
    if model.is_empty() || model.contains('/') {
        return None;
    }
    let method = match method {
        "generateContent" => Method::Generate,
        "streamGenerateContent" => Method::Stream {
            sse: query_param(query, "alt") == Some("sse"),
        },
        "countTokens" => Method::CountTokens,
        _ => return None,
    };
    Some((model, method))
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|kv| {
        kv.split_once('=')
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v)
    })
}

fn error(code: u16, status: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message, "status": status}})
}

/// A missing or wrong key: the real API says 400, not 401 (§4.2, §4.3, §5.12).
pub fn api_key_invalid() -> Value {
    let mut e = error(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
    );
    e["error"]["details"] = json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "reason": "API_KEY_INVALID", "domain": "googleapis.com",
        "metadata": {"service": "generativelanguage.googleapis.com"}}]);
    e
}

pub fn error_body(code: u16) -> Value {
    let (status, message) = match code {
        400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401 => ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
        403 => ("PERMISSION_DENIED", "The caller does not have permission"),
        404 => ("NOT_FOUND", "Requested entity was not found."),
        409 => ("ABORTED", "The operation was aborted."),
        429 => ("RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota)."),
        500 => ("INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting"),
        503 => ("UNAVAILABLE", "The model is overloaded. Please try again later."),
        504 => ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
        _ => ("UNKNOWN", "An unknown error occurred."),
    };
    let mut e = error(code, status, message);
    if code == 429 {
        // Gemini sends no retry header: the delay is only in the body (§4.4).
        e["error"]["details"] = json!([
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
                "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier", "quotaValue": "10"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}
        ]);
    }
    e
}

/// Words in every text part of `systemInstruction` and `contents`: the mock's token count.
/// What the API refuses of a request's media (reference §6 T6): `inlineData` that is not
/// base64, and a `fileData` URI it cannot fetch (only its own Files API, Cloud Storage and
/// YouTube; a web URL must come inline).
fn bad_media(req: &Value) -> Option<String> {
    use base64::Engine;
    let parts = req["contents"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["parts"].as_array().into_iter().flatten());
    for (i, part) in parts.enumerate() {
        if let Some(data) = part["inlineData"]["data"].as_str() {
            if base64::engine::general_purpose::STANDARD
                .decode(data)
                .is_err()
            {
                return Some(format!(
                    "Invalid value at 'contents.parts[{i}].inline_data.data' (TYPE_BYTES), Base64 decoding failed"
                ));
            }
        }
        if let Some(uri) = part["fileData"]["fileUri"].as_str() {
            let host = uri
                .strip_prefix("https://")
                .or_else(|| uri.strip_prefix("http://"))
                .map(|rest| rest.split(['/', '?', ':']).next().unwrap_or(""));
            let fetchable = match host {
                None => uri.starts_with("gs://"),
                Some(h) => matches!(
                    h,
                    "generativelanguage.googleapis.com"
                        | "www.youtube.com"
                        | "youtube.com"
                        | "youtu.be"
                ),
            };
            if !fetchable {
                return Some(format!("Unsupported file uri: {uri}"));
            }
        }
    }
    None
}

pub fn prompt_tokens(req: &Value) -> u64 {
    let turns = req["contents"].as_array().into_iter().flatten();
    std::iter::once(&req["systemInstruction"])
        .chain(turns)
        .flat_map(|c| c["parts"].as_array().into_iter().flatten())
        .filter_map(|p| p["text"].as_str())
        .map(words)
        .sum()
}

/// What the mock answers: a function call when one is scripted and the conversation does not
/// already end with a function's result, text otherwise.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Text(String),
    Call(ToolCall),
}

pub fn answer(b: &Behavior, provider: &str, req: &Value) -> Answer {
    if let Some(result) = tool_result(req) {
        return Answer::Text(format!("Tool said: {result}"));
    }
    match &b.tool_call {
        Some(call) => Answer::Call(call.clone()),
        None => Answer::Text(reply_text(b, provider)),
    }
}

/// The first `functionResponse` of the last turn, as text: its `output` or `result` string when
/// it wraps one (a common convention, §3.8), its whole `response` object otherwise.
fn tool_result(req: &Value) -> Option<String> {
    let last = req["contents"].as_array()?.last()?;
    let response = last["parts"]
        .as_array()?
        .iter()
        .find_map(|p| p.get("functionResponse"))?;
    let r = &response["response"];
    let text = r["output"].as_str().or_else(|| r["result"].as_str());
    Some(text.map_or_else(|| r.to_string(), str::to_string))
}

impl Answer {
    fn parts(&self) -> Value {
        match self {
            Answer::Text(t) => json!([{"text": t}]),
            // No `id`: the Gemini API usually leaves it out (§3.4).
            Answer::Call(c) => json!([{"functionCall": {"name": c.name, "args": c.arguments}}]),
        }
    }

    fn tokens(&self) -> u64 {
        match self {
            Answer::Text(t) => words(t),
            Answer::Call(_) => TOOL_CALL_TOKENS,
        }
    }
}

fn usage(prompt: u64, candidates: u64) -> Value {
    json!({"promptTokenCount": prompt, "candidatesTokenCount": candidates,
        "totalTokenCount": prompt + candidates})
}

/// One GenerateContentResponse, its keys in the order the real API writes them.
fn response(model: &str, parts: Value, finished: bool, usage: Value) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}});
    if finished {
        // Also for function calls: Gemini has no tool finish reason (§1.D, §3.2).
        candidate["finishReason"] = json!("STOP");
    }
    candidate["index"] = json!(0);
    json!({"candidates": [candidate], "usageMetadata": usage, "modelVersion": model,
        "responseId": RESPONSE_ID})
}

pub fn generate(model: &str, answer: &Answer, prompt: u64) -> Value {
    response(model, answer.parts(), true, usage(prompt, answer.tokens()))
}

/// A streamed answer: one chunk per word of text (a call arrives whole, §2.D), each with a
/// cumulative usage snapshot, then an empty text part carrying the finishReason, as in §2.D.
pub fn stream_chunks(model: &str, answer: &Answer, prompt: u64) -> Vec<Value> {
    let mut out = Vec::new();
    match answer {
        Answer::Text(text) => {
            let mut so_far = String::new();
            for (i, w) in text.split(' ').enumerate() {
                let piece = if i == 0 {
                    w.to_string()
                } else {
                    format!(" {w}")
                };
                so_far.push_str(&piece);
                let snapshot = usage(prompt, words(&so_far));
                out.push(response(model, json!([{"text": piece}]), false, snapshot));
            }
        }
        Answer::Call(_) => {
            let snapshot = usage(prompt, answer.tokens());
            out.push(response(model, answer.parts(), false, snapshot));
        }
    }
    let last = usage(prompt, answer.tokens());
    out.push(response(model, json!([{"text": ""}]), true, last));
    out
}

/// Chunk `i` on the wire: an SSE event with CRLF line ends (§2.0), or an element of the JSON
/// array, whose `]` comes after the last one.
pub fn frame(sse: bool, i: usize, chunk: &Value) -> String {
    match (sse, i) {
        (true, _) => format!("data: {chunk}\r\n\r\n"),
        (false, 0) => format!("[{chunk}\r\n"),
        (false, _) => format!(",{chunk}\r\n"),
    }
}

/// Errors for a JSON-array stream come as a one-element array, like its body (§2.D, §5.12).
async fn write_error(
    stream: &mut TcpStream,
    code: u16,
    err: Value,
    array: bool,
) -> io::Result<bool> {
    let body = if array { json!([err]) } else { err };
    write_whole(
        stream,
        code,
        "application/json",
        body.to_string().as_bytes(),
    )
    .await
}

/// Answers one request; returns whether the connection may carry another.
pub async fn respond(
    stream: &mut TcpStream,
    state: &State,
    b: &Behavior,
    req: &Recorded,
) -> io::Result<bool> {
    let route = route(req);
    let array = matches!(route, Some((_, Method::Stream { sse: false })));
    if let Some(key) = &state.config.api_key {
        let query = req.target.split_once('?').map_or("", |(_, q)| q);
        if req.header("x-goog-api-key") != Some(key) && query_param(query, "key") != Some(key) {
            return write_error(stream, 400, api_key_invalid(), array).await;
        }
    }
    if let Some((ct, body)) = &b.raw {
        return write_whole(stream, b.status, ct, body).await;
    }
    if b.status != 200 {
        return write_error(stream, b.status, error_body(b.status), array).await;
    }
    let Some((model, method)) = route else {
        return write_error(stream, 404, error_body(404), false).await;
    };
    let json = req.json();
    if !json.is_object() {
        let err = error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
        return write_error(stream, 400, err, array).await;
    }
    if let Some(message) = bad_media(&json) {
        let err = error(400, "INVALID_ARGUMENT", &message);
        return write_error(stream, 400, err, array).await;
    }
    let prompt = prompt_tokens(&json);
    let answer = answer(b, &state.config.name, &json);
    let sse = match method {
        Method::CountTokens => {
            let body = json!({"totalTokens": prompt}).to_string();
            return write_whole(stream, 200, "application/json", body.as_bytes()).await;
        }
        Method::Generate => {
            let mut body = generate(model, &answer, prompt);
            if let Some(x) = &b.extra_usage {
                x.apply(&mut body);
            }
            let body = body.to_string();
            return write_whole(stream, 200, "application/json", body.as_bytes()).await;
        }
        Method::Stream { sse } => sse,
    };
    let mut chunks = stream_chunks(model, &answer, prompt);
    if let Some(x) = &b.extra_usage {
        chunks.iter_mut().for_each(|c| x.apply(c));
    }
    let written = write_stream(stream, b, sse, &chunks).await;
    if written.is_err() {
        state
            .broken_writes
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }
    written
}

async fn write_stream(
    stream: &mut TcpStream,
    b: &Behavior,
    sse: bool,
    chunks: &[Value],
) -> io::Result<bool> {
    let ct = if sse {
        "text/event-stream"
    } else {
        "application/json"
    };
    let head = format!(
        "HTTP/1.1 200 {}\r\ncontent-type: {ct}\r\ntransfer-encoding: chunked\r\n\r\n",
        reason(200)
    );
    stream.write_all(head.as_bytes()).await?;
    // A well-framed body that simply stops: no chunk carries a finishReason.
    let chunks = if b.cut_stream {
        &chunks[..chunks.len().saturating_sub(1)]
    } else {
        chunks
    };
    for (i, chunk) in chunks.iter().enumerate() {
        if i > 0 && !b.event_delay.is_zero() {
            tokio::time::sleep(b.event_delay).await;
        }
        let ev = frame(sse, i, chunk);
        write_event(stream, b, ev.as_bytes(), ev.len() / 2).await?;
        // Gemini has no role chunk: the first chunk already carries content.
        if i == 0 && !after_first_content(stream, b).await {
            return Ok(false);
        }
    }
    if !sse {
        write_chunk(stream, b"]").await?;
    }
    end_chunked(stream, b).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::{MockConfig, MockProvider};
    use tokio::io::AsyncReadExt;

    const SAY_HI: &str = r#"{"contents":[{"parts":[{"text":"say hi"}],"role":"user"}]}"#;

    fn hi() -> Answer {
        Answer::Text("Hello from gem!".into())
    }

    fn behavior(f: impl FnOnce(&mut Behavior)) -> Behavior {
        let mut b = Behavior::default();
        f(&mut b);
        b
    }

    fn weather() -> Behavior {
        behavior(|b| {
            let arguments = json!({"location": "Paris"});
            b.tool_call = Some(ToolCall {
                name: "get_weather".into(),
                arguments,
            });
        })
    }

    #[test]
    fn routes_only_the_three_methods_under_v1beta_and_v1() {
        let (sse, array) = (Method::Stream { sse: true }, Method::Stream { sse: false });
        for (method, target, want) in [
            (
                "POST",
                "/v1beta/models/g:generateContent",
                Some(Method::Generate),
            ),
            (
                "POST",
                "/v1/models/g:streamGenerateContent?alt=sse",
                Some(sse),
            ),
            (
                "POST",
                "/v1beta/models/g:streamGenerateContent?key=k",
                Some(array),
            ),
            (
                "POST",
                "/v1/models/g:countTokens",
                Some(Method::CountTokens),
            ),
            ("GET", "/v1beta/models/g:generateContent", None),
            ("POST", "/v2/models/g:generateContent", None),
            ("POST", "/x/v1beta/models/g:generateContent", None),
            ("POST", "/v1beta/models/g:embedContent", None),
            ("POST", "/v1beta/models/:generateContent", None),
        ] {
            let (method, target) = (method.into(), target.into());
            let req = Recorded {
                method,
                target,
                headers: Vec::new(),
                body: Default::default(),
            };
            let got = route(&req).map(|(model, m)| (model.to_string(), m));
            assert_eq!(got, want.map(|m| ("g".to_string(), m)), "{}", req.target);
        }
    }

    #[test]
    fn counts_the_words_of_system_instruction_and_every_text_part() {
        let req = json!({"systemInstruction": {"parts": [{"text": "You are terse."}]},
            "contents": [{"role": "user", "parts": [{"text": "say hi"}, {"inlineData": {}}]},
                {"role": "model", "parts": [{"text": "hi"}]}]});
        assert_eq!(prompt_tokens(&req), 6);
    }

    #[test]
    fn text_answer() {
        let req: Value = serde_json::from_str(SAY_HI).unwrap();
        assert_eq!(answer(&Behavior::default(), "gem", &req), hi());
        assert_eq!(
            generate("gemini-2.5-flash", &hi(), 2),
            json!({"candidates": [{"content": {"parts": [{"text": "Hello from gem!"}], "role": "model"},
                    "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": 3, "totalTokenCount": 5},
                "modelVersion": "gemini-2.5-flash", "responseId": "mock-gemini-response"})
        );
    }

    #[test]
    fn tool_call_answer_then_the_result_in_text() {
        let mut req =
            json!({"contents": [{"role": "user", "parts": [{"text": "Weather in Paris?"}]}]});
        let call = answer(&weather(), "gem", &req);
        assert_eq!(
            generate("m", &call, 3),
            json!({"candidates": [{"content": {"parts": [{"functionCall": {"name": "get_weather",
                    "args": {"location": "Paris"}}}], "role": "model"}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 10, "totalTokenCount": 13},
                "modelVersion": "m", "responseId": "mock-gemini-response"})
        );
        // The second request of the reference's §6.1 T3.
        let turns = req["contents"].as_array_mut().unwrap();
        turns.push(
            json!({"role": "model", "parts": [{"functionCall": {"name": "get_weather",
            "args": {"location": "Paris"}}}]}),
        );
        turns.push(
            json!({"role": "user", "parts": [{"functionResponse": {"name": "get_weather",
            "response": {"temp_c": 18}}}]}),
        );
        let said = Answer::Text(r#"Tool said: {"temp_c":18}"#.into());
        assert_eq!(answer(&weather(), "gem", &req), said);
        req["contents"][2]["parts"][0]["functionResponse"]["response"] = json!({"output": "sunny"});
        let said = Answer::Text("Tool said: sunny".into());
        assert_eq!(answer(&weather(), "gem", &req), said);
    }

    #[test]
    fn stream_chunks_carry_cumulative_usage_and_end_with_the_finish_reason() {
        let chunk = |parts: Value, finish: bool, c: u64| {
            let mut cand = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
            if finish {
                cand["finishReason"] = json!("STOP");
            }
            json!({"candidates": [cand], "modelVersion": "g", "responseId": "mock-gemini-response",
                "usageMetadata": {"promptTokenCount": 2, "candidatesTokenCount": c, "totalTokenCount": 2 + c}})
        };
        let end = |c| chunk(json!([{"text": ""}]), true, c);
        let text = |t: &str, c| chunk(json!([{ "text": t }]), false, c);
        let expected = vec![text("Hello", 1), text(" from", 2), text(" gem!", 3), end(3)];
        assert_eq!(stream_chunks("g", &hi(), 2), expected);
        let call = answer(&weather(), "gem", &json!({}));
        let part =
            json!([{"functionCall": {"name": "get_weather", "args": {"location": "Paris"}}}]);
        assert_eq!(
            stream_chunks("g", &call, 2),
            vec![chunk(part, false, 10), end(10)]
        );
    }

    #[test]
    fn frames_sse_events_with_crlf_and_array_elements() {
        let c = json!({"a": 1});
        assert_eq!(frame(true, 3, &c), "data: {\"a\":1}\r\n\r\n");
        assert_eq!(frame(false, 0, &c), "[{\"a\":1}\r\n");
        assert_eq!(frame(false, 1, &c), ",{\"a\":1}\r\n");
    }

    fn post(target: &str, body: &str, extra: &str) -> Vec<u8> {
        let len = body.len();
        format!(
            "POST {target} HTTP/1.1\r\nhost: mock\r\n{extra}content-length: {len}\r\n\r\n{body}"
        )
        .into_bytes()
    }

    async fn read_more(s: &mut TcpStream, buf: &mut Vec<u8>) {
        let mut b = [0u8; 4096];
        let n = s.read(&mut b).await.unwrap();
        assert!(
            n > 0,
            "closed early after {:?}",
            String::from_utf8_lossy(buf)
        );
        buf.extend_from_slice(&b[..n]);
    }

    /// Sends one request; returns the response head and its body, one piece per HTTP chunk.
    async fn exchange(s: &mut TcpStream, req: &[u8]) -> (String, Vec<Vec<u8>>) {
        s.write_all(req).await.unwrap();
        let mut buf = Vec::new();
        while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
            read_more(s, &mut buf).await;
        }
        let end = buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let mut rest = buf.split_off(end);
        let head = String::from_utf8(buf).unwrap();
        if let Some(len) = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length: "))
        {
            while rest.len() < len.parse().unwrap() {
                read_more(s, &mut rest).await;
            }
            return (head, vec![rest]);
        }
        let mut pieces = Vec::new();
        loop {
            let p = rest.windows(2).position(|w| w == b"\r\n");
            let size = p.and_then(|p| {
                usize::from_str_radix(std::str::from_utf8(&rest[..p]).ok()?, 16).ok()
            });
            match (p, size) {
                (Some(p), Some(0)) if rest.len() >= p + 4 => return (head, pieces),
                (Some(p), Some(n)) if rest.len() >= p + n + 4 => {
                    pieces.push(rest[p + 2..p + 2 + n].to_vec());
                    rest.drain(..p + n + 4);
                }
                _ => read_more(s, &mut rest).await,
            }
        }
    }

    async fn start() -> (MockProvider, TcpStream) {
        let (name, api_key) = ("gem".into(), Some("k".into()));
        let config = MockConfig {
            name,
            api_key,
            ..MockConfig::default()
        };
        let mock = MockProvider::start(config).await.unwrap();
        let s = TcpStream::connect(mock.addr()).await.unwrap();
        (mock, s)
    }

    #[tokio::test]
    async fn answers_whole_sse_and_json_array_on_one_connection() {
        let (_mock, mut s) = start().await;
        let m = "gemini-2.5-flash";
        let url = format!("/v1beta/models/{m}:generateContent");
        let (head, body) = exchange(&mut s, &post(&url, SAY_HI, "x-goog-api-key: k\r\n")).await;
        assert!(
            head.starts_with("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"),
            "{head}"
        );
        assert_eq!(body[0], generate(m, &hi(), 2).to_string().into_bytes());

        let url = format!("/v1/models/{m}:streamGenerateContent?alt=sse&key=k");
        let (head, pieces) = exchange(&mut s, &post(&url, SAY_HI, "")).await;
        let chunked = "\r\ntransfer-encoding: chunked\r\n";
        assert!(
            head.contains(&format!("content-type: text/event-stream{chunked}")),
            "{head}"
        );
        let chunks = stream_chunks(m, &hi(), 2);
        let events: Vec<_> = chunks
            .iter()
            .map(|c| format!("data: {c}\r\n\r\n").into_bytes())
            .collect();
        assert_eq!(pieces, events);

        let url = format!("/v1beta/models/{m}:streamGenerateContent");
        let (head, pieces) = exchange(&mut s, &post(&url, SAY_HI, "x-goog-api-key: k\r\n")).await;
        assert!(
            head.contains(&format!("content-type: application/json{chunked}")),
            "{head}"
        );
        let mut expected: Vec<_> = chunks
            .iter()
            .map(|c| format!(",{c}\r\n").into_bytes())
            .collect();
        expected[0][0] = b'[';
        expected.push(b"]".to_vec());
        assert_eq!(pieces, expected);
        let whole: Value = serde_json::from_slice(&pieces.concat()).unwrap();
        assert_eq!(whole, Value::Array(chunks));
    }

    #[tokio::test]
    async fn key_errors_routes_and_count_tokens() {
        let (mock, mut s) = start().await;
        let url = "/v1beta/models/g:generateContent";
        let (head, body) = exchange(&mut s, &post(url, SAY_HI, "x-goog-api-key: nope\r\n")).await;
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert_eq!(body[0], api_key_invalid().to_string().into_bytes());
        assert_eq!(
            api_key_invalid()["error"]["details"][0]["reason"],
            "API_KEY_INVALID"
        );

        let four = r#"{"contents":[{"parts":[{"text":"say hi to me"}],"role":"user"}]}"#;
        let (_, body) = exchange(&mut s, &post("/v1/models/g:countTokens?key=k", four, "")).await;
        assert_eq!(body[0], br#"{"totalTokens":4}"#);

        let url_k = "/v1beta/models/g:generateContent?key=k";
        let (head, body) = exchange(&mut s, &post(url_k, "{", "")).await;
        assert!(head.starts_with("HTTP/1.1 400 "), "{head}");
        let err: Value = serde_json::from_slice(&body[0]).unwrap();
        assert_eq!(err["error"]["status"], "INVALID_ARGUMENT");

        let (head, body) = exchange(
            &mut s,
            &post("/v1beta/models/g:embedContent?key=k", SAY_HI, ""),
        )
        .await;
        assert!(head.starts_with("HTTP/1.1 404 Not Found\r\n"), "{head}");
        assert_eq!(body[0], error_body(404).to_string().into_bytes());

        mock.push(Behavior::status(429));
        let url = "/v1beta/models/g:streamGenerateContent?key=k";
        let (head, body) = exchange(&mut s, &post(url, SAY_HI, "")).await;
        assert!(
            head.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
            "{head}"
        );
        assert_eq!(body[0], json!([error_body(429)]).to_string().into_bytes());
        assert_eq!(error_body(429)["error"]["details"][1]["retryDelay"], "1s");

        mock.push(Behavior::status(503));
        let (_, body) = exchange(&mut s, &post(url_k, SAY_HI, "")).await;
        let expected = json!({"error": {"code": 503, "status": "UNAVAILABLE",
            "message": "The model is overloaded. Please try again later."}});
        assert_eq!(serde_json::from_slice::<Value>(&body[0]).unwrap(), expected);

        mock.push(behavior(|b| {
            b.raw = Some(("text/html".into(), "<h1>bad gateway</h1>".into()));
            b.status = 502;
        }));
        let (head, body) = exchange(&mut s, &post(url_k, SAY_HI, "")).await;
        assert!(
            head.starts_with("HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\n"),
            "{head}"
        );
        assert_eq!(body[0], b"<h1>bad gateway</h1>");
    }

    #[tokio::test]
    async fn split_cut_and_reset_streams() {
        let (mock, mut s) = start().await;
        let sse = post(
            "/v1beta/models/g:streamGenerateContent?alt=sse&key=k",
            SAY_HI,
            "",
        );
        let chunks = stream_chunks("g", &hi(), 2);
        let events: Vec<_> = chunks.iter().map(|c| frame(true, 0, c)).collect();

        mock.push(behavior(|b| b.split_events = true));
        let (_, pieces) = exchange(&mut s, &sse).await;
        assert_eq!(pieces.len(), 2 * events.len());
        assert_eq!(pieces.concat(), events.concat().into_bytes());

        mock.push(behavior(|b| b.cut_stream = true));
        let (_, pieces) = exchange(&mut s, &sse).await;
        assert_eq!(pieces.concat(), events[..3].concat().into_bytes());

        mock.push(behavior(|b| b.cut_stream = true));
        let array = post("/v1beta/models/g:streamGenerateContent?key=k", SAY_HI, "");
        let (_, pieces) = exchange(&mut s, &array).await;
        let whole: Value = serde_json::from_slice(&pieces.concat()).unwrap();
        assert_eq!(whole, json!(chunks[..3]));

        mock.push(behavior(|b| b.reset = crate::Reset::AfterFirstEvent));
        s.write_all(&sse).await.unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 4096];
        while let Ok(n @ 1..) = s.read(&mut b).await {
            got.extend_from_slice(&b[..n]);
        }
        let got = String::from_utf8_lossy(&got);
        assert!(
            got.contains("HTTP/1.1 200 OK") && !got.contains(" from") && !got.contains("STOP"),
            "{got}"
        );
    }
}
