//! The usage ledger: one JSON line per request that reached admission, appended to
//! `state.usage_log` by a thread of its own, in batches, off the request path.
//!
//! Lines are written as they come and the file is fsynced every `metering.ledger_fsync`;
//! a graceful stop flushes and fsyncs before the process exits, so SIGTERM loses nothing and
//! SIGKILL at most what arrived since the last fsync.

use serde::Serialize;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
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

/// One request, as the ledger keeps it.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// RFC 3339, milliseconds, UTC: when the request ended.
    pub ts: String,
    pub request_id: String,
    pub key: String,
    pub group: Option<String>,
    pub dialect: &'static str,
    pub model: Option<String>,
    pub provider: Option<String>,
    pub stream: bool,
    pub status: u16,
    /// `completed`, `client_disconnected`, `rate_limited` or `error`.
    pub end: &'static str,
    /// `null` when the provider reported none.
    pub usage: Option<Tokens>,
    pub cost_micro_usd: Option<i64>,
    pub ms: u64,
    pub attempts: u32,
}

enum Msg {
    Record(Box<Record>),
    /// Write and fsync everything before, then say so.
    Sync(SyncSender<()>),
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

    pub fn append(&self, record: Record) {
        if self.tx.send(Msg::Record(Box::new(record))).is_err() {
            tracing::error!("the usage ledger's writer has stopped: a record is lost");
        }
    }

    /// Waits until everything appended so far is on disk (at most `within`).
    pub fn sync(&self, within: Duration) -> bool {
        let (done, wait) = mpsc::sync_channel(1);
        self.tx.send(Msg::Sync(done)).is_ok() && wait.recv_timeout(within).is_ok()
    }
}

fn write_loop(file: File, rx: Receiver<Msg>, fsync_every: Duration) {
    let mut out = BufWriter::new(file);
    let mut synced = Instant::now();
    let mut dirty = false;
    loop {
        let msg = match rx.recv_timeout(fsync_every) {
            Ok(m) => Some(m),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let mut acks = Vec::new();
        // This message and whatever else is waiting: one batch, one flush.
        for m in msg
            .into_iter()
            .chain(std::iter::from_fn(|| rx.try_recv().ok()))
        {
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
        if dirty && (!acks.is_empty() || synced.elapsed() >= fsync_every) {
            let written = out.flush().and_then(|()| out.get_ref().sync_data());
            if let Err(e) = written {
                tracing::error!(error = %e, "syncing the usage ledger failed");
            }
            synced = Instant::now();
            dirty = false;
        } else if dirty {
            let _ = out.flush();
        }
        for ack in acks {
            let _ = ack.send(());
        }
    }
    let _ = out.flush().and_then(|()| out.get_ref().sync_data());
}
