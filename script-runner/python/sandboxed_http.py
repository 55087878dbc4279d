"""``urllib.request`` and ``http.client`` through ``wasi:http``.

A script's stdlib HTTP calls become ``wasi:http`` requests, which the host
checks against ``[capabilities].network`` before anything leaves (a request
outside the grants fails with ``HttpRequestDenied`` and the fix). Raw sockets
stay denied. Responses are read whole (the host bounds them with
``limits.http-response``).
"""

import email.parser
import http.client
import io
import urllib.error
import urllib.request
import urllib.response

from skill_sdk import http as wasi_http


def _message(headers):
    text = "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return email.parser.Parser(_class=http.client.HTTPMessage).parsestr(text)


def _body(data):
    if data is None:
        return None
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("iso-8859-1")
    if hasattr(data, "read"):
        return data.read()
    return b"".join(bytes(chunk) for chunk in data)


# Headers wasi:http sets itself (framing, the authority) and refuses from a guest.
_FORBIDDEN = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "proxy-connection", "transfer-encoding", "upgrade", "host", "http2-settings",
}


def _allowed(headers):
    return [(k, v) for k, v in headers if k.lower() not in _FORBIDDEN]


def _refusal(method, url, error):
    """What a script is told when its request fails: the request, the
    wasi:http error, and where grants live."""
    return (
        f"{method} {url}: {error} (skill-run: HTTP goes through wasi:http, within "
        "[capabilities].network in skill.toml; skill-run's audit says why a request was denied)"
    )


def _send(method, url, headers, body):
    headers = _allowed(headers)
    try:
        return wasi_http.request(method, url, headers=headers, body=body)
    except wasi_http.HttpError as e:
        raise urllib.error.URLError(_refusal(method, url, e)) from None


def _send_or_refuse(method, url, headers, body):
    """``_send`` for socket-level clients (http.client, urllib3): a denial
    is the ``ConnectionRefusedError`` a refused connection would be."""
    try:
        return wasi_http.request(method, url, headers=_allowed(headers), body=body)
    except wasi_http.HttpError as e:
        raise ConnectionRefusedError(_refusal(method, url, e)) from None


def _urllib_open(handler, req):
    headers = list(req.header_items())
    data = _body(req.data)
    r = _send(req.get_method(), req.full_url, headers, data)
    response = urllib.response.addinfourl(io.BytesIO(r.body), _message(r.headers), req.full_url, r.status)
    response.msg = http.client.responses.get(r.status, "")
    response.reason = response.msg
    return response


class _Response(io.BufferedIOBase):
    """What ``HTTPConnection.getresponse()`` returns: the whole body read."""

    def __init__(self, r, method):
        self.status = r.status
        self.code = r.status
        self.reason = http.client.responses.get(r.status, "")
        self.msg = _message(r.headers)
        self.headers = self.msg
        self.version = 11
        self._method = method
        self._body = io.BytesIO(b"" if method == "HEAD" else r.body)

    def read(self, amt=None):
        return self._body.read(-1 if amt is None else amt)

    def read1(self, amt=-1):
        return self._body.read1(amt)

    def readinto(self, b):
        return self._body.readinto(b)

    def readable(self):
        return True

    def getheader(self, name, default=None):
        values = self.msg.get_all(name)
        return ", ".join(values) if values else default

    def getheaders(self):
        return list(self.msg.items())

    def info(self):
        return self.msg

    def getcode(self):
        return self.status

    def isclosed(self):
        return self.closed


class HTTPConnection:
    """``http.client.HTTPConnection`` over ``wasi:http``: ``request()`` then
    ``getresponse()``; the ``putrequest``/``putheader``/``endheaders`` steps
    are collected and sent as one request."""

    default_port = http.client.HTTP_PORT
    debuglevel = 0
    _scheme = "http"
    # urllib.request asks the class for a body's length (its
    # Content-Length) before sending data: the stdlib's own rule.
    _get_content_length = staticmethod(http.client.HTTPConnection._get_content_length)

    def __init__(self, host, port=None, timeout=None, source_address=None, blocksize=8192, **kwargs):
        self.host, self.port = self._split(host, port)
        self.timeout = timeout
        self._pending = None
        self._response = None
        self.debuglevel = 0

    def _split(self, host, port):
        if port is None and host.count(":") == 1:
            host, _, text = host.partition(":")
            port = int(text) if text else None
        return host, port or self.default_port

    def set_debuglevel(self, level):
        self.debuglevel = level

    def set_tunnel(self, host, port=None, headers=None):
        raise http.client.HTTPException("proxies and tunnels do not exist in the skill-run sandbox")

    def connect(self):
        pass

    def close(self):
        self._pending = None

    def _authority(self):
        if self.port == self.default_port:
            return self.host
        return f"{self.host}:{self.port}"

    def putrequest(self, method, url, skip_host=False, skip_accept_encoding=False):
        self._pending = [method, url, [], b""]

    def putheader(self, header, *values):
        self._pending[2].append((str(header), ", ".join(str(v) for v in values)))

    def endheaders(self, message_body=None, *, encode_chunked=False):
        if message_body is not None:
            self._pending[3] = _body(message_body)

    def send(self, data):
        self._pending[3] += _body(data)

    def request(self, method, url, body=None, headers=None, *, encode_chunked=False):
        self.putrequest(method, url)
        for k, v in (headers or {}).items():
            self.putheader(k, v)
        self.endheaders(body)

    def getresponse(self):
        if self._pending is None:
            raise http.client.ResponseNotReady("no request was made")
        method, url, headers, body = self._pending
        self._pending = None
        if not url.startswith(("http://", "https://")):
            url = f"{self._scheme}://{self._authority()}{url}"
        return _Response(_send_or_refuse(method, url, headers, body or None), method)


class HTTPSConnection(HTTPConnection):
    """``http.client.HTTPSConnection`` over ``wasi:http`` (the host does TLS)."""

    default_port = http.client.HTTPS_PORT
    _scheme = "https"

    def __init__(self, host, port=None, *args, context=None, **kwargs):
        super().__init__(host, port)


def _https_request(self, req):
    return self.do_request_(req)


def install():
    """Routes urllib's and http.client's HTTP through wasi:http. CPython for
    WASI has no `ssl`, so urllib has no HTTPS handler: one is added (the host
    does TLS)."""
    if not hasattr(urllib.request, "HTTPSHandler"):
        urllib.request.HTTPSHandler = type(
            "HTTPSHandler",
            (urllib.request.AbstractHTTPHandler,),
            {"https_open": _urllib_open, "https_request": _https_request},
        )
    urllib.request.HTTPHandler.http_open = _urllib_open
    urllib.request.HTTPSHandler.https_open = _urllib_open
    http.client.HTTPConnection = HTTPConnection
    http.client.HTTPSConnection = HTTPSConnection
