//! The admin listener: `/healthz`, `/readyz`, `/metrics`, and the admin API (`api.rs`) when
//! `admin.token` is set.

mod api;

use crate::gateway::Shared;
use crate::inflight::Inflight;
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
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
    api: api::Api,
    /// The client listener, probed until it first accepts a connection.
    api_addr: SocketAddr,
    api_up: AtomicBool,
}

impl Admin {
    pub fn new(inflight: Inflight, shared: Arc<Shared>, api: SocketAddr) -> Self {
        Admin {
            inflight,
            api: api::Api::new(shared.clone()),
            shared,
            api_addr: api,
            api_up: AtomicBool::new(false),
        }
    }

    /// Pingora binds the client listener in its own service, with no signal when it is done;
    /// ready means it accepts connections, checked by connecting until it first does.
    async fn api_accepts(&self) -> bool {
        if self.api_up.load(Ordering::Acquire) {
            return true;
        }
        let mut addr = self.api_addr;
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

/// Reads an admin request's body: small, and soon.
async fn read_body(session: &mut ServerSession) -> Option<Bytes> {
    let mut body = BytesMut::new();
    let read = async {
        while let Some(chunk) = session.read_request_body().await.ok()? {
            if body.len() + chunk.len() > api::MAX_BODY {
                return None;
            }
            body.extend_from_slice(&chunk);
        }
        Some(())
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()
        .flatten()?;
    Some(body.freeze())
}

impl Admin {
    async fn admin_api(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        let Some(token) = &self.shared.config.admin_token else {
            return text(404, "not found");
        };
        if !api::authorized(&session.req_header().headers, token) {
            // The connection may carry a body nobody will read.
            session.set_keepalive(None);
            let mut r = api::json_response(
                401,
                &serde_json::json!({"error": {"message": "a valid admin token is required"}}),
            );
            r.headers_mut().insert(
                http::header::WWW_AUTHENTICATE,
                http::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
        let Some(body) = read_body(session).await else {
            session.set_keepalive(None);
            return text(413, "request body too large or too slow");
        };
        crate::listener::request_done();
        let req = session.req_header();
        let (method, path, query) = (
            req.method.clone(),
            req.uri.path().to_string(),
            req.uri.query().map(str::to_string),
        );
        self.api
            .handle(&method, &path, query.as_deref(), body)
            .await
    }
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        if session.req_header().uri.path().starts_with("/admin/") {
            return self.admin_api(session).await;
        }
        // Other admin requests have no body: what the connection reads next is a new header
        // block.
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
