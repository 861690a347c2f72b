"""The coordinator's store: agents, hashed tokens, alerts (deduplicated by uid), batches, bouncers.

SQLAlchemy Core over SQLite in WAL mode by default, PostgreSQL when given a ``postgresql://`` URL.
Alerts of one batch are inserted with one ``executemany`` in one transaction; an alert whose
``uid`` is already stored is counted as a duplicate and not stored again, so an agent may resend a
batch after a lost reply (at-least-once delivery + dedup here = exactly once). Tokens are kept as
their SHA-256, never in clear.

Examples
--------
>>> store = AlertStore("sqlite://")
>>> token = store.add_token("edge1")
>>> store.agent_for_token(token), store.agent_for_token("wrong")
('edge1', None)
>>> rows = [AlertRow(uid="a1", agent_id="edge1", ts=0.0, body="{}")]
>>> store.add_alerts("edge1", "b1", rows, now=1.0), store.add_alerts("edge1", "b1", rows, now=2.0)
((['a1'], 0), ([], 1))
>>> store.alert_count()
1
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    cast,
    create_engine,
    event,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.pool import StaticPool

__all__ = ["AgentRow", "AlertRow", "AlertStore", "hash_token", "new_token"]

metadata = MetaData()

agents = Table(
    "agents",
    metadata,
    Column("agent_id", String(200), primary_key=True),
    Column("version", String(100), nullable=False, default=""),
    Column("addresses", Text, nullable=False, default="[]"),
    Column("enforcers", Text, nullable=False, default="[]"),
    Column("registered_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("health", Text, nullable=False, default="{}"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("agent_id", String(200), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("uid", String(200), primary_key=True),
    Column("agent_id", String(200), nullable=False),
    Column("batch_id", String(200), nullable=False, default=""),
    Column("ts", Float, nullable=False),
    Column("received_at", Float, nullable=False),
    Column("src_ip", String(64)),
    Column("category", String(200), nullable=False, default=""),
    Column("detector", String(100), nullable=False, default=""),
    Column("score", Float, nullable=False, default=0.0),
    Column("body", Text, nullable=False),
    Index("ix_alerts_received_at", "received_at"),
)

batches = Table(
    "batches",
    metadata,
    Column("agent_id", String(200), primary_key=True),
    Column("batch_id", String(200), primary_key=True),
    Column("received_at", Float, nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("duplicates", Integer, nullable=False),
)

bouncers = Table(
    "bouncers",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("cursor", Integer, nullable=False),
    Column("last_pull", Float, nullable=False),
)


def hash_token(token: str) -> str:
    """Return the hex SHA-256 of a token (what the store keeps).

    Examples
    --------
    >>> hash_token("abc")[:12]
    'ba7816bf8f01'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """Return a fresh random token (``secrets.token_urlsafe(32)``, 43 characters).

    Examples
    --------
    >>> len(new_token())
    43
    """
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class AlertRow:
    """One alert as stored: indexed columns plus its JSON body."""

    uid: str
    agent_id: str
    ts: float
    body: str
    src_ip: str | None = None
    category: str = ""
    detector: str = ""
    score: float = 0.0


