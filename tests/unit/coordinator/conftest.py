"""Fixtures of the coordinator tests: an in-memory app with two agents, an admin and a bouncer."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from swarmguard.coordinator.app import create_app
from swarmguard.coordinator.settings import ServiceSettings
from swarmguard.records.alert import Alert, AlertInfo
from swarmguard.records.decision import Decision, DecisionReason

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its TestClient; httpx works the same.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    warnings.simplefilter("ignore", DeprecationWarning)  # anyio aliases starlette still uses
    from fastapi.testclient import TestClient as TestClient

ADMIN = "admin-secret-token"
TOKENS = {"edge1": "edge1-secret-token", "edge2": "edge2-secret-token"}
BOUNCER_KEY = "bouncer-secret-key"
T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class FakeClock:
    """A settable UTC clock."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_alert(i: int, *, src: str = "203.0.113.7", sensor: str = "edge1") -> Alert:
    return Alert(
        ts=T0,
        uid=f"alert-{sensor}-{i}",
        sensor_id=sensor,
        src_ip=src,
        src_port=40000 + i % 1000,
        dest_ip="198.51.100.10",
        dest_port=22,
        proto="TCP",
        alert=AlertInfo(
            signature_id=1, signature="ssh brute force", category="brute_force", severity=2
        ),
        detector="rules",
        score=0.9,
    )


def alert_json(i: int, **kw: Any) -> dict[str, Any]:
    return make_alert(i, **kw).model_dump(mode="json")


def make_decision(
    value: str = "203.0.113.7",
    *,
    ttl_s: float = 600,
    ts: datetime = T0,
    simulated: bool = False,
    action: str = "block",
    scope: str = "ip",
) -> Decision:
    return Decision.model_validate(
        {
            "ts": ts,
            "action": action,
            "scope": scope,
            "value": value,
            "ttl_s": ttl_s,
            "origin": "agent:edge1",
            "reason": DecisionReason(alert_uids=["alert-edge1-1"], category="brute_force"),
            "confidence": 0.8,
            "simulated": simulated,
        }
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(clock: FakeClock) -> Iterator[Callable[..., TestClient]]:
    clients: list[TestClient] = []

    def make(correlator: Any = None, **overrides: Any) -> TestClient:
        settings = ServiceSettings.model_validate(
            {
                "db": ":memory:",
                "correlate": False,
                "admin_token": ADMIN,
                "agent_tokens": TOKENS,
                "bouncer_keys": {"fw": BOUNCER_KEY},
                **overrides,
            }
        )
        client = TestClient(create_app(settings, clock=clock, correlator=correlator))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()
