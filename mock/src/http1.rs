//! Just enough HTTP/1.1 to be a provider: keep-alive, Content-Length or chunked request bodies,
//! Content-Length or chunked responses.

use crate::openai;
use crate::{Behavior, Recorded, Reset, State};
use bytes::{Buf, Bytes, BytesMut};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub async fn serve(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let _ = connection(stream, state).await;
        });
    }
}

async fn connection(mut stream: TcpStream, state: Arc<State>) -> io::Result<()> {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        let Some(req) = read_request(&mut stream, &mut buf).await? else {
            return Ok(());
        };
        if state.record {
            if let Ok(mut r) = state.requests.lock() {
                r.push(req.clone());
            }
        }
        state.seen.notify_waiters();
        let keep = respond(&mut stream, &state, &req).await?;
        if !keep {
            return Ok(());
        }
    }
}

fn find_header_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

async fn fill(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<bool> {
    Ok(stream.read_buf(buf).await? > 0)
}

async fn read_request(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<Option<Recorded>> {
    let head_len = loop {
        if let Some(n) = find_header_end(buf) {
            break n;
        }
        if !fill(stream, buf).await? {
            return Ok(None);
        }
    };
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut headers);
    parsed
        .parse(&buf[..head_len])
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    let method = parsed.method.unwrap_or("").to_string();
    let target = parsed.path.unwrap_or("").to_string();
    let headers: Vec<(String, String)> = parsed
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    buf.advance(head_len);
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.as_str())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(stream, buf).await?
    } else {
        let len: usize = header("content-length")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        while buf.len() < len {
            if !fill(stream, buf).await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        buf.split_to(len).freeze()
    };
    Ok(Some(Recorded {
        method,
        target,
        headers,
        body,
    }))
}

async fn read_chunked(stream: &mut TcpStream, buf: &mut BytesMut) -> io::Result<Bytes> {
    let mut body = BytesMut::new();
    loop {
        let line_end = loop {
            if let Some(p) = buf.windows(2).position(|w| w == b"\r\n") {
                break p;
            }
            if !fill(stream, buf).await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        };
        let size_text = String::from_utf8_lossy(&buf[..line_end]).to_string();
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        buf.advance(line_end + 2);
        let need = size
            .checked_add(2)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "chunk size overflows"))?;
        while buf.len() < need {
            if !fill(stream, buf).await? {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        body.extend_from_slice(&buf[..size]);
        buf.advance(size + 2);
        if size == 0 {
            return Ok(body.freeze());
        }
    }
}

/// Makes the close that follows an RST, as a crashed provider's would be.
// A zero linger never blocks on drop; only a non-zero one does, which is what the deprecation is about.
#[allow(deprecated)]
pub(crate) fn reset(stream: &TcpStream) {
    let _ = stream.set_linger(Some(Duration::ZERO));
}

pub(crate) async fn write_whole(
    stream: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> io::Result<bool> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\r\n",
        reason(status),
        body.len()
    );
    let mut out = Vec::with_capacity(head.len() + body.len());
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(body);
    stream.write_all(&out).await?;
    Ok(true)
}

pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        529 => "Overloaded",
        _ => "Status",
    }
}

/// Writes one event as a chunk, or, when the behaviour splits events, as two chunks cut at
/// byte `cut`, 5 ms apart, so the reader has to carry half an event.
pub(crate) async fn write_event(
    stream: &mut TcpStream,
    b: &Behavior,
    ev: &[u8],
    cut: usize,
) -> io::Result<()> {
    if !b.split_events {
        return write_chunk(stream, ev).await;
    }
    let cut = cut.min(ev.len());
    write_chunk(stream, &ev[..cut]).await?;
    tokio::time::sleep(Duration::from_millis(5)).await;
    write_chunk(stream, &ev[cut..]).await
}

/// What the behaviour scripts after a stream's first content event: a reset (`false`: the
/// connection is gone) or a hold until the test releases it.
pub(crate) async fn after_first_content(stream: &TcpStream, b: &Behavior) -> bool {
    if b.reset == Reset::AfterFirstEvent {
        reset(stream);
        return false;
    }
    if let Some(hold) = &b.hold_after_first {
        let _ = hold.acquire().await.map(|p| p.forget());
    }
    true
}

/// Ends a chunked body, after the scripted linger.
pub(crate) async fn end_chunked(stream: &mut TcpStream, b: &Behavior) -> io::Result<bool> {
    if !b.linger_after_done.is_zero() {
        tokio::time::sleep(b.linger_after_done).await;
    }
    stream.write_all(b"0\r\n\r\n").await?;
    Ok(true)
}

/// Writes a hostile provider's bytes: paced one byte at a time if asked, then endlessly.
async fn write_hostile(
    stream: &mut TcpStream,
    b: &crate::Behavior,
    bytes: &[u8],
) -> io::Result<()> {
    match b.trickle {
        Some(pause) => {
            for byte in bytes {
                stream.write_all(std::slice::from_ref(byte)).await?;
                tokio::time::sleep(pause).await;
            }
        }
        None => stream.write_all(bytes).await?,
    }
    if let Some(more) = &b.endless {
        loop {
            if !b.event_delay.is_zero() {
                tokio::time::sleep(b.event_delay).await;
            }
            stream.write_all(more).await?;
        }
    }
    Ok(())
}

