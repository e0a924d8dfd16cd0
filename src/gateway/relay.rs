//! Relaying a provider's event stream to the client, event by event, as it arrives.

use super::ctx::RequestCtx;
use super::Shared;
use crate::dialect::errors::ErrorKind;
use crate::dialect::stream::{StreamEnd, StreamTranslator};
use crate::upstream::Exchange;
use bytes::{Bytes, BytesMut};
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use std::time::Duration;
use tokio::time::Instant;

/// The client went away; nothing more can be written.
#[derive(Debug)]
pub struct ClientGone {
    /// It stopped reading rather than closing: a write waited past the write timeout.
    pub stalled: bool,
}

const GONE: ClientGone = ClientGone { stalled: false };

/// Resolves once the client has closed its connection or reset its stream. The request body
/// was read whole before this is used, so anything the client does now means it is leaving.
pub async fn client_gone(session: &mut Session) {
    if session.read_body_or_idle(true).await.is_ok() {
        // Not a departure after all; never resolve.
        std::future::pending::<()>().await;
    }
}

/// What the provider's stream has said so far: its usage and why it stopped. Called when the
/// provider's part is over, so it also marks when that was.
fn noted(ctx: &mut RequestCtx, translator: &dyn StreamTranslator) {
    ctx.usage = translator.usage();
    ctx.stop = translator.stop();
    ctx.output_bytes = translator.output_bytes();
    ctx.stream_complete = translator.is_complete();
    if translator.errored() && ctx.failure.is_none() {
        ctx.failure = Some("the provider ended the stream with an error".into());
    }
    ctx.timing.upstream_end = Some(std::time::Instant::now());
}

/// Writes answer bytes to the client, counting them and when the first went.
async fn send_answer(
    session: &mut Session,
    ctx: &mut RequestCtx,
    bytes: Bytes,
    end: bool,
) -> Result<(), ClientGone> {
    let n = bytes.len() as u64;
    let sent = send(session, bytes, end).await;
    if sent.is_ok() && n > 0 {
        ctx.sent += n;
        ctx.timing
            .first_byte
            .get_or_insert_with(std::time::Instant::now);
    }
    sent
}

async fn send(session: &mut Session, bytes: Bytes, end: bool) -> Result<(), ClientGone> {
    session
        .write_response_body(Some(bytes), end)
        .await
        .map_err(|e| ClientGone {
            stalled: *e.etype() == pingora::ErrorType::WriteTimedout
                || e.root_cause()
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::TimedOut),
        })
}

