//! The settings of a generateContent request: `tools`, `toolConfig` and `generationConfig`
//! (reference: dialects.md §1.D, §3.8, §5.8).

use super::parts::field;
use super::schema::to_json_schema;
use crate::dialect::ir::{Extras, OutputFormat, Reasoning, Request, Tool, ToolChoice};
use crate::dialect::InvalidRequest;
use serde_json::{json, Map, Value};

fn invalid(message: &'static str) -> InvalidRequest {
    InvalidRequest(message)
}

fn as_list(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) => a,
        other => std::slice::from_ref(other),
    }
}

pub(super) fn decode_tools(tools: &Value, req: &mut Request) -> Result<(), InvalidRequest> {
    let mut builtin = Vec::new();
    for entry in as_list(tools) {
        let obj = entry
            .as_object()
            .ok_or(invalid("each tool must be an object"))?;
        let mut rest = Map::new();
        for (k, v) in obj {
            match k.as_str() {
                "functionDeclarations" | "function_declarations" => {
                    for decl in as_list(v) {
                        req.tools.push(function_declaration(decl)?);
                    }
                }
                _ => {
                    rest.insert(k.clone(), v.clone());
                }
            }
        }
        if !rest.is_empty() {
            builtin.push(Value::Object(rest));
        }
    }
    if !builtin.is_empty() {
        req.extras.insert("tools".into(), Value::Array(builtin));
    }
    Ok(())
}

fn function_declaration(decl: &Value) -> Result<Tool, InvalidRequest> {
    let obj = decl
        .as_object()
        .ok_or(invalid("each function declaration must be an object"))?;
    let name = field(decl, "name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or(invalid("function_declarations.name: Name cannot be empty."))?;
    let schema = field(decl, "parametersJsonSchema").or(field(decl, "parameters"));
    let parameters = match schema {
        Some(s) if s.is_object() => to_json_schema(s),
        Some(_) => return Err(invalid("function parameters must be a schema object")),
        None => json!({"type": "object", "properties": {}}),
    };
    let mut extras = Extras::new();
    for (k, v) in obj {
        let taken = matches!(
            k.as_str(),
            "name"
                | "description"
                | "parameters"
                | "parametersJsonSchema"
                | "parameters_json_schema"
        );
        if !taken {
            extras.insert(k.clone(), v.clone());
        }
    }
    Ok(Tool {
        name: name.to_string(),
        description: field(decl, "description")
            .and_then(Value::as_str)
            .map(str::to_string),
        parameters,
        extras,
    })
}

pub(super) fn decode_tool_config(config: &Value, req: &mut Request) -> Result<(), InvalidRequest> {
    let obj = config
        .as_object()
        .ok_or(invalid("toolConfig must be an object"))?;
    let mut rest = Map::new();
    for (k, v) in obj {
        if k == "functionCallingConfig" || k == "function_calling_config" {
            let allowed: Vec<&str> = field(v, "allowedFunctionNames")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            req.tool_choice = match field(v, "mode").and_then(Value::as_str) {
                Some("AUTO" | "VALIDATED") => Some(ToolChoice::Auto),
                Some("NONE") => Some(ToolChoice::None),
                Some("ANY") => match allowed.as_slice() {
                    [one] => Some(ToolChoice::Tool((*one).to_string())),
                    [] => Some(ToolChoice::Required),
                    // Several allowed: any of them, and only them (reference §3.8).
                    names => {
                        req.tools.retain(|t| names.contains(&t.name.as_str()));
                        Some(ToolChoice::Required)
                    }
                },
                None | Some("MODE_UNSPECIFIED") => None,
                Some(_) => return Err(invalid("functionCallingConfig.mode is not a known mode")),
            };
        } else {
            rest.insert(k.clone(), v.clone());
        }
    }
    if !rest.is_empty() {
        req.extras.insert("toolConfig".into(), Value::Object(rest));
    }
    Ok(())
}

/// A number, or an error when the member is there with another type.
fn number(config: &Value, key: &str, message: &'static str) -> Result<Option<f64>, InvalidRequest> {
    match field(config, key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or(invalid(message)),
    }
}

/// A count; proto JSON also writes integers as strings.
fn count(config: &Value, key: &str, message: &'static str) -> Result<Option<i64>, InvalidRequest> {
    match field(config, key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| invalid(message)),
        Some(v) => v.as_i64().map(Some).ok_or(invalid(message)),
    }
}

fn non_negative(n: Option<i64>, message: &'static str) -> Result<Option<u64>, InvalidRequest> {
    n.map(|n| u64::try_from(n).map_err(|_| invalid(message)))
        .transpose()
}

