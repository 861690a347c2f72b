r"""A sandbox node: detonate one sample with no way out; capture its traffic and service logs.

One detonation: make the namespace pair (``netns.SandboxNet``), start the simulated internet
(``internet``) in one and a capture (``capture``) of the sample's ``eth0`` in the other, then
run the sample under bubblewrap inside the sample namespace:

* ``bwrap`` (as root, so it can hand out exactly the capabilities asked for) unshares IPC, PID,
  UTS and cgroup namespaces, binds ``/`` read-only, gives a private size-capped ``/tmp``, a
  fresh ``/proc`` and ``/dev``, a clean environment, a ``resolv.conf`` naming the sinkhole DNS,
  and dies with its parent;
* ``setpriv`` then drops to an unprivileged uid of its own with no capabilities (a sample that
  declares ``swarmguard-sandbox: net_raw`` in its first lines keeps only ``CAP_NET_RAW``, for
  raw-socket tools such as hping3) and sets no-new-privileges;
* limits: a cgroup (memory, tasks) joined before anything starts, rlimits (CPU time, file size,
  no core) through ``prlimit``, and a wall-clock timeout after which the whole cgroup, the
  process group and both namespaces are killed.

Everything is removed afterwards, also when the detonation fails half way.

Examples
--------
>>> sample_options(b"#!/bin/sh\n# swarmguard-sandbox: net_raw\n# swarmguard-label: PortScan\n")
({'net_raw'}, 'PortScan')
>>> sample_options(b"\x7fELF...")
(set(), None)
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from swarmguard.acquire.sandbox.limits import Cgroup, Limits, prlimit_args
from swarmguard.acquire.sandbox.netns import SandboxNet
from swarmguard.errors import SwarmguardError

__all__ = ["Detonation", "SandboxNode", "sample_options", "sha256_file"]

_log = logging.getLogger(__name__)

_OPTION = re.compile(rb"swarmguard-sandbox:\s*([a-z_, ]+)")
_LABEL = re.compile(rb"swarmguard-label:\s*([^\r\n]+)")
_UID_BASE = 61000
_UID_SPAN = 4000
# Ray workers ignore some signals, and ignored signals survive exec: reset them all.
_DEFAULT_SIGNALS = ["env", "--default-signal"]
_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sample_options(head: bytes) -> tuple[set[str], str | None]:
    """Options (``net_raw``) and label a sample declares in its first 2 KiB."""
    head = head[:2048]
    opts: set[str] = set()
    if m := _OPTION.search(head):
        opts = {o.strip() for o in m.group(1).decode().split(",") if o.strip()}
    label = _LABEL.search(head)
    return opts & {"net_raw"}, label.group(1).decode("utf-8", "replace").strip() if label else None


@dataclass
class Detonation:
    """What one detonation produced (paths inside its work directory)."""

    sample: str
    sha256: str
    node: str
    status: str  # ok | error | killed | timeout | failed
    exit_status: int | None
    duration_s: float
    overhead_s: float
    pcap: Path
    services_log: Path
    sample_ip: str
    sinkhole_ip: str
    label: str | None = None
    limits_hit: dict[str, int] = field(default_factory=dict)
    phases_s: dict[str, float] = field(default_factory=dict)
    cgroup: str = "none"
    stdout_tail: str = ""
    stderr_tail: str = ""
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready fields (paths as strings)."""
        d = asdict(self)
        d["pcap"] = str(self.pcap)
        d["services_log"] = str(self.services_log)
        return d


def _wait_line(
    proc: subprocess.Popen[bytes], stream: IO[bytes], want: bytes, what: str, timeout: float
) -> None:
    """Read ``stream`` until a line containing ``want`` arrives, or raise."""
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([stream], [], [], 0.05)
        if ready:
            line = stream.readline()
            seen += line
            if want in line:
                return
            if not line and proc.poll() is not None:
                break
        elif proc.poll() is not None:
            break
    tail = seen.decode(errors="replace").strip()[-300:]
    raise SwarmguardError(f"{what} did not start: {tail or 'no output'}")


