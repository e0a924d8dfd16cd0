//! The usage ledger: one JSON line per request that reached admission, and one per credit
//! added to a key, appended to `state.usage_log` by a thread of its own, in batches, off the
//! request path. Balances kept in process are rebuilt from it at start ([`replay`]).
//!
//! Lines reach the operating system in batches at most 10 ms apart, and the file is fsynced
//! every `metering.ledger_fsync`. A graceful stop writes and fsyncs everything before the
//! process exits, so SIGTERM loses nothing; a killed process loses at most its last batch (the
//! kernel keeps what was written); a machine that goes down loses at most what arrived since
//! the last fsync.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::{Duration, Instant};

/// Records waiting for the writer at most; a request finishing while it is full waits.
const QUEUE: usize = 65_536;

/// Token counts of one request, as its provider reported them.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct Tokens {
    pub input: u64,
    pub cache_read: u64,
    pub cache_write: u64,
    pub output: u64,
    pub reasoning: u64,
}

/// One line of the ledger.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Entry {
    Request(Box<Record>),
    Credit(Credit),
}

/// One request, as the ledger keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// RFC 3339, milliseconds, UTC: when the request ended.
    pub ts: String,
    pub request_id: String,
    pub key: String,
    pub group: Option<String>,
    /// The client's dialect.
    pub dialect: &'static str,
    /// The model the client asked for.
    pub model: Option<String>,
    /// The provider that answered (or whose error was the last), its dialect, and the model
    /// name it was sent.
    pub provider: Option<String>,
    pub provider_dialect: Option<&'static str>,
    pub upstream_model: Option<String>,
    pub stream: bool,
    pub status: u16,
    /// `completed`, `length`, `content_filter`, `client_disconnected`, `upstream_error`,
    /// `rate_limited`, `insufficient_balance` or `error`.
    pub end: &'static str,
    /// `null` when there was nothing to count (no provider answered).
    pub usage: Option<Tokens>,
    /// The provider reported no usage: these are the gateway's estimate.
    pub estimated: bool,
    /// `null` when the model has no price.
    pub cost_micro_usd: Option<i64>,
    /// From arrival to the last byte.
    pub ms: u64,
    /// From arrival to the first bytes of the answer.
    pub ttft_ms: Option<u64>,
    /// From the first attempt to the provider's last byte.
    pub upstream_ms: Option<u64>,
    pub attempts: u32,
}

/// Money added to a key's balance (negative: taken away) through the admin API.
#[derive(Debug, Clone, Serialize)]
pub struct Credit {
    pub ts: String,
    pub request_id: String,
    pub key: String,
    pub amount_micro_usd: i64,
    pub note: Option<String>,
}

/// What a key spent and was credited, in micro-USD, as the ledger tells.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub spent: i64,
    pub credit: i64,
}

/// The fields of a line that balances are rebuilt from.
#[derive(Deserialize)]
struct Line {
    kind: String,
    key: String,
    #[serde(default)]
    cost_micro_usd: Option<i64>,
    #[serde(default)]
    amount_micro_usd: Option<i64>,
}

/// Reads a ledger from its start: what each key spent and was credited. A line that cannot
/// be read (the half-written last line of a crash) is skipped and counted.
pub fn replay(path: &Path) -> std::io::Result<(HashMap<String, Totals>, usize)> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(e),
    };
    let mut totals: HashMap<String, Totals> = HashMap::new();
    let mut skipped = 0;
    for line in BufReader::new(file).split(b'\n') {
        let line = line?;
        if line.is_empty() {
            continue;
        }
        let Ok(l) = serde_json::from_slice::<Line>(&line) else {
            skipped += 1;
            continue;
        };
        let t = totals.entry(l.key).or_default();
        match l.kind.as_str() {
            "request" => t.spent = t.spent.saturating_add(l.cost_micro_usd.unwrap_or(0)),
            "credit" => t.credit = t.credit.saturating_add(l.amount_micro_usd.unwrap_or(0)),
            _ => skipped += 1,
        }
    }
    Ok((totals, skipped))
}

/// Which lines of a ledger to read back.
#[derive(Debug, Default)]
pub struct Query {
    pub key: Option<String>,
    /// RFC 3339 times, UTC, as the ledger writes them: `from` included, `to` not.
    pub from: Option<String>,
    pub to: Option<String>,
    /// At most this many lines, the oldest first.
    pub limit: usize,
}

