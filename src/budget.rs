//! The process-wide budget for bodies held in memory: request bodies (kept whole so they can be
//! resent to another provider) and whole answers. Many concurrent large bodies get a 503 each
//! once the budget is spent, instead of the process running out of memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The budget, shared by every request.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    used: Arc<AtomicUsize>,
    cap: usize,
}

/// Taking more would go over the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverBudget;

/// Bytes taken from the budget, given back when dropped, whatever path the request leaves by.
#[derive(Debug)]
pub struct Reservation {
    used: Arc<AtomicUsize>,
    cap: usize,
    bytes: usize,
}

impl MemoryBudget {
    pub fn new(cap: usize) -> Self {
        MemoryBudget {
            used: Arc::new(AtomicUsize::new(0)),
            cap,
        }
    }

    /// An empty reservation, to grow as a body arrives.
    pub fn reservation(&self) -> Reservation {
        Reservation {
            used: self.used.clone(),
            cap: self.cap,
            bytes: 0,
        }
    }

    /// Bytes held right now, across all requests.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

impl Reservation {
    /// Takes `n` more bytes, all or nothing.
    pub fn grow(&mut self, n: usize) -> Result<(), OverBudget> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|&total| total <= self.cap)
            })
            .map_err(|_| OverBudget)?;
        self.bytes += n;
        Ok(())
    }

    /// Makes sure at least `n` bytes are held in all.
    pub fn ensure(&mut self, n: usize) -> Result<(), OverBudget> {
        match n.checked_sub(self.bytes) {
            Some(more) if more > 0 => self.grow(more),
            _ => Ok(()),
        }
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_add_up_and_are_given_back() {
        let budget = MemoryBudget::new(100);
        let mut a = budget.reservation();
        a.grow(60).unwrap();
        let mut b = budget.reservation();
        assert_eq!(b.grow(41), Err(OverBudget));
        assert_eq!(b.bytes(), 0);
        b.ensure(40).unwrap();
        b.ensure(10).unwrap();
        assert_eq!((budget.used(), b.bytes()), (100, 40));
        drop(a);
        assert_eq!(budget.used(), 40);
        drop(b);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_huge_request_cannot_overflow_the_count() {
        let budget = MemoryBudget::new(usize::MAX);
        let mut a = budget.reservation();
        a.grow(usize::MAX).unwrap();
        assert_eq!(budget.reservation().grow(1), Err(OverBudget));
    }
}
