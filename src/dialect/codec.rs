//! Everything the gateway needs to know of a dialect, in one place: a [`Codec`] per dialect.
//!
//! The request path asks the client's codec and the provider's codec, and never matches on a
//! dialect itself: the upstream path and auth header, how to read a request, how to write an
//! answer, a stream and an error — all are here.

use super::errors::{render, ErrorKind, RenderedError};
use super::ir::{Answer, Block, Extras, Request};
use super::json::{top_level_span, top_level_spans};
use super::stream::{StreamDecoder, StreamEncoder};
use super::{anthropic, gemini, names, openai, responses, Dialect, InvalidRequest};
use bytes::Bytes;

/// What the route said about a request, beyond its body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteFacts {
    /// The model named in the path (Gemini).
    pub model: Option<String>,
    /// The path asked for a stream (Gemini's `:streamGenerateContent`).
    pub stream: bool,
    /// The stream is to be SSE (Gemini's `alt=sse`), not a streamed JSON array.
    pub sse: bool,
}

/// The `anthropic-version` sent to Anthropic providers when the client did not say one.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";

/// What one provider wants of a request beyond its dialect's rules (set per provider in the
/// config).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quirks {
    /// The assistant's reasoning goes back to a Chat provider as each assistant message's
    /// `reasoning_content`: DeepSeek's thinking mode refuses a tool loop without it (reference
    /// §5.13), where OpenAI itself has no such field.
    pub reasoning_content: bool,
}

/// The headers that tell this dialect's clients their rate limits: limit, remaining and reset,
/// for requests and for tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitHeaders {
    pub requests: [&'static str; 3],
    pub tokens: [&'static str; 3],
    /// The reset is an instant (RFC 3339), not a duration like `6m0s`.
    pub reset_at: bool,
}

/// OpenAI's, which OpenAI-style clients of the other dialects read too.
const OPENAI_RATE_LIMITS: RateLimitHeaders = RateLimitHeaders {
    requests: [
        "x-ratelimit-limit-requests",
        "x-ratelimit-remaining-requests",
        "x-ratelimit-reset-requests",
    ],
    tokens: [
        "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-tokens",
        "x-ratelimit-reset-tokens",
    ],
    reset_at: false,
};

/// A top-level number member of a JSON object, found without parsing the rest.
fn number_member(body: &[u8], name: &str) -> Option<u64> {
    number_at(body, top_level_span(body, name)?)
}

fn number_at(body: &[u8], span: std::ops::Range<usize>) -> Option<u64> {
    std::str::from_utf8(&body[span]).ok()?.trim().parse().ok()
}

/// One dialect's facts and conversions.
pub trait Codec: Send + Sync {
    fn dialect(&self) -> Dialect;

    // The provider side.

    /// The request path on a provider, after its base URL's path.
    fn upstream_path(&self, model: &str, stream: bool) -> String;
    /// The header carrying the provider key, and its value.
    fn auth_header(&self, key: &str) -> (&'static str, String);
    /// Headers every request to a provider of this dialect carries.
    fn fixed_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }
    /// Headers a client of this dialect sends that a provider of the same dialect should get
    /// (never credentials): Anthropic's version and beta flags.
    fn passed_on_headers(&self) -> &'static [&'static str] {
        &[]
    }
    fn encode_request(&self, req: &Request, model: &str, quirks: Quirks) -> Bytes;
    /// Whether a provider of this dialect can be given this image or file by its URL (it
    /// fetches it itself); if not, the gateway fetches it and sends the bytes.
    fn takes_media_url(&self, _url: &str, _extras: &Extras) -> bool {
        true
    }
    fn decode_answer(&self, body: &[u8]) -> Option<Answer>;
    fn decoder(&self, max_event: usize) -> Box<dyn StreamDecoder>;
    /// The message inside a provider's error body.
    fn error_message(&self, body: &[u8]) -> Option<String>;

    // The client side.

    fn decode_request(&self, body: &[u8], route: &RouteFacts) -> Result<Request, InvalidRequest>;
    /// A whole answer for a client that asked `req` of `model`.
    fn encode_answer(&self, a: &Answer, model: &str, created: u64, req: &Request) -> Bytes;
    /// The stream writer for a client that asked `req` of `model`.
    fn encoder(
        &self,
        model: &str,
        created: u64,
        req: &Request,
        route: &RouteFacts,
    ) -> Box<dyn StreamEncoder>;
    /// An error as this dialect's clients expect it.
    fn render_error(&self, kind: ErrorKind, message: &str) -> RenderedError {
        render(self.dialect(), kind, message)
    }
    /// The provider path that counts a request's input tokens, where the dialect has one.
    fn count_tokens_path(&self, _model: &str) -> Option<String> {
        None
    }
    /// A count-tokens answer for this dialect's clients.
    fn count_answer(&self, tokens: u64) -> Bytes {
        Bytes::from(format!("{{\"input_tokens\":{tokens}}}"))
    }
    /// The content type of a stream for this client.
    fn stream_content_type(&self, _route: &RouteFacts) -> &'static str {
        "text/event-stream"
    }
    /// The most output tokens a client's request allows, read without decoding it.
    fn max_output_tokens(&self, body: &[u8]) -> Option<u64>;
    fn rate_limit_headers(&self) -> RateLimitHeaders {
        OPENAI_RATE_LIMITS
    }
}

