//! One HTTP exchange with one provider, on Pingora's connector (pooled, rustls, h1 and h2).

use crate::budget::Reservation;
use crate::config::Provider;
use crate::dialect::codec::codec;
use crate::dialect::errors::ErrorKind;
use crate::dialect::sse::{parse_event, EventSplitter, Events};
use crate::error::GatewayError;
use crate::redact::{LineMasker, Redactor};
use bytes::{Bytes, BytesMut};
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::protocols::http::client::HttpSession;
use pingora::protocols::ALPN;
use pingora::upstreams::peer::HttpPeer;
use pingora::{Error as PError, ErrorType};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{timeout, timeout_at, Instant};

/// How long an idle pooled connection to a provider is kept.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// An exchange whose response header has arrived; the body is read with [`Exchange::next_lines`]
/// or [`Exchange::read_to_end`].
///
/// This is the only reader of a provider's bytes, and every byte it hands out, header values
/// included, has been through the redactor: a provider that quotes tollgate's key back cannot
/// get it to a client, whichever path or conversion its bytes take afterwards.
pub struct Exchange {
    session: HttpSession,
    peer: HttpPeer,
    pub provider: Arc<Provider>,
    pub status: u16,
    pub content_type: Option<String>,
    redactor: Arc<Redactor>,
    lines: LineMasker,
    /// The longest event read ahead (see [`Exchange::first_event`]).
    max_event: usize,
    /// Lines read ahead for the first event, given out first by [`Exchange::next_lines`].
    ahead: Option<Bytes>,
    /// When the whole exchange must be over (`timeouts.total`).
    deadline: Instant,
}

/// A request as it goes to one provider.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The name the provider knows the model by.
    pub model: String,
    pub body: Bytes,
    pub stream: bool,
    /// Headers of the client's to pass on (never its credentials), after the dialect's own.
    pub headers: Vec<(&'static str, String)>,
    /// Another operation's path than generating (counting tokens), after the base URL's path.
    pub path: Option<String>,
}

/// What a provider's body may hold in memory: one unfinished line of a stream.
#[derive(Debug, Clone)]
pub struct BodyRules {
    pub redactor: Arc<Redactor>,
    pub max_line: usize,
}

fn peer_for(provider: &Provider, addr: SocketAddr) -> HttpPeer {
    let ep = &provider.endpoint;
    let mut peer = HttpPeer::new(addr, ep.tls, ep.host.clone());
    let t = &provider.timeouts;
    peer.options.connection_timeout = Some(t.connect);
    peer.options.total_connection_timeout = Some(t.connect);
    peer.options.idle_timeout = Some(POOL_IDLE);
    if ep.tls {
        peer.options.alpn = ALPN::H2H1;
        peer.options.max_h2_streams = 100;
    }
    peer
}

/// The request for a provider that knows the model as `model`: its dialect's path, auth header
/// and fixed headers, and nothing of the client's.
fn request_header(
    provider: &Provider,
    request: &Outgoing,
    body_len: usize,
) -> pingora::Result<RequestHeader> {
    let dialect = codec(provider.dialect);
    let path = format!(
        "{}{}",
        provider.endpoint.base_path,
        request
            .path
            .clone()
            .unwrap_or_else(|| dialect.upstream_path(&request.model, request.stream))
    );
    let stream = request.stream;
    let passed_on = &request.headers;
    let mut req = RequestHeader::build("POST", path.as_bytes(), Some(8))?;
    req.insert_header("host", provider.endpoint.authority())?;
    req.insert_header("content-type", "application/json")?;
    req.insert_header("content-length", body_len.to_string())?;
    req.insert_header(
        "accept",
        if stream {
            "text/event-stream"
        } else {
            "application/json"
        },
    )?;
    req.insert_header(
        "user-agent",
        concat!("tollgate/", env!("CARGO_PKG_VERSION")),
    )?;
    for (name, value) in dialect.fixed_headers() {
        req.insert_header(*name, *value)?;
    }
    for (name, value) in passed_on {
        req.insert_header(*name, value.as_str())?;
    }
    if let Some(key) = &provider.api_key {
        let (name, value) = dialect.auth_header(key.expose());
        req.insert_header(name, value)?;
    }
    Ok(req)
}

