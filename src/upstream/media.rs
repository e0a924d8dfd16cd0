//! Images and files a client gives by URL, fetched for providers that take only their bytes
//! (Gemini fetches nothing from the web itself: reference §6 T6).
//!
//! The URL is the client's, so a fetch is the client reaching out through the gateway. It
//! connects only to public addresses unless the operator allows others, judged on the address
//! actually connected to, after DNS and at every redirect, so neither a host name nor a redirect
//! can lead inside. It reads at most `media.max_bytes` per file, from the shared memory budget,
//! and gives up at `media.timeout`. An image must be an image.

use super::address::is_public;
use crate::budget::{MemoryBudget, Reservation};
use crate::config::{Media as Rules, Provider};
use crate::dialect::codec::codec;
use crate::dialect::errors::ErrorKind;
use crate::dialect::ir::{Media, Request};
use crate::dialect::Dialect;
use crate::error::{clip, GatewayError};
use base64::Engine;
use bytes::BytesMut;
use pingora::connectors::http::Connector;
use pingora::http::RequestHeader;
use pingora::upstreams::peer::HttpPeer;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use tokio::task::JoinSet;

/// Redirects followed per URL.
const MAX_REDIRECTS: usize = 3;

/// Fetches media for one config version.
pub struct MediaFetcher {
    rules: Rules,
    connector: Connector,
    budget: MemoryBudget,
}

/// The request as the providers that cannot take some of its URLs get it: those URLs replaced
/// by their bytes.
pub struct Inlined {
    pub request: Request,
    /// The provider dialects it is for.
    dialects: Vec<Dialect>,
}

impl Inlined {
    pub fn serves(&self, dialect: Dialect) -> bool {
        self.dialects.contains(&dialect)
    }
}

/// What a request goes to its providers with.
pub struct Prepared {
    pub inlined: Option<Inlined>,
    pub candidates: Vec<Arc<Provider>>,
    /// The fetched bytes' share of the memory budget, to hold until the request ends.
    pub held: Vec<Reservation>,
}

/// One fetched file.
struct Fetched {
    url: String,
    mime: String,
    data: String,
    held: Reservation,
}

/// Why a fetch failed; a client's mistake unless the gateway ran out of memory.
enum Failed {
    Refused(String),
    Overloaded,
}

impl From<String> for Failed {
    fn from(why: String) -> Self {
        Failed::Refused(why)
    }
}

impl From<&str> for Failed {
    fn from(why: &str) -> Self {
        Failed::Refused(why.to_string())
    }
}

impl MediaFetcher {
    pub fn new(rules: Rules, budget: MemoryBudget) -> Self {
        MediaFetcher {
            rules,
            connector: Connector::new(None),
            budget,
        }
    }

    /// Fetches the URLs of `ir` that some of `candidates` cannot take. A fetch that fails leaves
    /// those candidates out, and fails the request (400, in the client's dialect) only when no
    /// other candidate is left.
    pub async fn prepare(
        self: &Arc<Self>,
        ir: &Request,
        candidates: Vec<Arc<Provider>>,
    ) -> Result<Prepared, GatewayError> {
        let as_is = |candidates| {
            Ok(Prepared {
                inlined: None,
                candidates,
                held: Vec::new(),
            })
        };
        if !self.rules.fetch_urls {
            return as_is(candidates);
        }
        let mut dialects: Vec<Dialect> = Vec::new();
        for p in &candidates {
            if !dialects.contains(&p.dialect) {
                dialects.push(p.dialect);
            }
        }
        let mut refusing = Vec::new();
        let mut wanted: Vec<(String, bool)> = Vec::new();
        let media = ir.media();
        for d in dialects {
            for m in &media {
                let Media::Url(url) = m.source else { continue };
                if codec(d).takes_media_url(url, m.extras) {
                    continue;
                }
                if !refusing.contains(&d) {
                    refusing.push(d);
                }
                match wanted.iter_mut().find(|(u, _)| u == url) {
                    Some((_, image)) => *image &= m.image,
                    None => wanted.push((url.clone(), m.image)),
                }
            }
        }
        if wanted.is_empty() {
            return as_is(candidates);
        }
        let fetched = if wanted.len() > self.rules.max_per_request {
            Err(GatewayError::new(
                ErrorKind::BadRequest,
                format!(
                    "The request has {} image or file URLs to fetch; at most {} are fetched",
                    wanted.len(),
                    self.rules.max_per_request
                ),
            ))
        } else {
            self.fetch_all(wanted).await
        };
        let fetched = match fetched {
            Ok(f) => f,
            Err(e) => {
                let others: Vec<_> = candidates
                    .into_iter()
                    .filter(|p| !refusing.contains(&p.dialect))
                    .collect();
                if others.is_empty() {
                    return Err(e);
                }
                tracing::info!(error = %e, "media not fetched; trying providers that take URLs");
                return as_is(others);
            }
        };
        let mut request = ir.clone();
        let by_url: HashMap<&str, &Fetched> = fetched.iter().map(|f| (f.url.as_str(), f)).collect();
        for m in request.media_mut() {
            let Media::Url(url) = &*m.source else {
                continue;
            };
            if let Some(f) = by_url.get(url.as_str()) {
                *m.source = Media::Base64 {
                    mime: f.mime.clone(),
                    data: f.data.clone(),
                };
            }
        }
        Ok(Prepared {
            inlined: Some(Inlined {
                request,
                dialects: refusing,
            }),
            candidates,
            held: fetched.into_iter().map(|f| f.held).collect(),
        })
    }

