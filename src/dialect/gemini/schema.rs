//! Tool and output schemas between Gemini and JSON Schema (reference: dialects.md §1.D, §3.8,
//! §5.8).
//!
//! Gemini clients write schemas in two forms: the OpenAPI-subset `Schema` (`"type":"STRING"`,
//! `nullable`, 64-bit counts as strings) and JSON Schema (`parametersJsonSchema`,
//! `responseJsonSchema`, sometimes with upper-case types too). The IR holds JSON Schema, so both
//! are normalised on the way in. On the way out tools go as `parametersJsonSchema`, which takes
//! JSON Schema, minus what Gemini still refuses there: `$ref` with siblings or pointing at
//! `$defs` it does not resolve (gemini-cli #13326), and meta keywords.

use serde_json::{json, Map, Value};

/// Keywords whose value maps names to subschemas.
const MAP_KEYWORDS: &[&str] = &[
    "properties",
    "patternProperties",
    "$defs",
    "definitions",
    "dependentSchemas",
];
/// Keywords whose value is a subschema (or, for `items`, possibly a list of them).
const SCHEMA_KEYWORDS: &[&str] = &[
    "items",
    "additionalProperties",
    "not",
    "contains",
    "if",
    "then",
    "else",
    "propertyNames",
    "additionalItems",
    "unevaluatedItems",
    "unevaluatedProperties",
];
/// Keywords whose value is a list of subschemas.
const LIST_KEYWORDS: &[&str] = &["anyOf", "oneOf", "allOf", "prefixItems"];

/// Counts the OpenAPI `Schema` writes as strings (int64 in proto JSON).
const COUNT_KEYWORDS: &[&str] = &[
    "minItems",
    "maxItems",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
];

/// Keywords sent to Gemini only as noise or as references it cannot follow.
const META_KEYWORDS: &[&str] = &["$schema", "$id", "$defs", "definitions", "$comment"];

/// How many `$ref`s are inlined at most, and how deeply they may nest, so recursive or
/// heavily shared definitions cannot grow the schema without bound; past either a reference
/// becomes an open object.
const MAX_INLINED_REFS: usize = 256;
const MAX_REF_DEPTH: usize = 8;

/// Calls `f` on every direct subschema of a schema node. Walking by keyword, not by key, keeps
/// a property that happens to be named `type` or `definitions` a property.
fn for_each_subschema(node: &mut Map<String, Value>, f: &mut dyn FnMut(&mut Value)) {
    for (key, v) in node.iter_mut() {
        let key = key.as_str();
        if MAP_KEYWORDS.contains(&key) {
            if let Some(m) = v.as_object_mut() {
                m.values_mut().for_each(&mut *f);
            }
        } else if SCHEMA_KEYWORDS.contains(&key) {
            match v {
                Value::Array(list) => list.iter_mut().for_each(&mut *f),
                schema => f(schema),
            }
        } else if LIST_KEYWORDS.contains(&key) {
            if let Some(list) = v.as_array_mut() {
                list.iter_mut().for_each(&mut *f);
            }
        }
    }
}

/// A Gemini schema (either form) as JSON Schema.
pub(crate) fn to_json_schema(schema: &Value) -> Value {
    let mut schema = schema.clone();
    normalize(&mut schema);
    schema
}

fn normalize(v: &mut Value) {
    let Value::Object(node) = v else { return };
    match node.get_mut("type") {
        Some(Value::String(t)) => {
            t.make_ascii_lowercase();
            if t == "type_unspecified" {
                node.shift_remove("type");
            }
        }
        Some(Value::Array(types)) => {
            for t in types.iter_mut() {
                if let Value::String(t) = t {
                    t.make_ascii_lowercase();
                }
            }
        }
        _ => {}
    }
    if let Some(nullable) = node.shift_remove("nullable") {
        if nullable == Value::Bool(true) {
            if let Some(Value::String(t)) = node.get("type") {
                let t = t.clone();
                node.insert("type".into(), json!([t, "null"]));
            }
        }
    }
    for key in COUNT_KEYWORDS {
        if let Some(Value::String(s)) = node.get(*key) {
            if let Ok(n) = s.parse::<u64>() {
                node.insert((*key).into(), json!(n));
            }
        }
    }
    for_each_subschema(node, &mut normalize);
}

