"""``swarmguard certs``: a private CA and the coordinator's TLS certificate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swarmguard.cli.console import guarded, out, setup_logging

__all__ = ["certs_command"]


def certs_command(
    out_dir: Annotated[Path, typer.Option("--out", help="directory for the PEM files")],
    host: Annotated[
        list[str] | None,
        typer.Option("--host", help="coordinator name or IP address (repeat for several)"),
    ] = None,
    days: Annotated[int, typer.Option(help="validity in days")] = 365,
) -> None:
    """Make ca.pem/ca.key and server.pem/server.key; give agents ca.pem only."""
    setup_logging(False)
    with guarded():
        from swarmguard.federate.tls import make_certificates

        files = make_certificates(out_dir, host or ["127.0.0.1", "localhost"], days=days)
        out.print(
            f"CA: {files.ca_cert} (key {files.ca_key}: keep offline)\n"
            f"coordinator: {files.server_cert}, {files.server_key}"
        )
