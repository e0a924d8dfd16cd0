//! The process's log: one line per event on stderr, every line masked by the redactor, so no
//! secret reaches the log whoever wrote the line (tollgate, Pingora, a dependency).

use crate::redact::Redactor;
use std::io::{self, Write};
use std::sync::OnceLock;
use tracing_subscriber::fmt::MakeWriter;

static REDACTOR: OnceLock<Redactor> = OnceLock::new();

/// Installs the subscriber. `RUST_LOG` picks the levels (default `info`).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Pingora's debug and trace records print whole request headers, provider keys included;
    // no log level lets them through.
    let filter = ["pingora_core=info", "pingora_proxy=info"]
        .iter()
        .filter_map(|d| d.parse().ok())
        .fold(filter, |f, d| f.add_directive(d));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Masked)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// From now on, every log line is masked with `redactor`. Only the first call counts.
pub fn mask_with(redactor: Redactor) {
    let _ = REDACTOR.set(redactor);
}

struct Masked;

impl<'a> MakeWriter<'a> for Masked {
    type Writer = MaskedLine;

    fn make_writer(&'a self) -> MaskedLine {
        MaskedLine
    }
}

/// The writer of one event: the formatter hands it the whole line in one write.
struct MaskedLine;

impl Write for MaskedLine {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut err = io::stderr().lock();
        match (REDACTOR.get(), std::str::from_utf8(buf)) {
            (Some(r), Ok(text)) => err.write_all(r.mask_str(text).as_bytes())?,
            (Some(r), Err(_)) => err.write_all(&r.mask(bytes::Bytes::copy_from_slice(buf)))?,
            (None, _) => err.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}
