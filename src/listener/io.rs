//! A client connection's stream, with the header phase and write stalls enforced underneath
//! Pingora's HTTP code.
//!
//! Reads pass through untouched. While a header block is arriving, each read is scanned (see
//! [`super::header`]); a block that outgrows its cap or its deadline gets a final answer written
//! straight to the socket (431 or 408, in the dialect its path suggests) and a read error, which
//! makes Pingora close the connection.
//!
//! Writes pass through too, but none may wait longer than the write timeout for a client that
//! does not read. Pingora's own write timeout covers body writes only, not the final chunk,
//! flushes or shutdown, where a client that stopped reading would hold the request for ever.

use super::header::{ConnRules, HeaderScan, Violation};
use crate::dialect::errors::{render, ErrorKind};
use async_trait::async_trait;
use pingora::protocols::{
    GetProxyDigest, GetSocketDigest, GetTimingDigest, Peek, Shutdown, SocketDigest, Ssl, Stream,
    TimingDigest, UniqueID, UniqueIDType, ALPN,
};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

pub struct GuardedIo {
    inner: Stream,
    rules: ConnRules,
    /// Set by the gateway when a request has been answered: the next bytes start a new block.
    next_request: Arc<AtomicBool>,
    scan: HeaderScan,
    deadline: Option<Pin<Box<Sleep>>>,
    /// Running while a write waits for the client.
    write_stall: Option<Pin<Box<Sleep>>>,
    /// A write timed out: the client is taken to be gone, and every later write fails at once.
    write_dead: bool,
}

fn write_timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading")
}

impl GuardedIo {
    pub fn new(inner: Stream, rules: ConnRules, next_request: Arc<AtomicBool>) -> Self {
        GuardedIo {
            inner,
            rules,
            next_request,
            scan: HeaderScan::default(),
            // A new connection's first header is due from the moment it is accepted: opening
            // connections and sending nothing is the cheapest way to hold them.
            deadline: Some(Box::pin(tokio::time::sleep(rules.header_timeout))),
            write_stall: None,
            write_dead: false,
        }
    }

    /// Passes a write's outcome on, failing it once it has waited longer than the timeout.
    fn bounded<T>(
        &mut self,
        cx: &mut Context<'_>,
        res: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match res {
            Poll::Ready(r) => {
                self.write_stall = None;
                Poll::Ready(r)
            }
            Poll::Pending => {
                let limit = self.rules.write_timeout;
                let stall = self
                    .write_stall
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if stall.as_mut().poll(cx).is_ready() {
                    self.write_stall = None;
                    self.write_dead = true;
                    return Poll::Ready(Err(write_timed_out()));
                }
                Poll::Pending
            }
        }
    }

    /// Writes the final answer for `v` if the socket takes it at once, and returns the read
    /// error that ends the connection. The client may be mid-send; this answer is best effort.
    /// A connection that sent nothing at all is closed without one.
    fn refuse(&mut self, cx: &mut Context<'_>, v: Violation) -> io::Error {
        let (kind, message, reason, err) = match v {
            Violation::TooLarge => (
                ErrorKind::HeaderTooLarge,
                format!(
                    "The request header block is larger than the {} bytes this gateway accepts",
                    self.rules.max_header_bytes
                ),
                "Request Header Fields Too Large",
                io::Error::new(io::ErrorKind::InvalidData, "request header block too large"),
            ),
            Violation::TooSlow => (
                ErrorKind::RequestTimeout,
                format!(
                    "The request header block did not arrive within {} seconds",
                    self.rules.header_timeout.as_secs_f64()
                ),
                "Request Timeout",
                io::Error::new(io::ErrorKind::TimedOut, "request header block too slow"),
            ),
        };
        let dialect = crate::gateway::dialect_of_path(self.scan.path());
        let r = render(dialect, kind, &message);
        let mut answer = format!(
            "HTTP/1.1 {} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            r.status,
            r.body.len()
        )
        .into_bytes();
        answer.extend_from_slice(&r.body);
        if self.scan.started() {
            let _ = Pin::new(&mut *self.inner).poll_write(cx, &answer);
            let _ = Pin::new(&mut *self.inner).poll_flush(cx);
        }
        self.deadline = None;
        err
    }
}