/// Whether a Pingora error happened before the request could have reached the provider.
fn is_connect_error(e: &PError) -> bool {
    matches!(
        e.etype(),
        ErrorType::ConnectTimedout
            | ErrorType::ConnectRefused
            | ErrorType::ConnectNoRoute
            | ErrorType::TLSWantX509Lookup
            | ErrorType::TLSHandshakeFailure
            | ErrorType::TLSHandshakeTimedout
            | ErrorType::InvalidCert
            | ErrorType::HandshakeError
            | ErrorType::ConnectError
            | ErrorType::BindError
            | ErrorType::SocketError
            | ErrorType::ConnectProxyFailure
    )
}

/// A Pingora error as it may be logged: its type and, for socket errors, the OS error kind.
/// Never its context, which for a malformed answer is the raw header block, reflected
/// `Authorization` header included.
pub(crate) struct SafeError<'a>(pub &'a PError);

impl std::fmt::Display for SafeError<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.etype().as_str())?;
        match self.0.root_cause().downcast_ref::<std::io::Error>() {
            Some(io) => write!(f, " ({:?})", io.kind()),
            None => Ok(()),
        }
    }
}

/// The gateway's view of a transport error while talking to a provider. Client-facing messages
/// do not name the provider: provider names are the operator's topology, and go to the log.
pub(crate) fn classify(e: &PError) -> GatewayError {
    let err = if is_connect_error(e) {
        GatewayError::new(ErrorKind::NoProvider, "could not connect to the provider")
    } else if matches!(
        e.etype(),
        ErrorType::ReadTimedout | ErrorType::WriteTimedout
    ) {
        GatewayError::new(ErrorKind::UpstreamTimeout, "the provider timed out")
    } else {
        let what = match e.etype() {
            ErrorType::ConnectionClosed => "the provider closed the connection",
            ErrorType::InvalidHTTPHeader
            | ErrorType::H1Error
            | ErrorType::H2Error
            | ErrorType::InvalidH2 => "the provider sent a malformed HTTP response",
            _ => "the connection to the provider broke",
        };
        GatewayError::new(ErrorKind::BadUpstream, what)
    };
    err.retryable()
}

fn timed_out(what: &str) -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamTimeout,
        format!("the provider sent no {what} in time"),
    )
    .retryable()
}

fn over_time() -> GatewayError {
    GatewayError::new(
        ErrorKind::UpstreamTimeout,
        "the provider did not finish its answer in time",
    )
    .retryable()
}

/// How long to wait for the rest of a provider's body after the terminal event, so the
/// connection can go back to the pool instead of being closed.
const DRAIN_AFTER_END: Duration = Duration::from_secs(1);

