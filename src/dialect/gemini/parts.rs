//! Gemini `parts` to and from IR blocks, shared by requests, answers and streams (reference:
//! dialects.md §1.D, §3.4, §5.7).

use crate::dialect::ir::{Block, Extras, Media, ToolCall};
use serde_json::{json, Map, Value};

/// The extras key that carries a part's `thoughtSignature`, to be put back on the same part.
pub const SIGNATURE: &str = "thoughtSignature";

/// The extras key of a tool call that carries `functionCall.id` exactly as Gemini sent it
/// (named by its path: other dialects have an `id` of their own). Only ids Gemini gave are sent
/// back to Gemini: some Gemini endpoints refuse ids they did not issue (`Unknown name "id"
/// at 'contents[1].parts[0].function_call'`).
pub const WIRE_ID: &str = "functionCall.id";

/// The extras key of a `fileData` image or file that keeps its `mimeType` (a URL has none).
pub const MIME_TYPE: &str = "mimeType";

/// A tool-call id may carry a Gemini thought signature as `<id>__thought__<signature>`
/// (reference §3.4 rule 5) when a client dialect has nowhere else to keep it.
pub const THOUGHT_SIGNATURE_SEPARATOR: &str = "__thought__";

/// `id` with `signature` appended, for a client dialect that can only keep the id.
///
/// The signature goes in base64's URL alphabet without padding: an Anthropic client's ids must
/// match `^[a-zA-Z0-9_-]+$`, and its codec would otherwise rewrite `+`, `/` and `=` and hand
/// Gemini a corrupted signature on the next turn. `id_signature` restores it.
pub fn call_id_with_signature(id: &str, signature: &str) -> String {
    let safe: String = signature
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    format!("{id}{THOUGHT_SIGNATURE_SEPARATOR}{safe}")
}

/// Splits a tool-call id into the id proper and the thought signature it carries, if any, as
/// the id spells it.
pub fn split_call_id(id: &str) -> (&str, Option<&str>) {
    match id.split_once(THOUGHT_SIGNATURE_SEPARATOR) {
        Some((id, sig)) if !sig.is_empty() => (id, Some(sig)),
        _ => (id, None),
    }
}

/// The thought signature a tool-call id carries, in the standard base64 Gemini issued it in.
/// Standard base64 has no `-` or `_`, so a signature appended by other means than
/// [`call_id_with_signature`] comes back unchanged.
pub(crate) fn id_signature(id: &str) -> Option<String> {
    let mut sig: String = split_call_id(id)
        .1?
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while sig.len() % 4 != 0 {
        sig.push('=');
    }
    Some(sig)
}

/// An id for a call Gemini sent without one (reference §3.4 rules 2 and 3): the same call in
/// the same place always gets the same id, so a result sent back later finds it.
pub(crate) fn synthesized_id(turn: &str, call: usize) -> String {
    format!("call_{turn}_{call}")
}

/// Whether `id` has the shape [`synthesized_id`] gives: such an id is ours, not the
/// provider's, and is not shown to Gemini as if Gemini had issued it.
pub(crate) fn is_synthesized(id: &str) -> bool {
    let Some((turn, call)) = id
        .strip_prefix("call_")
        .and_then(|rest| rest.rsplit_once('_'))
    else {
        return false;
    };
    !turn.is_empty()
        && turn.bytes().all(|b| b.is_ascii_alphanumeric())
        && !call.is_empty()
        && call.bytes().all(|b| b.is_ascii_digit())
}

/// The part of an answer's `responseId` usable inside a synthesized id: ids travel to clients
/// (Anthropic's must match `^[a-zA-Z0-9_-]+$`), so only letters and digits are kept.
pub(crate) fn id_key(response_id: &str) -> String {
    let key: String = response_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    if key.is_empty() {
        "0".to_string()
    } else {
        key
    }
}

/// One part as read from the wire.
#[derive(Debug, PartialEq)]
pub(crate) enum Part<'a> {
    Text {
        text: &'a str,
        thought: bool,
        signature: Option<&'a str>,
    },
    Media(Block),
    Call {
        id: Option<&'a str>,
        name: &'a str,
        args: &'a Value,
        signature: Option<&'a str>,
    },
    Response {
        id: Option<&'a str>,
        name: &'a str,
        response: &'a Value,
        /// Media the tool returned alongside (multimodal function responses).
        parts: &'a [Value],
    },
    /// Code execution parts: the output of Gemini's built-in tool, which no other dialect has;
    /// they are dropped.
    Unsupported,
}

