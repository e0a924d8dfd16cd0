//! A provider's bytes, masked whole and line by line as they stream: no panic, and no secret
//! is left in what comes out.
//!
//! Input: byte 0 is the length of a secret drawn from bytes 1.., then four chunk sizes; the
//! rest is the text.

#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use tollgate::redact::{LineMasker, Redactor};
use tollgate_fuzz::chunks;

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

fuzz_target!(|data: &[u8]| {
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let len = usize::from(len % 24) + 1;
    if rest.len() < len + 4 {
        return;
    }
    let (raw, rest) = rest.split_at(len);
    let (sizes, text) = rest.split_at(4);
    // Secrets are header values in the key alphabet. The digit keeps a secret from being a
    // piece of the mask itself (`[REDACTED]`), which would make any masked text contain it.
    let mut secret: String = raw
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    secret.push('7');
    let r = Redactor::new([secret.as_str(), "sk-upstream-0123", "AIzaGoogle_key-9"]);

    let whole = r.mask(Bytes::copy_from_slice(text));
    assert!(!r.finds(&whole), "a secret survived masking: {whole:?}");
    if !r.finds(text) && no_u00_escape(text) {
        // Nothing to mask in any spelling: the bytes are shared, not rewritten.
        assert_eq!(whole, text);
    }
    if let Ok(s) = std::str::from_utf8(text) {
        let masked = r.mask_str(s);
        assert!(!r.finds(masked.as_bytes()), "a secret survived: {masked:?}");
    }

    // Secrets never span lines, so masking line by line leaves none either.
    let mut m = LineMasker::new(1 << 12);
    let mut out = BytesMut::new();
    for chunk in chunks(text, sizes) {
        match m.push(&r, chunk) {
            Ok(lines) => out.extend_from_slice(&lines.unwrap_or_default()),
            Err(_) => break,
        }
    }
    out.extend_from_slice(&m.finish(&r).unwrap_or_default());
    assert!(!r.finds(&out), "a secret survived line masking: {out:?}");
});

/// Whether `text` holds no `\u00` escape, through which a secret could hide from `finds`.
fn no_u00_escape(text: &[u8]) -> bool {
    !text.windows(4).any(|w| w == b"\\u00")
}