impl Exchange {
    /// Connects, sends the request, and waits for the response header (the first-byte timeout
    /// covers sending the body and the provider's think time).
    pub async fn start(
        connector: &Connector,
        provider: Arc<Provider>,
        addr: SocketAddr,
        request: Outgoing,
        rules: &BodyRules,
    ) -> Result<Exchange, GatewayError> {
        let body = request.body.clone();
        let deadline = Instant::now() + provider.timeouts.total;
        let peer = peer_for(&provider, addr);
        // A pooled connection the provider already closed fails on first use; that says nothing
        // about the provider, so it is retried once on a fresh connection.
        for first_try in [true, false] {
            let (mut session, reused) = connector.get_http_session(&peer).await.map_err(|e| {
                tracing::info!(provider = %provider.name, error = %SafeError(&e), "cannot connect");
                classify(&e)
            })?;
            let sent: Result<pingora::Result<()>, _> = timeout_at(
                (Instant::now() + provider.timeouts.first_byte).min(deadline),
                async {
                    let req = request_header(&provider, &request, body.len())?;
                    session.write_request_header(Box::new(req)).await?;
                    session.write_request_body(body.clone(), true).await?;
                    session.finish_request_body().await?;
                    // Informational answers (100 Continue, 103 Early Hints) come before the real one.
                    loop {
                        session.read_response_header().await?;
                        match session.response_header().map(|h| h.status.as_u16()) {
                            Some(s) if (100..200).contains(&s) && s != 101 => continue,
                            _ => return Ok(()),
                        }
                    }
                },
            )
            .await;
            match sent {
                Err(_) if Instant::now() >= deadline => return Err(over_time()),
                Err(_) => return Err(timed_out("response header")),
                Ok(Err(mut e)) => {
                    // Pingora marks the errors that mean "this pooled connection was already
                    // dead" (the request never reached the provider); only those are resent.
                    e.retry.decide_reuse(reused);
                    if first_try && e.retry() {
                        tracing::debug!(provider = %provider.name, error = %SafeError(&e), "stale pooled connection, resending");
                        continue;
                    }
                    tracing::info!(provider = %provider.name, error = %SafeError(&e), "exchange failed");
                    return Err(classify(&e));
                }
                Ok(Ok(())) => {}
            }
            let Some(header) = session.response_header() else {
                return Err(GatewayError::new(
                    ErrorKind::BadUpstream,
                    "provider sent no response header",
                )
                .retryable());
            };
            let status = header.status.as_u16();
            let content_type = header
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .filter(|v| !rules.redactor.finds(v.as_bytes()))
                .map(str::to_string);
            return Ok(Exchange {
                session,
                peer,
                provider,
                status,
                content_type,
                redactor: rules.redactor.clone(),
                lines: LineMasker::new(rules.max_line),
                max_event: rules.max_line,
                ahead: None,
                deadline,
            });
        }
        Err(GatewayError::new(
            ErrorKind::BadUpstream,
            "the connection to the provider broke",
        )
        .retryable())
    }

