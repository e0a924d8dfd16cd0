//! Responses tool declarations, tool choice and the shapes of tool calls (reference:
//! dialects.md §1.B, §3.9).
//!
//! Responses says three things about tools that no other dialect can: a tool may be *custom*
//! (free-form text input, like Codex's `apply_patch`), it may sit in a *namespace* (Codex's
//! `multi_agent_v1`), and it may be *built in* (`web_search`, `local_shell`, `file_search`…,
//! run by OpenAI's servers). The rules, one place for all of them:
//!
//! * A custom tool becomes an ordinary tool taking one string, `input` (LiteLLM's
//!   `custom_tools.py` approach), with `extras.type = "custom"` and its `format` kept in
//!   `extras.format`. Its calls carry `{"input": …}` as arguments and `extras.type = "custom"`,
//!   so every other dialect sees a normal call and this one can put the free text back.
//! * A namespaced tool is flattened to `<namespace>__<name>` with `extras.namespace` (and the
//!   namespace's description in `extras.namespace_description`); calls in history keep the
//!   namespace in `extras.namespace`. Flat names cannot collide across namespaces.
//! * A built-in tool has no meaning outside OpenAI's servers: it is dropped, and so are its
//!   calls and their outputs in the history. Nothing is rewritten into a look-alike.

use crate::dialect::ir::{Extras, Request, Tool, ToolChoice};
use crate::dialect::InvalidRequest;
use serde_json::{json, Map, Value};

/// Joins a namespace and a tool name into the one name other dialects see.
pub(crate) fn flat_name(namespace: &str, name: &str) -> String {
    format!("{namespace}__{name}")
}

/// The arguments of a custom tool call, as the one-string object other dialects expect.
pub(crate) fn custom_arguments(input: &str) -> String {
    json!({ "input": input }).to_string()
}

/// The free-text input of a custom tool call from its arguments: the `input` string when the
/// arguments are `{"input": "…"}`, the arguments as they are otherwise (a Chat client's custom
/// call already carries its raw input).
pub(crate) fn custom_input(arguments: &str) -> String {
    match serde_json::from_str::<Value>(arguments) {
        Ok(Value::Object(o)) if o.len() == 1 => match o.get("input") {
            Some(Value::String(s)) => s.clone(),
            _ => arguments.to_string(),
        },
        _ => arguments.to_string(),
    }
}

/// The one-string schema a custom tool is offered under in other dialects; the grammar goes
/// into the description so the model still knows what to write.
fn custom_parameters(format: Option<&Value>) -> Value {
    let description = match format {
        Some(f) if f["type"] == "grammar" => format!(
            "The tool's input, as free text in this {} grammar:\n{}",
            f["syntax"].as_str().unwrap_or("formal"),
            f["definition"].as_str().unwrap_or("")
        ),
        _ => "The tool's input, as free text.".to_string(),
    };
    json!({"type": "object",
        "properties": {"input": {"type": "string", "description": description}},
        "required": ["input"], "additionalProperties": false})
}

/// A `function` or `custom` tool (top level or inside a namespace); `None` for any other type.
fn declared_tool(t: &Value, namespace: Option<&Value>) -> Result<Option<Tool>, InvalidRequest> {
    let custom = match t["type"].as_str() {
        Some("function") => false,
        Some("custom") => true,
        _ => return Ok(None),
    };
    let name = t["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .ok_or(InvalidRequest(
            "Missing required parameter: 'tools[].name'.",
        ))?;
    let mut extras = Extras::new();
    let parameters = if custom {
        extras.insert("type".into(), json!("custom"));
        if let Some(f) = t.get("format").filter(|f| !f.is_null()) {
            extras.insert("format".into(), f.clone());
        }
        custom_parameters(t.get("format"))
    } else {
        if let Some(strict) = t.get("strict").filter(|s| !s.is_null()) {
            extras.insert("strict".into(), strict.clone());
        }
        match t.get("parameters") {
            Some(p) if p.is_object() => p.clone(),
            _ => json!({"type": "object", "properties": {}}),
        }
    };
    let name = match namespace {
        Some(ns) => {
            let ns_name = ns["name"]
                .as_str()
                .filter(|n| !n.is_empty())
                .ok_or(InvalidRequest("A namespace tool needs a name."))?;
            extras.insert("namespace".into(), json!(ns_name));
            if let Some(d) = ns["description"].as_str() {
                extras.insert("namespace_description".into(), json!(d));
            }
            flat_name(ns_name, name)
        }
        None => name.to_string(),
    };
    Ok(Some(Tool {
        name,
        description: t["description"].as_str().map(str::to_string),
        parameters,
        extras,
    }))
}

/// Decodes `tools`: function and custom tools, namespaces flattened, built-ins dropped.
pub(crate) fn decode_tools(tools: &Value) -> Result<Vec<Tool>, InvalidRequest> {
    let list = match tools {
        Value::Null => return Ok(Vec::new()),
        Value::Array(list) => list,
        _ => return Err(InvalidRequest("'tools' must be an array.")),
    };
    let mut out = Vec::with_capacity(list.len());
    for t in list {
        if !t.is_object() {
            return Err(InvalidRequest("Each tool must be an object."));
        }
        if t["type"] == "namespace" {
            for inner in t["tools"].as_array().into_iter().flatten() {
                out.extend(declared_tool(inner, Some(t))?);
            }
        } else {
            // A built-in tool (or one newer than this codec) is dropped: see the module doc.
            out.extend(declared_tool(t, None)?);
        }
    }
    Ok(out)
}

