import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def coordinator(tmp_path: Path) -> Iterator[tuple[str, Decision, DecisionLedger]]:
    """The real coordinator app under uvicorn on 127.0.0.1, its ledger holding one decision."""
    pytest.importorskip("uvicorn", reason="needs the service extra")
    import uvicorn

    from swarmguard.coordinator.app import create_app
    from swarmguard.coordinator.settings import ServiceSettings

    settings = ServiceSettings(
        db=str(tmp_path / "c.db"), admin_token=SecretStr("adm"), correlate=False
    )
    d = _ledger(Path(settings.ledger_path))
    port = _free_port()
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        ws="none",  # no websockets: its legacy module warns on import
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "coordinator did not start"
        time.sleep(0.05)
    led = DecisionLedger(settings.ledger_path)
    try:
        yield f"http://127.0.0.1:{port}", d, led
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        led.close()


def test_against_a_coordinator(coordinator: tuple[str, Decision, DecisionLedger]) -> None:
    url, d, led = coordinator
    base = ["--coordinator", url, "--token", "adm"]
    res = runner.invoke(decisions_app, ["list", *base])
    assert res.exit_code == 0, res.output
    assert "203.0.113.7" in res.output and "1 decision(s)" in res.output
    res = runner.invoke(decisions_app, ["list", *base, "--json"])
    assert json.loads(res.output.splitlines()[0])["uid"] == d.uid
    res = runner.invoke(decisions_app, ["explain", d.uid, *base])
    assert res.exit_code == 0, res.output
    assert "port scan" in res.output and "nftables" in res.output and "al1" in res.output
    res = runner.invoke(decisions_app, ["explain", d.uid, *base, "--json"])
    assert json.loads(res.output)["state"] == "active"
    res = runner.invoke(decisions_app, ["revoke", d.uid, *base, "--reason", "fp"])
    assert res.exit_code == 0 and f"revoked {d.uid}" in res.output
    assert led.state(d.uid, datetime.now(UTC)) == "revoked"
    res = runner.invoke(decisions_app, ["explain", d.uid, *base, "--json"])
    info = json.loads(res.output)
    assert info["state"] == "revoked" and info["revocation"]["by"] == "admin"
    assert info["revocation"]["reason"] == "fp"
    res = runner.invoke(decisions_app, ["list", *base])
    assert res.exit_code == 0 and "0 decision(s)" in res.output


def test_coordinator_errors_are_one_line(
    coordinator: tuple[str, Decision, DecisionLedger],
) -> None:
    url, d, led = coordinator
    res = runner.invoke(decisions_app, ["list", "--coordinator", url, "--token", "bad"])
    assert res.exit_code == 2 and "HTTP 401: unknown token" in res.output
    res = runner.invoke(decisions_app, ["revoke", d.uid, "--coordinator", url])
    assert res.exit_code == 2 and "HTTP 401" in res.output
    base = ["--coordinator", url, "--token", "adm"]
    res = runner.invoke(decisions_app, ["revoke", "nope", *base])
    assert res.exit_code == 2 and "HTTP 404: unknown decision 'nope'" in res.output
    res = runner.invoke(decisions_app, ["revoke", d.uid, *base, "--reason", "x" * 501])
    assert res.exit_code == 2 and "HTTP 422" in res.output
    assert led.state(d.uid, datetime.now(UTC)) == "active"  # nothing changed
    closed = f"http://127.0.0.1:{_free_port()}"
    res = runner.invoke(decisions_app, ["list", "--coordinator", closed, "--token", "adm"])
    assert res.exit_code == 2 and "cannot reach the coordinator" in res.output
