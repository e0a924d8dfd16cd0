//! Anthropic content blocks to and from IR blocks (reference: dialects.md §1.C, §3.4, §5.9).
//!
//! Marks only Anthropic understands (`cache_control`, a document's `context`, a text's
//! `citations`) ride in the block's `extras` under their wire names, and are written again when
//! the block goes out to Anthropic.

use super::media;
use crate::dialect::ir::{Block, Extras, Media, ToolCall, ToolResult, ENCRYPTED_REASONING_TAG};
use crate::dialect::InvalidRequest;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::HashMap;

pub(super) const CACHE_CONTROL: &str = "cache_control";

/// Tool names by call id, gathered from the `tool_use` blocks seen so far, so that a
/// `tool_result` (which carries only the id) can name its tool for Gemini.
pub(super) type CallNames = HashMap<String, String>;

/// Server-side tool blocks Anthropic runs itself: no other dialect can replay them, and the IR
/// has no place for them, so they are left out of a decoded conversation.
fn is_server_tool_block(ty: &str) -> bool {
    matches!(ty, "server_tool_use" | "mcp_tool_use" | "container_upload")
        || (ty.ends_with("_tool_result") && ty != "tool_result")
}

/// The members of `block` named in `keys`, as extras.
fn extras_of(block: &Map<String, Value>, keys: &[&str]) -> Extras {
    keys.iter()
        .filter_map(|k| block.get(*k).map(|v| (k.to_string(), v.clone())))
        .filter(|(_, v)| !v.is_null())
        .collect()
}

/// Writes the extras named in `keys` back onto an outgoing block.
fn put_extras(out: &mut Value, extras: &Extras, keys: &[&str]) {
    for k in keys {
        if let Some(v) = extras.get(*k) {
            out[*k] = v.clone();
        }
    }
}

fn str_field<'a>(
    block: &'a Map<String, Value>,
    key: &str,
    missing: &'static str,
) -> Result<&'a str, InvalidRequest> {
    block
        .get(key)
        .and_then(Value::as_str)
        .ok_or(InvalidRequest(missing))
}

/// An `image` or `document` source.
fn source(block: &Map<String, Value>) -> Result<Media, InvalidRequest> {
    let src = block
        .get("source")
        .and_then(Value::as_object)
        .ok_or(InvalidRequest("an image or document block needs a source"))?;
    match src.get("type").and_then(Value::as_str) {
        Some("base64") => Ok(Media::Base64 {
            mime: str_field(src, "media_type", "a base64 source needs media_type")?.to_string(),
            data: str_field(src, "data", "a base64 source needs data")?.to_string(),
        }),
        Some("url") => Ok(Media::Url(
            str_field(src, "url", "a url source needs url")?.to_string(),
        )),
        Some("text") => Ok(Media::Base64 {
            mime: "text/plain".to_string(),
            data: media::encode(str_field(src, "data", "a text source needs data")?.as_bytes()),
        }),
        _ => Err(InvalidRequest(
            "only base64, url and text sources are supported",
        )),
    }
}

