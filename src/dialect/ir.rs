//! The internal representation every dialect decodes into and encodes from (DESIGN §1,
//! reference: dialects.md §3.1).
//!
//! A superset of the four dialects rather than any one of them: ordered turns of typed blocks.
//! What only one dialect can say (an Anthropic `cache_control` mark, a Gemini thought signature,
//! encrypted reasoning) rides along in a block's `extras`, so a request that goes out in the
//! dialect it came in loses nothing, and another dialect's encoder can use it or drop it by rule.
//! A conversion is `decode(client) → IR → encode(provider)`: one codec per dialect, not one
//! converter per pair.

use super::errors::ErrorKind;
use super::usage::Usage;
use serde_json::{Map, Value};

/// Dialect-specific fields a block or request carries along, keyed by their wire names.
pub type Extras = Map<String, Value>;

/// A request for a model, whatever dialect it arrived in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    pub model: String,
    /// Every system prompt, from every placement, in order.
    pub system: Vec<Block>,
    pub turns: Vec<Turn>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    /// `Some(false)`: at most one tool call per turn.
    pub parallel_tool_calls: Option<bool>,
    pub max_output_tokens: Option<u64>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub top_k: Option<u64>,
    pub stop: Vec<String>,
    pub stream: bool,
    /// The client asked for usage in its stream (OpenAI's `stream_options.include_usage`).
    pub stream_usage: bool,
    pub output_format: Option<OutputFormat>,
    pub reasoning: Option<Reasoning>,
    /// The end user, for the provider's abuse monitoring.
    pub user: Option<String>,
    /// Request-level fields of the client's dialect that have no place above.
    pub extras: Extras,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Turn {
    pub role: Role,
    pub blocks: Vec<Block>,
}

/// A piece of a turn.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text {
        text: String,
        extras: Extras,
    },
    Image {
        source: Media,
        extras: Extras,
    },
    /// A document (a PDF, a file).
    File {
        source: Media,
        name: Option<String>,
        extras: Extras,
    },
    /// The model's visible reasoning, with the provider's signature when it gave one.
    Thinking {
        text: String,
        signature: Option<String>,
        extras: Extras,
    },
    /// Reasoning the provider returned only in encrypted form.
    RedactedThinking {
        data: String,
    },
    ToolCall(ToolCall),
    ToolResult(ToolResult),
}

impl Block {
    pub fn text(text: impl Into<String>) -> Block {
        Block::Text {
            text: text.into(),
            extras: Extras::new(),
        }
    }

    /// The model's reasoning, readable or redacted.
    pub fn is_thinking(&self) -> bool {
        matches!(
            self,
            Block::Thinking { .. } | Block::RedactedThinking { .. }
        )
    }
}

/// An image or a file of a request, wherever it sits (tool results' included); `S` is
/// `&Media` or `&mut Media`.
pub struct MediaRef<'a, S> {
    pub source: S,
    pub extras: &'a Extras,
    pub image: bool,
}

/// The walk behind [`Request::media`] and [`Request::media_mut`], over shared or mutable blocks.
macro_rules! media_walk {
    ($name:ident $(, $m:ident)?) => {
        fn $name<'a>(blocks: &'a $($m)? [Block], out: &mut Vec<MediaRef<'a, &'a $($m)? Media>>) {
            for b in blocks {
                match b {
                    Block::Image { source, extras } => out.push(MediaRef {
                        source,
                        extras,
                        image: true,
                    }),
                    Block::File { source, extras, .. } => out.push(MediaRef {
                        source,
                        extras,
                        image: false,
                    }),
                    Block::ToolResult(r) => $name(&$($m)? r.content, out),
                    _ => {}
                }
            }
        }
    };
}

media_walk!(media_in);
media_walk!(media_in_mut, mut);

impl Request {
    /// Every image and file the conversation holds, in order.
    pub fn media(&self) -> Vec<MediaRef<'_, &Media>> {
        let mut out = Vec::new();
        for turn in &self.turns {
            media_in(&turn.blocks, &mut out);
        }
        out
    }

    /// [`Request::media`], to change.
    pub fn media_mut(&mut self) -> Vec<MediaRef<'_, &mut Media>> {
        let mut out = Vec::new();
        for turn in &mut self.turns {
            media_in_mut(&mut turn.blocks, &mut out);
        }
        out
    }
}

/// Marks a thinking signature that is not a signature but an OpenAI reasoning item's
/// `encrypted_content`, handed to a client whose dialect keeps only signatures (Anthropic), so
/// the blob comes back on the next turn and can be replayed to a Responses provider.
pub const ENCRYPTED_REASONING_TAG: &str = "tollgate.openai-reasoning:";

/// Where an image's or a file's bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    Base64 { mime: String, data: String },
    Url(String),
}