    /// Fetches every URL at once; the first failure ends the others.
    async fn fetch_all(
        self: &Arc<Self>,
        wanted: Vec<(String, bool)>,
    ) -> Result<Vec<Fetched>, GatewayError> {
        let mut tasks = JoinSet::new();
        for (url, image) in wanted {
            let this = self.clone();
            tasks.spawn(async move {
                let outcome = tokio::time::timeout(this.rules.timeout, this.fetch(&url, image))
                    .await
                    .unwrap_or_else(|_| {
                        Err(Failed::Refused(format!(
                            "it did not arrive within {:?}",
                            this.rules.timeout
                        )))
                    });
                outcome.map_err(|f| refused(&url, image, f))
            });
        }
        let mut out = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let fetched = joined.map_err(|_| {
                GatewayError::new(ErrorKind::Internal, "fetching an image failed")
            })??;
            out.push(fetched);
        }
        Ok(out)
    }

    /// One URL, following redirects.
    async fn fetch(&self, url: &str, image: bool) -> Result<Fetched, Failed> {
        let mut target = Target::parse(url)?;
        for _ in 0..=MAX_REDIRECTS {
            let addr = self.address(&target).await?;
            let mut peer = HttpPeer::new(addr, target.tls, target.host.clone());
            peer.options.connection_timeout = Some(self.rules.timeout);
            peer.options.total_connection_timeout = Some(self.rules.timeout);
            let (mut session, _) = self
                .connector
                .get_http_session(&peer)
                .await
                .map_err(|e| format!("could not connect ({})", e.etype().as_str()))?;
            let broken = |e: Box<pingora::Error>| {
                Failed::Refused(format!("the exchange broke ({})", e.etype().as_str()))
            };
            let mut req =
                RequestHeader::build("GET", target.path.as_bytes(), None).map_err(broken)?;
            req.insert_header("host", target.authority())
                .map_err(broken)?;
            req.insert_header(
                "user-agent",
                concat!("tollgate/", env!("CARGO_PKG_VERSION")),
            )
            .map_err(broken)?;
            req.insert_header("accept", if image { "image/*" } else { "*/*" })
                .map_err(broken)?;
            session
                .write_request_header(Box::new(req))
                .await
                .map_err(broken)?;
            session.finish_request_body().await.map_err(broken)?;
            let status = loop {
                session.read_response_header().await.map_err(broken)?;
                match session.response_header().map(|h| h.status.as_u16()) {
                    Some(s) if (100..200).contains(&s) && s != 101 => continue,
                    Some(s) => break s,
                    None => return Err("it sent no answer".into()),
                }
            };
            let header = |name: &str| {
                session
                    .response_header()
                    .and_then(|h| h.headers.get(name))
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            if (300..400).contains(&status) {
                let location = header("location").ok_or("a redirect without a location")?;
                target = target.follow(&location)?;
                continue;
            }
            if status != 200 {
                return Err(format!("the server answered with status {status}").into());
            }
            let max = self.rules.max_bytes;
            let too_large = || Failed::Refused(format!("it is larger than {max} bytes"));
            let declared = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
            if declared.is_some_and(|n| n > max as u64) {
                return Err(too_large());
            }
            let content_type = header("content-type");
            let mut held = self.budget.reservation();
            let mut body = BytesMut::new();
            while let Some(chunk) = session.read_response_body().await.map_err(broken)? {
                let total = body.len() + chunk.len();
                if total > max {
                    return Err(too_large());
                }
                held.ensure(total).map_err(|_| Failed::Overloaded)?;
                body.extend_from_slice(&chunk);
            }
            let mime = mime_of(content_type.as_deref(), &body, image)?;
            // The base64 text is what stays, until the request ends.
            let encoded_len = body.len().div_ceil(3) * 4;
            held.ensure(body.len() + encoded_len)
                .map_err(|_| Failed::Overloaded)?;
            let data = base64::engine::general_purpose::STANDARD.encode(&body);
            return Ok(Fetched {
                url: url.to_string(),
                mime,
                data,
                held,
            });
        }
        Err(format!("it redirected more than {MAX_REDIRECTS} times").into())
    }

    /// The address to connect to for `target`: a public one, unless private ones are allowed.
    async fn address(&self, target: &Target) -> Result<SocketAddr, Failed> {
        let addrs: Vec<SocketAddr> = match target.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, target.port)],
            Err(_) => tokio::net::lookup_host((target.host.as_str(), target.port))
                .await
                .map_err(|_| "its host name does not resolve")?
                .collect(),
        };
        addrs
            .into_iter()
            .find(|a| self.rules.allow_private || is_public(a.ip()))
            .ok_or_else(|| "its host is not on a public address".into())
    }
}

