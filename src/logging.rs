//! The process's log: one line per event on stderr, every line masked by the redactor, so no
//! secret reaches the log whoever wrote the line (tollgate, Pingora, a dependency).
//!
//! A request's thread only formats its line and appends it to a buffer; a thread of the log's
//! own masks and writes what gathered every few milliseconds, in one write. So the access log
//! costs a request neither a system call nor a wake-up (only the first line of a batch wakes
//! the log thread). The buffer is bounded: a thread that finds it full writes it out itself.

use crate::redact::Redactor;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};
use std::time::Duration;
use tracing_subscriber::fmt::MakeWriter;

static REDACTOR: OnceLock<Redactor> = OnceLock::new();

/// How long the log thread gathers lines before writing them.
const GATHER: Duration = Duration::from_millis(10);
/// Bytes of lines held at most before whoever logs writes them out.
const MAX_PENDING: usize = 4 * 1024 * 1024;

/// Lines logged and not yet written, and the log thread's wake-up.
static PENDING: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static LINES_WAITING: Condvar = Condvar::new();
/// Held while a batch is taken and written, so that batches reach stderr in order.
static WRITING: Mutex<()> = Mutex::new(());
/// The log thread runs; otherwise every line is written at once.
static WRITES_LATER: AtomicBool = AtomicBool::new(false);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // What a panicking writer left is still lines: keep them.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

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
    let writes_later = std::thread::Builder::new()
        .name("tollgate-log".into())
        .spawn(write_loop)
        .is_ok();
    WRITES_LATER.store(writes_later, Ordering::Relaxed);
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Buffered)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// From now on, every log line is masked with `redactor`. Only the first call counts.
pub fn mask_with(redactor: Redactor) {
    let _ = REDACTOR.set(redactor);
}

/// Writes out every line logged so far: before the process exits (which runs no destructors).
pub fn flush() {
    write_pending();
}

/// Masks and writes the lines gathered so far, in one write.
fn write_pending() {
    let _order = lock(&WRITING);
    let batch = std::mem::take(&mut *lock(&PENDING));
    if batch.is_empty() {
        return;
    }
    let mut err = io::stderr().lock();
    let _ = match (REDACTOR.get(), std::str::from_utf8(&batch)) {
        (Some(r), Ok(text)) => err.write_all(r.mask_str(text).as_bytes()),
        (Some(r), Err(_)) => err.write_all(&r.mask(bytes::Bytes::from(batch))),
        (None, _) => err.write_all(&batch),
    };
    let _ = err.flush();
}

fn write_loop() {
    loop {
        {
            let pending = lock(&PENDING);
            let _waited = LINES_WAITING
                .wait_while(pending, |p| p.is_empty())
                .unwrap_or_else(|p| p.into_inner());
        }
        std::thread::sleep(GATHER);
        write_pending();
    }
}

/// Adds whole lines to what the log thread writes next.
fn append(lines: &[u8]) {
    let full = {
        let mut pending = lock(&PENDING);
        let first = pending.is_empty();
        pending.extend_from_slice(lines);
        if first {
            LINES_WAITING.notify_one();
        }
        pending.len() >= MAX_PENDING
    };
    if full || !WRITES_LATER.load(Ordering::Relaxed) {
        write_pending();
    }
}

/// One request's access log line, in the format of every other line of the log (`tracing`'s
/// default: time, level, target, then `name=value` fields, strings quoted as Rust debug
/// strings), but written here rather than through `tracing`'s formatter, which spent about a
/// tenth of a plain request's instructions on it. It is written when `RUST_LOG` lets the
/// `tollgate::access` target through at `info`, never in colour.
pub struct AccessLine(String);

impl AccessLine {
    pub fn start() -> Option<Self> {
        if !tracing::enabled!(target: "tollgate::access", tracing::Level::INFO) {
            return None;
        }
        let mut line = String::with_capacity(320);
        let _ = write!(
            line,
            "{}  INFO tollgate::access:",
            humantime::format_rfc3339_micros(std::time::SystemTime::now())
        );
        Some(AccessLine(line))
    }

    /// A text field, quoted and escaped.
    pub fn text(&mut self, name: &str, value: &str) -> &mut Self {
        let _ = write!(self.0, " {name}={value:?}");
        self
    }

    /// A field written as it displays (numbers, flags, tokens without spaces).
    pub fn plain(&mut self, name: &str, value: impl std::fmt::Display) -> &mut Self {
        let _ = write!(self.0, " {name}={value}");
        self
    }

    pub fn write(mut self) {
        self.0.push('\n');
        append(self.0.as_bytes());
    }
}

/// Where the formatter writes: each event's whole line in one write.
struct Buffered;

impl<'a> MakeWriter<'a> for Buffered {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line
    }
}

struct Line;

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
