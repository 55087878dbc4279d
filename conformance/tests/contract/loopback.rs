//! A scriptable loopback HTTP/1.1 server for the attack cases: it keeps
//! connections alive, reads a body only where its `reads_body` rule says so
//! (like the many servers that never read a GET body), answers each request
//! with parts written apart in time, and counts connections open at once.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::{Quiet, no_load_spike};

/// One request as the server parsed it off the wire.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    /// `GET /path HTTP/1.1`
    pub line: String,
    /// Header lines as sent (`name: value`).
    pub headers: Vec<String>,
    /// The body the server read (empty when its rule skipped it).
    pub body: Vec<u8>,
    /// Which connection it came on (0, 1, …).
    pub connection: usize,
}

impl Seen {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.iter().find_map(|h| {
            let (n, v) = h.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    /// The request's path (with query).
    pub fn path(&self) -> String {
        self.line.split(' ').nth(1).unwrap_or_default().to_owned()
    }
}

/// How the server answers: the parts of the response, each written after a
/// short pause, so a client sees them as separate chunks.
pub(crate) type Answer = Box<dyn Fn(&Seen) -> Vec<Vec<u8>> + Send + Sync>;

/// Stopped and joined on drop.
pub(crate) struct Loopback {
    _quiet: Quiet,
    pub port: u16,
    address: &'static str,
    seen: Arc<Mutex<Vec<Seen>>>,
    peak: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// The pause between the parts of an answer.
pub(crate) const PAUSE: Duration = Duration::from_millis(60);

fn read_request(
    reader: &mut BufReader<TcpStream>,
    reads_body: fn(&str) -> bool,
    connection: usize,
) -> Option<Seen> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 || line.trim().is_empty() {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        if header.trim().is_empty() {
            break;
        }
        headers.push(header.trim().to_owned());
    }
    let mut seen = Seen {
        line: line.trim().to_owned(),
        headers,
        body: Vec::new(),
        connection,
    };
    let method = seen.line.split(' ').next().unwrap_or_default().to_owned();
    if !reads_body(&method) {
        return Some(seen);
    }
    if seen
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0u8; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            if seen.body.len() < 1 << 20 {
                seen.body.extend_from_slice(&chunk[..n]);
            }
        }
    } else if let Some(n) = seen.header("content-length").and_then(|v| v.parse().ok()) {
        // Read (and keep at most 1 MiB of) exactly the declared length.
        let mut left: usize = n;
        let mut buffer = [0u8; 8192];
        while left > 0 {
            let got = reader.read(&mut buffer[..left.min(8192)]).ok()?;
            if got == 0 {
                return None;
            }
            if seen.body.len() < 1 << 20 {
                seen.body.extend_from_slice(&buffer[..got]);
            }
            left -= got;
        }
    }
    Some(seen)
}

impl Loopback {
    /// A server on `address` that reads bodies of every method but GET and
    /// HEAD, and answers with `answer`.
    pub(crate) fn start(address: &'static str, answer: Answer) -> Loopback {
        Loopback::with_rule(address, |m| m != "GET" && m != "HEAD", answer)
    }

    /// Like [`Loopback::start`], with the server's own rule for which
    /// methods' bodies it reads.
    pub(crate) fn with_rule(
        address: &'static str,
        reads_body: fn(&str) -> bool,
        answer: Answer,
    ) -> Loopback {
        let quiet = no_load_spike();
        let listener = TcpListener::bind((address, 0)).expect("bind loopback");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (peak, stop) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let open = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(answer);
        let (seen2, peak2, stop2) = (seen.clone(), peak.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for (connection, stream) in listener.incoming().enumerate() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let (seen, answer, open, peak) =
                    (seen2.clone(), answer.clone(), open.clone(), peak2.clone());
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                    let mut counted = true;
                    while let Some(request) = read_request(&mut reader, reads_body, connection) {
                        let close = request
                            .header("connection")
                            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
                        let parts = answer(&request);
                        // Counted as closed once answered, before the answer is
                        // written: the client holds the socket from before it
                        // connects until after it reads the answer, so the peak
                        // is a lower bound of what the client held at once.
                        if close && counted {
                            open.fetch_sub(1, Ordering::SeqCst);
                            counted = false;
                        }
                        seen.lock().expect("lock").push(request);
                        for (i, part) in parts.iter().enumerate() {
                            if i > 0 {
                                std::thread::sleep(PAUSE);
                            }
                            if stream
                                .write_all(part)
                                .and_then(|()| stream.flush())
                                .is_err()
                            {
                                break;
                            }
                        }
                        if close {
                            break;
                        }
                    }
                    if counted {
                        open.fetch_sub(1, Ordering::SeqCst);
                    }
                    let _ = stream.shutdown(std::net::Shutdown::Write);
                    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
                    let mut sink = [0u8; 1024];
                    while stream.read(&mut sink).is_ok_and(|n| n > 0) {}
                });
            }
        });
        Loopback {
            _quiet: quiet,
            port,
            address,
            seen,
            peak,
            stop,
            thread: Some(thread),
        }
    }

    /// Every request the server parsed, in arrival order.
    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// The most connections open at once (from accept until answered).
    pub(crate) fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    /// `http://ADDRESS:PORT`
    pub(crate) fn origin(&self) -> String {
        format!("http://{}:{}", self.address, self.port)
    }
}

impl Drop for Loopback {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect((self.address, self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A complete response with `body`, `Content-Length` set.
pub(crate) fn response(status: &str, extra_headers: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\n{extra_headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A chunked response whose chunks are written apart in time.
pub(crate) fn chunked(status: &str, extra_headers: &str, chunks: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut parts = vec![
        format!("HTTP/1.1 {status}\r\n{extra_headers}Transfer-Encoding: chunked\r\n\r\n")
            .into_bytes(),
    ];
    for chunk in chunks {
        let mut part = format!("{:x}\r\n", chunk.len()).into_bytes();
        part.extend_from_slice(chunk);
        part.extend_from_slice(b"\r\n");
        parts.push(part);
    }
    if let Some(last) = parts.last_mut() {
        last.extend_from_slice(b"0\r\n\r\n");
    }
    parts
}
