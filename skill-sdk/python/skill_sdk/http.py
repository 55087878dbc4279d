"""Outgoing HTTP through ``wasi:http``: the only way out of the sandbox.

The host checks every request against ``[capabilities].network`` (URL
prefixes) before it leaves; a request outside the grant raises
:class:`HttpError` with ``code == "HttpRequestDenied"``. The skill's world must
import ``wasi:http/outgoing-handler@0.2.12`` (any 0.2.x works).

    from skill_sdk import http
    r = http.get("https://api.example.com/v1/items?limit=3")
    items = r.json()
"""

import json as _json
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional, Tuple, Union
from urllib.parse import urlsplit

from componentize_py_types import Err

# Imported when the app is built (componentize-py snapshots the modules
# imported then), so the skill's world must import wasi:http.
from wit_world.imports import outgoing_handler, streams, types

_CHUNK = 4096
_READ = 65536


class HttpError(Exception):
    """The request could not be made or was refused. ``code`` is the
    wasi:http error-code case (``HttpRequestDenied``, ``ConnectionRefused``,
    ``HttpResponseBodySize``...)."""

    def __init__(self, code: str, detail: object = None):
        super().__init__(code if detail is None else f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass
class Response:
    """A complete response: status, headers (lowercase names) and body bytes."""

    status: int
    headers: list = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> Optional[str]:
        """The first value of header ``name`` (case-insensitive), or ``None``."""
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return None

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes replaced)."""
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return _json.loads(self.body)


def _code(e: Err) -> HttpError:
    value = e.value
    name = type(value).__name__
    name = name.split("_", 1)[1] if name.startswith("ErrorCode_") else name
    return HttpError(name, getattr(value, "value", None))


def request(
    method: str,
    url: str,
    headers: Iterable[Tuple[str, str]] = (),
    body: Union[bytes, str, None] = None,
) -> Response:
    """Sends one request and reads the whole response (the host bounds its
    size with ``limits.http-response``). Redirects are not followed."""

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HttpError("HttpRequestUriInvalid", url)
    methods = {
        "GET": types.Method_Get, "HEAD": types.Method_Head, "POST": types.Method_Post,
        "PUT": types.Method_Put, "DELETE": types.Method_Delete, "PATCH": types.Method_Patch,
        "OPTIONS": types.Method_Options,
    }
    upper = method.upper()
    fields = types.Fields.from_list([(k.lower(), v.encode()) for k, v in headers])
    req = types.OutgoingRequest(fields)
    try:
        req.set_method(methods[upper]() if upper in methods else types.Method_Other(method))
        req.set_scheme(types.Scheme_Https() if parts.scheme == "https" else types.Scheme_Http())
        req.set_authority(parts.netloc)
        req.set_path_with_query((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
    except Err:
        raise HttpError("HttpRequestUriInvalid", url) from None
    out = req.body()
    future = _handle(req)
    data = body.encode() if isinstance(body, str) else (body or b"")
    stream = out.write()
    try:
        for i in range(0, len(data), _CHUNK):
            stream.blocking_write_and_flush(data[i : i + _CHUNK])
    except Err:
        pass  # the host stopped reading: the response (or error) says why
    stream.__exit__(None, None, None)
    types.OutgoingBody.finish(out, None)

    while True:
        result = future.get()
        if result is not None:
            break
        future.subscribe().block()
    # option<result<result<incoming-response, error-code>>>: Ok(Ok(r)) or Ok(Err(code)).
    if isinstance(result, Err):
        raise HttpError("HttpResponseIncomplete", "the response was already taken")
    inner = result.value
    if isinstance(inner, Err):
        raise _code(inner)
    response = inner.value

    status = response.status()
    entries = [(k, v.decode("utf-8", "replace")) for k, v in response.headers().entries()]
    incoming = response.consume()
    reader = incoming.stream()
    chunks = []
    while True:
        try:
            chunks.append(reader.blocking_read(_READ))
        except Err as e:
            if isinstance(e.value, streams.StreamError_Closed):
                break
            raise HttpError("HttpResponseIncomplete", None) from None
    reader.__exit__(None, None, None)
    return Response(status, entries, b"".join(chunks))


def _handle(req):
    try:
        return outgoing_handler.handle(req, None)
    except Err as e:
        raise _code(e) from None


def get(url: str, headers: Iterable[Tuple[str, str]] = ()) -> Response:
    """``request("GET", url, headers)``."""
    return request("GET", url, headers)


def post(url: str, body: Union[bytes, str, None] = None, headers: Iterable[Tuple[str, str]] = ()) -> Response:
    """``request("POST", url, headers, body)``."""
    return request("POST", url, headers, body)


def post_json(url: str, value: Any, headers: Iterable[Tuple[str, str]] = ()) -> Response:
    """POSTs ``value`` as JSON (``content-type: application/json``)."""
    hs = list(headers) + [("content-type", "application/json")]
    return request("POST", url, hs, _json.dumps(value))
