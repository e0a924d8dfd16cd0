//! Relaying a provider's event stream to the client, event by event, as it arrives.

use super::ctx::RequestCtx;
use crate::dialect::stream::{StreamEnd, StreamTranslator};
use crate::upstream::Exchange;
use bytes::Bytes;
use pingora::connectors::http::Connector;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

/// The client went away; nothing more can be written.
#[derive(Debug)]
pub struct ClientGone;

async fn send(session: &mut Session, bytes: Bytes, end: bool) -> Result<(), ClientGone> {
    session
        .write_response_body(Some(bytes), end)
        .await
        .map_err(|_| ClientGone)
}

/// Writes the stream's header, then pumps provider chunks through `translator` to the client.
/// Each write is flushed at once: Pingora flushes every chunked write, and nothing here holds
/// bytes back except the tail of an unfinished event.
///
/// After the header is out no retry is possible, so any failure ends the client's stream with
/// the dialect's in-band error event and terminator, never a hang or a silent cut.
pub async fn stream(
    session: &mut Session,
    ctx: &mut RequestCtx,
    mut exchange: Exchange,
    translator: &mut dyn StreamTranslator,
    connector: &Connector,
) -> Result<(), ClientGone> {
    let header = (|| -> pingora::Result<ResponseHeader> {
        let mut h = ResponseHeader::build(exchange.status, Some(5))?;
        h.insert_header("content-type", "text/event-stream")?;
        h.insert_header("cache-control", "no-cache")?;
        h.insert_header("x-accel-buffering", "no")?;
        h.insert_header("transfer-encoding", "chunked")?;
        Ok(h)
    })()
    .map_err(|_| ClientGone)?;
    session
        .write_response_header(Box::new(header), false)
        .await
        .map_err(|_| ClientGone)?;

    loop {
        match exchange.next_chunk().await {
            Ok(Some(chunk)) => {
                if let Some(out) = translator.push(chunk) {
                    if let Err(gone) = send(session, out, false).await {
                        ctx.usage = translator.usage();
                        ctx.failure = Some("client disconnected mid-stream".into());
                        return Err(gone);
                    }
                }
            }
            Ok(None) => {
                ctx.usage = translator.usage();
                return match translator.finish() {
                    StreamEnd::Complete(tail) => {
                        exchange.release(connector).await;
                        send(session, tail.unwrap_or_default(), true).await
                    }
                    StreamEnd::Truncated => {
                        let msg = "The provider ended the stream before it was complete";
                        ctx.failure = Some(msg.into());
                        let tail =
                            translator.fail(crate::dialect::errors::ErrorKind::BadUpstream, msg);
                        send(session, tail, true).await
                    }
                };
            }
            Err(e) => {
                ctx.usage = translator.usage();
                ctx.failure = Some(e.message.clone());
                let tail = translator.fail(e.kind, &e.message);
                return send(session, tail, true).await;
            }
        }
    }
}