/// Reads one part. Clients may spell fields in snake_case, which Google's JSON parser accepts.
pub(crate) fn read_part(part: &Value) -> Result<Part<'_>, &'static str> {
    let obj = part.as_object().ok_or("each part must be an object")?;
    let (mut text, mut thought, mut signature) = (None, false, None);
    let (mut inline, mut file, mut call, mut response, mut unsupported) =
        (None, None, None, None, false);
    for (key, v) in obj {
        match key.as_str() {
            "text" => text = Some(v.as_str().ok_or("part.text must be a string")?),
            "thought" => thought = v.as_bool().ok_or("part.thought must be a boolean")?,
            "thoughtSignature" | "thought_signature" => {
                signature = Some(v.as_str().ok_or("thoughtSignature must be a string")?)
            }
            "inlineData" | "inline_data" => inline = Some(v),
            "fileData" | "file_data" => file = Some(v),
            "functionCall" | "function_call" => call = Some(v),
            "functionResponse" | "function_response" => response = Some(v),
            "executableCode"
            | "executable_code"
            | "codeExecutionResult"
            | "code_execution_result" => unsupported = true,
            // videoMetadata, partMetadata, mediaResolution: hints the IR has no place for.
            _ => {}
        }
    }
    if let Some(c) = call {
        let name = non_empty(c, "name").ok_or("function_call.name: Name cannot be empty.")?;
        let args = field(c, "args").unwrap_or(&Value::Null);
        if !(args.is_object() || args.is_null()) {
            return Err("function_call.args must be an object");
        }
        return Ok(Part::Call {
            id: non_empty(c, "id"),
            name,
            args,
            signature,
        });
    }
    if let Some(r) = response {
        let name = non_empty(r, "name").ok_or("function_response.name: Name cannot be empty.")?;
        let parts = match field(r, "parts") {
            Some(Value::Array(parts)) => parts.as_slice(),
            _ => &[],
        };
        return Ok(Part::Response {
            id: non_empty(r, "id"),
            name,
            response: field(r, "response").unwrap_or(&Value::Null),
            parts,
        });
    }
    if let Some(d) = inline {
        let mime = non_empty(d, "mimeType").ok_or("inlineData needs a mimeType")?;
        let data = field(d, "data")
            .and_then(Value::as_str)
            .ok_or("inlineData needs data")?;
        let source = Media::Base64 {
            mime: mime.to_string(),
            data: data.to_string(),
        };
        return Ok(Part::Media(media_block(source, mime, Extras::new())));
    }
    if let Some(f) = file {
        let uri = non_empty(f, "fileUri").ok_or("fileData needs a fileUri")?;
        let mime = non_empty(f, "mimeType").unwrap_or("");
        let mut extras = Extras::new();
        if !mime.is_empty() {
            extras.insert(MIME_TYPE.into(), json!(mime));
        }
        return Ok(Part::Media(media_block(
            Media::Url(uri.to_string()),
            mime,
            extras,
        )));
    }
    if let Some(text) = text {
        return Ok(Part::Text {
            text,
            thought,
            signature,
        });
    }
    if unsupported {
        return Ok(Part::Unsupported);
    }
    // Gemini puts a signature alone on an otherwise empty part near the end of a turn.
    if signature.is_some() {
        return Ok(Part::Text {
            text: "",
            thought,
            signature,
        });
    }
    Err("required oneof field 'data' must have one initialized field")
}

fn media_block(source: Media, mime: &str, extras: Extras) -> Block {
    if mime.starts_with("image/") {
        Block::Image { source, extras }
    } else {
        Block::File {
            source,
            name: None,
            extras,
        }
    }
}

/// `obj[camel]`, or its snake_case spelling.
pub(crate) fn field<'a>(obj: &'a Value, camel: &str) -> Option<&'a Value> {
    let map = obj.as_object()?;
    if let Some(v) = map.get(camel) {
        return Some(v);
    }
    if !camel.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut snake = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            snake.push('_');
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    map.get(&snake)
}

fn non_empty<'a>(obj: &'a Value, camel: &str) -> Option<&'a str> {
    field(obj, camel)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn signature_extras(signature: Option<&str>) -> Extras {
    let mut extras = Extras::new();
    if let Some(s) = signature {
        extras.insert(SIGNATURE.into(), json!(s));
    }
    extras
}

/// A text part as a block; `None` for an empty text that carries nothing.
pub(crate) fn text_block(text: &str, thought: bool, signature: Option<&str>) -> Option<Block> {
    if text.is_empty() && signature.is_none() {
        return None;
    }
    let extras = signature_extras(signature);
    Some(if thought {
        Block::Thinking {
            text: text.to_string(),
            signature: None,
            extras,
        }
    } else {
        Block::Text {
            text: text.to_string(),
            extras,
        }
    })
}