/// Decodes `tool_choice`. A forced built-in tool (`{"type":"web_search"}`…) has nothing to
/// force once built-ins are dropped, so it is left to the provider's default.
pub(crate) fn decode_tool_choice(v: &Value) -> Result<Option<ToolChoice>, InvalidRequest> {
    let invalid = InvalidRequest(
        "'tool_choice' must be 'none', 'auto', 'required' or an object naming a tool.",
    );
    match v {
        Value::Null => Ok(None),
        Value::String(s) => match s.as_str() {
            "auto" => Ok(Some(ToolChoice::Auto)),
            "required" => Ok(Some(ToolChoice::Required)),
            "none" => Ok(Some(ToolChoice::None)),
            _ => Err(invalid),
        },
        Value::Object(o) => match o.get("type").and_then(Value::as_str) {
            Some("function" | "custom") => {
                let name = o.get("name").and_then(Value::as_str).ok_or(invalid)?;
                let name = match o.get("namespace").and_then(Value::as_str) {
                    Some(ns) => flat_name(ns, name),
                    None => name.to_string(),
                };
                Ok(Some(ToolChoice::Tool(name)))
            }
            Some("allowed_tools") => Ok(match o.get("mode").and_then(Value::as_str) {
                Some("required") => Some(ToolChoice::Required),
                _ => Some(ToolChoice::Auto),
            }),
            Some(_) => Ok(None),
            None => Err(invalid),
        },
        _ => Err(invalid),
    }
}

/// How a call must look to a Responses client: plain function or custom tool, and in which
/// namespace, with the name the client declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CallShape {
    pub custom: bool,
    pub namespace: Option<String>,
    pub name: String,
}

/// The client's own tools, for answers that come back from a provider of another dialect: its
/// calls name a tool but cannot say that it was custom or namespaced.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientTools {
    /// Flat name, whether custom, namespace.
    tools: Vec<(String, bool, Option<String>)>,
}

impl ClientTools {
    /// The tools of a request decoded from a Responses client.
    pub fn from_request(req: &Request) -> Self {
        let tools = req
            .tools
            .iter()
            .map(|t| {
                let custom = t.extras.get("type").and_then(Value::as_str) == Some("custom");
                let ns = t.extras.get("namespace").and_then(Value::as_str);
                (t.name.clone(), custom, ns.map(str::to_string))
            })
            .collect();
        ClientTools { tools }
    }

    /// The shape of a call named `name` with `extras`; what the call says wins over the
    /// declarations.
    pub(crate) fn shape(&self, name: &str, extras: &Extras) -> CallShape {
        let declared = self.tools.iter().find(|(n, _, _)| n == name);
        let custom = extras.get("type").and_then(Value::as_str) == Some("custom")
            || declared.is_some_and(|(_, c, _)| *c);
        let namespace = extras
            .get("namespace")
            .and_then(Value::as_str)
            .map(str::to_string)
            .or_else(|| declared.and_then(|(_, _, ns)| ns.clone()));
        let name = namespace
            .as_deref()
            .and_then(|ns| name.strip_prefix(ns)?.strip_prefix("__"))
            .unwrap_or(name)
            .to_string();
        CallShape {
            custom,
            namespace,
            name,
        }
    }
}

/// The shape of a call from its own extras alone (history sent to a Responses provider).
pub(crate) fn call_shape(name: &str, extras: &Extras) -> CallShape {
    ClientTools::default().shape(name, extras)
}

/// `tools` for a Responses provider: flat functions (`strict` false unless the client asked,
/// since Responses defaults to strict schemas that ordinary ones fail), custom tools, and
/// namespaces regrouped.
pub(crate) fn encode_tools(tools: &[Tool]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::with_capacity(tools.len());
    for t in tools {
        let shape = call_shape(&t.name, &t.extras);
        let mut v = if shape.custom {
            let mut v = json!({"type": "custom", "name": shape.name});
            if let Some(d) = &t.description {
                v["description"] = json!(d);
            }
            if let Some(f) = t.extras.get("format") {
                v["format"] = f.clone();
            }
            v
        } else {
            let mut v = json!({"type": "function", "name": shape.name});
            if let Some(d) = &t.description {
                v["description"] = json!(d);
            }
            v["parameters"] = t.parameters.clone();
            v["strict"] = t.extras.get("strict").cloned().unwrap_or(json!(false));
            v
        };
        let Some(ns) = shape.namespace else {
            out.push(v);
            continue;
        };
        if let Some(o) = v.as_object_mut() {
            o.remove("namespace");
        }
        let group = out
            .iter_mut()
            .find(|g| g["type"] == "namespace" && g["name"] == ns.as_str());
        match group {
            Some(g) => {
                if let Some(list) = g["tools"].as_array_mut() {
                    list.push(v);
                }
            }
            None => {
                let description = t
                    .extras
                    .get("namespace_description")
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("Tools in the {ns} namespace."), str::to_string);
                v = json!({"type": "namespace", "name": ns, "description": description,
                    "tools": [v]});
                out.push(v);
            }
        }
    }
    out
}

