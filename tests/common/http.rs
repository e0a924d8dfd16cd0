//! A deliberately small HTTP/1.1 client: tests need to see exactly what tollgate writes, when it
//! writes it (streaming), and to drive `Expect: 100-continue` by hand.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// An open response whose body is read as it arrives.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    chunked: bool,
    remaining: Option<usize>,
    done: bool,
}

pub fn request_bytes(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nhost: tollgate.test\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        out.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

impl Conn {
    pub async fn open(
        addr: SocketAddr,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Conn {
        let mut stream = TcpStream::connect(addr).await.expect("connect to tollgate");
        stream.set_nodelay(true).unwrap();
        stream
            .write_all(&request_bytes(method, target, headers, body))
            .await
            .unwrap();
        Conn::read_head(stream, Vec::new()).await
    }

    /// Reads a response head from `stream`, with `buf` holding bytes already read.
    pub async fn read_head(mut stream: TcpStream, mut buf: Vec<u8>) -> Conn {
        let end = loop {
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            let mut tmp = [0u8; 8192];
            let n = stream.read(&mut tmp).await.expect("read response head");
            assert!(
                n > 0,
                "connection closed before a response head: {:?}",
                String::from_utf8_lossy(&buf)
            );
            buf.extend_from_slice(&tmp[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once(':').unwrap();
                (k.trim().to_ascii_lowercase(), v.trim().to_string())
            })
            .collect();
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let chunked = get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        let remaining = get("content-length").map(|v| v.parse().unwrap());
        let done = status == 100 || (!chunked && remaining == Some(0));
        Conn {
            stream,
            buf,
            status,
            headers,
            chunked,
            remaining,
            done,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    async fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 16384];
        match tokio::time::timeout(Duration::from_secs(20), self.stream.read(&mut tmp)).await {
            Ok(Ok(n)) if n > 0 => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
            Ok(_) => false,
            Err(_) => panic!("no data from tollgate for 20 s"),
        }
    }

    /// The next piece of body as it arrived (one chunk when chunked); `None` at the end.
    pub async fn next(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        if self.chunked {
            let line = loop {
                if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                    break p;
                }
                assert!(
                    self.fill().await,
                    "connection closed inside chunked framing (a silent cut)"
                );
            };
            let size =
                usize::from_str_radix(std::str::from_utf8(&self.buf[..line]).unwrap().trim(), 16)
                    .unwrap();
            while self.buf.len() < line + 2 + size + 2 {
                assert!(
                    self.fill().await,
                    "connection closed inside a chunk (a silent cut)"
                );
            }
            let data = self.buf[line + 2..line + 2 + size].to_vec();
            self.buf.drain(..line + 2 + size + 2);
            if size == 0 {
                self.done = true;
                return None;
            }
            return Some(data);
        }
        match self.remaining {
            Some(0) => {
                self.done = true;
                None
            }
            Some(n) => {
                if self.buf.is_empty() {
                    assert!(
                        self.fill().await,
                        "connection closed before content-length was reached"
                    );
                }
                let take = n.min(self.buf.len());
                self.remaining = Some(n - take);
                Some(self.buf.drain(..take).collect())
            }
            None => {
                if self.buf.is_empty() && !self.fill().await {
                    self.done = true;
                    return None;
                }
                Some(std::mem::take(&mut self.buf))
            }
        }
    }

    pub async fn body(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(piece) = self.next().await {
            out.extend_from_slice(&piece);
        }
        out
    }

    /// Reads until the body so far contains `needle`; returns everything read.
    pub async fn read_until(&mut self, needle: &str) -> String {
        let mut out = Vec::new();
        while !String::from_utf8_lossy(&out).contains(needle) {
            match self.next().await {
                Some(p) => out.extend_from_slice(&p),
                None => panic!(
                    "stream ended before {needle:?}: {}",
                    String::from_utf8_lossy(&out)
                ),
            }
        }
        String::from_utf8(out).unwrap()
    }

    /// The connection, for another request once this response has been read whole.
    pub fn into_stream(self) -> TcpStream {
        assert!(self.buf.is_empty(), "bytes after the response");
        self.stream
    }

    pub async fn finish(mut self) -> Response {
        let body = self.body().await;
        Response {
            status: self.status,
            headers: self.headers,
            body,
        }
    }
}

pub async fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    Conn::open(addr, method, target, headers, body)
        .await
        .finish()
        .await
}

/// POST a JSON body to /v1/chat/completions with a Bearer key.
pub async fn chat(addr: SocketAddr, key: &str, body: &serde_json::Value) -> Response {
    let auth = format!("Bearer {key}");
    send(
        addr,
        "POST",
        "/v1/chat/completions",
        &[
            ("authorization", &auth),
            ("content-type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
    .await
}

/// The status of `GET path`, or `None` when nothing answers (yet).
pub async fn probe(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(addr).await.ok()?;
    stream
        .write_all(&request_bytes("GET", path, &[("connection", "close")], b""))
        .await
        .ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    let line = String::from_utf8_lossy(&buf);
    line.split(' ').nth(1)?.parse().ok()
}
