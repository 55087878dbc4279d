"""``urllib3`` (and so ``requests``) through ``wasi:http``.

urllib3 opens its own sockets, which do not exist in the sandbox. As urllib3
does for browsers (``urllib3.contrib.emscripten``), its connection classes
are replaced by ones that hand each request to the host through
``wasi:http``, so the host checks it against ``[capabilities].network``
before anything leaves, adds and scrubs secrets, and enforces the HTTP
limits. urllib3 is not part of the runner: a skill vendors it
(``skill-run vendor``), and the replacement happens when it is imported.

The host does TLS and verifies certificates, so an ``https`` connection
reports itself verified; proxies and tunnels do not exist in the sandbox,
and redirects are followed (or not) by the caller, each one checked again.
"""

import http.client
import importlib.machinery
import sys

import sandboxed_http


def _connection_classes(urllib3):
    """The two connection classes, built on the urllib3 the skill vendored."""
    from urllib3._collections import HTTPHeaderDict  # also urllib3.HTTPHeaderDict in 2.x
    from urllib3.connection import port_by_scheme
    from urllib3.response import HTTPResponse

    class WasiHTTPConnection:
        """A urllib3 ``HTTPConnection`` whose requests go through ``wasi:http``."""

        default_port = port_by_scheme["http"]
        default_socket_options = []
        scheme = "http"
        is_verified = False
        proxy_is_verified = None

        def __init__(self, host, port=None, *, timeout=None, **kwargs):
            self.host = host
            self.port = port
            self.timeout = timeout
            self.proxy = None
            self.proxy_config = None
            self.source_address = None
            self.socket_options = None
            self.blocksize = kwargs.get("blocksize", 16384)
            self._closed = True
            self._pending = None

        def set_tunnel(self, host, port=None, headers=None, scheme="http"):
            raise http.client.HTTPException(
                "proxies and tunnels do not exist in the skill-run sandbox"
            )

        def connect(self):
            pass

        def request(self, method, url, body=None, headers=None, *, chunked=False,
                    preload_content=True, decode_content=True, enforce_content_length=True):
            self._closed = False
            if url.startswith("/"):
                port = "" if self.port in (None, self.default_port) else f":{self.port}"
                url = f"{self.scheme}://{self.host}{port}{url}"
            pairs = [(str(k), str(v)) for k, v in (headers or {}).items()]
            self._pending = (method, url, pairs, sandboxed_http._body(body),
                             preload_content, decode_content, enforce_content_length)

        def getresponse(self):
            if self._pending is None:
                raise http.client.ResponseNotReady("no request was made")
            method, url, pairs, body, preload, decode, enforce = self._pending
            self._pending = None
            # A denial (or a failed connection) is an OSError, as a refused
            # connection is: urllib3 and requests report it with its reason.
            r = sandboxed_http._send_or_refuse(method, url, pairs, body or None)
            headers = HTTPHeaderDict()
            for k, v in r.headers:
                # The body arrives whole and de-chunked: a chunked framing
                # header would send urllib3 looking for chunk sizes in it.
                if k.lower() != "transfer-encoding":
                    headers.add(k, v)
            original = sandboxed_http._Response(r, method)
            return HTTPResponse(
                body=original,
                headers=headers,
                status=r.status,
                version=11,
                version_string="HTTP/1.1",
                reason=original.reason,
                preload_content=preload,
                decode_content=decode,
                original_response=original,
                enforce_content_length=enforce,
                request_method=method,
                request_url=url,
            )

        def close(self):
            self._closed = True
            self._pending = None

        @property
        def is_closed(self):
            return self._closed

        @property
        def is_connected(self):
            return not self._closed

        @property
        def has_connected_to_proxy(self):
            return False

    class WasiHTTPSConnection(WasiHTTPConnection):
        """The ``https`` one: the host does TLS and verifies the certificate."""

        default_port = port_by_scheme["https"]
        scheme = "https"
        is_verified = True
        cert_reqs = None
        ca_certs = None
        ca_cert_dir = None
        ca_cert_data = None
        assert_hostname = None
        assert_fingerprint = None
        ssl_version = None
        ssl_minimum_version = None
        ssl_maximum_version = None

        def set_cert(self, *args, **kwargs):
            pass

    return WasiHTTPConnection, WasiHTTPSConnection


def route(urllib3):
    """Replaces urllib3's connection classes in the imported ``urllib3``.
    Only urllib3 2 (what ``requests`` installs) has the connection
    interface these classes implement: an older one is refused by name
    rather than left to fail on a socket."""
    version = getattr(urllib3, "__version__", "0")
    if not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 2:
        raise ImportError(
            f"urllib3 {version} is vendored, but the skill-run sandbox (which has no raw "
            "sockets) routes only urllib3 2.x through wasi:http: vendor urllib3>=2"
        )
    import urllib3.connection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    plain, tls = _connection_classes(urllib3)
    HTTPConnectionPool.ConnectionCls = plain
    HTTPSConnectionPool.ConnectionCls = tls
    urllib3.connection.HTTPConnection = plain
    urllib3.connection.HTTPSConnection = tls
    urllib3.connection.VerifiedHTTPSConnection = tls


class _RouteOnImport:
    """A ``sys.meta_path`` finder that finds ``urllib3`` as the path finder
    does and routes it through ``wasi:http`` once its module has run."""

    def find_spec(self, name, path=None, target=None):
        if name != "urllib3":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_route(module):
            exec_module(module)
            route(module)

        spec.loader.exec_module = exec_then_route
        return spec

    def invalidate_caches(self):
        pass


def install():
    """Routes urllib3, whenever a script imports it, through wasi:http."""
    if not any(isinstance(f, _RouteOnImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RouteOnImport())
