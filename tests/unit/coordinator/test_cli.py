"""``coordinator token add`` and ``coordinator serve`` (over TLS from ``swarmguard certs``)."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from swarmguard.cli.coordinator_serve import (
    coordinator_serve_command,
    coordinator_token_add_command,
)
from swarmguard.coordinator.store import AlertStore
from swarmguard.federate.tls import make_certificates


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("serve")(coordinator_serve_command)
    app.command("token-add")(coordinator_token_add_command)
    return app


def test_token_add_prints_a_token_stored_hashed(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    result = CliRunner().invoke(_app(), ["token-add", "edge1", "--db", str(db)])
    assert result.exit_code == 0, result.output
    token = result.output.strip()
    assert len(token) == 43
    store = AlertStore(f"sqlite:///{db}")
    assert store.agent_for_token(token) == "edge1"
    store.close()
    assert token.encode() not in db.read_bytes()


def test_token_add_refuses_a_bad_name(tmp_path: Path) -> None:
    result = CliRunner().invoke(_app(), ["token-add", "bad name", "--db", str(tmp_path / "c.db")])
    assert result.exit_code == 2


def test_serve_refuses_half_tls_and_bad_bouncer_keys(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(_app(), ["serve", "--db", str(tmp_path / "c"), "--tls-cert", "x.pem"])
    assert result.exit_code == 2
    result = runner.invoke(_app(), ["serve", "--db", str(tmp_path / "c"), "--bouncer-key", "x"])
    assert result.exit_code == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _agent_delivers_over_https(url: str, ca: Path, tmp_path: Path) -> None:
    """The agent's own client and publisher, configured with ``ca``, deliver alerts over TLS."""
    from swarmguard.agent.config import parse_agent_config
    from swarmguard.agent.outbox import Outbox
    from swarmguard.agent.publisher import Publisher
    from swarmguard.agent.runtime import coordinator_client

    from .conftest import make_alert

    def publisher(with_ca: bool) -> tuple[Publisher, Outbox]:
        text = f'agent_id = "edge1"\n[coordinator]\nurl = "{url}"\ntoken = "edge1-token"\n'
        if with_ca:
            text += f'ca = "{ca}"\n'
        client = coordinator_client(parse_agent_config(text, "agent.toml"))
        assert client is not None
        box = Outbox(":memory:")
        box.put_many(
            "alert", [(a.uid, a.model_dump_json()) for a in (make_alert(i) for i in range(3))]
        )
        return Publisher(box, client, agent_id="edge1", pull=False), box

    untrusted, box = publisher(with_ca=False)  # without ca: the self-made CA is not trusted
    assert untrusted.step(0.0) is False
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stats.last_error
    assert box.pending()["alert"] == 3
    untrusted.client.close()
    trusted, box = publisher(with_ca=True)
    assert trusted.step(0.0) is True, trusted.stats.last_error
    assert box.pending()["alert"] == 0 and trusted.stats.sent["alert"] == 3
    trusted.client.close()


@pytest.mark.slow
def test_serve_over_tls(tmp_path: Path) -> None:
    files = make_certificates(tmp_path / "certs", ["127.0.0.1", "localhost"])
    tokens = tmp_path / "tokens.json"
    tokens.write_text('{"edge1": "edge1-token"}', encoding="utf-8")
    port = _free_port()
    cmd = [
        sys.executable,
        "-m",
        "swarmguard.cli.coordinator_serve",
        "--port",
        str(port),
        "--db",
        str(tmp_path / "c.db"),
        "--tokens",
        str(tokens),
        "--tls-cert",
        str(files.server_cert),
        "--tls-key",
        str(files.server_key),
    ]
    env = {**os.environ, "SWARMGUARD_ADMIN_TOKEN": "admin-token"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        context = ssl.create_default_context(cafile=str(files.ca_cert))
        url = f"https://127.0.0.1:{port}"
        with httpx.Client(base_url=url, verify=context, timeout=5) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    assert client.get("/healthz").json() == {"status": "ok"}
                    break
                except httpx.TransportError:
                    assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                    assert time.monotonic() < deadline, "coordinator did not start"
                    time.sleep(0.2)
            r = client.post(
                "/api/v1/agents/register",
                json={"agent_id": "edge1"},
                headers={"Authorization": "Bearer edge1-token"},
            )
            assert r.status_code == 200
            agents = client.get("/api/v1/agents", headers={"Authorization": "Bearer admin-token"})
            assert agents.json()["agents"][0]["agent_id"] == "edge1"
        _agent_delivers_over_https(url, files.ca_cert, tmp_path)
        alerts = httpx.get(
            f"{url}/api/v1/alerts",
            headers={"Authorization": "Bearer admin-token"},
            verify=context,
        ).json()
        assert alerts["total"] == 3
        assert {a["agent_id"] for a in alerts["alerts"]} == {"edge1"}
        with (
            pytest.raises(httpx.ConnectError),
            httpx.Client(verify=ssl.create_default_context()) as c,
        ):
            c.get(f"{url}/healthz")  # not signed by a public CA: refused
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