/// A `functionCall` as a tool call; `synth` gives the id when Gemini sent none.
pub(crate) fn tool_call(
    id: Option<&str>,
    name: &str,
    args: &Value,
    signature: Option<&str>,
    synth: impl FnOnce() -> String,
) -> ToolCall {
    let mut extras = signature_extras(signature);
    let id = match id {
        Some(id) => {
            extras.insert(WIRE_ID.into(), json!(id));
            id.to_string()
        }
        None => synth(),
    };
    let arguments = if args.is_null() {
        "{}".to_string()
    } else {
        args.to_string()
    };
    ToolCall {
        id,
        name: name.to_string(),
        arguments,
        extras,
    }
}

/// Adds `thoughtSignature` to a part when `extras` carries one.
fn with_signature(mut part: Map<String, Value>, signature: Option<&str>) -> Value {
    if let Some(s) = signature {
        part.insert(SIGNATURE.into(), json!(s));
    }
    Value::Object(part)
}

fn extras_signature(extras: &Extras) -> Option<&str> {
    extras.get(SIGNATURE).and_then(Value::as_str)
}

/// A text part, or `None` for an empty text with no signature to carry.
pub(crate) fn text_part(text: &str, thought: bool, extras: &Extras) -> Option<Value> {
    let signature = extras_signature(extras);
    if text.is_empty() && signature.is_none() {
        return None;
    }
    let mut part = Map::new();
    part.insert("text".into(), json!(text));
    if thought {
        part.insert("thought".into(), json!(true));
    }
    Some(with_signature(part, signature))
}

/// A `functionCall` part. `id` is the id to show Gemini, if any; the signature comes from the
/// call's extras, or else from its id (§3.4 rule 5).
pub(crate) fn call_part(call: &ToolCall, id: Option<&str>, args: Value) -> Value {
    let mut fc = Map::new();
    if let Some(id) = id {
        fc.insert("id".into(), json!(id));
    }
    fc.insert("name".into(), json!(call.name));
    fc.insert("args".into(), args);
    let mut part = Map::new();
    part.insert("functionCall".into(), Value::Object(fc));
    let signature = extras_signature(&call.extras)
        .map(str::to_string)
        .or_else(|| id_signature(&call.id));
    with_signature(part, signature.as_deref())
}

/// An image or file as `inlineData` or `fileData`.
pub(crate) fn media_part(source: &Media, extras: &Extras, image: bool) -> Value {
    match source {
        Media::Base64 { mime, data } => {
            json!({"inlineData": {"mimeType": mime, "data": data}})
        }
        Media::Url(uri) => {
            let mime = extras
                .get(MIME_TYPE)
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| mime_from_uri(uri, image).to_string());
            json!({"fileData": {"mimeType": mime, "fileUri": uri}})
        }
    }
}