/// The codec of `dialect`.
pub fn codec(dialect: Dialect) -> &'static dyn Codec {
    match dialect {
        Dialect::OpenAiChat => &OpenAiChat,
        Dialect::OpenAiResponses => &OpenAiResponses,
        Dialect::AnthropicMessages => &Anthropic,
        Dialect::Gemini => &Gemini,
    }
}

/// The kind of failure a provider's error status says (reference §4.3).
fn kind_of_status(status: u16) -> ErrorKind {
    match status {
        404 => ErrorKind::ModelNotFound,
        413 => ErrorKind::PayloadTooLarge,
        429 => ErrorKind::RateLimited,
        502 => ErrorKind::BadUpstream,
        503 | 529 => ErrorKind::Overloaded,
        504 => ErrorKind::UpstreamTimeout,
        500..=599 => ErrorKind::Internal,
        _ => ErrorKind::BadRequest,
    }
}

/// A provider's error answer in its own dialect, rendered for a client of another: the
/// provider's message, in the client's shape, types and status codes. A client error keeps the
/// provider's exact 4xx status.
pub fn convert_error(
    client: Dialect,
    provider: Dialect,
    status: u16,
    body: &[u8],
) -> RenderedError {
    let kind = kind_of_status(status);
    let message = codec(provider)
        .error_message(body)
        .unwrap_or_else(|| format!("The provider answered with status {status}"));
    let mut r = codec(client).render_error(kind, &message);
    if kind == ErrorKind::BadRequest {
        r.status = status;
    }
    r
}

fn bearer(key: &str) -> (&'static str, String) {
    ("authorization", format!("Bearer {key}"))
}

struct OpenAiChat;

impl Codec for OpenAiChat {
    fn dialect(&self) -> Dialect {
        Dialect::OpenAiChat
    }
    fn max_output_tokens(&self, body: &[u8]) -> Option<u64> {
        // One pass for both names: every request is read for them.
        let [completion, max] = top_level_spans(body, ["max_completion_tokens", "max_tokens"])?;
        completion
            .and_then(|s| number_at(body, s))
            .or_else(|| max.and_then(|s| number_at(body, s)))
    }
    fn upstream_path(&self, _model: &str, _stream: bool) -> String {
        "/chat/completions".into()
    }
    fn auth_header(&self, key: &str) -> (&'static str, String) {
        bearer(key)
    }
    fn encode_request(&self, req: &Request, model: &str, quirks: Quirks) -> Bytes {
        openai::encode_request(&names::shortened(req), model, quirks)
    }
    fn decode_answer(&self, body: &[u8]) -> Option<Answer> {
        openai::decode_answer(body)
    }
    fn decoder(&self, max_event: usize) -> Box<dyn StreamDecoder> {
        Box::new(openai::Decoder::new(max_event))
    }
    fn error_message(&self, body: &[u8]) -> Option<String> {
        responses::error_message(body)
    }
    fn decode_request(&self, body: &[u8], _route: &RouteFacts) -> Result<Request, InvalidRequest> {
        openai::decode_request(body)
    }
    fn encode_answer(&self, a: &Answer, model: &str, created: u64, _req: &Request) -> Bytes {
        openai::encode_answer(a, model, created)
    }
    fn encoder(
        &self,
        model: &str,
        created: u64,
        req: &Request,
        _route: &RouteFacts,
    ) -> Box<dyn StreamEncoder> {
        Box::new(openai::Encoder::new(model, created, req.stream_usage))
    }
}