impl Media {
    /// Reads an OpenAI-style `url`, which is either a `data:` URL or a fetchable one.
    pub fn from_url(url: &str) -> Media {
        let parsed = url.strip_prefix("data:").and_then(|rest| {
            let (meta, data) = rest.split_once(',')?;
            let mime = meta.strip_suffix(";base64")?;
            Some(Media::Base64 {
                mime: mime.to_string(),
                data: data.to_string(),
            })
        });
        parsed.unwrap_or_else(|| Media::Url(url.to_string()))
    }

    /// The OpenAI-style `url` for these bytes.
    pub fn to_url(&self) -> String {
        match self {
            Media::Base64 { mime, data } => format!("data:{mime};base64,{data}"),
            Media::Url(u) => u.clone(),
        }
    }
}

/// A call the model made.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolCall {
    /// The id the result will refer to; never empty once decoded.
    pub id: String,
    pub name: String,
    /// The arguments as JSON text, exactly as the model produced them (possibly invalid).
    pub arguments: String,
    pub extras: Extras,
}

/// The outcome of a call, sent back by the client.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    pub call_id: String,
    /// The tool's name, when the dialect carries it (Gemini needs it).
    pub name: Option<String>,
    pub content: Vec<Block>,
    pub is_error: bool,
}

/// A tool the model may call.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// A JSON Schema for the arguments.
    pub parameters: Value,
    pub extras: Extras,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolChoice {
    Auto,
    /// At least one call.
    Required,
    None,
    /// This tool, exactly.
    Tool(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum OutputFormat {
    Text,
    JsonObject,
    JsonSchema {
        name: String,
        schema: Value,
        strict: Option<bool>,
    },
}

/// How much the model should reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reasoning {
    /// `minimal`, `low`, `medium`, `high`… as the client said it.
    pub effort: Option<String>,
    /// A token budget (Anthropic's `budget_tokens`, Gemini's `thinkingBudget`).
    pub budget_tokens: Option<u64>,
    pub enabled: bool,
}

/// Why the model stopped (reference §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    EndTurn,
    /// A stop sequence matched; which one, when the provider says.
    StopSequence(Option<String>),
    MaxTokens,
    ToolUse,
    ContentFilter,
    /// Anthropic's `pause_turn`: the client should send the turn again to continue.
    Paused,
}

/// A whole answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub id: String,
    pub model: String,
    pub blocks: Vec<Block>,
    pub stop: Stop,
    pub usage: Option<Usage>,
}

impl Answer {
    /// Whether the model called a tool: a client dialect's stop reason depends on it whatever
    /// the provider said (reference §3.2, last rule).
    pub fn calls_tools(&self) -> bool {
        self.blocks.iter().any(|b| matches!(b, Block::ToolCall(_)))
    }
}

/// One step of an answer as it streams, whatever dialect it came in or goes out in.
///
/// A decoder emits well-formed sequences, so that every encoder can map them one to one onto
/// its own grammar: `Start` first and once; then blocks, one open at a time, with indices
/// counting up from 0 (`BlockStart`, its deltas, `BlockStop`); `Usage` whenever a snapshot
/// arrives (the last one wins, never summed); `Stop` once after the last block. A provider
/// that interleaves parallel tool calls is the decoder's to straighten out. `Error` ends the
/// stream in place of `Stop`.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Start { id: String, model: String },
    BlockStart { index: usize, block: BlockKind },
    Delta { index: usize, delta: Delta },
    BlockStop { index: usize },
    Usage(Usage),
    Stop(Stop),
    Error { kind: ErrorKind, message: String },
}

/// What a streamed block holds.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockKind {
    Text,
    Thinking,
    RedactedThinking {
        data: String,
    },
    /// A tool call; its arguments follow as `Delta::ToolArguments` fragments. Dialect-specific
    /// facts about the call (a Gemini thought signature) ride in `extras`.
    ToolCall {
        id: String,
        name: String,
        extras: Extras,
    },
}

/// A piece of the open block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delta {
    Text(String),
    Thinking(String),
    /// The signature that closes a thinking block (Anthropic).
    Signature(String),
    /// A fragment of a tool call's JSON arguments, in order; not valid JSON on its own.
    ToolArguments(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_become_inline_bytes_and_back() {
        let m = Media::from_url("data:image/png;base64,iVBORw0KGgo=");
        assert_eq!(
            m,
            Media::Base64 {
                mime: "image/png".into(),
                data: "iVBORw0KGgo=".into()
            }
        );
        assert_eq!(m.to_url(), "data:image/png;base64,iVBORw0KGgo=");
        assert_eq!(
            Media::from_url("https://x.test/a.jpg"),
            Media::Url("https://x.test/a.jpg".into())
        );
        // Not base64: kept as the URL it is.
        assert_eq!(
            Media::from_url("data:text/plain,hi"),
            Media::Url("data:text/plain,hi".into())
        );
    }
}
