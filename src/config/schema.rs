//! The YAML file as written by operators (config v1, DESIGN §4). Unknown fields are rejected.
//!
//! These types only describe the file; [`super::Config`] is what the rest of tollgate sees.

use crate::dialect::Dialect;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct File {
    pub listen: OneOrMany,
    #[serde(default)]
    pub admin_listen: Option<String>,
    #[serde(default)]
    pub server: Server,
    #[serde(default)]
    pub state: State,
    #[serde(default)]
    pub routing: Routing,
    #[serde(default)]
    pub providers: Vec<Provider>,
    #[serde(default)]
    pub keys: Vec<Key>,
    #[serde(default)]
    pub groups: BTreeMap<String, Group>,
    #[serde(default)]
    pub pricing: BTreeMap<String, Price>,
    #[serde(default)]
    pub media: Media,
    #[serde(default)]
    pub admission: Admission,
    #[serde(default)]
    pub metering: Metering,
    #[serde(default)]
    pub admin: AdminApi,
}

/// The admin API on the admin listener.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminApi {
    /// The bearer token the admin API asks for (`${ENV}` allowed); none: the API is off and
    /// only the health endpoints and `/metrics` answer.
    #[serde(default)]
    pub token: Option<String>,
}

/// How usage is learned when it is not simply reported at the end.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Metering {
    /// After a client leaves mid-stream, how long the provider's stream is still read (nothing
    /// is sent on) to learn the usage it reports at its end; 0 hangs up at once.
    #[serde(with = "humantime_serde")]
    pub read_after_disconnect: Duration,
    /// And how many bytes of it at most.
    pub read_after_disconnect_bytes: usize,
    /// How often the usage ledger is fsynced: what a crash can lose at most.
    #[serde(with = "humantime_serde")]
    pub ledger_fsync: Duration,
    /// Charge a request whose client left before the provider's first byte for its prompt
    /// (estimated); off: such a request costs nothing.
    pub charge_cancelled: bool,
}

impl Default for Metering {
    fn default() -> Self {
        Metering {
            read_after_disconnect: Duration::from_secs(30),
            read_after_disconnect_bytes: 1024 * 1024,
            ledger_fsync: Duration::from_secs(1),
            charge_cancelled: false,
        }
    }
}

/// How admission control reserves and guards.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Admission {
    /// Tokens reserved for an answer under a `tpm` limit: `min(max_tokens, this)`, or this
    /// when the request gives no `max_tokens`.
    pub output_reserve: u64,
    /// Failed authentications per client address per minute before it gets 429 without its
    /// key being looked at; 0 turns the guard off.
    pub auth_failures_per_minute: u32,
}

impl Default for Admission {
    fn default() -> Self {
        Admission {
            output_reserve: 4096,
            auth_failures_per_minute: 30,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Worker threads of the client listener.
    pub threads: usize,
    /// Let idle worker threads take tasks from busy ones. Unset: on with two or more threads
    /// (Pingora hands each new connection to a thread at random, and a few long-lived
    /// keep-alive connections from a load balancer can land on one), off with one, where there
    /// is nothing to steal and the single-threaded scheduler served 14% more requests a second.
    pub work_stealing: Option<bool>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest non-streaming answer read from a provider, in bytes.
    pub max_answer_bytes: usize,
    /// Largest single event (or line) of a provider's stream, in bytes.
    pub max_event_bytes: usize,
    /// Request and answer bodies held in memory at once, across all requests, in bytes.
    pub max_buffered_bytes: usize,
    /// Largest request header block (request line and headers), in bytes; larger gets 431.
    pub max_header_bytes: usize,
    /// Open client connections per listener; more are closed as soon as they are accepted.
    pub max_connections: usize,
    /// From a request's first byte to the end of its header block.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
    /// From the end of the header block to the end of the request body.
    #[serde(with = "humantime_serde")]
    pub body_timeout: Duration,
    /// Longest a write to the client may wait for it to read.
    #[serde(with = "humantime_serde")]
    pub client_write_timeout: Duration,
    /// How long SIGTERM waits for in-flight requests, streams included, before exiting anyway.
    #[serde(with = "humantime_serde")]
    pub grace_period: Duration,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            threads: 2,
            work_stealing: None,
            max_body_bytes: 32 * 1024 * 1024,
            max_answer_bytes: 64 * 1024 * 1024,
            max_event_bytes: 1024 * 1024,
            max_buffered_bytes: 1024 * 1024 * 1024,
            max_header_bytes: 64 * 1024,
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            client_write_timeout: Duration::from_secs(30),
            grace_period: Duration::from_secs(300),
        }
    }
}