fn refused(url: &str, image: bool, failed: Failed) -> GatewayError {
    match failed {
        Failed::Overloaded => GatewayError::overloaded(),
        Failed::Refused(why) => GatewayError::new(
            ErrorKind::BadRequest,
            format!(
                "Could not fetch the {} at {}: {why}",
                if image { "image" } else { "file" },
                shown(url)
            ),
        ),
    }
}

/// A URL as an error message or the log may show it: without its query, fragment and
/// credentials, which for a presigned URL are the secret part.
fn shown(url: &str) -> String {
    let bare = url.split(['?', '#']).next().unwrap_or(url);
    let Some((scheme, rest)) = bare.split_once("://") else {
        return clip(bare).into_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    clip(&format!("{scheme}://{host}{path}")).into_owned()
}

/// Where a URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    tls: bool,
    host: String,
    port: u16,
    /// Path and query.
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, Failed> {
        // The fragment is the client's business, never sent.
        let url = url.split('#').next().unwrap_or(url);
        let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        let tls = match scheme.as_deref() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("only http and https URLs are fetched".into()),
        };
        let uri: http::Uri = url.parse().map_err(|_| "it is not a valid URL")?;
        let authority = uri.authority().ok_or("it is not a valid URL")?;
        if authority.as_str().contains('@') {
            return Err("URLs with credentials are not fetched".into());
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        Ok(Target {
            tls,
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
            host,
            path: uri.path_and_query().map_or("/", |p| p.as_str()).to_string(),
        })
    }

    fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// The `Host` header: the port only when it is not the scheme's own.
    fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == if self.tls { 443 } else { 80 } {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Where a redirect's `location` leads from here.
    fn follow(&self, location: &str) -> Result<Target, Failed> {
        let base = format!("{}://{}", self.scheme(), self.authority());
        // A scheme (RFC 3986 §3.1) makes it absolute: `file:`, `gopher:` are refused by parse.
        let absolute = location.split_once(':').is_some_and(|(scheme, _)| {
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        });
        let next = if absolute {
            location.to_string()
        } else if let Some(rest) = location.strip_prefix("//") {
            format!("{}://{rest}", self.scheme())
        } else if location.starts_with('/') {
            format!("{base}{location}")
        } else {
            let path = self.path.split('?').next().unwrap_or("/");
            let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
            format!("{base}{dir}/{location}")
        };
        Target::parse(&next)
    }
}

/// The media type of a fetched file: the server's, or read off its first bytes when the server
/// did not say (or said only "bytes").
fn mime_of(content_type: Option<&str>, body: &[u8], image: bool) -> Result<String, Failed> {
    let declared = content_type
        .and_then(|c| c.split(';').next())
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty() && t != "application/octet-stream" && t != "binary/octet-stream");
    let mime = declared
        .or_else(|| sniff(body).map(str::to_string))
        .ok_or("it does not say what kind of file it is")?;
    if image && !mime.starts_with("image/") {
        return Err(format!("it is {}, not an image", clip(&mime)).into());
    }
    if mime == "text/html" {
        return Err("it is a web page".into());
    }
    Ok(mime)
}

