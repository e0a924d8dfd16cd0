//! One keep-alive HTTP/1.1 client connection, just enough for the harness: a prebuilt request
//! out, a response in (Content-Length, chunked or close-delimited), and the arrival time of every
//! server-sent event as its blank line comes in.

use bytes::{Buf, BytesMut};
use std::io;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::time::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A request, serialised once and sent as is on every exchange.
pub struct Request {
    pub addr: SocketAddr,
    pub bytes: Vec<u8>,
}

impl Request {
    /// `url` is `http://HOST:PORT/PATH`; `headers` are `Name: value` lines.
    pub fn post(url: &str, body: &[u8], headers: &[String]) -> Result<Self, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs"))?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let addr = authority
            .parse()
            .map_err(|e| format!("{authority}: {e} (give IP:PORT)"))?;
        let path = if path.is_empty() { "/" } else { path };
        let mut bytes = format!(
            "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        )
        .into_bytes();
        for h in headers {
            bytes.extend_from_slice(h.as_bytes());
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(body);
        Ok(Request { addr, bytes })
    }
}

pub struct Outcome {
    pub status: u16,
    /// Whether the connection can carry the next request.
    pub reusable: bool,
}

pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

/// Finds event ends (a blank line) in a byte stream cut anywhere.
#[derive(Default)]
struct Events {
    after_newline: bool,
}

impl Events {
    fn count(&mut self, bytes: &[u8]) -> usize {
        let mut n = 0;
        for &b in bytes {
            match b {
                b'\n' if self.after_newline => {
                    n += 1;
                    self.after_newline = false;
                }
                b'\n' => self.after_newline = true,
                b'\r' => {}
                _ => self.after_newline = false,
            }
        }
        n
    }

    /// Tells `on_event` of each event `bytes` ends, all arrived `at`.
    fn emit(
        &mut self,
        bytes: &[u8],
        at: Instant,
        on_event: &mut impl FnMut(Instant) -> ControlFlow<()>,
    ) -> ControlFlow<()> {
        for _ in 0..self.count(bytes) {
            on_event(at)?;
        }
        ControlFlow::Continue(())
    }
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl Conn {
    pub async fn open(addr: SocketAddr) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: BytesMut::with_capacity(16 * 1024),
        })
    }

    async fn fill(&mut self) -> io::Result<Instant> {
        if self.buf.capacity() - self.buf.len() < 4096 {
            self.buf.reserve(16 * 1024);
        }
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok(Instant::now())
    }

    /// The length of the line at the front of the buffer (without its CRLF), reading until
    /// it is whole; `now` becomes the last read's arrival time.
    async fn line(&mut self, now: &mut Instant) -> io::Result<usize> {
        loop {
            if let Some(p) = self.buf.windows(2).position(|w| w == b"\r\n") {
                return Ok(p);
            }
            *now = self.fill().await?;
        }
    }

    /// Passes `len` bytes of body through `events`, reading as needed; returns whether the
    /// listener cut the exchange, and when the last bytes arrived.
    async fn pass(
        &mut self,
        mut len: usize,
        mut now: Instant,
        events: &mut Events,
        on_event: &mut impl FnMut(Instant) -> ControlFlow<()>,
    ) -> io::Result<(ControlFlow<()>, Instant)> {
        while len > 0 {
            if self.buf.is_empty() {
                now = self.fill().await?;
            }
            let take = len.min(self.buf.len());
            if events.emit(&self.buf[..take], now, on_event).is_break() {
                return Ok((ControlFlow::Break(()), now));
            }
            self.buf.advance(take);
            len -= take;
        }
        Ok((ControlFlow::Continue(()), now))
    }

    /// Sends `req` and reads its response; `on_event` hears the arrival time of each event, and
    /// breaking out of it drops the exchange (the caller then drops the connection).
    pub async fn exchange(
        &mut self,
        req: &Request,
        mut on_event: impl FnMut(Instant) -> ControlFlow<()>,
    ) -> io::Result<Option<Outcome>> {
        self.stream.write_all(&req.bytes).await?;
        // Body bytes that came with the head arrived when the head did.
        let mut now = Instant::now();
        let (status, framing, close, head_len) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut resp = httparse::Response::new(&mut headers);
            match resp
                .parse(&self.buf)
                .map_err(|_| bad("bad response head"))?
            {
                httparse::Status::Complete(n) => {
                    let status = resp.code.unwrap_or(0);
                    let header = |name: &str| {
                        resp.headers
                            .iter()
                            .find(|h| h.name.eq_ignore_ascii_case(name))
                            .map(|h| String::from_utf8_lossy(h.value).to_ascii_lowercase())
                    };
                    let framing = if status == 204 || status == 304 {
                        Framing::Length(0)
                    } else if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
                        Framing::Chunked
                    } else if let Some(len) = header("content-length") {
                        Framing::Length(len.trim().parse().map_err(|_| bad("bad content-length"))?)
                    } else {
                        Framing::Close
                    };
                    let close = header("connection").is_some_and(|v| v.contains("close"));
                    break (status, framing, close, n);
                }
                httparse::Status::Partial => {
                    now = self.fill().await?;
                }
            }
        };
        if (100..200).contains(&status) {
            return Err(bad(
                "interim (1xx) answers are not expected from a benchmark target",
            ));
        }
        self.buf.advance(head_len);
        let mut events = Events::default();
        match framing {
            Framing::Length(len) => {
                let (cut, _) = self.pass(len, now, &mut events, &mut on_event).await?;
                if cut.is_break() {
                    return Ok(None);
                }
            }
            Framing::Chunked => loop {
                let line_end = self.line(&mut now).await?;
                let size_text = std::str::from_utf8(&self.buf[..line_end])
                    .map_err(|_| bad("bad chunk size"))?;
                let size =
                    usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                        .map_err(|_| bad("bad chunk size"))?;
                self.buf.advance(line_end + 2);
                let (cut, at) = self.pass(size, now, &mut events, &mut on_event).await?;
                if cut.is_break() {
                    return Ok(None);
                }
                now = at;
                if size == 0 {
                    // Trailer lines, if any, then the blank line that ends the body.
                    loop {
                        let end = self.line(&mut now).await?;
                        self.buf.advance(end + 2);
                        if end == 0 {
                            break;
                        }
                    }
                    break;
                }
                while self.buf.len() < 2 {
                    now = self.fill().await?;
                }
                self.buf.advance(2);
            },
            Framing::Close => loop {
                let n = self.buf.len();
                if events.emit(&self.buf[..n], now, &mut on_event).is_break() {
                    return Ok(None);
                }
                self.buf.advance(n);
                match self.fill().await {
                    Ok(at) => now = at,
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                    Err(e) => return Err(e),
                }
            },
        }
        Ok(Some(Outcome {
            status,
            reusable: !close && !matches!(framing, Framing::Close),
        }))
    }
}

#[derive(Clone, Copy)]
enum Framing {
    Length(usize),
    Chunked,
    Close,
}
