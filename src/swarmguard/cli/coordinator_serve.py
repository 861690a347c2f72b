"""``swarmguard coordinator serve`` (the REST service) and ``swarmguard coordinator token add``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from swarmguard.cli.console import err, guarded, out, setup_logging

__all__ = ["coordinator_serve_command", "coordinator_token_add_command"]


def _pairs(values: list[str], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise ValueError(f"{what} must look like NAME=KEY, got {item!r}")
        pairs[name] = value
    return pairs


def coordinator_serve_command(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8480,
    db: Annotated[
        Path, typer.Option(help="SQLite store (WAL mode); decisions go beside it")
    ] = Path("coordinator.db"),
    database_url: Annotated[
        str | None,
        typer.Option(help="SQLAlchemy URL of the store instead (postgresql+psycopg://...)"),
    ] = None,
    tokens: Annotated[
        Path | None, typer.Option(help="TOML/JSON file of agent_id = token to pre-seed")
    ] = None,
    admin_token: Annotated[
        str | None,
        typer.Option(
            envvar="SWARMGUARD_ADMIN_TOKEN", help="token for revoke, listings and the dashboard"
        ),
    ] = None,
    bouncer_key: Annotated[
        list[str] | None,
        typer.Option("--bouncer-key", help="CrowdSec bouncer NAME=KEY (repeatable)"),
    ] = None,
    tls_cert: Annotated[
        Path | None, typer.Option(help="PEM certificate (swarmguard certs)")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM key of that certificate")] = None,
    allow: Annotated[
        list[str] | None,
        typer.Option("--allow", help="CIDR no decision may target (repeatable)"),
    ] = None,
    heartbeat: Annotated[float, typer.Option(help="agent heartbeat interval, seconds")] = 10.0,
    correlate: Annotated[bool, typer.Option(help="correlate alerts across agents")] = True,
    enforce: Annotated[
        bool,
        typer.Option(help="correlation decisions are real, not dry-run (simulated) ones"),
    ] = False,
    max_active: Annotated[
        int,
        typer.Option(min=1, help="most decisions in force; more are stored refused, not served"),
    ] = 10_000,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Run the coordinator service: agent API, alert intake, decisions, CrowdSec, dashboard."""
    setup_logging(verbose)
    with guarded():
        from swarmguard.coordinator.server import check_tls, load_tokens, serve
        from swarmguard.coordinator.settings import ServiceSettings

        agent_tokens = load_tokens(tokens) if tokens is not None else {}
        settings = ServiceSettings.model_validate(
            {
                "host": host,
                "port": port,
                "db": str(db),
                "database_url": database_url,
                "admin_token": admin_token,
                "agent_tokens": agent_tokens,
                "bouncer_keys": _pairs(bouncer_key or [], "--bouncer-key"),
                "tls_cert": tls_cert,
                "tls_key": tls_key,
                "heartbeat_s": heartbeat,
                "correlate": correlate,
                "enforce": enforce,
                "max_active": max_active,
                "allowlist": ["127.0.0.0/8", "::1/128", *(allow or [])],
            }
        )
        check_tls(settings)
        if admin_token is None:
            err.print("no --admin-token: revoke, listings and the dashboard are disabled")
        scheme = "https" if tls_cert else "http"
        err.print(f"coordinator on {scheme}://{host}:{port} (dashboard: /dashboard, API: /docs)")
        serve(settings)


def coordinator_token_add_command(
    name: Annotated[str, typer.Argument(help="agent id the token is for")],
    db: Annotated[Path, typer.Option(help="the coordinator's SQLite store")] = Path(
        "coordinator.db"
    ),
    database_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL of the store instead")
    ] = None,
) -> None:
    """Create a token for agent NAME; it is printed once and stored only as its SHA-256."""
    setup_logging(False)
    with guarded():
        from datetime import UTC, datetime

        from swarmguard.coordinator.schemas import RegisterRequest
        from swarmguard.coordinator.settings import ServiceSettings
        from swarmguard.coordinator.store import AlertStore

        RegisterRequest(agent_id=name)  # same rule for names as registration
        settings = ServiceSettings(db=str(db), database_url=database_url)
        store = AlertStore(settings.store_url)
        try:
            token = store.add_token(name, now=datetime.now(UTC).timestamp())
        finally:
            store.close()
        out.print(token, soft_wrap=True, highlight=False)


if __name__ == "__main__":  # pragma: no cover - tests start the server this way
    typer.run(coordinator_serve_command)
