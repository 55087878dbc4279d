"""Hostile guest: escape attempts in Python idioms, for the PY contract cases."""

import encodings.idna  # noqa: F401  socket's name handling needs it at run time
import os
import socket
import sys
import urllib.request

import wit_world

from skill_sdk import Err, channels, http


def _fail(e: BaseException):
    raise Err(f"{type(e).__name__}: {e}")


class WitWorld(wit_world.WitWorld):
    def read_text(self, path: str) -> str:
        try:
            with open(path) as f:
                return f.read()
        except OSError as e:
            _fail(e)

    def write_text(self, path: str, text: str) -> str:
        try:
            with open(path, "w") as f:
                f.write(text)
            with open(path) as f:
                return f.read()
        except OSError as e:
            _fail(e)

    def list_dir(self, path: str) -> list:
        try:
            return sorted(os.listdir(path))
        except OSError as e:
            _fail(e)

    def env_var(self, name: str):
        return os.environ.get(name)

    def env_names(self) -> list:
        return sorted(os.environ)

    def fetch(self, url: str) -> str:
        try:
            return http.get(url).text
        except http.HttpError as e:
            raise Err(f"HttpError: {e.code}")

    def urlopen(self, url: str) -> str:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode()
        except Exception as e:  # URLError wraps the socket's PermissionError
            _fail(e)

    def tcp_connect(self, host: str, port: int) -> str:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect((host, port))
                s.sendall(b"escaped\n")
                return "connected"
        except Exception as e:
            _fail(e)

    def dns_lookup(self, host: str) -> list:
        try:
            return sorted({a[4][0] for a in socket.getaddrinfo(host, 80)})
        except Exception as e:
            _fail(e)

    def hoard(self, mib: int) -> int:
        held = []
        for _ in range(mib):
            held.append(bytearray(1024 * 1024))
        return len(held)

    def loop_forever(self) -> int:
        n = 0
        while True:
            n += 1

    def shout(self, mib: int) -> int:
        line = "x" * 1023
        for _ in range(mib * 1024):
            print(line)
        sys.stdout.flush()
        return mib

    def say(self, channel: str, message: str) -> None:
        try:
            channels.send(channel, message)
        except channels.ChannelError as e:
            raise Err(f"ChannelError: {e}")
