//! Reading the client's request body whole: with a size cap, a deadline, and its share of the
//! memory budget.

use crate::budget::{MemoryBudget, Reservation};
use crate::dialect::errors::ErrorKind;
use crate::error::GatewayError;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;
use std::time::Duration;

/// How a body must arrive.
pub struct BodyRules<'a> {
    pub max_bytes: usize,
    /// The whole body, from the end of the header block.
    pub deadline: Duration,
    pub budget: &'a MemoryBudget,
}

/// Every failure here leaves the rest of the body unread, or the framing broken, so the
/// connection cannot carry another request (RFC 9112 §7.1, §9.3).
fn closing(session: &mut Session, e: GatewayError) -> GatewayError {
    session.set_keepalive(None);
    e
}

fn too_large(cap: usize) -> GatewayError {
    GatewayError::new(
        ErrorKind::PayloadTooLarge,
        format!("Request body is larger than the {cap} bytes this gateway accepts"),
    )
}

/// Reads the body; answers `Expect: 100-continue` first when the size is acceptable. The
/// returned reservation holds the body's bytes in the memory budget for as long as it lives.
pub async fn read(
    session: &mut Session,
    rules: &BodyRules<'_>,
) -> Result<(Bytes, Reservation), GatewayError> {
    match tokio::time::timeout(rules.deadline, read_within(session, rules)).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) => Err(closing(session, e)),
        Err(_) => {
            let secs = rules.deadline.as_secs_f64();
            let e = GatewayError::new(
                ErrorKind::RequestTimeout,
                format!("The request body did not arrive within {secs} seconds"),
            );
            Err(closing(session, e))
        }
    }
}

async fn read_within(
    session: &mut Session,
    rules: &BodyRules<'_>,
) -> Result<(Bytes, Reservation), GatewayError> {
    let cap = rules.max_bytes;
    let headers = &session.req_header().headers;
    let declared = match headers.get("content-length") {
        None => None,
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|s| s.trim().parse::<usize>().ok())
                .ok_or_else(|| {
                    GatewayError::new(ErrorKind::BadRequest, "Invalid Content-Length header")
                })?,
        ),
    };
    let expects_continue = headers
        .get("expect")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
    if declared.is_some_and(|n| n > cap) {
        return Err(too_large(cap));
    }
    // A declared length is taken from the budget before anything is read, so a client told to
    // continue is one whose body there is room for.
    let mut held = rules.budget.reservation();
    held.grow(declared.unwrap_or(0))
        .map_err(|_| GatewayError::overloaded())?;
    if expects_continue {
        session.write_continue_response().await.map_err(|_| {
            GatewayError::new(
                ErrorKind::BadRequest,
                "Could not answer Expect: 100-continue",
            )
        })?;
    }
    let mut buf = BytesMut::with_capacity(declared.unwrap_or(0));
    loop {
        let chunk = session.read_request_body().await.map_err(|_| {
            GatewayError::new(ErrorKind::BadRequest, "Could not read the request body")
        })?;
        let Some(chunk) = chunk else { break };
        if buf.len() + chunk.len() > cap {
            return Err(too_large(cap));
        }
        buf.extend_from_slice(&chunk);
        held.ensure(buf.len())
            .map_err(|_| GatewayError::overloaded())?;
    }
    Ok((buf.freeze(), held))
}
