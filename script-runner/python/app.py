"""The Python script runtime: one CPython component that runs a skill's script.

Built once with componentize-py (``scripts/install-toolchains python``) and
shared by every ``runtime = "python"`` skill. The host calls ``wasi:cli/run``
with the arguments ``[skill, /skill/<script>, ARG...]``, the package mounted
read-only at ``/skill`` and the working folder as ``initial-cwd``.

componentize-py snapshots the interpreter after this module ran at build time
and keeps only the modules imported by then, so the standard library is
imported here, once, at build time. What the snapshot froze and must differ
per run (argv, the environment, the working folder, ``random``'s seed) is set
again in ``Run.run``.
"""

import errno
import importlib
import os
import pkgutil
import sys

# Modules that do something when imported (open a browser, print), need a
# display, or are tests and tooling no script needs.
_SKIP = {
    "antigravity",
    "this",
    "idlelib",
    "tkinter",
    "turtle",
    "turtledemo",
    "test",
    "lib2to3",
    "ensurepip",
    "venv",
    "pydoc_data",
    "__hello__",
    "__phello__",
}
_SKIP_PARTS = {"test", "tests", "idle_test", "__main__"}


def _preload() -> None:
    """Imports every standard-library module and submodule that loads in WASI."""
    for name in sorted(sys.stdlib_module_names):
        if name in _SKIP:
            continue
        try:
            module = importlib.import_module(name)
        except BaseException:  # noqa: BLE001 - a module WASI lacks (ctypes, sqlite3...)
            continue
        path = getattr(module, "__path__", None)
        if not path:
            continue
        for info in pkgutil.walk_packages(path, name + "."):
            if _SKIP_PARTS.intersection(info.name.split(".")):
                continue
            try:
                importlib.import_module(info.name)
            except BaseException:  # noqa: BLE001
                continue


_preload()

import builtins  # noqa: E402
import io  # noqa: E402
import random  # noqa: E402
import runpy  # noqa: E402, F401 - kept in the snapshot for scripts that use it
import socket  # noqa: E402
import subprocess  # noqa: E402
import traceback  # noqa: E402
import types  # noqa: E402

from wit_world import exports  # noqa: E402
from wit_world.imports import environment, sandbox  # noqa: E402
from wit_world.imports import exit as wasi_exit  # noqa: E402

import sandboxed_http  # noqa: E402
import sandboxed_urllib3  # noqa: E402

_NO_PROCESSES = (
    "processes do not exist in the skill-run sandbox: a script runs as WebAssembly "
    "and cannot start programs (do the work in Python, or run the script outside skill-run)"
)
_NO_SOCKETS = (
    "raw sockets do not exist in the skill-run sandbox: use urllib.request or "
    "http.client, which go through wasi:http under [capabilities].network in skill.toml"
)


class SandboxError(PermissionError):
    """Raised for what the sandbox does not have: processes and raw sockets."""


def _deny(what: str, detail: str, message: str):
    # Cut here so a script cannot flood the audit log through one call.
    detail = detail[:512]
    sandbox.denied(what, detail)
    raise SandboxError(errno.EPERM, f"{detail}: {message}")


def _describe(args) -> str:
    if isinstance(args, (list, tuple)):
        return " ".join(str(a) for a in args)
    return str(args)


class _NoPopen:
    """Stands in for ``subprocess.Popen``: every process start is refused."""

    def __init__(self, args=None, *rest, **kwargs):
        _deny("process", f"subprocess.Popen({_describe(args)})", _NO_PROCESSES)


def _no_process(name):
    def refuse(*args, **kwargs):
        _deny("process", f"os.{name}({_describe(args[:2])})", _NO_PROCESSES)

    refuse.__name__ = name
    return refuse


class _NoSocket(socket.socket):
    """Stands in for ``socket.socket``: no raw socket can be made."""

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):  # noqa: A002
        _deny("socket", f"socket.socket(family={family}, type={type})", _NO_SOCKETS)


def _no_socket(name):
    def refuse(*args, **kwargs):
        _deny("socket", f"socket.{name}({_describe(args[:1])})", _NO_SOCKETS)

    refuse.__name__ = name
    return refuse


