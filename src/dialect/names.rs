//! Tool names OpenAI cannot take, and the way back (reference §3.4 rule 6, §5).
//!
//! OpenAI's Chat and Responses APIs take function names of at most 64 characters of
//! `[a-zA-Z0-9_-]`; Claude Code's MCP tools (`mcp__server__tool`) and Gemini's names (which may
//! hold `.` and `:`) can be longer or other. Such a name goes up as a stable short form — a
//! cleaned 55-character prefix, `_`, and 8 hex digits of its SHA-256 — and a call the provider
//! makes under a short form comes back to the client under the name the client declared.
//! Deterministic, so no state is kept between the turns of a conversation.

use super::ir::{Answer, Block, BlockKind, Event, Request, ToolChoice};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// The longest function name OpenAI takes.
pub const MAX_NAME: usize = 64;
const PREFIX: usize = 55;

fn fits(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// `name` as OpenAI may take it: itself when it fits, its short form otherwise.
pub fn short_name(name: &str) -> Cow<'_, str> {
    if fits(name) {
        return Cow::Borrowed(name);
    }
    let prefix: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(PREFIX)
        .collect();
    let digest = Sha256::digest(name.as_bytes());
    let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
    Cow::Owned(format!("{prefix}_{hash}"))
}

/// The request with every tool name in the short form OpenAI takes: declarations, past calls,
/// results and a named `tool_choice`. Borrowed when every name fits already.
pub fn shortened(req: &Request) -> Cow<'_, Request> {
    let calls = req.turns.iter().flat_map(|t| &t.blocks).any(|b| match b {
        Block::ToolCall(c) => !fits(&c.name),
        Block::ToolResult(r) => r.name.as_deref().is_some_and(|n| !fits(n)),
        _ => false,
    });
    let choice = matches!(&req.tool_choice, Some(ToolChoice::Tool(n)) if !fits(n));
    if !calls && !choice && req.tools.iter().all(|t| fits(&t.name)) {
        return Cow::Borrowed(req);
    }
    let mut req = req.clone();
    let shorten = |name: &mut String| {
        if let Cow::Owned(short) = short_name(name) {
            *name = short;
        }
    };
    req.tools.iter_mut().for_each(|t| shorten(&mut t.name));
    if let Some(ToolChoice::Tool(n)) = &mut req.tool_choice {
        shorten(n);
    }
    for block in req.turns.iter_mut().flat_map(|t| &mut t.blocks) {
        match block {
            Block::ToolCall(c) => shorten(&mut c.name),
            Block::ToolResult(r) => r.name.iter_mut().for_each(shorten),
            _ => {}
        }
    }
    Cow::Owned(req)
}

/// The client's names for the short forms its request's tools went up under.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LongNames(Vec<(String, String)>);

impl LongNames {
    /// The declared tools of `req` whose names do not fit.
    pub fn of(req: &Request) -> Self {
        LongNames(
            req.tools
                .iter()
                .filter(|t| !fits(&t.name))
                .map(|t| (short_name(&t.name).into_owned(), t.name.clone()))
                .collect(),
        )
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn restore(&self, name: &mut String) {
        if let Some((_, long)) = self.0.iter().find(|(short, _)| short == name) {
            name.clone_from(long);
        }
    }

    /// Gives the calls of a whole answer the client's names.
    pub fn restore_answer(&self, answer: &mut Answer) {
        for block in &mut answer.blocks {
            if let Block::ToolCall(c) = block {
                self.restore(&mut c.name);
            }
        }
    }

    /// Gives a streamed call the client's name.
    pub fn restore_event(&self, event: &mut Event) {
        if let Event::BlockStart {
            block: BlockKind::ToolCall { name, .. },
            ..
        } = event
        {
            self.restore(name);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::ir::{Extras, Tool, ToolCall, Turn};
    use serde_json::json;

    const LONG: &str = "mcp__filesystem__read_multiple_files_with_metadata_and_permissions_v2";

    #[test]
    fn names_that_fit_stay_and_others_get_a_stable_short_form() {
        assert_eq!(short_name("get_weather"), Cow::Borrowed("get_weather"));
        let short = short_name(LONG);
        assert_eq!(short, format!("{}_{}", &LONG[..55], &short[56..]));
        assert_eq!(short.len(), 64);
        assert!(short[56..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(
            short_name(LONG),
            short,
            "the same name, the same short form"
        );
        assert_ne!(short_name(&format!("{LONG}x")), short);
        // Gemini allows `.` and `:`; OpenAI does not, and `a_b` may be another tool.
        let dotted = short_name("files.read");
        assert!(
            dotted.starts_with("files_read_") && dotted.len() == 19,
            "{dotted}"
        );
    }

    fn request() -> Request {
        let call = ToolCall {
            id: "call_1".into(),
            name: LONG.into(),
            arguments: "{}".into(),
            extras: Extras::new(),
        };
        Request {
            tools: vec![
                Tool {
                    name: LONG.into(),
                    description: None,
                    parameters: json!({"type": "object"}),
                    extras: Extras::new(),
                },
                Tool {
                    name: "short".into(),
                    description: None,
                    parameters: json!({"type": "object"}),
                    extras: Extras::new(),
                },
            ],
            tool_choice: Some(ToolChoice::Tool(LONG.into())),
            turns: vec![Turn {
                role: crate::dialect::ir::Role::Assistant,
                blocks: vec![Block::ToolCall(call)],
            }],
            ..Request::default()
        }
    }

    #[test]
    fn every_place_a_name_appears_is_shortened_and_calls_come_back_long() {
        let req = request();
        let short = short_name(LONG).into_owned();
        let out = shortened(&req);
        assert_eq!(out.tools[0].name, short);
        assert_eq!(out.tools[1].name, "short");
        assert_eq!(out.tool_choice, Some(ToolChoice::Tool(short.clone())));
        assert!(matches!(&out.turns[0].blocks[0], Block::ToolCall(c) if c.name == short));

        let names = LongNames::of(&req);
        let mut event = Event::BlockStart {
            index: 0,
            block: BlockKind::ToolCall {
                id: "c".into(),
                name: short.clone(),
                extras: Extras::new(),
            },
        };
        names.restore_event(&mut event);
        assert!(
            matches!(event, Event::BlockStart { block: BlockKind::ToolCall { name, .. }, .. } if name == LONG)
        );

        let plain = Request::default();
        assert!(matches!(shortened(&plain), Cow::Borrowed(_)));
        assert!(LongNames::of(&plain).is_empty());
    }
}
