//! `${NAME}` expansion in string values, before the file is typed.
//!
//! Expanding the parsed YAML rather than the raw text keeps a secret containing YAML syntax
//! (`#`, `:`, quotes) from changing the document's structure, and lets an error name the field.

use serde_yaml_ng::Value;

/// A `${NAME}` whose variable is not set, and where it was used.
#[derive(Debug, PartialEq, Eq)]
pub struct MissingVar {
    pub path: String,
    pub var: String,
}

/// Expands every `${NAME}` (and `${NAME:-default}`) inside string values of `doc`, in place.
/// `$${` stands for a literal `${`.
pub fn expand(doc: &mut Value, lookup: &dyn Fn(&str) -> Option<String>) -> Result<(), MissingVar> {
    walk(doc, &mut String::new(), lookup)
}

fn walk(
    v: &mut Value,
    path: &mut String,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), MissingVar> {
    match v {
        Value::String(s) if s.contains("${") => {
            *s = expand_str(s, lookup).map_err(|var| MissingVar {
                path: path.clone(),
                var,
            })?;
        }
        Value::Sequence(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                walk(item, path, lookup)?;
                path.truncate(len);
            }
        }
        Value::Mapping(map) => {
            for (k, item) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                match k {
                    Value::String(k) => path.push_str(k),
                    other => path.push_str(&format!("{other:?}")),
                }
                walk(item, path, lookup)?;
                path.truncate(len);
            }
        }
        Value::Tagged(t) => walk(&mut t.value, path, lookup)?,
        _ => {}
    }
    Ok(())
}

/// Expands one string; the error is the name of the first unset variable.
fn expand_str(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = after;
        } else if let Some(body) = tail.strip_prefix("${") {
            let Some(end) = body.find('}') else {
                out.push_str(tail);
                return Ok(out);
            };
            let inner = &body[..end];
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            match lookup(name).or_else(|| default.map(str::to_string)) {
                Some(value) => out.push_str(&value),
                None => return Err(name.to_string()),
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "SET").then(|| "v:#1".to_string())
    }

    #[test]
    fn expands_defaults_and_escapes() {
        assert_eq!(expand_str("a${SET}b", &env).unwrap(), "av:#1b");
        assert_eq!(expand_str("${UNSET:-d}", &env).unwrap(), "d");
        assert_eq!(expand_str("$${SET} $5", &env).unwrap(), "${SET} $5");
        assert_eq!(expand_str("x${UNSET}", &env).unwrap_err(), "UNSET");
    }

    #[test]
    fn names_the_field_of_a_missing_variable() {
        let mut doc: Value =
            serde_yaml_ng::from_str("providers:\n  - name: a\n  - api_key: ${OPENAI_KEY}\n")
                .unwrap();
        assert_eq!(
            expand(&mut doc, &env).unwrap_err(),
            MissingVar {
                path: "providers[1].api_key".into(),
                var: "OPENAI_KEY".into()
            }
        );
    }
}
