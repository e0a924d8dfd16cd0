//! Google Gemini generateContent (reference: dialects.md §1.D, §2.D, §3, §4).
//!
//! The model and the stream flag travel in the URL (`models/{model}:generateContent`,
//! `:streamGenerateContent?alt=sse`), so the request codec takes and leaves them outside the
//! body. Gemini's calls often have no id: ids are synthesized as `call_<turn>_<call>` and
//! results matched back by name and position. Thought signatures ride in block `extras` under
//! `thoughtSignature` and go back on the part they came on.

mod answer;
mod config;
mod decoder;
mod encoder;
mod errors;
mod parts;
mod provider_request;
mod request;
mod schema;
mod usage;

pub use answer::{decode_answer, encode_answer, finish_reason, stop_from};
pub use config::wants_thoughts;
pub use decoder::{Decoder, DEFAULT_MAX_EVENT};
pub use encoder::{Encoder, Framing};
pub use errors::{error_message, retry_after_secs};
pub use parts::{
    call_id_with_signature, split_call_id, takes_media_url, MIME_TYPE, SIGNATURE,
    THOUGHT_SIGNATURE_SEPARATOR, WIRE_ID,
};
pub use provider_request::encode_request;
pub use request::decode_request;
