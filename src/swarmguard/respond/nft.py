"""Ways to run nftables scripts: libnftables in-process, a worker inside a namespace, the CLI.

Every script runs as one ``nft -f`` transaction: all of it applies or none of it does.

- ``LibNft``: libnftables (``libnftables.so.1``) through ctypes, in this process; its netlink
  socket is opened inside the chosen namespace (``setns`` for the moment of ``nft_ctx_new``), so
  no process and no pipe per call: the fastest.
- ``NftWorker``: a long-lived ``python -m swarmguard.respond.nftworker`` started with
  ``ip netns exec NS`` that owns a libnftables context inside namespace ``NS``; scripts go to it
  over a pipe (tests, the e2e range, and agents guarding a namespace).
- ``NftCli``: ``nft -f -`` per script (``ip netns exec NS nft -f -`` in a namespace).

Examples
--------
>>> backend = open_nft("cli", netns="sgr-doc")
>>> backend.command
['ip', 'netns', 'exec', 'sgr-doc', 'nft']
>>> open_nft("nope")
Traceback (most recent call last):
...
swarmguard.respond.nft.NftError: unknown nftables backend 'nope' (auto, lib, worker, cli)
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

from swarmguard.errors import SwarmguardError

__all__ = ["LibNft", "Nft", "NftCli", "NftError", "NftWorker", "libnftables_available", "open_nft"]

T = TypeVar("T")

_LIB_NAME = "libnftables.so.1"
_OUTPUT_JSON = 1 << 4
_OUTPUT_ECHO = 1 << 5


class NftError(SwarmguardError):
    """nftables rejected a script (the message is nft's error text)."""


class Nft(Protocol):
    """Runs one nftables script as a transaction and returns nft's output."""

    def run(self, script: str, *, json_output: bool = False, echo: bool = False) -> str:
        """Apply ``script`` atomically; raise ``NftError`` with nft's message on failure.

        With ``echo`` the output is what the kernel sent back about each object it created (a
        confirmation from the kernel itself, in the same round trip).
        """
        ...

    def close(self) -> None:
        """Release the context, process or pipe."""
        ...


def libnftables_available() -> bool:
    """True when ``libnftables.so.1`` can be loaded."""
    try:
        ctypes.CDLL(_LIB_NAME)
    except OSError:
        return False
    return True


_CLONE_NEWNET = 0x40000000
_SETNS_LOCK = threading.Lock()


def _in_netns(netns: str, make: Callable[[], T]) -> T:
    """Call ``make`` with this thread switched into namespace ``netns``, then switch back.

    Sockets opened by ``make`` stay bound to ``netns``: this is how a libnftables context of this
    process talks to another namespace's nftables without any process per call.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        target = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    except OSError as exc:
        raise NftError(f"no network namespace {netns!r}: {exc}") from exc
    with _SETNS_LOCK:
        home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        try:
            if libc.setns(target, _CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                raise NftError(f"cannot enter network namespace {netns!r}: {os.strerror(err)}")
            try:
                return make()
            finally:
                if libc.setns(home, _CLONE_NEWNET) != 0:  # pragma: no cover - cannot happen
                    raise OSError(ctypes.get_errno(), "cannot return to the home namespace")
        finally:
            os.close(home)
            os.close(target)


class LibNft:
    """A libnftables context in this process, bound to namespace ``netns`` (default: this one)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns
        try:
            lib = ctypes.CDLL(_LIB_NAME)
        except OSError as exc:
            raise NftError(f"cannot load {_LIB_NAME} (install libnftables1): {exc}") from exc
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        for fn in ("nft_ctx_buffer_output", "nft_ctx_buffer_error"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p]
            getattr(lib, fn).restype = ctypes.c_int
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
        for fn in ("nft_ctx_get_output_buffer", "nft_ctx_get_error_buffer"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p]
            getattr(lib, fn).restype = ctypes.c_char_p
        lib.nft_ctx_output_get_flags.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_output_get_flags.restype = ctypes.c_uint
        lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
        lib.nft_ctx_output_set_flags.restype = None
        lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_free.restype = None
        self._lib = lib
        self._ctx = _in_netns(netns, lambda: lib.nft_ctx_new(0)) if netns else lib.nft_ctx_new(0)
        if not self._ctx:
            raise NftError("nft_ctx_new failed")
        lib.nft_ctx_buffer_output(self._ctx)
        lib.nft_ctx_buffer_error(self._ctx)
        self._base_flags = int(lib.nft_ctx_output_get_flags(self._ctx))
        self._lock = threading.Lock()

    def run(self, script: str, *, json_output: bool = False, echo: bool = False) -> str:
        """Apply ``script`` atomically."""
        with self._lock:
            if not self._ctx:
                raise NftError("libnftables context is closed")
            # Always echo: libnftables then keeps its cache in step with what the kernel sent
            # back instead of dumping the ruleset again after each change (measured: one
            # netlink round trip per call instead of about fifteen).
            flags = self._base_flags | _OUTPUT_ECHO | (_OUTPUT_JSON if json_output else 0)
            self._lib.nft_ctx_output_set_flags(self._ctx, flags)
            rc = self._lib.nft_run_cmd_from_buffer(self._ctx, script.encode())
            out = (self._lib.nft_ctx_get_output_buffer(self._ctx) or b"").decode()
            err = (self._lib.nft_ctx_get_error_buffer(self._ctx) or b"").decode()
        if rc != 0:
            raise NftError(" ".join(err.split()) or f"nft failed with code {rc}")
        return out

    def close(self) -> None:
        """Free the context."""
        with self._lock:
            if self._ctx:
                self._lib.nft_ctx_free(self._ctx)
                self._ctx = None


class NftCli:
    """``nft -f -`` per script, optionally inside namespace ``netns``."""

    def __init__(self, netns: str | None = None, *, timeout_s: float = 10.0) -> None:
        nft = shutil.which("nft") or "nft"
        self.command = ["ip", "netns", "exec", netns, "nft"] if netns else [nft]
        self.timeout_s = timeout_s

    def run(self, script: str, *, json_output: bool = False, echo: bool = False) -> str:
        """Apply ``script`` atomically."""
        # nft 1.0.6 prints nothing for ``-j -f -``: a JSON listing goes as arguments instead.
        cmd = [*self.command, "-j", *script.split()] if json_output else [*self.command, "-f", "-"]
        if echo and not json_output:
            cmd.insert(len(self.command), "-e")
        try:
            res = subprocess.run(
                cmd,
                input=None if json_output else script,
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NftError(f"cannot run {' '.join(cmd)}: {exc}") from exc
        if res.returncode != 0:
            raise NftError(" ".join(res.stderr.split()) or f"nft exited {res.returncode}")
        return res.stdout

    def close(self) -> None:
        """Nothing to release."""


class NftWorker:
    """A libnftables worker process inside namespace ``netns``, fed scripts over a pipe."""

    def __init__(self, netns: str, *, timeout_s: float = 10.0) -> None:
        self.netns = netns
        self.timeout_s = timeout_s
        cmd = ["ip", "netns", "exec", netns, sys.executable, "-m", "swarmguard.respond.nftworker"]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                bufsize=1,
                env=env,
            )
        except OSError as exc:
            raise NftError(f"cannot start the nftables worker in {netns}: {exc}") from exc
        self._lock = threading.Lock()
        hello = self._proc.stdout.readline() if self._proc.stdout else ""
        if not hello.startswith('{"ready"'):
            err = self._proc.stderr.read() if self._proc.stderr else ""
            self.close()
            raise NftError(f"nftables worker in {netns} did not start: {err.strip()[-300:]}")

    def run(self, script: str, *, json_output: bool = False, echo: bool = False) -> str:
        """Apply ``script`` atomically inside the namespace."""
        with self._lock:
            if self._proc.poll() is not None or not self._proc.stdin or not self._proc.stdout:
                raise NftError(f"nftables worker in {self.netns} is not running")
            self._proc.stdin.write(
                json.dumps({"script": script, "json": json_output, "echo": echo}) + "\n"
            )
            self._proc.stdin.flush()
            line = self._proc.stdout.readline()
        if not line:
            raise NftError(f"nftables worker in {self.netns} exited")
        reply = json.loads(line)
        if reply["rc"] != 0:
            raise NftError(str(reply["err"]) or f"nft failed with code {reply['rc']}")
        return str(reply["out"])

    def close(self) -> None:
        """Stop the worker process."""
        proc = self._proc
        if proc.poll() is None:
            if proc.stdin:
                proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


def open_nft(backend: str = "auto", *, netns: str | None = None) -> Nft:
    """Open a backend: ``lib`` (libnftables), ``worker``, ``cli``, or ``auto`` (lib if present)."""
    if backend not in ("auto", "lib", "worker", "cli"):
        raise NftError(f"unknown nftables backend '{backend}' (auto, lib, worker, cli)")
    if backend == "cli" or (backend == "auto" and not libnftables_available()):
        return NftCli(netns)
    if backend == "worker":
        if not netns:
            raise NftError("the worker backend needs a network namespace")
        return NftWorker(netns)
    return LibNft(netns)
