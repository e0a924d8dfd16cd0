//! The admin listener: `/healthz`, `/readyz` and `/metrics` (and, later, the admin API).

use crate::gateway::Shared;
use crate::inflight::Inflight;
use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub struct Admin {
    inflight: Inflight,
    shared: Arc<Shared>,
    /// The client listener, probed until it first accepts a connection.
    api: SocketAddr,
    api_up: AtomicBool,
}

impl Admin {
    pub fn new(inflight: Inflight, shared: Arc<Shared>, api: SocketAddr) -> Self {
        Admin {
            inflight,
            shared,
            api,
            api_up: AtomicBool::new(false),
        }
    }

    /// Pingora binds the client listener in its own service, with no signal when it is done;
    /// ready means it accepts connections, checked by connecting until it first does.
    async fn api_accepts(&self) -> bool {
        if self.api_up.load(Ordering::Acquire) {
            return true;
        }
        let mut addr = self.api;
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr.ip() {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            });
        }
        let up = matches!(
            tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr))
                .await,
            Ok(Ok(_))
        );
        if up {
            self.api_up.store(true, Ordering::Release);
        }
        up
    }
}

fn text(status: u16, body: &str) -> Response<Vec<u8>> {
    let body = format!("{body}\n").into_bytes();
    Response::builder()
        .status(status)
        .header("content-type", "text/plain; charset=utf-8")
        .header("content-length", body.len())
        .body(body)
        .unwrap_or_default()
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        // Admin requests have no body: what the connection reads next is a new header block.
        crate::listener::request_done();
        match session.req_header().uri.path() {
            // Alive as long as the process answers.
            "/healthz" => text(200, "ok"),
            // Ready to take traffic; fails as soon as a shutdown starts draining, so a load
            // balancer stops sending new requests while in-flight ones finish.
            "/readyz" if self.inflight.is_draining() => text(503, "draining"),
            "/readyz" if !self.api_accepts().await => text(503, "starting"),
            "/readyz" => text(200, "ready"),
            "/metrics" => {
                let body = self
                    .shared
                    .metrics
                    .render(self.inflight.count(), self.shared.limits.redis_outages());
                Response::builder()
                    .status(200)
                    .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
                    .header("content-length", body.len())
                    .body(body)
                    .unwrap_or_default()
            }
            _ => text(404, "not found"),
        }
    }
}
