//! OpenAI Responses (reference: dialects.md §1.B, §2.B, §3, §4).
//!
//! The codec for Codex CLI and the openai SDK's `client.responses`, and for providers that
//! speak Responses. What only Responses can say travels in `extras` (documented where it is
//! decided): OpenAI's encrypted reasoning (`reasoning.rs`), custom and namespaced tools and
//! their calls (`tools.rs`). Built-in tools (`web_search`, `local_shell`, …) mean nothing to
//! another provider and are dropped, with their calls and outputs in the history. A request
//! that refers to stored state (`previous_response_id`) is refused: the gateway keeps none.

mod answer;
mod decoder;
mod encoder;
mod errors;
mod items;
mod reasoning;
mod request;
mod tools;

pub use answer::{decode_answer, encode_answer, encode_answer_for};
pub use decoder::Decoder;
pub use encoder::Encoder;
pub use errors::error_message;
pub use request::{decode_request, encode_request};
pub use tools::ClientTools;

#[cfg(test)]
mod fuzz;
#[cfg(test)]
mod pairs;
