//! An estimate of a request's input tokens, for a count-tokens call that no provider of the
//! client's dialect can answer exactly. It uses OpenAI's o200k_base tokenizer: another vendor's
//! model counts somewhat differently, which is why the answer says it is an estimate.

use super::ir::{Block, Request};

/// The name of the tokenizer, as the answer's estimate header gives it.
pub const TOKENIZER: &str = "o200k_base";

/// What framing adds per message and per tool, by OpenAI's published rule of thumb.
const PER_MESSAGE: u64 = 3;
const PER_TOOL: u64 = 8;

fn text_tokens(text: &str) -> u64 {
    tiktoken_rs::o200k_base_singleton()
        .encode_ordinary(text)
        .len() as u64
}

fn block_tokens(block: &Block) -> u64 {
    match block {
        Block::Text { text, .. } | Block::Thinking { text, .. } => text_tokens(text),
        Block::ToolCall(c) => text_tokens(&c.name) + text_tokens(&c.arguments),
        Block::ToolResult(r) => r.content.iter().map(block_tokens).sum(),
        // An image's count depends on its size, which is not decoded here; OpenAI charges a
        // low-detail image 85 tokens, a floor for any vendor's count.
        Block::Image { .. } => 85,
        Block::File { .. } | Block::RedactedThinking { .. } => 0,
    }
}

/// The estimated input tokens of `req`: system prompt, every turn, every tool definition.
pub fn estimate(req: &Request) -> u64 {
    let system: u64 = req.system.iter().map(block_tokens).sum();
    let turns: u64 = req
        .turns
        .iter()
        .map(|t| PER_MESSAGE + t.blocks.iter().map(block_tokens).sum::<u64>())
        .sum();
    let tools: u64 = req
        .tools
        .iter()
        .map(|t| {
            PER_TOOL
                + text_tokens(&t.name)
                + t.description.as_deref().map_or(0, text_tokens)
                + text_tokens(&t.parameters.to_string())
        })
        .sum();
    system + turns + tools
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::ir::{Role, Turn};

    #[test]
    fn counts_text_with_a_real_tokenizer_and_frames_messages() {
        assert_eq!(text_tokens("hello world"), 2);
        let req = Request {
            system: vec![Block::text("Be brief.")],
            turns: vec![Turn {
                role: Role::User,
                blocks: vec![Block::text("hello world")],
            }],
            ..Request::default()
        };
        assert_eq!(estimate(&req), text_tokens("Be brief.") + PER_MESSAGE + 2);
        assert_eq!(estimate(&Request::default()), 0);
    }
}
