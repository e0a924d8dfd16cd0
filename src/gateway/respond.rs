//! Writing whole responses to the client, errors included, keeping the connection reusable.

use crate::dialect::codec::{codec, convert_error};
use crate::dialect::errors::{ErrorKind, RenderedError};
use crate::dialect::Dialect;
use crate::error::GatewayError;
use bytes::Bytes;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;

use super::Failure;

/// Writes a complete response with a known length.
pub async fn whole(
    session: &mut Session,
    status: u16,
    content_type: &str,
    extra: &[(&'static str, String)],
    body: Bytes,
) -> pingora::Result<()> {
    let mut h = ResponseHeader::build(status, Some(4 + extra.len()))?;
    h.insert_header("content-type", content_type)?;
    h.insert_header("content-length", body.len().to_string())?;
    for (k, v) in extra {
        h.insert_header(*k, v.as_str())?;
    }
    // A HEAD answer has the GET answer's headers and no body (Claude Code's preflight is one).
    if session.req_header().method == http::Method::HEAD {
        return session.write_response_header(Box::new(h), true).await;
    }
    session.write_response_header(Box::new(h), false).await?;
    session.write_response_body(Some(body), true).await
}

/// Writes `err` in the client's dialect: a provider's own error answer as it came when the
/// provider speaks the client's dialect, converted into it otherwise, and the canonical
/// rendering of its kind for the gateway's own errors.
pub async fn error(
    session: &mut Session,
    dialect: Dialect,
    err: &GatewayError,
) -> pingora::Result<()> {
    let r = match &err.reply {
        Some(reply) if reply.dialect == dialect => RenderedError {
            status: reply.status,
            body: reply.body.clone(),
        },
        Some(reply) => convert_error(dialect, reply.dialect, reply.status, &reply.body),
        None => codec(dialect).render_error(err.kind, &err.message),
    };
    whole(session, r.status, "application/json", &err.headers, r.body).await
}

/// `HEAD /` (and `GET /`): the server is there. Claude Code probes it before its first request.
pub async fn root(session: &mut Session) -> Result<(), Failure> {
    whole(
        session,
        200,
        "text/plain; charset=utf-8",
        &[],
        Bytes::from_static(b"ok\n"),
    )
    .await
    .map_err(|_| Failure::ClientGone)
}

/// `GET /v1/responses`: Codex asks for a WebSocket there first and falls back to HTTP at once
/// only when told 426; anything else costs it retries.
pub async fn upgrade_required(session: &mut Session) -> Result<(), Failure> {
    let mut r = codec(Dialect::OpenAiResponses).render_error(
        ErrorKind::BadRequest,
        "This gateway serves the Responses API over HTTP; WebSocket is not supported.",
    );
    r.status = 426;
    whole(session, r.status, "application/json", &[], r.body)
        .await
        .map_err(|_| Failure::ClientGone)
}

/// The most of an unwanted request body read after answering, and for how long.
const LINGER_BYTES: usize = 8 * 1024 * 1024;
const LINGER_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// After an answer given before the request body was read (413, 503): reads and drops a bounded
/// amount of the rest, so a client still sending gets to read the answer instead of a reset
/// (closing a socket with unread data sends RST, which can discard the answer in flight).
pub async fn linger(session: &mut Session) {
    let _ = tokio::time::timeout(LINGER_TIME, async {
        let mut read = 0;
        while let Ok(Some(chunk)) = session.read_request_body().await {
            read += chunk.len();
            if read > LINGER_BYTES {
                break;
            }
        }
    })
    .await;
}
