"""Hostile script for the PYS contract cases: each case tries one escape from
the Python script runtime, or does the allowed thing (the positive control),
and prints one JSON line saying what happened."""

import json
import os
import sys


def report(**fields):
    print(json.dumps(fields))


def attempt(action):
    try:
        return {"ok": action()}
    except BaseException as e:  # noqa: BLE001
        return {"err": f"{type(e).__name__}: {e}"}


def read(path):
    with open(path) as f:
        return f.read()


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return read(path)


def _raw_connect(port):
    import _socket

    return _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM).connect(("127.0.0.1", port))


def main(case, args):
    if case == "hello":
        data = sys.stdin.read()
        import random

        report(
            argv=sys.argv,
            cwd=os.getcwd(),
            env=dict(os.environ),
            stdin=data,
            random=random.random(),
            skill_md=read("/skill/SKILL.md")[:3],
        )
    elif case == "read":
        report(**{p: attempt(lambda p=p: read(p)) for p in args})
    elif case == "write":
        report(**{p: attempt(lambda p=p: write(p, "written by the script")) for p in args})
    elif case == "remove":
        report(**{p: attempt(lambda p=p: os.remove(p)) for p in args})
    elif case == "process":
        import subprocess

        report(
            run=attempt(lambda: subprocess.run(["cat", args[0]], capture_output=True).stdout.decode()),
            check_output=attempt(lambda: subprocess.check_output("id", shell=True).decode()),
            system=attempt(lambda: os.system("touch " + args[1])),
            popen=attempt(lambda: os.popen("cat " + args[0]).read()),
            fork=attempt(lambda: os.fork()),
            execv=attempt(lambda: os.execv("/bin/sh", ["sh", "-c", "id"])),
            spawn=attempt(lambda: os.posix_spawn("/bin/sh", ["sh"], {})),
            after="still running",
        )
    elif case == "socket":
        import socket

        port = int(args[0])
        report(
            create_connection=attempt(lambda: socket.create_connection(("127.0.0.1", port), timeout=2).recv(10)),
            socket=attempt(lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect(("127.0.0.1", port))),
            raw=attempt(lambda: _raw_connect(port)),
            after="still running",
        )
    elif case == "urllib":
        import urllib.request

        def fetch(url):
            with urllib.request.urlopen(url, timeout=5) as r:
                return [r.status, r.read().decode()]

        report(**{u: attempt(lambda u=u: fetch(u)) for u in args})
    elif case == "http.client":
        import http.client

        def fetch(host):
            conn = http.client.HTTPConnection(host, timeout=5)
            conn.request("GET", "/data?x=1", headers={"Accept": "text/plain"})
            r = conn.getresponse()
            return [r.status, r.read().decode()]

        report(**{h: attempt(lambda h=h: fetch(h)) for h in args})
    elif case == "secret":
        # args: the variable holding a secret's placeholder, a JSON list of
        # requests ({method, url, headers, body, client}) in which "{key}"
        # stands for the variable's value ("{KEY}" for it upper-cased), and
        # a file to write the value to.
        import http.client
        import urllib.parse
        import urllib.request

        key = os.environ.get(args[0])

        def fill(text):
            return text.replace("{key}", key or "").replace("{KEY}", (key or "").upper())

        def send(spec):
            url = fill(spec["url"])
            headers = {k: fill(v) for k, v in spec.get("headers", {}).items()}
            body = fill(spec["body"]).encode() if "body" in spec else None
            method = spec.get("method", "GET")
            if spec.get("client") == "http.client":
                parts = urllib.parse.urlsplit(url)
                conn = http.client.HTTPConnection(parts.netloc, timeout=5)
                target = parts.path + (f"?{parts.query}" if parts.query else "")
                conn.request(method, target, body=body, headers=headers)
                r = conn.getresponse()
                return [r.status, r.read().decode(), dict(r.getheaders())]
            req = urllib.request.Request(url, data=body, headers=headers, method=method)
            with urllib.request.urlopen(req, timeout=5) as r:
                return [r.status, r.read().decode(), dict(r.headers.items())]

        if len(args) > 2:
            write(args[2], key or "")
        report(key=key, env=dict(os.environ), results=[attempt(lambda s=s: send(s)) for s in json.loads(args[1])])
    elif case == "memory":
        mib = int(args[0])
        blocks = [bytearray(1 << 20) for _ in range(mib)]
        report(allocated_mib=len(blocks))
    elif case == "loop":
        n = int(args[0])
        i = 0
        while n < 0 or i < n:
            i += 1
        report(looped=i)
    elif case == "exit":
        print("before exit")
        sys.exit(int(args[0]))
    elif case == "raise":
        raise RuntimeError("the script failed on purpose")
    elif case == "hash":
        report(hash=hash("abc"))
    else:
        report(error=f"unknown case {case}")


main(sys.argv[1], sys.argv[2:])
