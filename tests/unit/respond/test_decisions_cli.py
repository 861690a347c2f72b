import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from swarmguard.cli.decisions import decisions_app
from swarmguard.records.decision import Decision, DecisionReason, Feedback
from swarmguard.respond.ledger import DecisionLedger

runner = CliRunner()


def _ledger(path: Path) -> Decision:
    d = Decision(
        ts=datetime.now(UTC),
        action="block",
        scope="ip",
        value="203.0.113.7",
        ttl_s=600,
        origin="agent:edge1",
        reason=DecisionReason(
            alert_uids=["al1"], detector="rules", category="recon", summary="port scan"
        ),
    )
    with DecisionLedger(path) as led:
        led.add(d)
        led.record_feedback(
            Feedback(
                ts=d.ts, decision_uid=d.uid, enforcer="nftables", status="applied", duration_ms=0.4
            )
        )
    return d


def test_list_explain_revoke_on_a_local_ledger(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    d = _ledger(db)
    res = runner.invoke(decisions_app, ["list", "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "203.0.113.7" in res.output and "1 decision(s)" in res.output
    res = runner.invoke(decisions_app, ["list", "--db", str(db), "--json"])
    assert json.loads(res.output.splitlines()[0])["uid"] == d.uid
    res = runner.invoke(decisions_app, ["explain", d.uid, "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "port scan" in res.output and "nftables" in res.output and "al1" in res.output
    res = runner.invoke(decisions_app, ["revoke", d.uid, "--db", str(db), "--reason", "fp"])
    assert res.exit_code == 0 and f"revoked {d.uid}" in res.output
    res = runner.invoke(decisions_app, ["explain", d.uid, "--db", str(db), "--json"])
    info = json.loads(res.output)
    assert info["state"] == "revoked" and info["revocation"]["reason"] == "fp"
    res = runner.invoke(decisions_app, ["list", "--db", str(db)])
    assert "0 decision(s)" in res.output
    res = runner.invoke(decisions_app, ["list", "--db", str(db), "--all"])
    assert "1 decision(s)" in res.output


def test_clear_errors(tmp_path: Path) -> None:
    db = tmp_path / "l.db"
    _ledger(db)
    res = runner.invoke(decisions_app, ["revoke", "nope", "--db", str(db)])
    assert res.exit_code == 2 and "unknown decision 'nope'" in res.output
    res = runner.invoke(decisions_app, ["list"])
    assert res.exit_code == 2 and "exactly one of --db" in res.output
    res = runner.invoke(decisions_app, ["list", "--db", str(tmp_path / "none.db")])
    assert res.exit_code == 2 and "no such decision ledger" in res.output


@pytest.fixture
def fake_coordinator(tmp_path: Path) -> Iterator[tuple[str, Decision, list[str]]]:
    db = tmp_path / "c.db"
    d = _ledger(db)
    led = DecisionLedger(db)
    calls: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def _reply(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _auth(self) -> bool:
            if self.headers.get("Authorization") != "Bearer adm":
                self._reply(401, {"detail": "bad token"})
                return False
            return True

        def do_GET(self) -> None:
            calls.append(f"GET {self.path}")
            if not self._auth():
                return
            if self.path == "/api/v1/decisions":
                now = datetime.now(UTC)
                self._reply(200, [x.model_dump(mode="json") for x in led.active(now)])
            elif self.path.endswith("/explain"):
                self._reply(200, led.explain(self.path.split("/")[-2]))
            else:
                self._reply(404, {"detail": "not found"})

        def do_DELETE(self) -> None:
            calls.append(f"DELETE {self.path}")
            if self._auth():
                led.revoke(self.path.split("/")[-1], by="admin")
                self._reply(200, {"revoked": True})

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", d, calls
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        led.close()


def test_against_a_coordinator(fake_coordinator: tuple[str, Decision, list[str]]) -> None:
    url, d, calls = fake_coordinator
    base = ["--coordinator", url, "--token", "adm"]
    res = runner.invoke(decisions_app, ["list", *base])
    assert res.exit_code == 0 and "203.0.113.7" in res.output
    res = runner.invoke(decisions_app, ["explain", d.uid, *base])
    assert res.exit_code == 0 and "port scan" in res.output
    res = runner.invoke(decisions_app, ["revoke", d.uid, *base])
    assert res.exit_code == 0
    res = runner.invoke(decisions_app, ["list", "--coordinator", url, "--token", "bad"])
    assert res.exit_code == 2 and "HTTP 401: bad token" in res.output
    assert calls[:3] == [
        "GET /api/v1/decisions",
        f"GET /api/v1/decisions/{d.uid}/explain",
        f"DELETE /api/v1/decisions/{d.uid}",
    ]