/// Members of `generationConfig` mapped into the IR, in both spellings.
const MAPPED_CONFIG: &[&str] = &[
    "maxOutputTokens",
    "max_output_tokens",
    "temperature",
    "topP",
    "top_p",
    "topK",
    "top_k",
    "stopSequences",
    "stop_sequences",
    "thinkingConfig",
    "thinking_config",
];

pub(super) fn decode_generation_config(
    config: &Value,
    req: &mut Request,
) -> Result<(), InvalidRequest> {
    let obj = config
        .as_object()
        .ok_or(invalid("generationConfig must be an object"))?;
    let max = count(
        config,
        "maxOutputTokens",
        "maxOutputTokens must be a positive integer",
    )?;
    req.max_output_tokens = non_negative(max, "maxOutputTokens must be a positive integer")?;
    req.temperature = number(config, "temperature", "temperature must be a number")?;
    req.top_p = number(config, "topP", "topP must be a number")?;
    let top_k = count(config, "topK", "topK must be a positive integer")?;
    req.top_k = non_negative(top_k, "topK must be a positive integer")?;
    if let Some(stop) = field(config, "stopSequences") {
        req.stop = as_list(stop)
            .iter()
            .map(|s| s.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or(invalid("stopSequences must be strings"))?;
    }
    let mut rest = Map::new();
    if let Some(thinking) = field(config, "thinkingConfig") {
        let leftover = decode_thinking(thinking, req)?;
        if !leftover.is_empty() {
            rest.insert("thinkingConfig".into(), Value::Object(leftover));
        }
    }
    let mime = field(config, "responseMimeType").and_then(Value::as_str);
    let json_schema = field(config, "responseJsonSchema").or(field(config, "_responseJsonSchema"));
    let schema = json_schema.or(field(config, "responseSchema"));
    let format_taken = match (mime, schema) {
        (Some("application/json"), Some(s)) => {
            req.output_format = Some(OutputFormat::JsonSchema {
                name: "response".into(),
                schema: to_json_schema(s),
                strict: None,
            });
            true
        }
        (Some("application/json"), None) => {
            req.output_format = Some(OutputFormat::JsonObject);
            true
        }
        (Some("text/plain"), None) => {
            req.output_format = Some(OutputFormat::Text);
            true
        }
        // Enum output (`text/x.enum`) and the like have no IR form: kept for Gemini only.
        _ => false,
    };
    for (k, v) in obj {
        let format_key = matches!(
            k.as_str(),
            "responseMimeType"
                | "response_mime_type"
                | "responseSchema"
                | "response_schema"
                | "responseJsonSchema"
                | "response_json_schema"
                | "_responseJsonSchema"
        );
        let mapped = MAPPED_CONFIG.contains(&k.as_str()) || (format_taken && format_key);
        if !mapped {
            rest.insert(k.clone(), v.clone());
        }
    }
    if !rest.is_empty() {
        req.extras
            .insert("generationConfig".into(), Value::Object(rest));
    }
    Ok(())
}

/// Whether a Gemini client asked to see the model's thoughts (`includeThoughts`): without it
/// Gemini answers with none, whatever the model thought.
pub fn wants_thoughts(req: &Request) -> bool {
    req.extras
        .get("generationConfig")
        .and_then(|g| field(g, "thinkingConfig"))
        .and_then(|t| field(t, "includeThoughts"))
        == Some(&Value::Bool(true))
}

/// Reads `thinkingConfig` into the IR and returns what it cannot hold (`includeThoughts`).
fn decode_thinking(
    thinking: &Value,
    req: &mut Request,
) -> Result<Map<String, Value>, InvalidRequest> {
    let obj = thinking
        .as_object()
        .ok_or(invalid("thinkingConfig must be an object"))?;
    let budget = count(
        thinking,
        "thinkingBudget",
        "thinkingBudget must be an integer",
    )?;
    let level = field(thinking, "thinkingLevel")
        .and_then(Value::as_str)
        .filter(|l| *l != "THINKING_LEVEL_UNSPECIFIED")
        .map(str::to_ascii_lowercase);
    let include = field(thinking, "includeThoughts").and_then(Value::as_bool);
    if budget.is_some() || level.is_some() || include == Some(true) {
        req.reasoning = Some(Reasoning {
            effort: level,
            // -1 is "as much as the model sees fit": no budget.
            budget_tokens: budget.and_then(|b| u64::try_from(b).ok()),
            enabled: budget != Some(0),
        });
    }
    let mut rest = Map::new();
    for (k, v) in obj {
        if !matches!(
            k.as_str(),
            "thinkingBudget" | "thinking_budget" | "thinkingLevel" | "thinking_level"
        ) {
            rest.insert(k.clone(), v.clone());
        }
    }
    Ok(rest)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::dialect::gemini::decode_request;

    fn decode(v: Value) -> Request {
        decode_request(v.to_string().as_bytes(), "m", false).unwrap()
    }

    #[test]
    fn tools_choice_and_configuration_map_and_the_rest_is_kept() {
        let req = decode(json!({
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "tools": [{"functionDeclarations": [
                    {"name": "read_file", "description": "Reads a file.",
                     "parameters": {"type": "OBJECT", "properties": {"path": {"type": "STRING"}}, "required": ["path"]}},
                    {"name": "noop"}, {"name": "other", "behavior": "NON_BLOCKING"}]},
                {"googleSearch": {}}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["read_file", "noop"]},
                "retrievalConfig": {"languageCode": "en"}},
            "generationConfig": {"temperature": 1, "topP": 0.95, "topK": 64, "maxOutputTokens": "100",
                "stopSequences": ["END"], "seed": 7, "candidateCount": 1,
                "thinkingConfig": {"includeThoughts": true, "thinkingLevel": "HIGH"},
                "responseMimeType": "application/json",
                "responseJsonSchema": {"type": "OBJECT", "properties": {"score": {"type": "INTEGER"}}}},
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]}));
        assert_eq!(
            req.tools
                .iter()
                .map(|t| t.name.as_str())
                .collect::<Vec<_>>(),
            ["read_file", "noop"],
            "ANY with several allowed names keeps only those"
        );
        assert_eq!(req.tool_choice, Some(ToolChoice::Required));
        assert_eq!(
            req.tools[0].parameters,
            json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]})
        );
        assert_eq!(
            req.tools[1].parameters,
            json!({"type": "object", "properties": {}})
        );
        assert_eq!(
            (req.temperature, req.top_p, req.top_k, req.max_output_tokens),
            (Some(1.0), Some(0.95), Some(64), Some(100))
        );
        assert_eq!(req.stop, vec!["END".to_string()]);
        assert_eq!(
            req.reasoning,
            Some(Reasoning {
                effort: Some("high".into()),
                budget_tokens: None,
                enabled: true
            })
        );
        assert_eq!(
            req.output_format,
            Some(OutputFormat::JsonSchema {
                name: "response".into(),
                schema: json!({"type": "object", "properties": {"score": {"type": "integer"}}}),
                strict: None
            })
        );
        assert_eq!(
            Value::Object(req.extras),
            json!({"tools": [{"googleSearch": {}}],
                "toolConfig": {"retrievalConfig": {"languageCode": "en"}},
                "generationConfig": {"thinkingConfig": {"includeThoughts": true}, "seed": 7, "candidateCount": 1},
                "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]})
        );
    }

    #[test]
    fn tool_modes_map_to_choices() {
        let choice = |config: Value| {
            decode(json!({"contents": [{"parts": [{"text": "x"}]}],
                "tools": [{"functionDeclarations": [{"name": "f"}, {"name": "g"}]}],
                "toolConfig": {"functionCallingConfig": config}}))
            .tool_choice
        };
        assert_eq!(choice(json!({"mode": "AUTO"})), Some(ToolChoice::Auto));
        assert_eq!(choice(json!({"mode": "VALIDATED"})), Some(ToolChoice::Auto));
        assert_eq!(choice(json!({"mode": "NONE"})), Some(ToolChoice::None));
        assert_eq!(choice(json!({"mode": "ANY"})), Some(ToolChoice::Required));
        assert_eq!(
            choice(json!({"mode": "ANY", "allowedFunctionNames": ["g"]})),
            Some(ToolChoice::Tool("g".into()))
        );
        assert_eq!(choice(json!({})), None);
    }

    #[test]
    fn thinking_budgets_map_to_reasoning() {
        let reasoning = |thinking: Value| {
            decode(json!({"contents": [{"parts": [{"text": "x"}]}],
                "generationConfig": {"thinkingConfig": thinking}}))
            .reasoning
        };
        let r = |budget, enabled| {
            Some(Reasoning {
                effort: None,
                budget_tokens: budget,
                enabled,
            })
        };
        assert_eq!(
            reasoning(json!({"thinkingBudget": 8192})),
            r(Some(8192), true)
        );
        assert_eq!(reasoning(json!({"thinkingBudget": 0})), r(Some(0), false));
        assert_eq!(reasoning(json!({"thinkingBudget": -1})), r(None, true));
        assert_eq!(reasoning(json!({"includeThoughts": false})), None);
    }
}