@dataclass(frozen=True)
class AgentRow:
    """One registered agent."""

    agent_id: str
    version: str
    addresses: list[str]
    enforcers: list[str]
    registered_at: float
    last_seen: float
    health: dict[str, Any]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class AlertStore:
    """The coordinator's tables behind one SQLAlchemy engine; thread-safe.

    Parameters
    ----------
    url
        SQLAlchemy URL: ``sqlite:///path.db`` (WAL mode), ``sqlite://`` (in memory) or
        ``postgresql+psycopg://user@host/db``.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine
        if url.startswith("sqlite"):
            memory = url in ("sqlite://", "sqlite:///:memory:")
            self._engine = create_engine(
                url,
                connect_args={"check_same_thread": False},
                poolclass=StaticPool if memory else None,
            )
            event.listen(self._engine, "connect", _sqlite_pragmas)
        else:
            self._engine = create_engine(url, pool_pre_ping=True)
        # SQLite has one writer: serialise writes here instead of retrying on "database is locked".
        self._write = threading.Lock()
        self._token_cache: dict[str, str] = {}
        metadata.create_all(self._engine)

    @property
    def dialect(self) -> str:
        """Name of the database dialect (``sqlite``, ``postgresql``)."""
        return self._engine.dialect.name

    def _insert(self) -> Callable[[Table], Any]:
        if self.dialect == "postgresql":
            return postgresql.insert
        return sqlite.insert

    def close(self) -> None:
        """Release the engine's connections."""
        self._engine.dispose()

    # -- tokens ---------------------------------------------------------------------------------

    def add_token(self, agent_id: str, token: str | None = None, *, now: float = 0.0) -> str:
        """Store (the hash of) a token for ``agent_id`` and return the token in clear."""
        if not agent_id.strip():
            raise ValueError("an agent id must not be empty")
        token = token or new_token()
        digest = hash_token(token)
        stmt = self._insert()(tokens).values(token_sha256=digest, agent_id=agent_id, created_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["token_sha256"], set_={"agent_id": agent_id}
        )
        with self._write, self._engine.begin() as conn:
            conn.execute(stmt)
        self._token_cache[digest] = agent_id
        return token

    def agent_for_token(self, token: str) -> str | None:
        """Return the agent a token belongs to, or None."""
        digest = hash_token(token)
        cached = self._token_cache.get(digest)
        if cached is not None:
            return cached
        with self._engine.connect() as conn:
            agent = conn.execute(
                select(tokens.c.agent_id).where(tokens.c.token_sha256 == digest)
            ).scalar_one_or_none()
        if agent is not None:
            self._token_cache[digest] = agent
        return agent

    # -- agents ---------------------------------------------------------------------------------

    def register_agent(
        self,
        agent_id: str,
        *,
        version: str,
        addresses: Sequence[str],
        enforcers: Sequence[str],
        now: float,
    ) -> None:
        """Insert or update an agent's registration."""
        values = {
            "version": version,
            "addresses": json.dumps(list(addresses)),
            "enforcers": json.dumps(list(enforcers)),
            "last_seen": now,
        }
        stmt = self._insert()(agents).values(agent_id=agent_id, registered_at=now, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["agent_id"], set_=values)
        with self._write, self._engine.begin() as conn:
            conn.execute(stmt)

    def heartbeat(self, agent_id: str, health: dict[str, Any], *, now: float) -> bool:
        """Record a heartbeat; False when the agent never registered."""
        with self._write, self._engine.begin() as conn:
            result = conn.execute(
                agents.update()
                .where(agents.c.agent_id == agent_id)
                .values(last_seen=now, health=json.dumps(health))
            )
        return bool(result.rowcount)

    def list_agents(self) -> list[AgentRow]:
        """Every registered agent, by id."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(agents).order_by(agents.c.agent_id)).all()
        return [
            AgentRow(
                agent_id=r.agent_id,
                version=r.version,
                addresses=json.loads(r.addresses),
                enforcers=json.loads(r.enforcers),
                registered_at=r.registered_at,
                last_seen=r.last_seen,
                health=json.loads(r.health),
            )
            for r in rows
        ]

    # -- alerts ---------------------------------------------------------------------------------

    def add_alerts(
        self, agent_id: str, batch_id: str, rows: Sequence[AlertRow], *, now: float
    ) -> tuple[list[str], int]:
        """Store a batch in one transaction; return ``(uids stored, duplicates)``.

        Alerts whose uid is stored already (or repeated inside the batch) count as duplicates.
        """
        unique: dict[str, AlertRow] = {}
        for row in rows:
            unique.setdefault(row.uid, row)
        with self._write, self._engine.begin() as conn:
            known: set[str] = set()
            uids = list(unique)
            for start in range(0, len(uids), 900):
                chunk = uids[start : start + 900]
                known.update(
                    conn.execute(select(alerts.c.uid).where(alerts.c.uid.in_(chunk))).scalars()
                )
            fresh = [
                {
                    "uid": r.uid,
                    "agent_id": agent_id,
                    "batch_id": batch_id,
                    "ts": r.ts,
                    "received_at": now,
                    "src_ip": r.src_ip,
                    "category": r.category,
                    "detector": r.detector,
                    "score": r.score,
                    "body": r.body,
                }
                for r in unique.values()
                if r.uid not in known
            ]
            if fresh:
                conn.execute(alerts.insert(), fresh)
            accepted, duplicates = len(fresh), len(rows) - len(fresh)
            stored = [r.uid for r in unique.values() if r.uid not in known]
            stmt = self._insert()(batches).values(
                agent_id=agent_id,
                batch_id=batch_id,
                received_at=now,
                accepted=accepted,
                duplicates=duplicates,
            )
            conn.execute(stmt.on_conflict_do_nothing())
        return stored, duplicates

    def recent_alerts(self, limit: int, offset: int = 0) -> list[tuple[str, float, str]]:
        """Alerts newest first, ``limit`` from ``offset``: ``(agent_id, received_at, body)``."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(alerts.c.agent_id, alerts.c.received_at, alerts.c.body)
                .order_by(alerts.c.received_at.desc(), alerts.c.uid)
                .limit(limit)
                .offset(offset)
            ).all()
        return [(r.agent_id, r.received_at, r.body) for r in rows]

    def alert_count(self) -> int:
        """How many distinct alerts are stored."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(alerts)).scalar_one())

    def alert_uids(self) -> set[str]:
        """The uid of every stored alert (for checks that nothing was lost)."""
        with self._engine.connect() as conn:
            return set(conn.execute(select(alerts.c.uid)).scalars())

    def batch_count(self) -> int:
        """How many distinct batches were received."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(batches)).scalar_one())

    def alert_rate(self, *, since: float, bucket_s: float) -> list[tuple[float, int]]:
        """Alerts received per ``bucket_s`` since ``since``: ``(bucket start, count)``."""
        bucket = cast((alerts.c.received_at - since) / bucket_s, Integer)
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(bucket.label("b"), func.count().label("n"))
                .where(alerts.c.received_at >= since)
                .group_by("b")
                .order_by("b")
            ).all()
        return [(since + float(r.b) * bucket_s, int(r.n)) for r in rows]

    # -- CrowdSec bouncers ----------------------------------------------------------------------

    def bouncer_cursor(self, name: str) -> int | None:
        """The ledger cursor of a bouncer's last pull, or None before its first."""
        with self._engine.connect() as conn:
            value = conn.execute(
                select(bouncers.c.cursor).where(bouncers.c.name == name)
            ).scalar_one_or_none()
        return None if value is None else int(value)

    def set_bouncer_cursor(self, name: str, cursor: int, *, now: float) -> None:
        """Remember where a bouncer's pull ended."""
        stmt = self._insert()(bouncers).values(name=name, cursor=cursor, last_pull=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["name"], set_={"cursor": cursor, "last_pull": now}
        )
        with self._write, self._engine.begin() as conn:
            conn.execute(stmt)
