"""``swarmguard decisions list | explain ID | revoke ID``: inspect and lift response decisions.

Works on a local ledger (``--db PATH``, the agent's or the coordinator's SQLite file) or on a
running coordinator (``--coordinator URL --token T``, the admin token). A revocation in a local
ledger is lifted by the running agent that owns it within about a second (its responder reads
the ledger for revocations made elsewhere and revokes them at every enforcer).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from swarmguard.cli.console import guarded, out
from swarmguard.errors import SwarmguardError

__all__ = ["decisions_app"]

decisions_app = typer.Typer(
    help="List, explain and revoke response decisions.", no_args_is_help=True
)

DbOpt = Annotated[Path | None, typer.Option("--db", help="decision ledger (SQLite) to use")]
UrlOpt = Annotated[
    str | None, typer.Option("--coordinator", help="coordinator base URL, e.g. https://h:8443")
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", envvar="SWARMGUARD_ADMIN_TOKEN", help="coordinator admin token"),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


class _Remote:
    def __init__(self, url: str, token: str | None) -> None:
        try:
            import httpx
        except ImportError as exc:  # pragma: no cover - the service extra is missing
            raise SwarmguardError(
                "--coordinator needs httpx: pip install 'swarmguard[service]'"
            ) from exc
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=10.0)
        self._httpx = httpx

    def call(self, method: str, path: str, params: dict[str, str] | None = None) -> Any:
        try:
            res = self._client.request(method, path, params=params)
        except self._httpx.HTTPError as exc:
            raise SwarmguardError(f"cannot reach the coordinator: {exc}") from exc
        if res.status_code >= 400:
            try:
                detail = res.json().get("detail", res.text)
            except ValueError:
                detail = res.text
            raise SwarmguardError(f"coordinator: HTTP {res.status_code}: {detail}")
        return res.json() if res.content else {}

    def close(self) -> None:
        self._client.close()


def _source(db: Path | None, coordinator: str | None) -> None:
    if (db is None) == (coordinator is None):
        raise SwarmguardError("give exactly one of --db PATH or --coordinator URL")
    if db is not None and not db.is_file():
        raise SwarmguardError(f"{db}: no such decision ledger")


def _remaining(d: dict[str, Any], now: datetime) -> float:
    ts = datetime.fromisoformat(str(d["ts"]).replace("Z", "+00:00"))
    return max(0.0, ts.timestamp() + float(d["ttl_s"]) - now.timestamp())


@decisions_app.command("list")
def list_command(
    db: DbOpt = None,
    coordinator: UrlOpt = None,
    token: TokenOpt = None,
    all_: Annotated[
        bool, typer.Option("--all", help="recent history, not only active (with --db)")
    ] = False,
    limit: Annotated[int, typer.Option(help="at most this many (with --all)")] = 100,
    json_out: JsonOpt = False,
) -> None:
    """List the decisions in force (newest last)."""
    with guarded():
        _source(db, coordinator)
        now = datetime.now(UTC)
        rows: list[dict[str, Any]]
        if db is not None:
            from swarmguard.respond.ledger import DecisionLedger

            with DecisionLedger(db) as ledger:
                found = ledger.history(limit) if all_ else ledger.active(now)
                rows = [d.model_dump(mode="json") for d in found]
                states = {d.uid: ledger.state(d.uid, now) for d in found}
        else:
            assert coordinator is not None
            remote = _Remote(coordinator, token)
            try:
                data = remote.call("GET", "/api/v1/decisions")
            finally:
                remote.close()
            rows = list(data.get("decisions", []) if isinstance(data, dict) else data)
            states = {str(r["uid"]): "active" for r in rows}
        if json_out:
            for row in rows:
                typer.echo(json.dumps(row))
            return
        table = Table("uid", "action", "target", "ttl left", "origin", "policy", "state", "why")
        for r in rows:
            state = str(states.get(str(r["uid"])))
            if r.get("simulated"):
                state += " (dry-run)"
            table.add_row(
                str(r["uid"]),
                str(r["action"]),
                str(r["value"]),
                f"{_remaining(r, now):.0f} s",
                str(r["origin"]),
                str(r["policy"]),
                state,
                str(r.get("reason", {}).get("summary", "")),
            )
        out.print(table)
        out.print(f"{len(rows)} decision(s)")


@decisions_app.command("explain")
def explain_command(
    uid: Annotated[str, typer.Argument(help="decision id")],
    db: DbOpt = None,
    coordinator: UrlOpt = None,
    token: TokenOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Why a decision was taken, what enforcing it did, and how long it has left."""
    with guarded():
        _source(db, coordinator)
        info: dict[str, Any]
        if db is not None:
            from swarmguard.respond.ledger import DecisionLedger

            with DecisionLedger(db) as ledger:
                info = ledger.explain(uid)
        else:
            assert coordinator is not None
            remote = _Remote(coordinator, token)
            try:
                info = dict(remote.call("GET", f"/api/v1/decisions/{uid}/explain"))
            finally:
                remote.close()
        if json_out:
            typer.echo(json.dumps(info, indent=2))
            return
        reason = info.get("reason", {})
        lines = [
            f"decision  {info['uid']} ({info.get('state', '?')})",
            f"action    {info['action']} {info.get('scope', '')} {info['value']}"
            + ("  [dry-run]" if info.get("simulated") else ""),
            f"by        {info.get('origin')} / policy {info.get('policy')}"
            f" / confidence {info.get('confidence')}",
            f"why       {reason.get('summary', '')}",
            f"category  {reason.get('category', '')}  detector {reason.get('detector', '')}",
            f"agents    {', '.join(reason.get('agents', [])) or '-'}",
            f"alerts    {', '.join(info.get('alert_uids', [])) or '-'}",
            f"decided   {info.get('decided_at')}  expires {info.get('expires_at')}"
            f"  (ttl {info.get('ttl_s')} s, {info.get('remaining_ttl_s')} s left)",
            f"offences  {info.get('offences', '-')}",
        ]
        if info.get("refused"):
            lines.append(f"refused   {info['refused']}")
        rev = info.get("revocation")
        if rev:
            lines.append(f"revoked   {rev['at']} by {rev['by']}: {rev.get('reason', '')}")
        for line in lines:
            out.print(line, highlight=False)
        table = Table("when", "enforcer", "status", "ms", "detail")
        for fb in info.get("feedback", []):
            table.add_row(
                str(fb["ts"]),
                str(fb["enforcer"]),
                str(fb["status"]),
                f"{float(fb['duration_ms']):.3f}",
                str(fb.get("detail", "")),
            )
        out.print(table)


@decisions_app.command("revoke")
def revoke_command(
    uid: Annotated[str, typer.Argument(help="decision id")],
    db: DbOpt = None,
    coordinator: UrlOpt = None,
    token: TokenOpt = None,
    reason: Annotated[str, typer.Option(help="why (kept with the decision)")] = "",
    by: Annotated[str, typer.Option(help="who revokes (with --db)")] = "cli",
) -> None:
    """Lift a decision before its TTL."""
    with guarded():
        _source(db, coordinator)
        if db is not None:
            from swarmguard.respond.ledger import DecisionLedger, UnknownDecisionError

            with DecisionLedger(db) as ledger:
                if ledger.revoke(uid, by=by, reason=reason) is None:
                    raise UnknownDecisionError(f"unknown decision '{uid}'")
        else:
            assert coordinator is not None
            remote = _Remote(coordinator, token)
            try:
                remote.call("DELETE", f"/api/v1/decisions/{uid}", {"reason": reason})
            finally:
                remote.close()
        out.print(f"revoked {uid}", highlight=False)
