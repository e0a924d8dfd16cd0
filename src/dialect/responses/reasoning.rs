//! Reasoning items to and from thinking blocks (reference: dialects.md §1.B, §5.5, T9).
//!
//! A reasoning item's readable part is its `summary` (or raw `content`); its `encrypted_content`
//! is an OpenAI blob that only OpenAI can read. The blob rides in the block's
//! `extras.encrypted_content`, so it goes back to a Responses provider and nowhere else.
//!
//! The other way round, a Codex client keeps only what a reasoning item holds, but a provider
//! of another dialect needs its own proof back on the next turn (Anthropic refuses a tool loop
//! whose thinking blocks lost their `signature`). So an Anthropic signature, or redacted
//! thinking, is handed to the client *as* `encrypted_content`, marked with a prefix of ours,
//! and read back into the signature or the redacted block it was. The client treats the value
//! as opaque; only this codec ever looks inside.

use crate::dialect::ir::{Block, Extras};
use serde_json::{json, Value};

/// Marks an `encrypted_content` that is another provider's thinking signature.
pub(crate) const SIGNATURE_TAG: &str = "tollgate.signature:";
/// Marks an `encrypted_content` that is another provider's redacted thinking.
pub(crate) const REDACTED_TAG: &str = "tollgate.redacted:";

/// The readable text of a reasoning item: its summary parts, or else its raw content, joined
/// by blank lines.
pub(crate) fn reasoning_text(item: &Value) -> String {
    let texts = |key: &str| -> Vec<&str> {
        item[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["text"].as_str())
            .filter(|t| !t.is_empty())
            .collect()
    };
    let summary = texts("summary");
    if summary.is_empty() {
        texts("content").join("\n\n")
    } else {
        summary.join("\n\n")
    }
}

/// A reasoning item as a block; `None` when it holds nothing at all.
pub(crate) fn decode_reasoning(item: &Value) -> Option<Block> {
    let text = reasoning_text(item);
    let encrypted = item["encrypted_content"].as_str().filter(|s| !s.is_empty());
    if let Some(data) = encrypted.and_then(|e| e.strip_prefix(REDACTED_TAG)) {
        return Some(Block::RedactedThinking {
            data: data.to_string(),
        });
    }
    let mut extras = Extras::new();
    let signature = match encrypted {
        Some(e) => match e.strip_prefix(SIGNATURE_TAG) {
            Some(sig) => Some(sig.to_string()),
            None => {
                extras.insert("encrypted_content".into(), json!(e));
                None
            }
        },
        None if text.is_empty() => return None,
        None => None,
    };
    Some(Block::Thinking {
        text,
        signature,
        extras,
    })
}

/// The `summary` array for a reasoning text: one part, or none when there is no text.
pub(crate) fn summary(text: &str) -> Value {
    if text.is_empty() {
        json!([])
    } else {
        json!([{"type": "summary_text", "text": text}])
    }
}

/// A finished reasoning item for a Responses client.
pub(crate) fn output_item(id: &str, text: &str, signature: Option<&str>, extras: &Extras) -> Value {
    let mut item = json!({"id": id, "type": "reasoning", "summary": summary(text)});
    let encrypted = match extras.get("encrypted_content").and_then(Value::as_str) {
        Some(blob) => Some(blob.to_string()),
        None => signature.map(|s| format!("{SIGNATURE_TAG}{s}")),
    };
    if let Some(e) = encrypted {
        item["encrypted_content"] = json!(e);
    }
    item
}

/// Redacted thinking, as a reasoning item for a Responses client.
pub(crate) fn redacted_item(id: &str, data: &str) -> Value {
    json!({"id": id, "type": "reasoning", "summary": [],
        "encrypted_content": format!("{REDACTED_TAG}{data}")})
}

/// A thinking block as history for a Responses provider: only a block that carries OpenAI's
/// own blob can go back (the provider cannot check another's signature, and with `store`
/// off it keeps nothing to refer to); every other thinking block is dropped.
pub(crate) fn input_item(block: &Block) -> Option<Value> {
    let Block::Thinking { text, extras, .. } = block else {
        return None;
    };
    let blob = extras.get("encrypted_content")?.as_str()?;
    Some(json!({"type": "reasoning", "summary": summary(text), "encrypted_content": blob}))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn openai_blobs_stay_in_extras_and_our_marks_come_back_as_what_they_were() {
        let item = json!({"type":"reasoning","id":"rs_1",
            "summary":[{"type":"summary_text","text":"Plan."},{"type":"summary_text","text":"Act."}],
            "encrypted_content":"gAAAA"});
        let block = decode_reasoning(&item).unwrap();
        assert_eq!(
            block,
            Block::Thinking {
                text: "Plan.\n\nAct.".into(),
                signature: None,
                extras: [("encrypted_content".to_string(), json!("gAAAA"))]
                    .into_iter()
                    .collect(),
            }
        );
        assert_eq!(
            input_item(&block),
            Some(
                json!({"type":"reasoning","summary":[{"type":"summary_text","text":"Plan.\n\nAct."}],
                "encrypted_content":"gAAAA"})
            )
        );

        let signed = output_item("rs_2", "Hmm.", Some("sig=="), &Extras::new());
        assert_eq!(
            signed["encrypted_content"],
            json!("tollgate.signature:sig==")
        );
        assert_eq!(
            decode_reasoning(&signed),
            Some(Block::Thinking {
                text: "Hmm.".into(),
                signature: Some("sig==".into()),
                extras: Extras::new()
            })
        );
        // Another provider's proof is never sent to OpenAI.
        assert_eq!(input_item(&decode_reasoning(&signed).unwrap()), None);

        let redacted = redacted_item("rs_3", "opaque");
        assert_eq!(
            decode_reasoning(&redacted),
            Some(Block::RedactedThinking {
                data: "opaque".into()
            })
        );
        assert_eq!(
            decode_reasoning(&json!({"type":"reasoning","summary":[]})),
            None
        );
        assert_eq!(
            reasoning_text(&json!({"content":[{"type":"reasoning_text","text":"raw"}]})),
            "raw"
        );
    }
}
