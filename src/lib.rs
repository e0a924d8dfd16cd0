//! tollgate: an AI API gateway on Pingora.
//!
//! The request lifecycle lives in [`gateway`]; each concern it calls into has a module of its
//! own: [`auth`], [`routing`], [`upstream`] (the only reader of provider bytes), [`dialect`]
//! (pure codecs, one per dialect, and the internal representation between them), [`redact`]
//! (secrets out of provider bytes and logs), [`budget`] (memory for bodies), [`listener`]
//! (connection cap, header and write deadlines, below Pingora's HTTP code), [`limits`]
//! (admission: rates, leases, token reservations), [`metrics`] (Prometheus), [`config`].

pub mod admin;
pub mod auth;
pub mod budget;
pub mod config;
pub mod dialect;
pub mod error;
pub mod gateway;
pub mod inflight;
pub mod limits;
pub mod listener;
pub mod logging;
pub mod metering;
pub mod metrics;
pub mod redact;
pub mod routing;
pub mod server;
pub mod trim;
pub mod upstream;
