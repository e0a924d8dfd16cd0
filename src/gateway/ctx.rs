//! What the gateway remembers about one request, from its first byte to its log line.

use crate::budget::Reservation;
use crate::dialect::ir::Stop;
use crate::dialect::usage::Usage;
use crate::dialect::Dialect;
use crate::error::Retry;
use crate::gateway::route::Route;
use crate::inflight::InflightGuard;
use crate::limits::{Permit, Quota};
use crate::upstream::Failed;
use bytes::Bytes;
use std::time::Instant;

/// When a request passed the points its latencies are measured between.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timing {
    /// The client's body was read whole.
    pub body_read: Option<Instant>,
    /// The first attempt to reach a provider began.
    pub upstream_start: Option<Instant>,
    /// The client got the first bytes of the answer.
    pub first_byte: Option<Instant>,
    /// The provider's last byte was read (or the exchange was given up).
    pub upstream_end: Option<Instant>,
}

#[derive(Debug)]
pub struct RequestCtx {
    pub started: Instant,
    /// Names the request in the usage ledger.
    pub id: String,
    /// The request got as far as admission: it has a ledger record.
    pub admission: bool,
    /// The dialect the client speaks: every error it gets is rendered in it.
    pub dialect: Dialect,
    pub route: Option<Route>,
    /// The key's configured name (never the secret).
    pub key_name: Option<String>,
    pub key_group: Option<String>,
    pub model: Option<String>,
    pub stream: bool,
    /// The provider that answered, or whose error was the last.
    pub provider: Option<String>,
    /// The kind of the error the request was answered with.
    pub error_kind: Option<crate::dialect::errors::ErrorKind>,
    /// The retry decision of the error the request ended with.
    pub retry: Option<Retry>,
    pub attempts: u32,
    /// The attempts that failed.
    pub failed: Vec<Failed>,
    /// The provider that answered: its dialect and the model name it was sent.
    pub provider_dialect: Option<Dialect>,
    pub upstream_model: Option<String>,
    pub usage: Option<Usage>,
    /// `usage` is the gateway's estimate: the provider reported none.
    pub estimated: bool,
    /// Why the model stopped, when the answer said so.
    pub stop: Option<Stop>,
    /// The request body, kept (shared, not copied) to estimate the usage of an answer whose
    /// provider reports none.
    pub body: Option<Bytes>,
    /// Bytes of the answer written to the client.
    pub sent: u64,
    /// Bytes of generated content in a streamed answer, where the relay counted them.
    pub output_bytes: Option<u64>,
    /// The provider's stream reached its terminal event: its last usage is final.
    pub stream_complete: bool,
    pub timing: Timing,
    /// Why the request did not end well, for the log line.
    pub failure: Option<String>,
    /// Bodies this request keeps in memory, given back to the budget when it ends.
    pub held: Vec<Reservation>,
    /// What admission took for it (its key's and group's, the answering provider's): leases
    /// end when the client has the last byte, token reservations settle when it is logged, and
    /// dropping them ends the leases on any other path.
    pub permits: Vec<Permit>,
    /// The client's limits as they stood when it was admitted, for its rate-limit headers.
    pub quota: Quota,
    _inflight: InflightGuard,
}

impl RequestCtx {
    pub fn new(inflight: InflightGuard) -> Self {
        RequestCtx {
            started: Instant::now(),
            id: format!("{:032x}", fastrand::u128(..)),
            admission: false,
            dialect: Dialect::OpenAiChat,
            route: None,
            key_name: None,
            key_group: None,
            model: None,
            stream: false,
            provider: None,
            error_kind: None,
            retry: None,
            attempts: 0,
            failed: Vec::new(),
            provider_dialect: None,
            upstream_model: None,
            usage: None,
            estimated: false,
            stop: None,
            body: None,
            sent: 0,
            output_bytes: None,
            stream_complete: false,
            timing: Timing::default(),
            failure: None,
            held: Vec::new(),
            permits: Vec::new(),
            quota: Quota::default(),
            _inflight: inflight,
        }
    }

    /// Ends the concurrency leases: the client is gone, whatever the provider still sends.
    pub fn end_leases(&mut self) {
        self.permits.iter_mut().for_each(Permit::end_lease);
    }

    /// Settles every token reservation to the usage the provider reported, and ends the
    /// leases: once the client has its last byte, or when the request is logged.
    pub fn settle(&mut self) {
        // The provider's numbers: never trusted not to overflow.
        let used = self
            .usage
            .map(|u| u.input_total.saturating_add(u.output_total));
        for p in &mut self.permits {
            p.settle(used);
        }
    }
}
