//! Any body, read as a provider's answer (or error) in each dialect: no panic, and whatever
//! decodes reaches a client of every dialect as valid JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate::dialect::codec::{codec, convert_error};
use tollgate::dialect::ir::Request;
use tollgate_fuzz::{assert_json, CREATED, DIALECTS, MODEL};

fuzz_target!(|body: &[u8]| {
    let req = Request {
        model: "client-model".into(),
        ..Request::default()
    };
    for provider in DIALECTS {
        if let Some(answer) = codec(provider).decode_answer(body) {
            for client in DIALECTS {
                let out = codec(client).encode_answer(&answer, MODEL, CREATED, &req);
                assert_json(&out, &format!("{provider} → {client} answer"));
            }
        }
        // The same bytes as an error body: a message found in them, whatever it holds, goes
        // out in each client's error shape. (Without one, the message is the gateway's own.)
        if codec(provider).error_message(body).is_some() {
            let status = [400, 429, 503, 529][body.len() % 4];
            for client in DIALECTS {
                let r = convert_error(client, provider, status, body);
                assert_json(&r.body, &format!("{provider} → {client} error {status}"));
            }
        }
    }
});