/// Decodes one content block; `Ok(None)` for blocks left out by rule (empty texts, server-tool
/// blocks).
pub(super) fn decode_block(
    v: &Value,
    names: &mut CallNames,
) -> Result<Option<Block>, InvalidRequest> {
    let block = v
        .as_object()
        .ok_or(InvalidRequest("a content block must be an object"))?;
    let ty = str_field(block, "type", "a content block needs a type")?;
    let out = match ty {
        "text" => {
            let text = str_field(block, "text", "a text block needs text")?;
            // Anthropic refuses empty text blocks, and no dialect needs one.
            if text.is_empty() {
                return Ok(None);
            }
            Block::Text {
                text: text.to_string(),
                extras: extras_of(block, &[CACHE_CONTROL, "citations"]),
            }
        }
        "image" => Block::Image {
            source: source(block)?,
            extras: extras_of(block, &[CACHE_CONTROL]),
        },
        "document" => Block::File {
            source: source(block)?,
            name: block
                .get("title")
                .and_then(Value::as_str)
                .map(str::to_string),
            extras: extras_of(block, &[CACHE_CONTROL, "context", "citations"]),
        },
        "thinking" => {
            let text = str_field(block, "thinking", "a thinking block needs thinking")?;
            let signature = block
                .get("signature")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty());
            if text.is_empty() && signature.is_none() {
                return Ok(None);
            }
            // An OpenAI reasoning blob this gateway handed out as a signature goes back into
            // the block's extras, for a Responses provider to replay; Anthropic never sees it.
            let mut extras = Extras::new();
            let signature = match signature.map(|s| s.strip_prefix(ENCRYPTED_REASONING_TAG)) {
                Some(Some(blob)) => {
                    extras.insert("encrypted_content".into(), Value::from(blob));
                    None
                }
                _ => signature,
            };
            Block::Thinking {
                text: text.to_string(),
                signature: signature.map(str::to_string),
                extras,
            }
        }
        "redacted_thinking" => Block::RedactedThinking {
            data: str_field(block, "data", "a redacted_thinking block needs data")?.to_string(),
        },
        "tool_use" => {
            let id = str_field(block, "id", "a tool_use block needs an id")?;
            let name = str_field(block, "name", "a tool_use block needs a name")?;
            let input = match block.get("input") {
                Some(i @ Value::Object(_)) => i.to_string(),
                None | Some(Value::Null) => "{}".to_string(),
                Some(_) => return Err(InvalidRequest("a tool_use input must be an object")),
            };
            names.insert(id.to_string(), name.to_string());
            Block::ToolCall(ToolCall {
                id: id.to_string(),
                name: name.to_string(),
                arguments: input,
                extras: extras_of(block, &[CACHE_CONTROL]),
            })
        }
        "tool_result" => {
            let id = str_field(
                block,
                "tool_use_id",
                "a tool_result block needs tool_use_id",
            )?;
            let mut content = match block.get("content") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::String(s)) if s.is_empty() => Vec::new(),
                Some(Value::String(s)) => vec![Block::text(s.clone())],
                Some(Value::Array(parts)) => {
                    let mut out = Vec::with_capacity(parts.len());
                    for p in parts {
                        match decode_block(p, names)? {
                            Some(
                                b @ (Block::Text { .. } | Block::Image { .. } | Block::File { .. }),
                            ) => out.push(b),
                            Some(_) => {
                                return Err(InvalidRequest(
                                    "a tool_result holds only text, image and document blocks",
                                ))
                            }
                            None => {}
                        }
                    }
                    out
                }
                Some(_) => {
                    return Err(InvalidRequest(
                        "a tool_result content must be a string or an array of blocks",
                    ))
                }
            };
            // The IR's results have no extras: a cache mark on the result moves to its last
            // block, which ends the cached prefix at the same place.
            if let (
                Some(mark),
                Some(
                    Block::Text { extras, .. }
                    | Block::Image { extras, .. }
                    | Block::File { extras, .. },
                ),
            ) = (block.get(CACHE_CONTROL), content.last_mut())
            {
                extras.entry(CACHE_CONTROL).or_insert_with(|| mark.clone());
            }
            Block::ToolResult(ToolResult {
                call_id: id.to_string(),
                name: names.get(id).cloned(),
                content,
                is_error: block.get("is_error").and_then(Value::as_bool) == Some(true),
            })
        }
        t if is_server_tool_block(t) => return Ok(None),
        _ => return Err(InvalidRequest("unsupported content block type")),
    };
    Ok(Some(out))
}

/// A tool-use id Anthropic accepts (`^[a-zA-Z0-9_-]+$`). The same function runs on ids in
/// requests and in answers, so a rewritten id still matches its result on the next turn.
pub(super) fn tool_id(id: &str) -> Cow<'_, str> {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    if id.is_empty() {
        Cow::Borrowed("toolu_")
    } else if id.chars().all(ok) {
        Cow::Borrowed(id)
    } else {
        Cow::Owned(id.chars().map(|c| if ok(c) { c } else { '_' }).collect())
    }
}

