//! Reading the client's request body whole, with a size cap.

use crate::dialect::errors::ErrorKind;
use crate::error::GatewayError;
use bytes::{Bytes, BytesMut};
use pingora::proxy::Session;

fn too_large(session: &mut Session, cap: usize) -> GatewayError {
    // The rest of the body is never read, so the connection cannot carry another request.
    session.set_keepalive(None);
    GatewayError::new(
        ErrorKind::PayloadTooLarge,
        format!("Request body is larger than the {cap} bytes this gateway accepts"),
    )
}

/// Reads the body; answers `Expect: 100-continue` first when the size is acceptable.
pub async fn read(session: &mut Session, cap: usize) -> Result<Bytes, GatewayError> {
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
        return Err(too_large(session, cap));
    }
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
            return Err(too_large(session, cap));
        }
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}