struct OpenAiResponses;

impl Codec for OpenAiResponses {
    fn dialect(&self) -> Dialect {
        Dialect::OpenAiResponses
    }
    fn max_output_tokens(&self, body: &[u8]) -> Option<u64> {
        number_member(body, "max_output_tokens")
    }
    fn upstream_path(&self, _model: &str, _stream: bool) -> String {
        "/responses".into()
    }
    fn auth_header(&self, key: &str) -> (&'static str, String) {
        bearer(key)
    }
    fn encode_request(&self, req: &Request, model: &str, _: Quirks) -> Bytes {
        responses::encode_request(&names::shortened(req), model)
    }
    fn decode_answer(&self, body: &[u8]) -> Option<Answer> {
        responses::decode_answer(body)
    }
    fn decoder(&self, max_event: usize) -> Box<dyn StreamDecoder> {
        Box::new(responses::Decoder::new(max_event))
    }
    fn error_message(&self, body: &[u8]) -> Option<String> {
        responses::error_message(body)
    }
    fn decode_request(&self, body: &[u8], _route: &RouteFacts) -> Result<Request, InvalidRequest> {
        responses::decode_request(body)
    }
    fn encode_answer(&self, a: &Answer, model: &str, created: u64, req: &Request) -> Bytes {
        // Codex's custom and namespaced tools go back in the shape it declared them in.
        let tools = responses::ClientTools::from_request(req);
        responses::encode_answer_for(a, model, created, &tools)
    }
    fn encoder(
        &self,
        model: &str,
        created: u64,
        req: &Request,
        _route: &RouteFacts,
    ) -> Box<dyn StreamEncoder> {
        let tools = responses::ClientTools::from_request(req);
        Box::new(responses::Encoder::new(model, created).with_tools(tools))
    }
}

struct Anthropic;

impl Codec for Anthropic {
    fn dialect(&self) -> Dialect {
        Dialect::AnthropicMessages
    }
    fn max_output_tokens(&self, body: &[u8]) -> Option<u64> {
        number_member(body, "max_tokens")
    }
    fn rate_limit_headers(&self) -> RateLimitHeaders {
        RateLimitHeaders {
            requests: [
                "anthropic-ratelimit-requests-limit",
                "anthropic-ratelimit-requests-remaining",
                "anthropic-ratelimit-requests-reset",
            ],
            tokens: [
                "anthropic-ratelimit-tokens-limit",
                "anthropic-ratelimit-tokens-remaining",
                "anthropic-ratelimit-tokens-reset",
            ],
            reset_at: true,
        }
    }
    fn upstream_path(&self, _model: &str, _stream: bool) -> String {
        "/v1/messages".into()
    }
    fn auth_header(&self, key: &str) -> (&'static str, String) {
        ("x-api-key", key.to_string())
    }
    fn fixed_headers(&self) -> &'static [(&'static str, &'static str)] {
        &[("anthropic-version", ANTHROPIC_VERSION)]
    }
    fn passed_on_headers(&self) -> &'static [&'static str] {
        &["anthropic-version", "anthropic-beta"]
    }
    fn count_tokens_path(&self, _model: &str) -> Option<String> {
        Some("/v1/messages/count_tokens".into())
    }
    fn encode_request(&self, req: &Request, model: &str, _: Quirks) -> Bytes {
        anthropic::encode_request(req, model)
    }
    fn decode_answer(&self, body: &[u8]) -> Option<Answer> {
        anthropic::decode_answer(body)
    }
    fn decoder(&self, max_event: usize) -> Box<dyn StreamDecoder> {
        Box::new(anthropic::Decoder::new(max_event))
    }
    fn error_message(&self, body: &[u8]) -> Option<String> {
        anthropic::error_message(body)
    }
    fn decode_request(&self, body: &[u8], _route: &RouteFacts) -> Result<Request, InvalidRequest> {
        anthropic::decode_request(body)
    }
    fn encode_answer(&self, a: &Answer, model: &str, created: u64, _req: &Request) -> Bytes {
        anthropic::encode_answer(a, model, created)
    }
    fn encoder(
        &self,
        model: &str,
        _created: u64,
        _req: &Request,
        _route: &RouteFacts,
    ) -> Box<dyn StreamEncoder> {
        Box::new(anthropic::Encoder::new(model))
    }
    fn render_error(&self, kind: ErrorKind, message: &str) -> RenderedError {
        let mut r = render(Dialect::AnthropicMessages, kind, message);
        // Anthropic's clients know overload as 529, not 503.
        r.status = anthropic::error_status(kind);
        r
    }
}

