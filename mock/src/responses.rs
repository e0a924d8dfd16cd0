//! OpenAI Responses (`POST {prefix}/responses`), as the real API answers.

use crate::http1::write_whole;
use crate::{Behavior, Recorded, State};
use std::io;
use tokio::net::TcpStream;

/// Answers one request; returns whether the connection may carry another.
pub async fn respond(
    stream: &mut TcpStream,
    _state: &State,
    _b: &Behavior,
    _req: &Recorded,
) -> io::Result<bool> {
    write_whole(stream, 404, "application/json", b"{}").await
}