/// Whether Gemini can take this image or file as `fileData` by its URL: Gemini fetches its own
/// Files API URIs, Cloud Storage objects and YouTube videos, not arbitrary web URLs (reference
/// §6 T6: "URL must be fetched for D upstream"). A Gemini client's own `fileData` (it has a
/// `mimeType`) means what it says to Gemini.
pub fn takes_media_url(url: &str, extras: &Extras) -> bool {
    if extras.contains_key(MIME_TYPE) {
        return true;
    }
    let lower = url.to_ascii_lowercase();
    let Some(rest) = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
    else {
        return lower.starts_with("gs://");
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let host = host_port.split(':').next().unwrap_or("");
    matches!(
        host,
        "generativelanguage.googleapis.com"
            | "youtube.com"
            | "www.youtube.com"
            | "m.youtube.com"
            | "youtu.be"
    )
}

/// Gemini wants a `mimeType` with every `fileData`; a URL from another dialect has none, so it
/// is read from the extension, with a default per kind.
fn mime_from_uri(uri: &str, image: bool) -> &'static str {
    let path = uri.split(['?', '#']).next().unwrap_or(uri);
    let ext = path
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "heic" => "image/heic",
        "pdf" => "application/pdf",
        "mp3" => "audio/mp3",
        "wav" => "audio/wav",
        "mp4" => "video/mp4",
        "txt" => "text/plain",
        _ if image => "image/jpeg",
        _ => "application/pdf",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn gemini_fetches_its_own_uris_and_youtube_not_the_web() {
        let none = Extras::new();
        for own in [
            "https://generativelanguage.googleapis.com/v1beta/files/abc-123",
            "gs://bucket/cat.jpg",
            "https://www.youtube.com/watch?v=9hE5-98ZeCg",
            "https://youtu.be/9hE5-98ZeCg",
        ] {
            assert!(takes_media_url(own, &none), "{own}");
        }
        for web in [
            "https://example.com/photos/cat.jpg",
            "http://images.test:8080/a.png",
            "HTTPS://upload.wikimedia.org/x.jpg",
            "ftp://files.test/cat.jpg",
            // Userinfo naming Google does not make the host Google's.
            "https://generativelanguage.googleapis.com@evil.test/x.png",
        ] {
            assert!(!takes_media_url(web, &none), "{web}");
        }
        let mut from_gemini = Extras::new();
        from_gemini.insert(MIME_TYPE.into(), json!("image/jpeg"));
        assert!(takes_media_url("https://example.com/cat.jpg", &from_gemini));
    }

    #[test]
    fn synthesized_ids_are_recognised_and_foreign_ones_are_not() {
        assert!(is_synthesized(&synthesized_id("3", 0)));
        assert!(is_synthesized("call_aGVsbG8_12"));
        for foreign in [
            "call_abc123XYZ",
            "toolu_01A",
            "functions.Bash:0",
            "call__1",
            "call_a_",
            "call_a-b_1",
        ] {
            assert!(!is_synthesized(foreign), "{foreign}");
        }
        assert_eq!(id_key("8fQf-aMn/BY="), "8fQfaMnBY");
        assert_eq!(id_key("--"), "0");
    }

    #[test]
    fn signatures_ride_on_ids_and_come_off_again() {
        let id = call_id_with_signature("call_1", "c2ln");
        assert_eq!(id, "call_1__thought__c2ln");
        assert_eq!(split_call_id(&id), ("call_1", Some("c2ln")));
        assert_eq!(id_signature(&id).as_deref(), Some("c2ln"));
        assert_eq!(split_call_id("call_1"), ("call_1", None));
        assert_eq!(id_signature("call_1"), None);
        // Every byte of a real signature survives an id alphabet without `+`, `/` or `=`.
        let sig = "Cv8+Ab/9zz==";
        let id = call_id_with_signature("call_1", sig);
        assert_eq!(id, "call_1__thought__Cv8-Ab_9zz");
        assert!(id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'));
        assert_eq!(id_signature(&id).as_deref(), Some(sig));
        // A signature some other proxy appended as it was, standard base64, is kept as it is.
        assert_eq!(
            id_signature("call_1__thought__Cv8+Ab/9zz==").as_deref(),
            Some(sig)
        );
        assert_eq!(
            split_call_id("call_1__thought__"),
            ("call_1__thought__", None)
        );
    }

    #[test]
    fn parts_are_read_in_either_spelling() {
        let p = json!({"function_call": {"name": "f", "args": {"a": 1}}, "thought_signature": "s"});
        assert_eq!(
            read_part(&p).unwrap(),
            Part::Call {
                id: None,
                name: "f",
                args: &json!({"a": 1}),
                signature: Some("s")
            }
        );
        let p = json!({"inline_data": {"mime_type": "application/pdf", "data": "JVBE"}});
        assert_eq!(
            read_part(&p).unwrap(),
            Part::Media(Block::File {
                source: Media::Base64 {
                    mime: "application/pdf".into(),
                    data: "JVBE".into()
                },
                name: None,
                extras: Extras::new()
            })
        );
        assert_eq!(
            read_part(&json!({"thoughtSignature": "s"})).unwrap(),
            Part::Text {
                text: "",
                thought: false,
                signature: Some("s")
            }
        );
        assert_eq!(
            read_part(&json!({"executableCode": {"code": "1"}})).unwrap(),
            Part::Unsupported
        );
        for bad in [
            json!({}),
            json!("text"),
            json!({"text": 1}),
            json!({"functionCall": {"args": {}}}),
            json!({"functionCall": {"name": "f", "args": [1]}}),
            json!({"functionResponse": {"response": {}}}),
            json!({"inlineData": {"data": "x"}}),
            json!({"fileData": {"mimeType": "image/png"}}),
        ] {
            assert!(read_part(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn url_media_always_gets_a_mime_type() {
        let e = Extras::new();
        assert_eq!(
            media_part(&Media::Url("https://x.test/a.PNG?x=1".into()), &e, true),
            json!({"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/a.PNG?x=1"}})
        );
        assert_eq!(
            media_part(&Media::Url("gs://b/o".into()), &e, true)["fileData"]["mimeType"],
            "image/jpeg"
        );
        let mut e = Extras::new();
        e.insert(MIME_TYPE.into(), json!("video/mp4"));
        assert_eq!(
            media_part(&Media::Url("https://youtu.be/x".into()), &e, false)["fileData"]["mimeType"],
            "video/mp4"
        );
    }
}