struct Gemini;

impl Codec for Gemini {
    fn dialect(&self) -> Dialect {
        Dialect::Gemini
    }
    fn max_output_tokens(&self, body: &[u8]) -> Option<u64> {
        let config = ["generationConfig", "generation_config"]
            .iter()
            .find_map(|name| top_level_span(body, name))?;
        let config: serde_json::Value = serde_json::from_slice(&body[config]).ok()?;
        config
            .get("maxOutputTokens")
            .or_else(|| config.get("max_output_tokens"))?
            .as_u64()
    }
    fn upstream_path(&self, model: &str, stream: bool) -> String {
        if stream {
            format!("/v1beta/models/{model}:streamGenerateContent?alt=sse")
        } else {
            format!("/v1beta/models/{model}:generateContent")
        }
    }
    fn auth_header(&self, key: &str) -> (&'static str, String) {
        ("x-goog-api-key", key.to_string())
    }
    fn count_tokens_path(&self, model: &str) -> Option<String> {
        Some(format!("/v1beta/models/{model}:countTokens"))
    }
    fn count_answer(&self, tokens: u64) -> Bytes {
        Bytes::from(format!("{{\"totalTokens\":{tokens}}}"))
    }
    fn encode_request(&self, req: &Request, model: &str, _: Quirks) -> Bytes {
        gemini::encode_request(req, model)
    }
    fn takes_media_url(&self, url: &str, extras: &Extras) -> bool {
        gemini::takes_media_url(url, extras)
    }
    fn decode_answer(&self, body: &[u8]) -> Option<Answer> {
        gemini::decode_answer(body)
    }
    fn decoder(&self, max_event: usize) -> Box<dyn StreamDecoder> {
        Box::new(gemini::Decoder::new(max_event))
    }
    fn error_message(&self, body: &[u8]) -> Option<String> {
        gemini::error_message(body)
    }
    fn decode_request(&self, body: &[u8], route: &RouteFacts) -> Result<Request, InvalidRequest> {
        let model = route.model.as_deref().unwrap_or("");
        gemini::decode_request(body, model, route.stream)
    }
    fn encode_answer(&self, a: &Answer, model: &str, created: u64, req: &Request) -> Bytes {
        if gemini::wants_thoughts(req) || !a.blocks.iter().any(Block::is_thinking) {
            return gemini::encode_answer(a, model, created);
        }
        let mut a = a.clone();
        a.blocks.retain(|b| !b.is_thinking());
        gemini::encode_answer(&a, model, created)
    }
    fn encoder(
        &self,
        model: &str,
        _created: u64,
        req: &Request,
        route: &RouteFacts,
    ) -> Box<dyn StreamEncoder> {
        let framing = if route.sse {
            gemini::Framing::Sse
        } else {
            gemini::Framing::JsonArray
        };
        let encoder = gemini::Encoder::new(model, framing);
        Box::new(if gemini::wants_thoughts(req) {
            encoder
        } else {
            encoder.without_thoughts()
        })
    }
    fn stream_content_type(&self, route: &RouteFacts) -> &'static str {
        // Without `alt=sse`, Gemini streams one JSON array, written as it grows.
        if route.sse {
            "text/event-stream"
        } else {
            "application/json"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answer_cap_is_read_where_each_dialect_puts_it() {
        let max = |d, body: &str| codec(d).max_output_tokens(body.as_bytes());
        assert_eq!(max(Dialect::OpenAiChat, r#"{"max_tokens": 70}"#), Some(70));
        assert_eq!(
            max(
                Dialect::OpenAiChat,
                r#"{"max_tokens":9,"max_completion_tokens":80}"#
            ),
            Some(80)
        );
        assert_eq!(
            max(Dialect::OpenAiChat, r#"{"messages":[{"max_tokens":5}]}"#),
            None
        );
        assert_eq!(
            max(Dialect::OpenAiResponses, r#"{"max_output_tokens":90}"#),
            Some(90)
        );
        assert_eq!(
            max(Dialect::AnthropicMessages, r#"{"max_tokens":1024}"#),
            Some(1024)
        );
        assert_eq!(
            max(
                Dialect::Gemini,
                r#"{"generationConfig":{"maxOutputTokens":256}}"#
            ),
            Some(256)
        );
        assert_eq!(
            max(
                Dialect::Gemini,
                r#"{"generation_config":{"max_output_tokens":12}}"#
            ),
            Some(12)
        );
        assert_eq!(max(Dialect::Gemini, r#"{"contents":[]}"#), None);
        assert_eq!(
            max(Dialect::AnthropicMessages, r#"{"max_tokens":"lots"}"#),
            None
        );
    }

    #[test]
    fn each_provider_dialect_has_its_path_and_auth() {
        let path = |d, stream| codec(d).upstream_path("m-1", stream);
        assert_eq!(path(Dialect::OpenAiChat, true), "/chat/completions");
        assert_eq!(path(Dialect::OpenAiResponses, false), "/responses");
        assert_eq!(path(Dialect::AnthropicMessages, false), "/v1/messages");
        assert_eq!(
            path(Dialect::Gemini, true),
            "/v1beta/models/m-1:streamGenerateContent?alt=sse"
        );
        assert_eq!(
            path(Dialect::Gemini, false),
            "/v1beta/models/m-1:generateContent"
        );
        assert_eq!(
            codec(Dialect::AnthropicMessages).auth_header("k").0,
            "x-api-key"
        );
        assert_eq!(codec(Dialect::Gemini).auth_header("k").0, "x-goog-api-key");
        assert_eq!(
            codec(Dialect::OpenAiChat).auth_header("k"),
            ("authorization", "Bearer k".to_string())
        );
        for d in [
            Dialect::OpenAiChat,
            Dialect::OpenAiResponses,
            Dialect::AnthropicMessages,
            Dialect::Gemini,
        ] {
            assert_eq!(codec(d).dialect(), d);
        }
    }

    #[test]
    fn a_provider_error_reaches_a_client_of_another_dialect_in_its_own_shape() {
        let body = br#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too big"}}"#;
        let r = convert_error(Dialect::OpenAiChat, Dialect::AnthropicMessages, 422, body);
        assert_eq!(r.status, 422);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(v["error"]["message"], "max_tokens: too big");
        assert_eq!(v["error"]["type"], "invalid_request_error");
        let body =
            br#"{"error":{"message":"slow down","type":"server_error","param":null,"code":null}}"#;
        let r = convert_error(Dialect::AnthropicMessages, Dialect::OpenAiChat, 503, body);
        assert_eq!(r.status, 529);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(v["error"]["type"], "overloaded_error");
        assert_eq!(v["error"]["message"], "slow down");
        let r = convert_error(Dialect::Gemini, Dialect::OpenAiChat, 429, b"not json");
        assert_eq!(r.status, 429);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(
            v["error"]["message"],
            "The provider answered with status 429"
        );
    }

    #[test]
    fn anthropic_clients_get_529_for_overload() {
        assert_eq!(
            codec(Dialect::AnthropicMessages)
                .render_error(ErrorKind::Overloaded, "busy")
                .status,
            529
        );
        assert_eq!(
            codec(Dialect::OpenAiChat)
                .render_error(ErrorKind::Overloaded, "busy")
                .status,
            503
        );
    }
}
