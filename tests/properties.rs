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
