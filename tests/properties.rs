//! Property tests of the pure codecs: any split of any stream gives the same events, and no
//! input, however broken, makes a codec panic.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use proptest::prelude::*;
use tollgate::dialect::json::top_level_spans;
use tollgate::dialect::openai::{answer_for_client, probe_request, ChatPassthrough};
use tollgate::dialect::sse::{parse_event, EventSplitter, Events};
use tollgate::dialect::stream::StreamTranslator;

#[derive(Debug, Clone)]
struct Ev {
    name: Option<String>,
    data: Vec<String>,
    comment: bool,
}

fn event() -> impl Strategy<Value = Ev> {
    (
        proptest::option::of("[a-z.]{1,12}"),
        proptest::collection::vec("[ -~é€😀]{0,40}", 1..4),
        any::<bool>(),
    )
        .prop_map(|(name, data, comment)| Ev {
            name,
            data,
            comment,
        })
}

fn render(events: &[Ev], eol: &str) -> String {
    let mut s = String::new();
    for e in events {
        if e.comment {
            s.push_str(&format!(": keep-alive{eol}"));
        }
        if let Some(n) = &e.name {
            s.push_str(&format!("event: {n}{eol}"));
        }
        for d in &e.data {
            s.push_str(&format!("data: {d}{eol}"));
        }
        s.push_str(eol);
    }
    s
}

proptest! {
    #[test]
    fn any_split_gives_the_same_bytes_and_events(
        events in proptest::collection::vec(event(), 1..8),
        eol in prop_oneof![Just("\n"), Just("\r\n"), Just("\r")],
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let input = render(&events, eol).into_bytes();
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(input.len() + 1)).collect();
        points.sort_unstable();
        let mut splitter = EventSplitter::default();
        let mut out = Vec::new();
        let mut parsed = Vec::new();
        let mut prev = 0;
        for p in points.into_iter().chain(std::iter::once(input.len())) {
            if let Some(run) = splitter.push(Bytes::copy_from_slice(&input[prev..p])).unwrap() {
                out.extend_from_slice(&run);
                for ev in Events::new(run) {
                    if let Some(e) = parse_event(&ev) {
                        parsed.push((e.name.map(|n| String::from_utf8(n.to_vec()).unwrap()),
                                     String::from_utf8(e.data.into_owned()).unwrap()));
                    }
                }
            }
            prev = p;
        }
        prop_assert_eq!(&out, &input, "bytes pass unchanged");
        prop_assert!(!splitter.has_partial());
        let expected: Vec<_> = events.iter().map(|e| (e.name.clone(), e.data.join("\n"))).collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn no_bytes_make_the_codecs_panic(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..8),
        rename in any::<bool>(),
    ) {
        let mut t = ChatPassthrough::new(rename.then_some("gpt-4o"), 1 << 12);
        for c in &chunks {
            let _ = t.push(Bytes::copy_from_slice(c));
            let _ = probe_request(c);
            let _ = top_level_spans(c, ["model", "usage"]);
            let _ = answer_for_client(Bytes::copy_from_slice(c), Some("m"));
        }
        let _ = t.finish();
        let _ = t.fail(tollgate::dialect::errors::ErrorKind::BadUpstream, "x");
    }

    #[test]
    fn json_shaped_noise_never_panics(s in r#"[{}\[\]":,a-z0-9 \\nul-]{0,120}"#) {
        let _ = probe_request(s.as_bytes());
        let mut t = ChatPassthrough::new(Some("gpt-4o"), 1 << 12);
        let _ = t.push(Bytes::from(format!("data: {s}\n\n")));
        let _ = answer_for_client(Bytes::from(s), Some("m"));
    }
}

const SECRETS: [&str; 3] = ["sk-upstream-0123", "sk-client-abcd", "AIzaGoogle_key-9"];

/// Text, with secrets written into it in the spellings a provider might echo them in.
fn text_with_secrets() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[ -~\n\ré😀]{0,30}",
        (0..SECRETS.len(), 0..3usize).prop_map(|(i, form)| {
            let s = SECRETS[i];
            match form {
                0 => s.to_string(),
                1 => format!("Bearer {s}"),
                // Every character escaped as JSON does it for `\u00XX`.
                _ => s.chars().map(|c| format!("\\u{:04x}", c as u32)).collect(),
            }
        }),
    ];
    proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat())
}

proptest! {
    /// However the provider splits its body, masking it as it streams gives what masking each
    /// line gives, and no secret survives in any spelling.
    #[test]
    fn no_split_lets_a_secret_through(text in text_with_secrets(), cuts in proptest::collection::vec(0usize..400, 0..6)) {
        use tollgate::redact::{LineMasker, Redactor};
        let r = Redactor::new(SECRETS);
        let bytes = text.as_bytes();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut m = LineMasker::new(1 << 20);
        let mut streamed = Vec::new();
        let mut at = 0;
        for cut in cuts.into_iter().chain([bytes.len()]) {
            if let Some(out) = m.push(&r, Bytes::copy_from_slice(&bytes[at..cut])).unwrap() {
                streamed.extend_from_slice(&out);
            }
            at = cut;
        }
        if let Some(out) = m.finish(&r) {
            streamed.extend_from_slice(&out);
        }
        let whole_lines: Vec<u8> = text
            .split_inclusive(['\n', '\r'])
            .flat_map(|line| r.mask(Bytes::copy_from_slice(line.as_bytes())).to_vec())
            .collect();
        // A run that holds a secret comes back with its escapes written out, so the two may
        // spell the same JSON differently; read as JSON, they are the same.
        let out = String::from_utf8_lossy(&streamed);
        prop_assert_eq!(unescape(&out), unescape(&String::from_utf8_lossy(&whole_lines)));
        let decoded = unescape(&out);
        for s in SECRETS {
            prop_assert!(!decoded.contains(s), "{} leaked: {}", s, out);
        }
    }
}

/// `\uXXXX` escapes written out, as a JSON parser reads them (`\\` is an escaped backslash).
fn unescape(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '\\' && chars.get(i + 1) == Some(&'u') {
            let hex: String = chars.iter().skip(i + 2).take(4).collect();
            if let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
                out.push(c);
                i += 6;
                continue;
            }
        }
        if chars[i] == '\\' && i + 1 < chars.len() {
            out.push(chars[i]);
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}