def _stop(proc: subprocess.Popen[bytes] | None, sig: int = signal.SIGTERM) -> None:
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def _tail(path: Path, n: int = 2000) -> str:
    with contextlib.suppress(OSError):
        data = path.read_bytes()
        return data[-n:].decode("utf-8", "replace")
    return ""


class SandboxNode:
    """Runs detonations on this machine (root needed); one ``SandboxNode`` per scheduler slot.

    Parameters
    ----------
    name
        Node name put in every report.
    run_tag
        Six hex digits naming the run; every namespace and cgroup of the run carries it.
    cert_dir
        Where the sinkhole's self-signed certificate is kept (made once).
    limits
        Caps for every detonation.
    """

    def __init__(
        self,
        name: str,
        run_tag: str,
        cert_dir: Path,
        limits: Limits | None = None,
        *,
        python: str = sys.executable,
    ) -> None:
        self.name = name
        self.run_tag = run_tag
        self.cert_dir = cert_dir
        self.limits = limits or Limits()
        self.python = python

    def detonate(self, sample: Path, workdir: Path, timeout_s: float) -> Detonation:
        """Run ``sample`` once; write ``traffic.pcap``, ``services.jsonl``, ``stdout``/``stderr``.

        Never raises for what the sample does (crash, timeout, limits): that is the status.

        Raises
        ------
        SwarmguardError
            If the sandbox itself cannot be set up (not root, a tool missing).
        """
        if os.geteuid() != 0:
            raise SwarmguardError("the sandbox needs root (network namespaces, cgroups)")
        for tool in ("ip", "nft", "bwrap", "setpriv", "prlimit"):
            if shutil.which(tool) is None:
                raise SwarmguardError(f"the sandbox needs {tool!r} on PATH")
        t0 = time.monotonic()
        last = [t0]

        def mark(phase: str) -> None:
            now = time.monotonic()
            result.phases_s[phase] = round(now - last[0], 3)
            last[0] = now

        det = uuid.uuid4().hex[:8]
        workdir.mkdir(parents=True, exist_ok=True)
        net = SandboxNet(self.run_tag, det)
        cg = Cgroup(f"sgs-{self.run_tag}-{det}", self.limits)
        head = sample.read_bytes()[:2048]
        opts, label = sample_options(head)
        result = Detonation(
            sample=sample.name,
            sha256=sha256_file(sample),
            node=self.name,
            status="failed",
            exit_status=None,
            duration_s=0.0,
            overhead_s=0.0,
            pcap=workdir / "traffic.pcap",
            services_log=workdir / "services.jsonl",
            sample_ip=net.sample_ip,
            sinkhole_ip=net.sinkhole_ip,
            label=label,
            cgroup=cg.flavour,
        )
        services: subprocess.Popen[bytes] | None = None
        capture: subprocess.Popen[bytes] | None = None
        jail = workdir / "jail"
        try:
            net.create()
            mark("network")
            result.services_log.touch()
            services = subprocess.Popen(
                [
                    *net.exec_prefix(net.internet_ns),
                    *_DEFAULT_SIGNALS,
                    self.python,
                    "-m",
                    "swarmguard.acquire.sandbox.internet",
                    "--log",
                    str(result.services_log),
                    "--sinkhole",
                    net.sinkhole_ip,
                    "--cert-dir",
                    str(self.cert_dir),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            assert services.stdout is not None
            _wait_line(services, services.stdout, b"ready", "simulated internet", 20.0)
            mark("internet")
            capture = subprocess.Popen(
                [
                    *net.exec_prefix(net.sample_ns),
                    *_DEFAULT_SIGNALS,
                    self.python,
                    "-m",
                    "swarmguard.acquire.sandbox.capture",
                    "--iface",
                    "eth0",
                    "--out",
                    str(result.pcap),
                ],
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
            assert capture.stdout is not None
            _wait_line(capture, capture.stdout, b"listening on", "capture", 10.0)
            mark("capture")
            jail.mkdir(exist_ok=True)
            jail.chmod(0o755)
            target = jail / sample.name
            shutil.copyfile(sample, target)
            target.chmod(0o755)
            resolv = workdir / "resolv.conf"
            resolv.write_text(f"nameserver {net.sinkhole_ip}\noptions timeout:2 attempts:2\n")
            cg.create()
            cmd = self._command(net, target, head, opts, resolv, det, with_cgroup=cg.enabled)
            with (workdir / "stdout").open("wb") as out, (workdir / "stderr").open("wb") as err:
                started = time.monotonic()
                proc = subprocess.Popen(
                    ["sh", "-c", cg.join_command() + 'exec "$@"', "sh", *cmd],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
                try:
                    code: int | None = proc.wait(timeout_s)
                    result.status = "ok" if code == 0 else "error"
                except subprocess.TimeoutExpired:
                    result.status = "timeout"
                    cg.kill_all()
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
                    code = proc.wait(10)
                result.duration_s = round(time.monotonic() - started, 3)
                mark("sample")
            result.exit_status = code
            result.limits_hit = cg.events()
            if result.status == "error" and code is not None and code >= 128:
                result.status = "killed"  # bwrap reports a signal as 128 + signal number
            if code is not None and code in (128 + signal.SIGXCPU, -signal.SIGXCPU):
                result.limits_hit["cpu_time_hit"] = 1
        except (OSError, subprocess.SubprocessError, SwarmguardError) as exc:
            result.status = "failed"
            result.error = f"{type(exc).__name__}: {exc}"
            _log.warning("detonation of %s failed: %s", sample.name, result.error)
        finally:
            cg.kill_all()
            time.sleep(0.2)  # let the last answers reach the capture
            _stop(capture, signal.SIGINT)
            _stop(services)
            cg.remove()
            net.destroy()
            shutil.rmtree(jail, ignore_errors=True)
            mark("teardown")
        result.stdout_tail = _tail(workdir / "stdout")
        result.stderr_tail = _tail(workdir / "stderr")
        result.overhead_s = round(time.monotonic() - t0 - result.duration_s, 3)
        if result.status == "failed" and not result.pcap.exists():
            result.pcap.touch()
        return result

    def _command(
        self,
        net: SandboxNet,
        target: Path,
        head: bytes,
        opts: set[str],
        resolv: Path,
        det: str,
        *,
        with_cgroup: bool,
    ) -> list[str]:
        uid = str(_UID_BASE + int(det, 16) % _UID_SPAN)
        caps = ["CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP"]
        keep = "-all"
        ambient: list[str] = []
        if "net_raw" in opts:
            caps.append("CAP_NET_RAW")
            keep = "-all,+net_raw"
            ambient = ["--ambient-caps=+net_raw"]
        inside = f"/tmp/.sample/{target.name}"
        run = [inside] if head.startswith((b"#!", b"\x7fELF")) else ["/bin/sh", inside]
        bwrap = [
            "bwrap",
            "--unshare-ipc",
            "--unshare-pid",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            "sandbox",
            "--ro-bind",
            "/",
            "/",
            "--perms",
            "1777",
            "--size",
            str(self.limits.fsize_mb << 20),
            "--tmpfs",
            "/tmp",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--ro-bind",
            str(target.parent),
            "/tmp/.sample",
            "--ro-bind",
            str(resolv),
            "/etc/resolv.conf",
            "--chdir",
            "/tmp",
            "--die-with-parent",
            "--new-session",
            "--clearenv",
            "--setenv",
            "PATH",
            _PATH,
            "--setenv",
            "HOME",
            "/tmp",
            "--setenv",
            "SANDBOX_SINKHOLE",
            net.sinkhole_ip,
            "--cap-drop",
            "ALL",
        ]
        for cap in caps:
            bwrap += ["--cap-add", cap]
        setpriv = [
            "setpriv",
            f"--reuid={uid}",
            f"--regid={uid}",
            "--clear-groups",
            f"--inh-caps={keep}",
            *ambient,
            f"--bounding-set={keep}",
            "--no-new-privs",
            "--",
        ]
        return [
            *net.exec_prefix(net.sample_ns),
            *_DEFAULT_SIGNALS,
            *prlimit_args(self.limits, with_cgroup=with_cgroup),
            *bwrap,
            "--",
            *setpriv,
            *run,
        ]
