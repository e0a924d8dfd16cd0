//! The admin listener: `/healthz` and `/readyz` (and, later, `/metrics` and the admin API).

use crate::inflight::Inflight;
use async_trait::async_trait;
use http::Response;
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

pub struct Admin {
    inflight: Inflight,
}

impl Admin {
    pub fn new(inflight: Inflight) -> Self {
        Admin { inflight }
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
        match session.req_header().uri.path() {
            // Alive as long as the process answers.
            "/healthz" => text(200, "ok"),
            // Ready to take traffic; fails as soon as a shutdown starts draining, so a load
            // balancer stops sending new requests while in-flight ones finish.
            "/readyz" if self.inflight.is_draining() => text(503, "draining"),
            "/readyz" => text(200, "ready"),
            _ => text(404, "not found"),
        }
    }
}