/// `tool_choice` for a Responses provider.
pub(crate) fn encode_tool_choice(choice: &ToolChoice, tools: &[Tool]) -> Value {
    match choice {
        ToolChoice::Auto => json!("auto"),
        ToolChoice::Required => json!("required"),
        ToolChoice::None => json!("none"),
        ToolChoice::Tool(name) => {
            let extras = tools
                .iter()
                .find(|t| &t.name == name)
                .map(|t| &t.extras)
                .cloned()
                .unwrap_or_default();
            let shape = call_shape(name, &extras);
            let ty = if shape.custom { "custom" } else { "function" };
            let mut v = Map::new();
            v.insert("type".into(), json!(ty));
            v.insert("name".into(), json!(shape.name));
            Value::Object(v)
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn custom_arguments_round_trip_and_raw_input_passes() {
        let patch = "*** Begin Patch\n*** Add File: a.txt\n+\"hi\"\n*** End Patch";
        assert_eq!(custom_input(&custom_arguments(patch)), patch);
        assert_eq!(custom_input("*** Begin Patch"), "*** Begin Patch");
        assert_eq!(custom_input(r#"{"input":1}"#), r#"{"input":1}"#);
        assert_eq!(
            custom_input(r#"{"input":"a","x":1}"#),
            r#"{"input":"a","x":1}"#
        );
    }

    #[test]
    fn tools_decode_flat_custom_namespaced_and_drop_builtins() {
        let tools = decode_tools(&json!([
            {"type":"function","name":"exec","parameters":{"type":"object"},"strict":false},
            {"type":"custom","name":"apply_patch","description":"Patch files.",
                "format":{"type":"grammar","syntax":"lark","definition":"start: x"}},
            {"type":"namespace","name":"agents","description":"Sub-agents.",
                "tools":[{"type":"function","name":"spawn","parameters":{"type":"object"}}]},
            {"type":"web_search","external_web_access":false},
            {"type":"local_shell"}
        ]))
        .unwrap();
        let names: Vec<_> = tools.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["exec", "apply_patch", "agents__spawn"]);
        assert_eq!(tools[0].extras.get("strict"), Some(&json!(false)));
        assert_eq!(
            tools[1].parameters["properties"]["input"]["description"],
            "The tool's input, as free text in this lark grammar:\nstart: x"
        );
        assert_eq!(tools[1].parameters["required"], json!(["input"]));
        assert_eq!(tools[2].extras.get("namespace"), Some(&json!("agents")));
        // And back, regrouped, with strict false where the client said nothing.
        assert_eq!(
            Value::Array(encode_tools(&tools)),
            json!([
                {"type":"function","name":"exec","parameters":{"type":"object"},"strict":false},
                {"type":"custom","name":"apply_patch","description":"Patch files.",
                    "format":{"type":"grammar","syntax":"lark","definition":"start: x"}},
                {"type":"namespace","name":"agents","description":"Sub-agents.",
                    "tools":[{"type":"function","name":"spawn","parameters":{"type":"object"},"strict":false}]}
            ])
        );
        assert!(decode_tools(&json!([{"type":"function"}])).is_err());
        assert!(decode_tools(&json!({"type":"function"})).is_err());
    }

    #[test]
    fn tool_choice_forms() {
        let d = |v: Value| decode_tool_choice(&v);
        assert_eq!(d(json!("required")), Ok(Some(ToolChoice::Required)));
        assert_eq!(
            d(json!({"type":"function","name":"f"})),
            Ok(Some(ToolChoice::Tool("f".into())))
        );
        assert_eq!(
            d(json!({"type":"allowed_tools","mode":"required","tools":[]})),
            Ok(Some(ToolChoice::Required))
        );
        assert_eq!(d(json!({"type":"web_search"})), Ok(None));
        assert!(d(json!("sometimes")).is_err());
        assert!(d(json!(3)).is_err());
    }

    #[test]
    fn call_shapes_come_from_extras_or_the_client_declarations() {
        let req = Request {
            tools: decode_tools(&json!([
                {"type":"custom","name":"apply_patch"},
                {"type":"namespace","name":"agents","description":"d",
                    "tools":[{"type":"function","name":"spawn"}]}
            ]))
            .unwrap(),
            ..Request::default()
        };
        let client = ClientTools::from_request(&req);
        let none = Extras::new();
        assert_eq!(
            client.shape("apply_patch", &none),
            CallShape {
                custom: true,
                namespace: None,
                name: "apply_patch".into()
            }
        );
        assert_eq!(
            client.shape("agents__spawn", &none),
            CallShape {
                custom: false,
                namespace: Some("agents".into()),
                name: "spawn".into()
            }
        );
        // Without the declarations a flat name is never split on a guess.
        assert_eq!(call_shape("agents__spawn", &none).name, "agents__spawn");
    }
}
