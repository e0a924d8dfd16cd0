//! Usage beyond plain input and output: prompt-cache reads and writes and reasoning tokens,
//! added to whatever usage an answer carries, where and how each dialect reports them
//! (reference: dialects.md §3.3).
//!
//! OpenAI Chat and Responses count cached tokens inside the prompt total and reasoning inside
//! the output total, with `*_details` naming the parts. Anthropic's `input_tokens` leaves the
//! cache out (its reads and writes have fields of their own), and its thinking is part of
//! `output_tokens` with no field of its own. Gemini counts its cache inside `promptTokenCount`
//! and its thoughts apart from `candidatesTokenCount`; it reports no cache writes.

use serde_json::{json, Value};

/// Tokens to add to an answer's usage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtraUsage {
    pub cache_read: u64,
    pub cache_write: u64,
    pub reasoning: u64,
}

fn add(o: &mut serde_json::Map<String, Value>, field: &str, n: u64) {
    let now = o.get(field).and_then(Value::as_u64).unwrap_or(0);
    o.insert(field.into(), json!(now + n));
}

fn set(o: &mut serde_json::Map<String, Value>, details: &str, field: &str, n: u64) {
    let d = o.entry(details).or_insert_with(|| json!({}));
    if !d.is_object() {
        *d = json!({});
    }
    d[field] = json!(n);
}

impl ExtraUsage {
    /// Adds these tokens to every usage object in one answer or event.
    pub fn apply(&self, v: &mut Value) {
        let start = v["type"] == "message_start";
        self.walk(v, start);
    }

    /// The same, for an SSE frame: each `data:` line's JSON.
    pub fn apply_sse(&self, frame: &str) -> String {
        let mut out = String::with_capacity(frame.len() + 64);
        for line in frame.split_inclusive('\n') {
            let (body, end) = match line.strip_suffix("\r\n") {
                Some(b) => (b, "\r\n"),
                None => line.strip_suffix('\n').map_or((line, ""), |b| (b, "\n")),
            };
            match body
                .strip_prefix("data: ")
                .and_then(|d| serde_json::from_str::<Value>(d).ok())
            {
                Some(mut v) => {
                    self.apply(&mut v);
                    out.push_str(&format!("data: {v}{end}"));
                }
                None => out.push_str(line),
            }
        }
        out
    }

    /// OpenAI's way, in Chat's names or Responses': cached tokens inside the input total,
    /// reasoning inside the output total, each part named in the total's `*_details`.
    fn openai(&self, o: &mut serde_json::Map<String, Value>, input: &str, output: &str) {
        let (input_details, output_details) =
            (format!("{input}_details"), format!("{output}_details"));
        add(o, input, self.cache_read + self.cache_write);
        set(o, &input_details, "cached_tokens", self.cache_read);
        set(o, &input_details, "cache_write_tokens", self.cache_write);
        add(o, output, self.reasoning);
        set(o, &output_details, "reasoning_tokens", self.reasoning);
        add(
            o,
            "total_tokens",
            self.cache_read + self.cache_write + self.reasoning,
        );
    }

    fn walk(&self, v: &mut Value, anthropic_start: bool) {
        let Some(o) = v.as_object_mut() else {
            if let Some(items) = v.as_array_mut() {
                items.iter_mut().for_each(|i| self.walk(i, anthropic_start));
            }
            return;
        };
        if o.contains_key("prompt_tokens") {
            self.openai(o, "prompt_tokens", "completion_tokens");
            return;
        }
        if o.contains_key("input_tokens_details") {
            self.openai(o, "input_tokens", "output_tokens");
            return;
        }
        if o.contains_key("cache_read_input_tokens") {
            // Anthropic's whole usage: a message's, or message_start's (whose output is a
            // placeholder that message_delta replaces).
            o.insert("cache_read_input_tokens".into(), json!(self.cache_read));
            o.insert(
                "cache_creation_input_tokens".into(),
                json!(self.cache_write),
            );
            if !anthropic_start {
                add(o, "output_tokens", self.reasoning);
            }
            return;
        }
        if o.contains_key("promptTokenCount") {
            // Gemini.
            add(o, "promptTokenCount", self.cache_read);
            o.insert("cachedContentTokenCount".into(), json!(self.cache_read));
            o.insert("thoughtsTokenCount".into(), json!(self.reasoning));
            add(o, "totalTokenCount", self.cache_read + self.reasoning);
            return;
        }
        if o.get("type").and_then(Value::as_str) == Some("message_delta") {
            // Anthropic's cumulative output count.
            if let Some(u) = o.get_mut("usage").and_then(Value::as_object_mut) {
                add(u, "output_tokens", self.reasoning);
            }
            return;
        }
        for (_, child) in o.iter_mut() {
            self.walk(child, anthropic_start);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const X: ExtraUsage = ExtraUsage {
        cache_read: 100,
        cache_write: 20,
        reasoning: 7,
    };

    #[test]
    fn each_dialect_gets_the_extra_tokens_its_own_way() {
        let mut chat = json!({"usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5,
            "prompt_tokens_details": {"cached_tokens": 0}}});
        X.apply(&mut chat);
        assert_eq!(
            chat["usage"],
            json!({"prompt_tokens": 123, "completion_tokens": 9, "total_tokens": 132,
                "prompt_tokens_details": {"cached_tokens": 100, "cache_write_tokens": 20},
                "completion_tokens_details": {"reasoning_tokens": 7}})
        );
        let mut claude = json!({"type": "message_start", "message": {"usage": {"input_tokens": 3,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1}}});
        X.apply(&mut claude);
        assert_eq!(
            claude["message"]["usage"],
            json!({"input_tokens": 3, "cache_creation_input_tokens": 20,
                "cache_read_input_tokens": 100, "output_tokens": 1})
        );
        let delta = "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":2}}\n\n";
        assert_eq!(
            X.apply_sse(delta),
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":9}}\n\n"
        );
        let mut gemini = json!({"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2,
            "totalTokenCount": 5}});
        X.apply(&mut gemini);
        assert_eq!(
            gemini["usageMetadata"],
            json!({"promptTokenCount": 103, "candidatesTokenCount": 2, "totalTokenCount": 112,
                "cachedContentTokenCount": 100, "thoughtsTokenCount": 7})
        );
    }
}