/// Image media types Anthropic accepts.
fn image_type_ok(mime: &str) -> bool {
    matches!(
        mime,
        "image/jpeg" | "image/png" | "image/gif" | "image/webp"
    )
}

fn image(source: &Media) -> Option<Value> {
    match source {
        Media::Base64 { mime, data } if image_type_ok(mime) => Some(
            json!({"type": "image", "source": {"type": "base64", "media_type": mime, "data": data}}),
        ),
        Media::Url(url) => Some(json!({"type": "image", "source": {"type": "url", "url": url}})),
        // Anthropic refuses other image types outright; the request must still go through.
        Media::Base64 { .. } => None,
    }
}

fn document(source: &Media, name: &Option<String>) -> Option<Value> {
    let src = match source {
        Media::Base64 { mime, data } if mime == "application/pdf" => {
            json!({"type": "base64", "media_type": mime, "data": data})
        }
        Media::Base64 { mime, data } if mime == "text/plain" => {
            let text = String::from_utf8(media::decode(data)?).ok()?;
            json!({"type": "text", "media_type": "text/plain", "data": text})
        }
        Media::Url(url) => json!({"type": "url", "url": url}),
        // Anthropic reads PDFs and plain text only; any other file is left out.
        Media::Base64 { .. } => return None,
    };
    let mut doc = json!({"type": "document", "source": src});
    if let Some(title) = name {
        doc["title"] = json!(title);
    }
    Some(doc)
}

/// Tool arguments as the object Anthropic wants in history. Arguments that are not a JSON
/// object are kept for the model to see under `raw_input` rather than lost.
pub(super) fn history_input(arguments: &str) -> Value {
    if arguments.trim().is_empty() {
        return json!({});
    }
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({"raw_input": arguments}),
    }
}

/// The result's content: a string when it is one plain text, blocks otherwise, nothing when
/// empty.
fn result_content(content: &[Block]) -> Option<Value> {
    if let [Block::Text { text, extras }] = content {
        if extras.is_empty() {
            return Some(json!(text));
        }
    }
    let blocks: Vec<Value> = content
        .iter()
        .filter(|b| {
            matches!(
                b,
                Block::Text { .. } | Block::Image { .. } | Block::File { .. }
            )
        })
        .filter_map(encode_block)
        .collect();
    (!blocks.is_empty()).then_some(Value::Array(blocks))
}