impl Query {
    /// `line` as JSON, if it is one this query wants.
    pub fn pick(&self, line: &[u8]) -> Option<serde_json::Value> {
        // Borrowed where the JSON has no escapes, owned where it has (a key named `a"b`).
        #[derive(Deserialize)]
        struct Head<'a> {
            #[serde(borrow)]
            key: std::borrow::Cow<'a, str>,
            #[serde(borrow)]
            ts: std::borrow::Cow<'a, str>,
        }
        let h = serde_json::from_slice::<Head<'_>>(line).ok()?;
        // Every line's time has one format (milliseconds, `Z`), so text order is time order.
        let (key, ts) = (h.key.as_ref(), h.ts.as_ref());
        let wanted = self.key.as_deref().is_none_or(|k| k == key)
            && self.from.as_deref().is_none_or(|f| ts >= f)
            && self.to.as_deref().is_none_or(|t| ts < t);
        wanted.then(|| serde_json::from_slice(line).ok()).flatten()
    }
}

/// The lines of the ledger at `path` that match `q`.
pub fn query(path: &Path, q: &Query) -> std::io::Result<Vec<serde_json::Value>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for line in BufReader::new(file).split(b'\n') {
        if let Some(v) = q.pick(&line?) {
            out.push(v);
            if out.len() >= q.limit {
                break;
            }
        }
    }
    Ok(out)
}

enum Msg {
    Record(Entry),
    /// Write and fsync everything before, then say whether that worked.
    Sync(SyncSender<bool>),
}

pub struct Ledger {
    tx: SyncSender<Msg>,
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ledger")
    }
}

impl Ledger {
    /// Opens (creating) `path` for appending and starts its writer.
    pub fn open(path: &Path, fsync_every: Duration) -> std::io::Result<Ledger> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        std::thread::Builder::new()
            .name("tollgate-ledger".into())
            .spawn(move || write_loop(file, rx, fsync_every))?;
        Ok(Ledger { tx })
    }

    pub fn append(&self, record: Entry) {
        if self.tx.send(Msg::Record(record)).is_err() {
            tracing::error!("the usage ledger's writer has stopped: a record is lost");
        }
    }

    /// Waits until everything appended so far is on disk (at most `within`).
    pub fn sync(&self, within: Duration) -> bool {
        let (done, wait) = mpsc::sync_channel(1);
        self.tx.send(Msg::Sync(done)).is_ok() && wait.recv_timeout(within) == Ok(true)
    }
}

/// While lines keep coming, how long the writer gathers them before writing: it sleeps rather
/// than waits on the queue then, so a request that appends a line never has to wake it.
const GATHER: Duration = Duration::from_millis(10);

fn write_loop(file: File, rx: Receiver<Msg>, fsync_every: Duration) {
    let mut out = BufWriter::with_capacity(256 * 1024, file);
    let mut synced = Instant::now();
    let mut dirty = false;
    let mut busy = false;
    let mut open = true;
    while open {
        let mut batch = Vec::new();
        if busy {
            std::thread::sleep(GATHER);
        } else {
            // Idle: wait for a line, or for the time to fsync what is written.
            let wait = if dirty {
                fsync_every.saturating_sub(synced.elapsed())
            } else {
                fsync_every
            };
            match rx.recv_timeout(wait) {
                Ok(m) => batch.push(m),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
        }
        loop {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        busy = !batch.is_empty();
        let mut acks = Vec::new();
        for m in batch {
            match m {
                Msg::Record(r) => {
                    if let Err(e) = serde_json::to_writer(&mut out, &r)
                        .map_err(std::io::Error::from)
                        .and_then(|()| out.write_all(b"\n"))
                    {
                        tracing::error!(error = %e, "writing the usage ledger failed");
                    }
                    dirty = true;
                }
                Msg::Sync(ack) => acks.push(ack),
            }
        }
        // One write per batch; an fsync when asked for or due.
        let mut ok = match out.flush() {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(error = %e, "writing the usage ledger failed");
                false
            }
        };
        if dirty && (!acks.is_empty() || !open || synced.elapsed() >= fsync_every) {
            if let Err(e) = out.get_ref().sync_data() {
                tracing::error!(error = %e, "syncing the usage ledger failed");
                ok = false;
            }
            synced = Instant::now();
            dirty = !ok;
        }
        for ack in acks {
            let _ = ack.send(ok);
        }
    }
}
