//! The client listener's own defences, below the HTTP layer: a cap on open connections, a size
//! cap and deadline on every request's header block, and a timeout on every write.
//!
//! [`Guarded`] wraps Pingora's HTTP application: a connection over the cap is closed as soon as
//! it is accepted, before a byte is read; every other one is read through `io::GuardedIo`.

mod header;
mod io;

pub use header::ConnRules;

use async_trait::async_trait;
use pingora::apps::ServerApp;
use pingora::protocols::Stream;
use pingora::server::ShutdownWatch;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::sync::Semaphore;

tokio::task_local! {
    /// The current connection's "a request was answered" flag; the HTTP/1 keep-alive loop runs
    /// in the connection's task, so the gateway can reach it from the request it serves.
    static NEXT_REQUEST: Arc<AtomicBool>;
}

/// Tells the connection that the request it carried has been answered, so the bytes that come
/// next are a new header block, with a deadline and a cap of its own. Does nothing outside a
/// guarded connection.
pub fn request_done() {
    let _ = NEXT_REQUEST.try_with(|flag| flag.store(true, Ordering::Release));
}

/// A Pingora application behind the listener's defences.
pub struct Guarded<A> {
    inner: Arc<A>,
    slots: Arc<Semaphore>,
    rules: ConnRules,
}

impl<A> Guarded<A> {
    pub fn new(inner: A, max_connections: usize, rules: ConnRules) -> Self {
        Guarded {
            inner: Arc::new(inner),
            slots: Arc::new(Semaphore::new(max_connections.min(Semaphore::MAX_PERMITS))),
            rules,
        }
    }
}

#[async_trait]
impl<A: ServerApp + Send + Sync + 'static> ServerApp for Guarded<A> {
    async fn process_new(
        self: &Arc<Self>,
        stream: Stream,
        shutdown: &ShutdownWatch,
    ) -> Option<Stream> {
        let Ok(_slot) = self.slots.clone().try_acquire_owned() else {
            // Closing at once costs one accept and one close; reading or answering would let a
            // flood of connections cost more.
            tracing::debug!("connection refused: the listener is at max_connections");
            return None;
        };
        let flag = Arc::new(AtomicBool::new(false));
        let io = io::GuardedIo::new(stream, self.rules, flag.clone());
        // The inner application runs the whole keep-alive loop and never hands the stream back.
        NEXT_REQUEST
            .scope(flag, self.inner.process_new(Box::new(io), shutdown))
            .await
    }

    async fn cleanup(&self) {
        self.inner.cleanup().await
    }
}
