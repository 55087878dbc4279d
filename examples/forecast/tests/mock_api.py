#!/usr/bin/env python3
"""A local stand-in for the Open-Meteo forecast API, for the demo and tests.

    python3 examples/forecast/tests/mock_api.py PORT

Answers GET /v1/forecast?latitude=..&longitude=..&current=... with a fixed
current temperature that rises by 0.5 °C per request, and 404 elsewhere.
Prints one line per request to stderr.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

served = 0


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        global served
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path != "/v1/forecast" or "latitude" not in query:
            self.send_error(404)
            return
        served += 1
        body = json.dumps({
            "latitude": float(query["latitude"][0]),
            "longitude": float(query["longitude"][0]),
            "current": {"temperature_2m": 11.5 + 0.5 * served, "wind_speed_10m": 7.2},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("mock-api: " + fmt % args + "\n")


if __name__ == "__main__":
    HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