/// Encodes one block for a request; `None` for what Anthropic would refuse: empty text,
/// thinking without a signature (another vendor's reasoning cannot be verified), unsupported
/// media.
pub(super) fn encode_block(block: &Block) -> Option<Value> {
    let out = match block {
        Block::Text { text, .. } if text.is_empty() => return None,
        Block::Text { text, extras } => {
            let mut t = json!({"type": "text", "text": text});
            put_extras(&mut t, extras, &[CACHE_CONTROL, "citations"]);
            t
        }
        Block::Image { source, extras } => {
            let mut i = image(source)?;
            put_extras(&mut i, extras, &[CACHE_CONTROL]);
            i
        }
        Block::File {
            source,
            name,
            extras,
        } => {
            let mut d = document(source, name)?;
            put_extras(&mut d, extras, &[CACHE_CONTROL, "context", "citations"]);
            d
        }
        Block::Thinking {
            text,
            signature: Some(sig),
            ..
        } if !sig.is_empty() => json!({"type": "thinking", "thinking": text, "signature": sig}),
        Block::Thinking { .. } => return None,
        Block::RedactedThinking { data } => json!({"type": "redacted_thinking", "data": data}),
        Block::ToolCall(c) => {
            let mut t = json!({"type": "tool_use", "id": tool_id(&c.id), "name": c.name,
                "input": history_input(&c.arguments)});
            put_extras(&mut t, &c.extras, &[CACHE_CONTROL]);
            t
        }
        Block::ToolResult(r) => {
            let mut t = json!({"type": "tool_result", "tool_use_id": tool_id(&r.call_id)});
            if let Some(content) = result_content(&r.content) {
                t["content"] = content;
            }
            if r.is_error {
                t["is_error"] = json!(true);
            }
            t
        }
    };
    Some(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn one(v: Value) -> Option<Block> {
        decode_block(&v, &mut CallNames::new()).unwrap()
    }

    #[test]
    fn cache_marks_ride_in_extras_and_come_back() {
        let v = json!({"type":"text","text":"say hi","cache_control":{"type":"ephemeral"}});
        let b = one(v.clone()).unwrap();
        let Block::Text { extras, .. } = &b else {
            panic!("{b:?}")
        };
        assert_eq!(extras[CACHE_CONTROL], json!({"type":"ephemeral"}));
        assert_eq!(encode_block(&b).unwrap(), v);
    }

    #[test]
    fn images_and_documents_round_trip() {
        for v in [
            json!({"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBO"}}),
            json!({"type":"image","source":{"type":"url","url":"https://x.test/a.jpg"}}),
            json!({"type":"document","source":{"type":"base64","media_type":"application/pdf","data":"JVBE"},"title":"a.pdf"}),
            json!({"type":"document","source":{"type":"text","media_type":"text/plain","data":"plain words"}}),
        ] {
            assert_eq!(encode_block(&one(v.clone()).unwrap()).unwrap(), v);
        }
        let bmp = Block::Image {
            source: Media::Base64 {
                mime: "image/bmp".into(),
                data: "Qk0=".into(),
            },
            extras: Extras::new(),
        };
        assert_eq!(encode_block(&bmp), None, "Anthropic refuses bmp");
    }

    #[test]
    fn a_result_names_its_tool_and_keeps_its_cache_mark_on_its_last_block() {
        let mut names = CallNames::new();
        decode_block(
            &json!({"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"location":"Paris"}}),
            &mut names,
        )
        .unwrap();
        let r = decode_block(
            &json!({"type":"tool_result","tool_use_id":"toolu_1","is_error":true,
                "content":[{"type":"text","text":"boom"}],"cache_control":{"type":"ephemeral"}}),
            &mut names,
        )
        .unwrap()
        .unwrap();
        let Block::ToolResult(result) = &r else {
            panic!("{r:?}")
        };
        assert_eq!(result.name.as_deref(), Some("get_weather"));
        assert!(result.is_error);
        assert_eq!(
            encode_block(&r).unwrap(),
            json!({"type":"tool_result","tool_use_id":"toolu_1","content":[
                {"type":"text","text":"boom","cache_control":{"type":"ephemeral"}}],"is_error":true})
        );
    }

    #[test]
    fn what_anthropic_refuses_is_left_out() {
        assert_eq!(one(json!({"type":"text","text":""})), None);
        assert_eq!(
            one(json!({"type":"web_search_tool_result","tool_use_id":"s","content":[]})),
            None
        );
        let unsigned = Block::Thinking {
            text: "hmm".into(),
            signature: None,
            extras: Extras::new(),
        };
        assert_eq!(encode_block(&unsigned), None);
        assert!(decode_block(&json!({"type":"hologram"}), &mut CallNames::new()).is_err());
        assert!(decode_block(
            &json!({"type":"tool_use","id":"t","name":"n","input":[1]}),
            &mut CallNames::new()
        )
        .is_err());
    }

    #[test]
    fn ids_are_made_acceptable_the_same_way_every_time() {
        assert_eq!(tool_id("toolu_01A-b"), "toolu_01A-b");
        assert_eq!(tool_id("functions.Bash:0"), "functions_Bash_0");
        assert_eq!(history_input(""), json!({}));
        assert_eq!(history_input("{\"a\":1}"), json!({"a":1}));
        assert_eq!(history_input("{\"a\":"), json!({"raw_input":"{\"a\":"}));
    }
}