/// Images and files a client gives by URL, for providers that take only their bytes (Gemini).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Media {
    /// Fetch them; otherwise the URL goes to the provider as it is.
    pub fetch_urls: bool,
    /// Largest file fetched, in bytes.
    pub max_bytes: usize,
    /// URLs fetched for one request at most; more is a 400.
    pub max_per_request: usize,
    /// One fetch, redirects included.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Fetch from loopback, private, link-local and other non-public addresses too (an
    /// internal image host); off, a URL that leads there is refused, so a client cannot make
    /// tollgate reach into its own network.
    pub allow_private: bool,
}

impl Default for Media {
    fn default() -> Self {
        Media {
            fetch_urls: true,
            max_bytes: 20 * 1024 * 1024,
            max_per_request: 16,
            timeout: Duration::from_secs(10),
            allow_private: false,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Routing {
    /// Attempts per request across all candidates, the first one included.
    pub max_attempts: u32,
}

impl Default for Routing {
    fn default() -> Self {
        Routing { max_attempts: 3 }
    }
}

#[derive(Debug, Default, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum StateBackend {
    #[default]
    Local,
    Redis,
}

/// What admission does while Redis cannot be reached.
#[derive(Debug, Default, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnRedisError {
    /// Each replica enforces the limits on its own requests.
    #[default]
    FailOpen,
    /// Requests are refused with 503.
    FailClosed,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct State {
    pub backend: StateBackend,
    pub redis_url: Option<String>,
    /// The hash tag every key carries (`{tollgate}:k:name:rpm`): one Redis for several
    /// deployments needs one each.
    pub redis_prefix: String,
    /// Longest wait for Redis on a request's path.
    #[serde(with = "humantime_serde")]
    pub redis_timeout: Duration,
    /// How long a request's concurrency lease outlives a replica that stopped renewing it.
    #[serde(with = "humantime_serde")]
    pub redis_lease_ttl: Duration,
    pub on_redis_error: OnRedisError,
    pub usage_log: Option<String>,
    /// With Redis: about how many ledger lines its stream (`{prefix}:ledger`) keeps.
    pub redis_stream_max: u64,
}

impl Default for State {
    fn default() -> Self {
        State {
            backend: StateBackend::default(),
            redis_url: None,
            redis_prefix: "tollgate".into(),
            redis_timeout: Duration::from_millis(250),
            redis_lease_ttl: Duration::from_secs(30),
            on_redis_error: OnRedisError::default(),
            usage_log: None,
            redis_stream_max: 1_000_000,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    pub name: String,
    pub dialect: Dialect,
    pub base_url: String,
    #[serde(default)]
    pub api_key: Option<String>,
    pub models: Vec<String>,
    #[serde(default)]
    pub model_map: BTreeMap<String, String>,
    #[serde(default)]
    pub priority: u32,
    #[serde(default = "one")]
    pub weight: u32,
    #[serde(default)]
    pub timeouts: Timeouts,
    /// Send the assistant's reasoning back as `reasoning_content` (dialect `openai` only).
    #[serde(default)]
    pub reasoning_content: bool,
    /// Limits of the provider account itself; a full provider is skipped.
    #[serde(default)]
    pub limits: Limits,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    /// TCP connect plus TLS handshake.
    #[serde(with = "humantime_serde")]
    pub connect: Duration,
    /// From the request being sent to the response header arriving.
    #[serde(with = "humantime_serde")]
    pub first_byte: Duration,
    /// Longest wait for the next complete event of a stream, or the next chunk of a whole
    /// answer: bytes that never complete an event do not reset it.
    #[serde(with = "humantime_serde")]
    pub idle: Duration,
    /// The whole exchange, from sending the request to the answer's last byte.
    #[serde(with = "humantime_serde")]
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(300),
            idle: Duration::from_secs(120),
            total: Duration::from_secs(30 * 60),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub key_sha256: Option<String>,
    pub name: String,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default = "any_model")]
    pub models: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub budget_usd: Option<f64>,
}

fn any_model() -> Vec<String> {
    vec!["*".to_string()]
}

#[derive(Debug, Default, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    #[serde(default)]
    pub rpm: Option<u32>,
    #[serde(default)]
    pub rpd: Option<u32>,
    #[serde(default)]
    pub concurrency: Option<u32>,
    #[serde(default)]
    pub tpm: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Group {
    #[serde(default)]
    pub limits: Limits,
    #[serde(default = "unit_multiplier")]
    pub price_multiplier: f64,
}

fn unit_multiplier() -> f64 {
    1.0
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cached_input: Option<f64>,
    #[serde(default)]
    pub cache_write: Option<f64>,
    /// USD per request, on top of the tokens.
    #[serde(default)]
    pub per_request: Option<f64>,
}
