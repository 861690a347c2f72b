"""The store and the API on a real PostgreSQL server.

Uses ``SWARMGUARD_TEST_PG_URL`` (a SQLAlchemy URL of a database the test may fill) when set;
otherwise starts a throwaway cluster with Debian's ``initdb`` / ``pg_ctl`` (package
``postgresql``) on a Unix socket, as the ``postgres`` user when run as root. Skipped, with the
reason, when neither is available or the ``postgres`` extra (psycopg) is not installed.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from swarmguard.coordinator.settings import ServiceSettings
from swarmguard.coordinator.store import AlertRow, AlertStore

from .conftest import ADMIN, TOKENS, FakeClock, TestClient, alert_json, auth

pytest.importorskip("psycopg", reason="needs the postgres extra: pip install '.[postgres]'")


def _as_postgres(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        pytest.skip("initdb refuses root and runuser is missing")
    return [runuser, "-u", "postgres", "--", *cmd]


def _free_port() -> int:
    # The port only names the socket file (no TCP listener), but keep it unlikely to clash.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _throwaway_cluster() -> Iterator[str]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        pytest.skip("no SWARMGUARD_TEST_PG_URL and no /usr/lib/postgresql/*/bin/initdb")
    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="sgpg"))  # short: a socket path has ~100 bytes
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sock, "postgres")
    port = _free_port()
    try:
        subprocess.run(
            _as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "sg", "-A", "trust"]),
            check=True,
            capture_output=True,
            timeout=120,
        )
        opts = f"-c listen_addresses='' -k {sock} -c fsync=off -p {port}"
        subprocess.run(
            _as_postgres(
                [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log")]
                + ["-o", opts, "-w", "-t", "60", "start"]
            ),
            check=True,
            capture_output=True,
            timeout=90,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        shutil.rmtree(root, ignore_errors=True)
        detail = getattr(exc, "stderr", b"") or b""
        pytest.skip(f"could not start a throwaway PostgreSQL: {exc} {detail[-300:]!r}")
    try:
        yield f"postgresql+psycopg://sg@/postgres?host={sock}&port={port}"
    finally:
        subprocess.run(
            _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    url = os.environ.get("SWARMGUARD_TEST_PG_URL")
    if url:
        yield url
    else:
        yield from _throwaway_cluster()


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh schema for each test, dropped afterwards."""
    import sqlalchemy as sa

    schema = f"sg_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(pg_server)
    with engine.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in pg_server else "?"
    try:
        yield f"{pg_server}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def test_store_on_postgresql(pg_url: str) -> None:
    store = AlertStore(pg_url)
    assert store.dialect == "postgresql"
    token = store.add_token("edge1")
    assert store.agent_for_token(token) == "edge1"
    rows = [AlertRow(uid=u, agent_id="edge1", ts=1.0, body="{}") for u in ["x", "y", "x"]]
    assert store.add_alerts("edge1", "b1", rows, now=2) == (["x", "y"], 1)
    assert store.add_alerts("edge1", "b1", rows[:1], now=3) == ([], 1)
    store.register_agent("edge1", version="1", addresses=["10.0.0.1"], enforcers=[], now=4)
    store.register_agent("edge1", version="2", addresses=[], enforcers=[], now=5)
    assert [a.version for a in store.list_agents()] == ["2"]
    assert store.heartbeat("edge1", {"q": 1}, now=6)
    store.set_bouncer_cursor("fw", 7, now=7)
    store.set_bouncer_cursor("fw", 9, now=8)
    assert store.bouncer_cursor("fw") == 9
    assert store.alert_count() == 2 and len(store.recent_alerts(1, 1)) == 1
    store.close()
    again = AlertStore(pg_url)  # a restart keeps everything
    assert again.alert_uids() == {"x", "y"} and again.agent_for_token(token) == "edge1"
    again.close()


def test_api_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    from swarmguard.coordinator.app import create_app

    settings = ServiceSettings.model_validate(
        {
            "database_url": pg_url,
            "decisions_db": str(tmp_path / "decisions.sqlite"),
            "correlate": False,
            "admin_token": ADMIN,
            "agent_tokens": TOKENS,
        }
    )
    make: Callable[[], Any] = lambda: TestClient(create_app(settings, clock=FakeClock()))  # noqa: E731
    e1 = auth(TOKENS["edge1"])
    body = {"batch_id": "b1", "alerts": [alert_json(i) for i in range(5)]}
    with make() as client:
        r = client.post("/api/v1/agents/register", json={"agent_id": "edge1"}, headers=e1)
        assert r.status_code == 200
        assert client.post("/api/v1/alerts", json=body, headers=e1).json() == {
            "accepted": 5,
            "duplicates": 0,
        }
        r = client.post("/api/v1/alerts", content=b"{oops", headers=e1)
        assert r.status_code == 422
    with make() as client:  # the coordinator restarted: nothing lost, nothing doubled
        assert client.post("/api/v1/alerts", json=body, headers=e1).json()["duplicates"] == 5
        assert client.get("/api/v1/alerts", headers=auth(ADMIN)).json()["total"] == 5