/// A JSON Schema as Gemini's `parametersJsonSchema` accepts it: local references inlined,
/// meta keywords dropped.
pub(crate) fn for_gemini(schema: &Value) -> Value {
    let mut out = schema.clone();
    let mut budget = MAX_INLINED_REFS;
    inline_refs(&mut out, schema, 0, &mut budget);
    strip_meta(&mut out);
    out
}

fn inline_refs(v: &mut Value, root: &Value, depth: usize, budget: &mut usize) {
    let Value::Object(node) = v else { return };
    if let Some(Value::String(pointer)) = node.get("$ref") {
        let target = pointer
            .strip_prefix('#')
            .and_then(|p| if p.is_empty() { None } else { root.pointer(p) })
            .filter(|t| t.is_object());
        let mut resolved = match target {
            Some(t) if *budget > 0 && depth < MAX_REF_DEPTH => {
                *budget -= 1;
                t.clone()
            }
            // A cycle, a remote reference or one that leads nowhere: an open object is what
            // the call can still be made with.
            _ => json!({"type": "object"}),
        };
        if let Value::Object(r) = &mut resolved {
            for (k, sibling) in node.iter() {
                if k != "$ref" {
                    r.insert(k.clone(), sibling.clone());
                }
            }
        }
        *v = resolved;
        // The inlined schema may itself refer onwards.
        inline_refs(v, root, depth + 1, budget);
        return;
    }
    for_each_subschema(node, &mut |s| inline_refs(s, root, depth, budget));
}

fn strip_meta(v: &mut Value) {
    let Value::Object(node) = v else { return };
    for key in META_KEYWORDS {
        node.shift_remove(*key);
    }
    for_each_subschema(node, &mut strip_meta);
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn openapi_schemas_become_json_schema() {
        let gemini = json!({"type": "OBJECT", "properties": {
            "type": {"type": "STRING", "enum": ["a", "b"], "nullable": true},
            "tags": {"type": "ARRAY", "items": {"type": "STRING"}, "minItems": "1"},
            "any": {"anyOf": [{"type": "INTEGER"}, {"type": "NUMBER", "nullable": false}]}},
            "required": ["type"]});
        assert_eq!(
            to_json_schema(&gemini),
            json!({"type": "object", "properties": {
                "type": {"type": ["string", "null"], "enum": ["a", "b"]},
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "any": {"anyOf": [{"type": "integer"}, {"type": "number"}]}},
                "required": ["type"]})
        );
    }

    #[test]
    fn references_are_inlined_and_meta_keywords_dropped() {
        let schema = json!({"$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "properties": {
                "cookie": {"$ref": "#/$defs/Cookie", "description": "one cookie"},
                "definitions": {"type": "string"},
                "tree": {"$ref": "#/$defs/Tree"},
                "far": {"$ref": "https://x.test/s.json"}},
            "$defs": {
                "Cookie": {"type": "object", "properties": {"name": {"type": "string"}}},
                "Tree": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Tree"}}}}});
        let out = for_gemini(&schema);
        assert_eq!(
            out["properties"]["cookie"],
            json!({"type": "object", "properties": {"name": {"type": "string"}}, "description": "one cookie"})
        );
        assert_eq!(
            out["properties"]["definitions"],
            json!({"type": "string"}),
            "a property named like a keyword stays"
        );
        assert_eq!(out["properties"]["far"], json!({"type": "object"}));
        assert!(out.get("$schema").is_none() && out.get("$defs").is_none());
        // A recursive definition is cut off once the budget is spent.
        let mut depth = 0;
        let mut node = &out["properties"]["tree"];
        while let Some(child) = node.get("properties").and_then(|p| p.get("child")) {
            node = child;
            depth += 1;
        }
        assert_eq!(depth, MAX_REF_DEPTH);
    }
}
