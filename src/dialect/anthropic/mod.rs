//! Anthropic Messages (reference: dialects.md §1.C, §2.C, §3, §4).
//!
//! The codec between the Messages dialect and the internal representation: requests
//! ([`decode_request`], [`encode_request`]), whole answers ([`decode_answer`],
//! [`encode_answer`]), streams ([`Decoder`] for a provider's, [`Encoder`] for a client's) and
//! error bodies ([`error_message`]). Marks only Anthropic understands, such as `cache_control`,
//! ride in the IR blocks' and tools' `extras` under their wire names.

mod answer;
mod blocks;
mod decoder;
mod encoder;
mod error;
mod media;
mod request;
mod request_encode;
mod usage;

pub use answer::{answer_usage, decode_answer, encode_answer, stop_from, stop_reason};
pub use decoder::{Decoder, MAX_EVENT_BYTES};
pub use encoder::{Encoder, PING};
pub use error::{error_kind, error_message, error_status};
pub use request::decode_request;
pub use request_encode::{encode_request, DEFAULT_MAX_TOKENS};
