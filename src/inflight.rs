//! In-flight requests and the draining state, shared by the gateway, the admin listener and
//! shutdown.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Debug, Default, Clone)]
pub struct Inflight {
    inner: Arc<State>,
}

#[derive(Debug, Default)]
struct State {
    count: AtomicUsize,
    draining: AtomicBool,
}

/// Counts one request for as long as it lives, whatever path it leaves by.
#[derive(Debug)]
pub struct InflightGuard {
    inner: Arc<State>,
}

impl Drop for InflightGuard {
    fn drop(&mut self) {
        self.inner.count.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Inflight {
    pub fn enter(&self) -> InflightGuard {
        self.inner.count.fetch_add(1, Ordering::AcqRel);
        InflightGuard {
            inner: self.inner.clone(),
        }
    }

    pub fn count(&self) -> usize {
        self.inner.count.load(Ordering::Acquire)
    }

    /// Marks the process as shutting down: readiness fails from now on.
    pub fn start_draining(&self) {
        self.inner.draining.store(true, Ordering::Release);
    }

    pub fn is_draining(&self) -> bool {
        self.inner.draining.load(Ordering::Acquire)
    }
}