fn stream_header(
    session: &Session,
    status: u16,
    content_type: &str,
    extra: &[(&'static str, String)],
) -> pingora::Result<ResponseHeader> {
    let mut h = ResponseHeader::build(status, Some(5 + extra.len()))?;
    h.insert_header("content-type", content_type)?;
    for (k, v) in extra {
        h.insert_header(*k, v.as_str())?;
    }
    h.insert_header("cache-control", "no-cache")?;
    h.insert_header("x-accel-buffering", "no")?;
    // HTTP/1.0 clients cannot read chunked bodies; theirs ends when the connection closes.
    if session.req_header().version == http::Version::HTTP_11 {
        h.insert_header("transfer-encoding", "chunked")?;
    }
    Ok(h)
}

/// Writes the stream's header, then pumps provider chunks through `translator` to the client.
/// Each write is flushed at once: Pingora flushes every chunked write, and nothing here holds
/// bytes back except the tail of an unfinished event.
///
/// After the header is out no retry is possible, so any failure ends the client's stream with
/// the dialect's in-band error event and terminator, never a hang or a silent cut. A client
/// that leaves, or stops reading for longer than the write timeout, is noticed even while the
/// provider is silent, and the provider's connection is closed so it stops generating.
pub async fn stream(
    session: &mut Session,
    ctx: &mut RequestCtx,
    mut exchange: Exchange,
    translator: &mut dyn StreamTranslator,
    content_type: &str,
    extra: &[(&'static str, String)],
    shared: &Shared,
) -> Result<(), ClientGone> {
    let connector = shared.upstream.connector();
    let header = stream_header(session, exchange.status, content_type, extra).map_err(|_| GONE)?;
    session
        .write_response_header(Box::new(header), false)
        .await
        .map_err(|_| GONE)?;

    // The idle clock restarts only when a complete event goes out: a provider trickling bytes
    // that never finish an event cannot hold the stream open by sending them.
    let mut until = exchange.idle_deadline();
    let result = loop {
        let next = tokio::select! {
            next = exchange.next_lines(until) => next,
            () = client_gone(session) => break Err(GONE),
        };
        match next {
            Ok(Some(chunk)) => match translator.push(chunk) {
                Ok(out) if translator.is_complete() => {
                    // The terminal event has passed: end the client's stream now rather than
                    // wait for the provider to close its body.
                    let mut last = BytesMut::from(&out.unwrap_or_default()[..]);
                    if let StreamEnd::Complete(Some(tail)) = translator.finish() {
                        last.extend_from_slice(&tail);
                    }
                    noted(ctx, translator);
                    let sent = send_answer(session, ctx, last.freeze(), true).await;
                    // The client has its last byte: the request no longer counts as in flight,
                    // however long the provider takes to close its body, and its usage is
                    // known (one call to a shared store does both).
                    ctx.settle();
                    exchange.finish(connector).await;
                    return sent;
                }
                Ok(Some(out)) => {
                    if let Err(gone) = send_answer(session, ctx, out, false).await {
                        break Err(gone);
                    }
                    until = exchange.idle_deadline();
                }
                Ok(None) => {}
                Err(fault) => break Ok(Some((fault.kind, fault.message))),
            },
            Ok(None) => match translator.finish() {
                StreamEnd::Complete(tail) => {
                    noted(ctx, translator);
                    exchange.release(connector).await;
                    return send_answer(session, ctx, tail.unwrap_or_default(), true).await;
                }
                StreamEnd::Truncated => {
                    let msg = "The provider ended the stream before it was complete";
                    break Ok(Some((ErrorKind::BadUpstream, msg.to_string())));
                }
            },
            Err(e) => break Ok(Some((e.kind, e.message))),
        }
    };
    noted(ctx, translator);
    match result {
        Err(gone) => {
            ctx.failure = Some(if gone.stalled {
                "client stopped reading mid-stream".into()
            } else {
                "client disconnected mid-stream".into()
            });
            // The client's leases end with it. The provider bills what it generates whoever
            // reads it: read on, sending nothing, to learn the usage its stream ends with.
            ctx.end_leases();
            let m = &shared.config.metering;
            if read_on(
                &mut exchange,
                translator,
                m.read_after_disconnect,
                m.read_after_disconnect_bytes,
            )
            .await
            {
                noted(ctx, translator);
                exchange.finish(connector).await;
            }
            Err(gone)
        }
        Ok(Some((kind, message))) => {
            let tail = translator.fail(kind, &message);
            ctx.failure = Some(message);
            send(session, tail, true).await
        }
        Ok(None) => Ok(()),
    }
}

/// Reads the rest of a stream whose client has gone, into `translator` alone, for at most
/// `time` and `bytes`; whether it reached its terminal event (otherwise the connection is
/// dropped, which hangs up on the provider).
async fn read_on(
    exchange: &mut Exchange,
    translator: &mut dyn StreamTranslator,
    time: Duration,
    bytes: usize,
) -> bool {
    if time.is_zero() || bytes == 0 || translator.is_complete() {
        return translator.is_complete();
    }
    let deadline = Instant::now() + time;
    let mut read = 0;
    loop {
        let until = exchange.idle_deadline().min(deadline);
        let Ok(Some(chunk)) = exchange.next_lines(until).await else {
            return false;
        };
        read += chunk.len();
        if translator.push(chunk).is_err() {
            return false;
        }
        if translator.is_complete() {
            return true;
        }
        if read > bytes {
            return false;
        }
    }
}