def _install_guards() -> None:
    subprocess.Popen = _NoPopen
    for name in (
        "system",
        "popen",
        "fork",
        "forkpty",
        "execv",
        "execve",
        "execl",
        "execle",
        "execlp",
        "execlpe",
        "execvp",
        "execvpe",
        "spawnv",
        "spawnve",
        "spawnl",
        "spawnle",
        "spawnlp",
        "spawnlpe",
        "spawnvp",
        "spawnvpe",
        "posix_spawn",
        "posix_spawnp",
    ):
        setattr(os, name, _no_process(name))
    socket.socket = _NoSocket
    socket.SocketType = _NoSocket
    # No socket of any family can be made, so none is IPv6: libraries that
    # probe for it at import (urllib3) then skip the probe instead of
    # leaving a denied socket in every run's audit.
    socket.has_ipv6 = False
    for name in ("create_connection", "create_server", "socketpair", "fromfd"):
        setattr(socket, name, _no_socket(name))


_install_guards()
# The package is read-only: python3 would cache compiled modules in
# __pycache__ beside them, and here each try would only be a denial in the
# audit log.
sys.dont_write_bytecode = True
sandboxed_http.install()
sandboxed_urllib3.install()


def _exit_status(code) -> int:
    """``SystemExit``'s code as python3 turns it into an exit status."""
    if code is None:
        return 0
    if isinstance(code, bool):
        return int(code)
    if isinstance(code, int):
        return code & 0xFF
    # sys.exit("message"): printed on stderr, status 1.
    print(code, file=sys.stderr)
    return 1


def _exec_script(script):
    """Runs ``script`` as ``__main__``, as ``python3 script`` does: read as
    bytes (so a PEP 263 coding line applies), compiled with the script's path
    as its file name, executed in a fresh ``__main__`` module. Done by hand
    rather than with ``runpy.run_path``, whose importer lookups and module
    juggling cost about 0.6 ms of a 2.8 ms run in a fresh instance
    (measured with ``scripts/bench-pyscript``)."""
    with io.open_code(script) as f:
        source = f.read()
    code = compile(source, script, "exec", dont_inherit=True)
    main = types.ModuleType("__main__")
    main.__file__ = script
    main.__cached__ = None
    main.__builtins__ = builtins
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved


def _run_script(args) -> int:
    if len(args) < 2:
        print("skill-run python runner: no script given", file=sys.stderr)
        return 2
    script = args[1]
    sys.argv = [script, *args[2:]]
    # The script's folder first, as python3 does; then the package's
    # vendored pure-Python packages (`skill-run vendor`).
    vendored = "/skill/vendor"
    sys.path[0:0] = [os.path.dirname(script)] + ([vendored] if os.path.isdir(vendored) else [])
    try:
        _exec_script(script)
    except SystemExit as e:
        return _exit_status(e.code)
    except KeyboardInterrupt:
        return 130
    except BaseException as e:  # noqa: BLE001 - python3 prints it and exits 1
        # From the script's first frame on, as python3 prints it: the
        # runner's own frames (this function, _exec_script) are not the script's.
        # A SyntaxError has no frame of the script and prints none; anything
        # else raised before the script ran keeps every frame.
        tb = e.__traceback__
        while tb is not None and tb.tb_frame.f_code.co_filename != script:
            tb = tb.tb_next
        if tb is None and not isinstance(e, SyntaxError):
            tb = e.__traceback__
        traceback.print_exception(type(e), e, tb)
        return 1
    return 0


class Run(exports.Run):
    """``wasi:cli/run``: one script, in this fresh instance."""

    def run(self) -> None:
        os.environ.clear()
        os.environ.update(dict(environment.get_environment()))
        random.seed()
        cwd = environment.initial_cwd()
        if cwd:
            try:
                os.chdir(cwd)
            except OSError:
                pass
        status = _run_script(environment.get_arguments())
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:  # noqa: BLE001
                pass
        if status:
            wasi_exit.exit_with_code(status)