impl AsyncRead for GuardedIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.next_request.swap(false, Ordering::AcqRel) {
            this.scan = HeaderScan::default();
            this.deadline = None;
        }
        if this.scan.done() {
            return Pin::new(&mut *this.inner).poll_read(cx, buf);
        }
        if let Some(deadline) = this.deadline.as_mut() {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(this.refuse(cx, Violation::TooSlow)));
            }
        }
        let before = buf.filled().len();
        let read = Pin::new(&mut *this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = read {
            let fresh = &buf.filled()[before..];
            if !fresh.is_empty() && this.deadline.is_none() {
                // On a reused connection the clock starts at the next request's first byte:
                // idling between requests is the keep-alive timeout's business.
                this.deadline = Some(Box::pin(tokio::time::sleep(this.rules.header_timeout)));
            }
            if let Err(v) = this.scan.feed(fresh, this.rules.max_header_bytes) {
                buf.set_filled(before);
                return Poll::Ready(Err(this.refuse(cx, v)));
            }
            if this.scan.done() {
                this.deadline = None;
            }
        }
        read
    }
}

impl AsyncWrite for GuardedIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.write_dead {
            return Poll::Ready(Err(write_timed_out()));
        }
        let res = Pin::new(&mut *self.inner).poll_write(cx, data);
        self.bounded(cx, res)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.write_dead {
            return Poll::Ready(Err(write_timed_out()));
        }
        let res = Pin::new(&mut *self.inner).poll_write_vectored(cx, bufs);
        self.bounded(cx, res)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.write_dead {
            return Poll::Ready(Err(write_timed_out()));
        }
        let res = Pin::new(&mut *self.inner).poll_flush(cx);
        self.bounded(cx, res)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.write_dead {
            return Poll::Ready(Ok(()));
        }
        let res = Pin::new(&mut *self.inner).poll_shutdown(cx);
        self.bounded(cx, res)
    }
}

#[async_trait]
impl Shutdown for GuardedIo {
    async fn shutdown(&mut self) {
        // Pingora's shutdown flushes first; a client that does not read must not stall it.
        if !self.write_dead {
            let limit = self.rules.write_timeout;
            let _ = tokio::time::timeout(limit, self.inner.shutdown()).await;
        }
    }
}

impl UniqueID for GuardedIo {
    fn id(&self) -> UniqueIDType {
        self.inner.id()
    }
}

impl Ssl for GuardedIo {
    fn get_ssl_digest(&self) -> Option<Arc<pingora::protocols::tls::SslDigest>> {
        self.inner.get_ssl_digest()
    }

    fn selected_alpn_proto(&self) -> Option<ALPN> {
        self.inner.selected_alpn_proto()
    }
}

impl GetTimingDigest for GuardedIo {
    fn get_timing_digest(&self) -> Vec<Option<TimingDigest>> {
        self.inner.get_timing_digest()
    }
}

impl GetProxyDigest for GuardedIo {
    fn get_proxy_digest(&self) -> Option<Arc<pingora::protocols::raw_connect::ProxyDigest>> {
        self.inner.get_proxy_digest()
    }
}

impl GetSocketDigest for GuardedIo {
    fn get_socket_digest(&self) -> Option<Arc<SocketDigest>> {
        self.inner.get_socket_digest()
    }

    fn set_socket_digest(&mut self, digest: SocketDigest) {
        self.inner.set_socket_digest(digest)
    }
}

#[async_trait]
impl Peek for GuardedIo {
    async fn try_peek(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        self.inner.try_peek(buf).await
    }
}

impl std::fmt::Debug for GuardedIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedIo")
            .field("inner", &self.inner)
            .finish()
    }
}