fn sniff(body: &[u8]) -> Option<&'static str> {
    let starts = |magic: &[u8]| body.starts_with(magic);
    if starts(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if starts(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if starts(b"GIF87a") || starts(b"GIF89a") {
        Some("image/gif")
    } else if body.len() >= 12 && &body[..4] == b"RIFF" && &body[8..12] == b"WEBP" {
        Some("image/webp")
    } else if starts(b"%PDF-") {
        Some("application/pdf")
    } else {
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn target(url: &str) -> Target {
        Target::parse(url).unwrap_or_else(|_| panic!("{url}"))
    }

    fn why(r: Result<Target, Failed>) -> String {
        match r {
            Err(Failed::Refused(why)) => why,
            _ => panic!("expected a refusal"),
        }
    }

    #[test]
    fn urls_are_read_into_where_to_connect_and_what_to_ask() {
        assert_eq!(
            target("https://example.com/photos/cat.jpg?size=large#top"),
            Target {
                tls: true,
                host: "example.com".into(),
                port: 443,
                path: "/photos/cat.jpg?size=large".into(),
            }
        );
        let t = target("http://[2606:4700::1]:8080");
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("2606:4700::1", 8080, "/")
        );
        assert_eq!(t.authority(), "[2606:4700::1]:8080");
        assert_eq!(target("https://x.test:443/a").authority(), "x.test");
        assert_eq!(
            why(Target::parse("ftp://x.test/a.jpg")),
            "only http and https URLs are fetched"
        );
        assert_eq!(
            why(Target::parse("https://user:pw@x.test/a.jpg")),
            "URLs with credentials are not fetched"
        );
        assert_eq!(
            why(Target::parse("https://x.test/a b.jpg")),
            "it is not a valid URL"
        );
        assert_eq!(
            why(Target::parse("gs://bucket/a.jpg")),
            "only http and https URLs are fetched"
        );
    }

    #[test]
    fn urls_are_shown_without_their_secrets() {
        for (url, expected) in [
            (
                "https://bucket.s3.test/cat.jpg?X-Amz-Signature=abc#f",
                "https://bucket.s3.test/cat.jpg",
            ),
            ("https://user:pw@x.test/a.jpg", "https://x.test/a.jpg"),
            ("https://user:pw@x.test", "https://x.test"),
            ("ftp://x.test/a?k=1", "ftp://x.test/a"),
            ("not a url?secret", "not a url"),
        ] {
            assert_eq!(shown(url), expected, "{url}");
        }
    }

    #[test]
    fn redirects_are_resolved_against_the_url_they_came_from() {
        let from = target("https://img.test/a/b/cat.jpg?x=1");
        let cases = [
            ("https://cdn.test/c.jpg", "https://cdn.test/c.jpg"),
            ("//cdn.test/c.jpg", "https://cdn.test/c.jpg"),
            ("/c.jpg", "https://img.test/c.jpg"),
            ("c.jpg?v=2", "https://img.test/a/b/c.jpg?v=2"),
            ("http://plain.test:81/x", "http://plain.test:81/x"),
        ];
        for (location, expected) in cases {
            let t = from
                .follow(location)
                .unwrap_or_else(|_| panic!("{location}"));
            assert_eq!(
                format!("{}://{}{}", t.scheme(), t.authority(), t.path),
                expected,
                "{location}"
            );
        }
        for elsewhere in ["file:///etc/passwd", "gopher://x.test/", "HTTPS+x://y"] {
            assert_eq!(
                why(from.follow(elsewhere)),
                "only http and https URLs are fetched",
                "{elsewhere}"
            );
        }
    }

    #[test]
    fn the_media_type_is_the_server_s_or_read_off_the_bytes() {
        let png = b"\x89PNG\r\n\x1a\n....";
        let ok = |c: Option<&str>, body: &[u8], image: bool| match mime_of(c, body, image) {
            Ok(m) => m,
            Err(_) => panic!("{c:?}"),
        };
        assert_eq!(
            ok(Some("image/JPEG; charset=binary"), b"", true),
            "image/jpeg"
        );
        assert_eq!(ok(None, png, true), "image/png");
        assert_eq!(ok(Some("application/octet-stream"), png, true), "image/png");
        assert_eq!(ok(None, b"RIFF\0\0\0\0WEBPVP8 ", true), "image/webp");
        assert_eq!(ok(None, b"GIF89a..", true), "image/gif");
        assert_eq!(ok(None, b"\xff\xd8\xff\xe0", true), "image/jpeg");
        assert_eq!(ok(None, b"%PDF-1.7", false), "application/pdf");
        assert_eq!(ok(Some("text/plain"), b"hello", false), "text/plain");
        let refused = |c: Option<&str>, body: &[u8], image: bool| match mime_of(c, body, image) {
            Err(Failed::Refused(why)) => why,
            _ => panic!("{c:?}"),
        };
        assert_eq!(
            refused(Some("text/html; charset=utf-8"), b"<html>", true),
            "it is text/html, not an image"
        );
        assert_eq!(
            refused(Some("text/html"), b"<html>", false),
            "it is a web page"
        );
        assert_eq!(
            refused(None, b"????", true),
            "it does not say what kind of file it is"
        );
    }
}
