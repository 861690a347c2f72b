"""Sandbox node: detonate one sample in isolation and record what it does on the network.

Contract: ``SandboxNode.detonate(sample, workdir, timeout_s)`` runs any executable or script in
its own network namespace whose only peer is a simulated internet (``internet``: sinkhole DNS,
catch-all HTTP, HTTPS, SMTP, FTP, TCP and UDP, every request logged as a JSON line), as an
unprivileged user under bubblewrap with a read-only system, a private ``/tmp``, cgroup and
rlimit caps and a hard timeout (``limits``), and captures the sample's traffic to a pcap. It
returns a ``Detonation``; what the sample does (crash, timeout, hitting a limit) is its status,
never an exception. Everything it creates (namespaces ``sgs-<run>-*``, veths, cgroups,
processes) is removed afterwards; ``netns.cleanup_run`` removes what a killed worker left.
Scheduling many detonations, reports and alerts live in ``swarmguard.sandbox``.
"""

from swarmguard.acquire.sandbox.limits import Limits
from swarmguard.acquire.sandbox.netns import cleanup_run
from swarmguard.acquire.sandbox.node import Detonation, SandboxNode, sample_options, sha256_file

__all__ = ["Detonation", "Limits", "SandboxNode", "cleanup_run", "sample_options", "sha256_file"]
