//! What the gateway remembers about one request, from its first byte to its log line.

use crate::budget::Reservation;
use crate::dialect::usage::Usage;
use crate::dialect::Dialect;
use crate::error::Retry;
use crate::gateway::route::Route;
use crate::inflight::InflightGuard;
use crate::limits::{Permit, Quota};
use std::time::Instant;

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
    /// The retry decision of the error the request ended with.
    pub retry: Option<Retry>,
    pub attempts: u32,
    pub usage: Option<Usage>,
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
            retry: None,
            attempts: 0,
            usage: None,
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
        let used = self.usage.map(|u| u.input_total + u.output_total);
        for p in &mut self.permits {
            p.settle(used);
        }
    }
}