pub(crate) async fn write_chunk(stream: &mut TcpStream, data: &[u8]) -> io::Result<()> {
    let mut out = Vec::with_capacity(data.len() + 12);
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    stream.write_all(&out).await
}

/// Answers one request; returns whether the connection may carry another.
async fn respond(stream: &mut TcpStream, state: &State, req: &Recorded) -> io::Result<bool> {
    let b = state.next_behavior();
    let prefix = &state.config.prefix;
    if b.reset == Reset::BeforeHeader {
        reset(stream);
        return Ok(false);
    }
    if !b.header_delay.is_zero() {
        tokio::time::sleep(b.header_delay).await;
    }
    if let Some(wire) = &b.wire {
        let written = write_hostile(stream, &b, &(wire.0)(req)).await;
        if written.is_err() {
            state
                .broken_writes
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        }
        written?;
        if b.keep_open {
            let mut sink = [0u8; 1024];
            while let Ok(n) = stream.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        }
        return Ok(false);
    }
    if b.early_hints {
        stream
            .write_all(b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n")
            .await?;
    }
    // The other dialects' endpoints, each answered by its own module with its own auth style.
    let path = req.target.split('?').next().unwrap_or("");
    if path.ends_with("/v1/messages") || path.ends_with("/v1/messages/count_tokens") {
        return crate::anthropic::respond(stream, state, &b, req).await;
    }
    if path.ends_with("/responses") {
        return crate::responses::respond(stream, state, &b, req).await;
    }
    if path.contains("/models/") && path.contains(':') {
        return crate::gemini::respond(stream, state, &b, req).await;
    }
    if let Some(key) = &state.config.api_key {
        if req.header("authorization") != Some(&format!("Bearer {key}")) {
            return write_whole(
                stream,
                401,
                "application/json",
                openai::error_body(401).to_string().as_bytes(),
            )
            .await;
        }
    }
    if let Some((ct, body)) = &b.raw {
        return write_whole(stream, b.status, ct, body).await;
    }
    if b.status != 200 {
        return write_whole(
            stream,
            b.status,
            "application/json",
            openai::error_body(b.status).to_string().as_bytes(),
        )
        .await;
    }
    let path = req.target.split('?').next().unwrap_or("");
    if req.method == "GET" && path == format!("{prefix}/models") {
        let data: Vec<_> = state
            .config
            .models
            .iter()
            .map(|m| serde_json::json!({"id": m, "object": "model", "created": openai::CREATED, "owned_by": "mock"}))
            .collect();
        let body = serde_json::json!({"object": "list", "data": data}).to_string();
        return write_whole(stream, 200, "application/json", body.as_bytes()).await;
    }
    if req.method != "POST" || path != format!("{prefix}/chat/completions") {
        let body = serde_json::json!({"error": {"message": format!("Invalid URL ({} {})", req.method, path),
            "type": "invalid_request_error", "param": null, "code": null}});
        return write_whole(stream, 404, "application/json", body.to_string().as_bytes()).await;
    }
    let json = req.json();
    let model = json["model"].as_str().unwrap_or("").to_string();
    let answer = openai::answer(&b, &state.config.name, &json);
    let prompt = openai::prompt_tokens(&json);
    let include_usage = json["stream_options"]["include_usage"].as_bool() == Some(true);
    let streamed = json["stream"].as_bool() == Some(true);
    let (body, mut events) = match &answer {
        openai::Answer::Text(text) if !streamed => {
            (Some(openai::completion(&model, text, prompt)), Vec::new())
        }
        openai::Answer::Call(call) if !streamed => (
            Some(openai::tool_completion(&model, call, prompt)),
            Vec::new(),
        ),
        openai::Answer::Text(text) => (
            None,
            openai::stream_events(&model, text, prompt, include_usage),
        ),
        openai::Answer::Call(call) => (
            None,
            openai::tool_stream_events(&model, call, prompt, include_usage),
        ),
    };
    if let Some(mut body) = body {
        if let Some(x) = &b.extra_usage {
            x.apply(&mut body);
        }
        return write_whole(stream, 200, "application/json", body.to_string().as_bytes()).await;
    }
    if let Some(x) = &b.extra_usage {
        events = events.iter().map(|e| x.apply_sse(e)).collect();
    }
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n")
        .await?;
    if b.cut_stream {
        // A well-framed body that simply stops: no finish chunk, no usage, no [DONE].
        events.truncate(events.len() - if include_usage { 3 } else { 2 });
    }
    for (i, ev) in events.iter().enumerate() {
        if i > 0 && !b.event_delay.is_zero() {
            tokio::time::sleep(b.event_delay).await;
        }
        if let Err(e) = write_event(stream, &b, ev.as_bytes(), ev.len() / 2).await {
            state
                .broken_writes
                .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            return Err(e);
        }
        // The first content event is the second one, after the role chunk.
        if i == 1 && !after_first_content(stream, &b).await {
            return Ok(false);
        }
    }
    end_chunked(stream, &b).await
}
