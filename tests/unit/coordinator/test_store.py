"""The SQLite store on disk: WAL mode, hashed tokens, survives a restart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from swarmguard.coordinator.settings import ServiceSettings
from swarmguard.coordinator.store import AlertRow, AlertStore, hash_token


def test_file_store_uses_wal_and_keeps_only_token_hashes(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    store = AlertStore(ServiceSettings(db=str(db)).store_url)
    token = store.add_token("edge1")
    store.add_alerts(
        "edge1", "b1", [AlertRow(uid="u1", agent_id="edge1", ts=1.0, body="{}")], now=2
    )
    store.close()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT token_sha256 FROM tokens").fetchall() == [(hash_token(token),)]
    assert token.encode() not in db.read_bytes()
    again = AlertStore(f"sqlite:///{db}")
    assert again.agent_for_token(token) == "edge1"
    assert again.alert_uids() == {"u1"} and again.batch_count() == 1
    assert again.add_alerts(
        "edge1", "b1", [AlertRow(uid="u1", agent_id="edge1", ts=1.0, body="{}")], now=3
    ) == ([], 1)
    again.close()


def test_duplicates_inside_one_batch_count_once() -> None:
    store = AlertStore("sqlite://")
    rows = [AlertRow(uid=u, agent_id="a", ts=0.0, body="{}") for u in ["x", "y", "x"]]
    assert store.add_alerts("a", "b", rows, now=0) == (["x", "y"], 1)
    assert store.alert_count() == 2


def test_ledger_sits_beside_the_store() -> None:
    assert (
        ServiceSettings(db="/var/lib/sg/c.sqlite").ledger_path == "/var/lib/sg/c.decisions.sqlite"
    )
    assert ServiceSettings(db="c", decisions_db="d.db").ledger_path == "d.db"
    url = "postgresql+psycopg://sg@db/sg"
    assert ServiceSettings(database_url=url).store_url == url


def test_upserts_compile_for_postgresql() -> None:
    # PostgreSQL is configuration only (no server here): check the dialect's SQL is built.
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.dialects.postgresql.base import PGDialect

    from swarmguard.coordinator.store import agents, batches

    dialect = PGDialect()  # type: ignore[no-untyped-call]

    stmt = postgresql.insert(agents).values(agent_id="a", registered_at=0, last_seen=0)
    sql = str(
        stmt.on_conflict_do_update(index_elements=["agent_id"], set_={"last_seen": 1}).compile(
            dialect=dialect
        )
    )
    assert "ON CONFLICT (agent_id) DO UPDATE" in sql
    stmt2 = postgresql.insert(batches).values(agent_id="a", batch_id="b", received_at=0)
    sql = str(stmt2.on_conflict_do_nothing().compile(dialect=dialect))
    assert "ON CONFLICT DO NOTHING" in sql
