//! Any body, read as a client request of each dialect: no panic, and whatever decodes goes to a
//! provider of every dialect as valid JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::dialect::codec::{codec, Quirks, RouteFacts};
use tollgate_fuzz::{assert_json, DIALECTS, MODEL};

fuzz_target!(|body: &[u8]| {
    // Gemini takes its model and stream flag from the path. The stream flag changes what the
    // encoders write (OpenAI's `stream_options`), so it follows the body's length: both shapes
    // are reached without spending input bytes that would shift the seeds' JSON.
    let route = RouteFacts {
        model: Some("gemini-2.5-flash".into()),
        stream: body.len() % 2 == 1,
        sse: true,
    };
    for client in DIALECTS {
        let Ok(req) = codec(client).decode_request(body, &route) else {
            continue;
        };
        for provider in DIALECTS {
            let out = codec(provider).encode_request(&req, MODEL, Quirks::default());
            assert_json(&out, &format!("{client} → {provider} request"));
        }
    }
});
