//! Byte-exact edits of top-level JSON members.
//!
//! The passthrough path must not re-serialise bodies it only renames a model in: re-encoding
//! reorders keys and reformats numbers, which costs time and can cool a provider's prompt cache.
//! These helpers let serde_json find the exact byte span of a top-level value and splice in a
//! replacement, leaving every other byte as the client or provider sent it.

use bytes::{Bytes, BytesMut};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;
use std::ops::Range;

/// The byte range of the top-level member `name`'s value inside the JSON object `doc`.
///
/// Returns `None` when `doc` is not a JSON object or has no such member.
pub fn top_level_span(doc: &[u8], name: &str) -> Option<Range<usize>> {
    let [span] = top_level_spans(doc, [name])?;
    span
}

/// The byte ranges of several top-level members at once, in one pass over `doc`.
///
/// Returns `None` when `doc` is not a valid JSON object; a member that is absent is `None` in the
/// array. Keys are compared after unescaping, and the last duplicate wins, as in serde_json.
pub fn top_level_spans<const N: usize>(
    doc: &[u8],
    names: [&str; N],
) -> Option<[Option<Range<usize>>; N]> {
    scan(doc, &names).map(|(spans, _)| spans)
}

/// Why [`unique_top_level_spans`] refused a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanError {
    /// Not a valid JSON object.
    Invalid,
    /// The member `names[i]` appears more than once.
    Duplicate(usize),
}

/// Like [`top_level_spans`], but a member named twice is an error: JSON parsers disagree on
/// which duplicate wins, so a body whose routing fields are ambiguous must not be forwarded.
pub fn unique_top_level_spans<const N: usize>(
    doc: &[u8],
    names: [&str; N],
) -> Result<[Option<Range<usize>>; N], SpanError> {
    match scan(doc, &names) {
        None => Err(SpanError::Invalid),
        Some((_, Some(i))) => Err(SpanError::Duplicate(i)),
        Some((spans, None)) => Ok(spans),
    }
}

type Spans<const N: usize> = [Option<Range<usize>>; N];

fn scan<const N: usize>(doc: &[u8], names: &[&str; N]) -> Option<(Spans<N>, Option<usize>)> {
    let mut de = serde_json::Deserializer::from_slice(doc);
    let (found, duplicate) = (&mut de).deserialize_map(FindMembers { names }).ok()?;
    de.end().ok()?;
    let spans = found.map(|raw| raw.map(|raw| span_within(doc, raw.get().as_bytes())));
    Some((spans, duplicate))
}

struct FindMembers<'n, const N: usize> {
    names: &'n [&'n str; N],
}

impl<'de, const N: usize> Visitor<'de> for FindMembers<'_, N> {
    /// The members found, and the first of them seen twice.
    type Value = ([Option<&'de RawValue>; N], Option<usize>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = [None; N];
        let mut duplicate = None;
        while let Some(index) = map.next_key_seed(KeyIndex { names: self.names })? {
            match index {
                Some(i) => {
                    if found[i].is_some() {
                        duplicate = duplicate.or(Some(i));
                    }
                    found[i] = Some(map.next_value::<&RawValue>()?);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((found, duplicate))
    }
}

/// Deserializes an object key into the index of the name it equals, without allocating.
struct KeyIndex<'n, const N: usize> {
    names: &'n [&'n str; N],
}

impl<'de, const N: usize> DeserializeSeed<'de> for KeyIndex<'_, N> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<const N: usize> Visitor<'_> for KeyIndex<'_, N> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_str<E>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.names.iter().position(|n| *n == key))
    }
}

/// The range `inner` occupies inside `outer`; `inner` must be a sub-slice of `outer`.
pub(crate) fn span_within(outer: &[u8], inner: &[u8]) -> Range<usize> {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    start..start + inner.len()
}

/// `doc` with the bytes in `span` replaced by `replacement`.
pub fn splice(doc: &[u8], span: Range<usize>, replacement: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(doc.len() - span.len() + replacement.len());
    out.extend_from_slice(&doc[..span.start]);
    out.extend_from_slice(replacement);
    out.extend_from_slice(&doc[span.end..]);
    out.freeze()
}

/// A JSON string literal (quotes included) for `s`.
pub fn string_literal(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_top_level_member_not_a_nested_one() {
        let doc = br#"{"metadata":{"model":"inner"},"model" : "gpt-4o","x":1}"#;
        let span = top_level_span(doc, "model").unwrap();
        assert_eq!(&doc[span.clone()], br#""gpt-4o""#);
        let out = splice(doc, span, br#""gpt-4o-2024-08-06""#);
        assert_eq!(
            &out[..],
            br#"{"metadata":{"model":"inner"},"model" : "gpt-4o-2024-08-06","x":1}"#
        );
    }

    #[test]
    fn escaped_keys_are_still_found() {
        let doc = br#"{"mod\u0065l":"a"}"#;
        let span = top_level_span(doc, "model").unwrap();
        assert_eq!(&doc[span], br#""a""#);
    }

    #[test]
    fn a_member_named_twice_is_refused_even_when_escaped() {
        let doc = br#"{"model":"cheap","x":{"model":1},"mod\u0065l":"costly"}"#;
        assert_eq!(
            unique_top_level_spans(doc, ["stream", "model"]),
            Err(SpanError::Duplicate(1))
        );
        let span = top_level_span(doc, "model").unwrap();
        assert_eq!(&doc[span], br#""costly""#);
        assert_eq!(
            unique_top_level_spans(br#"{"model":"a","x":1,"y":{"x":2}}"#, ["model"])
                .map(|[s]| s.is_some()),
            Ok(true)
        );
        assert_eq!(
            unique_top_level_spans(b"[]", ["model"]),
            Err(SpanError::Invalid)
        );
    }

    #[test]
    fn non_objects_have_no_members() {
        assert_eq!(top_level_span(b"[1,2]", "model"), None);
        assert_eq!(top_level_span(b"{\"model\":", "model"), None);
        assert_eq!(top_level_span(b"{}", "model"), None);
    }

    #[test]
    fn string_literals_are_escaped() {
        assert_eq!(string_literal("a\"b"), r#""a\"b""#);
    }
}
