//! Sends one checked request to the exact address that was checked.
//!
//! wasmtime-wasi-http's default client resolves the host name again when it
//! connects, so a name could answer with a public address for the check and
//! a private one for the connection (DNS rebinding). This client takes the
//! address the policy approved, connects to it, and uses the host name only
//! for TLS (server name and certificate check) and the `Host` header.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> Stream for T {}

/// One TLS configuration for the process: the web PKI roots, no client auth.
fn tls_config() -> Result<Arc<rustls::ClientConfig>, HttpError> {
    static CONFIG: OnceLock<Option<Arc<rustls::ClientConfig>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.into(),
            };
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .ok()
            .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
        })
        .clone()
        .ok_or(HttpError::TlsProtocolError)
}

/// A request body that, if the connection stops reading it early (the
/// server answered before the body ended), keeps draining it for a while so
/// the skill can still finish writing instead of seeing its stream closed
/// under it. Bounded: at most 1 MiB and 5 seconds are discarded.
struct DrainOnDrop(Option<WasiBody>);

impl Body for DrainOnDrop {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match self.0.as_mut() {
            Some(body) => {
                let polled = Pin::new(body).poll_frame(cx);
                if matches!(polled, Poll::Ready(None)) {
                    self.0 = None;
                }
                polled
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.0.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.0
            .as_ref()
            .map_or_else(|| http_body::SizeHint::with_exact(0), Body::size_hint)
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        let (Some(mut body), Ok(runtime)) = (self.0.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        runtime.spawn(async move {
            let drain = async {
                let mut discarded = 0usize;
                while let Some(Ok(frame)) = body.frame().await {
                    discarded += frame.data_ref().map_or(0, Bytes::len);
                    if discarded > 1 << 20 {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
        });
    }
}

/// Drops a request body the host will not send, still reading it for a
/// while (at most 1 MiB and 5 seconds, discarded) so the skill's writes and
/// `finish` succeed instead of failing under it.
pub(crate) fn discard(body: WasiBody) {
    drop(DrainOnDrop(Some(body)));
}

/// A response body with the between-bytes timeout applied.
struct Incoming {
    body: hyper::body::Incoming,
    idle: tokio::time::Interval,
}

impl Body for Incoming {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(if e.is_timeout() {
                HttpError::HttpResponseTimeout
            } else {
                HttpError::from(e)
            }))),
            Poll::Ready(Some(Ok(frame))) => {
                self.idle.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => match self.idle.poll_tick(cx) {
                Poll::Ready(_) => Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// Connects to the first of `addresses` that answers, each within the
/// connect timeout.
async fn connect(addresses: &[SocketAddr], timeout: Duration) -> Result<TcpStream, HttpError> {
    let mut last = HttpError::DestinationNotFound;
    for address in addresses {
        match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => return Ok(tcp),
            Ok(Err(e)) => last = HttpError::Connect(e),
            Err(_) => last = HttpError::ConnectionTimeout,
        }
    }
    Err(last)
}

/// Sends `request` to the first of `addresses` (all of them checked) that
/// accepts a connection; `host` names the server for TLS.
pub(crate) async fn send(
    request: http::Request<WasiBody>,
    addresses: &[SocketAddr],
    host: &str,
    tls: bool,
    options: RequestOptions,
) -> Result<
    (
        http::Response<WasiBody>,
        impl Future<Output = Result<(), HttpError>> + Send + use<>,
    ),
    HttpError,
> {
    let connect_timeout = options.connect_timeout.unwrap_or(Duration::from_secs(10));
    let first_byte = options
        .first_byte_timeout
        .unwrap_or(Duration::from_secs(30));
    let between_bytes = options
        .between_bytes_timeout
        .unwrap_or(Duration::from_secs(30))
        .max(Duration::from_nanos(1));

    let tcp = connect(addresses, connect_timeout).await?;
    let stream: Box<dyn Stream> = if tls {
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|_| HttpError::HttpRequestUriInvalid)?;
        let connector = tokio_rustls::TlsConnector::from(tls_config()?);
        let tls_stream = tokio::time::timeout(connect_timeout, connector.connect(name, tcp))
            .await
            .map_err(|_| HttpError::ConnectionTimeout)?
            .map_err(HttpError::Tls)?;
        Box::new(tls_stream)
    } else {
        Box::new(tcp)
    };
    let (mut sender, connection) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)?
    .map_err(HttpError::from)?;
    let mut request = request.map(|body| DrainOnDrop(Some(body)));
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;

    // The connection must be driven while the request is sent; afterwards it
    // keeps running until the body has been read.
    let connection = tokio::spawn(connection);
    let response = tokio::time::timeout(first_byte, sender.send_request(request))
        .await
        .map_err(|_| HttpError::ConnectionReadTimeout)?
        .map_err(HttpError::from)?;
    let mut idle = tokio::time::interval(between_bytes);
    idle.reset();
    let response = response.map(|body| Incoming { body, idle }.boxed_unsync());
    let done = async move {
        match connection.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) if e.is_timeout() => Err(HttpError::HttpResponseTimeout),
            Ok(Err(e)) => Err(HttpError::from(e)),
            Err(_) => Err(HttpError::ConnectionTerminated),
        }
    };
    Ok((response, done))
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// The name `checked.invalid` cannot resolve (RFC 6761), so a response
    /// proves the client connected to the address it was given and never
    /// looked the name up again.
    #[test]
    fn connects_to_the_checked_address_without_resolving_the_name_again() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().expect("accept");
            let mut buffer = [0u8; 1024];
            let n = stream.read(&mut buffer).expect("read");
            let request = String::from_utf8_lossy(&buffer[..n]).into_owned();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .expect("write");
            request
        });
        let body: WasiBody = http_body_util::Empty::<Bytes>::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        let request = http::Request::get("http://checked.invalid/path?q=1")
            .header("host", "checked.invalid")
            .body(body)
            .expect("request");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let status = runtime.block_on(async {
            let (response, _done) = send(
                request,
                &[address],
                "checked.invalid",
                false,
                RequestOptions::default(),
            )
            .await
            .expect("sent");
            response.status()
        });
        assert_eq!(status, 200);
        let seen = server.join().expect("server");
        assert!(seen.starts_with("GET /path?q=1 HTTP/1.1"), "{seen}");
        assert!(
            seen.to_ascii_lowercase().contains("host: checked.invalid"),
            "{seen}"
        );
    }
}