    /// Whether the provider is streaming server-sent events.
    pub fn is_event_stream(&self) -> bool {
        self.content_type.as_deref().is_some_and(|c| {
            c.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("text/event-stream"))
        })
    }

    /// A response header's value, for passing on to the client; `None` when absent, not text,
    /// or holding a secret.
    pub fn header(&self, name: &str) -> Option<String> {
        let value = self.session.response_header()?.headers.get(name)?;
        let text = value.to_str().ok()?;
        (!self.redactor.finds(text.as_bytes())).then(|| text.to_string())
    }

    /// The instant the next read must finish by when waiting at most `idle` for it.
    pub fn idle_deadline(&self) -> Instant {
        (Instant::now() + self.provider.timeouts.idle).min(self.deadline)
    }

    /// A raw chunk of the body, `None` at its end; fails at `until`.
    async fn raw_chunk(&mut self, until: Instant) -> Result<Option<Bytes>, GatewayError> {
        match timeout_at(until, self.session.read_response_body()).await {
            Err(_) if until >= self.deadline => Err(over_time()),
            Err(_) => Err(timed_out("data")),
            Ok(Err(e)) => {
                tracing::info!(provider = %self.provider.name, error = %SafeError(&e), "reading the answer failed");
                Err(classify(&e))
            }
            Ok(Ok(chunk)) => Ok(chunk),
        }
    }

    /// The next complete lines of a streamed body, masked, or `None` at its end (after any
    /// unfinished last line). Fails at `until` (see [`Exchange::idle_deadline`]), at the total
    /// deadline, and when a line outgrows its bound.
    pub async fn next_lines(&mut self, until: Instant) -> Result<Option<Bytes>, GatewayError> {
        if let Some(ahead) = self.ahead.take() {
            return Ok(Some(ahead));
        }
        loop {
            let Some(chunk) = self.raw_chunk(until.min(self.deadline)).await? else {
                return Ok(self.lines.finish(&self.redactor));
            };
            match self.lines.push(&self.redactor, chunk) {
                Ok(Some(lines)) => return Ok(Some(lines)),
                Ok(None) => {}
                Err(e) => {
                    return Err(GatewayError::new(
                        ErrorKind::BadUpstream,
                        format!("the provider sent a line longer than {} bytes", e.limit),
                    ))
                }
            }
        }
    }

    /// Reads an event stream up to its first event that is more than a keep-alive, and keeps
    /// what it read for [`Exchange::next_lines`]. Nothing has been written to the client yet, so
    /// a provider whose first event is an error (Anthropic's `overloaded_error`, an OpenAI
    /// `{"error":…}` chunk, a Responses `response.failed`), or whose stream ends before one,
    /// fails here, and the next candidate can still be tried.
    pub async fn first_event(&mut self) -> Result<(), GatewayError> {
        let mut splitter = EventSplitter::new(self.max_event);
        let mut read = BytesMut::new();
        let outcome = loop {
            let Some(lines) = self.next_lines(self.idle_deadline()).await? else {
                break Err(GatewayError::new(
                    ErrorKind::BadUpstream,
                    "the provider ended its stream before its first event",
                )
                .retryable());
            };
            read.extend_from_slice(&lines);
            let run = splitter.push(lines).map_err(|e| {
                GatewayError::new(
                    ErrorKind::BadUpstream,
                    format!("the provider sent an event larger than {} bytes", e.limit),
                )
            })?;
            let verdict = run.and_then(|run| {
                Events::new(run).find_map(|event| match parse_event(&event) {
                    // Comments and pings say nothing of the answer yet.
                    None => None,
                    Some(e) if e.name == Some(&b"ping"[..]) => None,
                    Some(e) => Some(self.failure_in(e.name, &e.data)),
                })
            });
            match verdict {
                Some(Some(failure)) => break Err(failure),
                Some(None) => break Ok(()),
                None => {}
            }
        };
        self.ahead = Some(read.freeze());
        outcome
    }

    /// The failure a first event reports, if it is one.
    fn failure_in(&self, name: Option<&[u8]>, data: &[u8]) -> Option<GatewayError> {
        let named_error = matches!(name, Some(b"error") | Some(b"response.failed"));
        let v: serde_json::Value = serde_json::from_slice(data).ok()?;
        if !named_error && v.get("error").is_none() {
            return None;
        }
        let message = codec(self.provider.dialect)
            .error_message(data)
            .or_else(|| v["response"]["error"]["message"].as_str().map(String::from))
            .unwrap_or_else(|| "the provider failed before its first event".into());
        tracing::info!(provider = %self.provider.name, "the provider's first event is an error");
        Some(GatewayError::new(ErrorKind::BadUpstream, crate::error::clip(&message)).retryable())
    }

    /// Reads the whole body, up to `cap` bytes, masked, taking its size from the memory budget
    /// through `held` as it arrives. Each chunk must come within the idle timeout, and the whole
    /// within the total one.
    pub async fn read_to_end(
        &mut self,
        cap: usize,
        held: &mut Reservation,
    ) -> Result<Bytes, GatewayError> {
        let mut first: Option<Bytes> = None;
        let mut more = BytesMut::new();
        let mut total = 0usize;
        while let Some(chunk) = self.raw_chunk(self.idle_deadline()).await? {
            total += chunk.len();
            if total > cap {
                return Err(GatewayError::new(
                    ErrorKind::BadUpstream,
                    format!("the provider answered more than {cap} bytes"),
                ));
            }
            held.ensure(total).map_err(|_| GatewayError::overloaded())?;
            match &first {
                None => first = Some(chunk),
                Some(f) => {
                    if more.is_empty() {
                        more.extend_from_slice(f);
                    }
                    more.extend_from_slice(&chunk);
                }
            }
        }
        let body = if more.is_empty() {
            first.unwrap_or_default()
        } else {
            more.freeze()
        };
        Ok(self.redactor.mask(body))
    }

    /// After the stream's terminal event: reads what is left of the body for a moment, so the
    /// connection can be pooled, then releases it (Pingora pools it only if the body ended).
    pub async fn finish(mut self, connector: &Connector) {
        let drained = timeout(DRAIN_AFTER_END, async {
            while let Ok(Some(_)) = self.session.read_response_body().await {}
        })
        .await;
        if drained.is_ok() {
            self.release(connector).await;
        }
    }

    /// Hands the connection back to the pool once the body was read to its end.
    pub async fn release(self, connector: &Connector) {
        connector
            .release_http_session(self.session, &self.peer, Some(POOL_IDLE))
            .await;
    }
}
