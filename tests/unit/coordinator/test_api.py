"""The coordinator's REST API in-process: auth, intake, dedup, decisions, bad input."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from swarmguard.records.alert import Alert
from swarmguard.records.decision import Decision

from .conftest import (
    ADMIN,
    BOUNCER_KEY,
    TOKENS,
    FakeClock,
    TestClient,
    alert_json,
    auth,
    make_decision,
)

E1 = auth(TOKENS["edge1"])
E2 = auth(TOKENS["edge2"])
A = auth(ADMIN)


def register(client: TestClient, agent: str = "edge1") -> None:
    body = {
        "agent_id": agent,
        "version": "0.1.0",
        "addresses": ["10.0.0.1"],
        "enforcers": ["dryrun"],
    }
    r = client.post("/api/v1/agents/register", json=body, headers=auth(TOKENS[agent]))
    assert r.status_code == 200, r.text


def batch(n: int, start: int = 0, batch_id: str = "b1", **kw: Any) -> dict[str, Any]:
    return {"batch_id": batch_id, "alerts": [alert_json(i, **kw) for i in range(start, start + n)]}


def totals(client: TestClient) -> int:
    r = client.get("/api/v1/alerts?limit=1", headers=A)
    assert r.status_code == 200
    return int(r.json()["total"])


def test_register_heartbeat_and_list(client: TestClient, clock: FakeClock) -> None:
    register(client)
    r = client.post("/api/v1/agents/edge1/heartbeat", json={"health": {"queue": 3}}, headers=E1)
    assert r.status_code == 200
    agents = client.get("/api/v1/agents", headers=A).json()["agents"]
    assert [a["agent_id"] for a in agents] == ["edge1"]
    assert agents[0]["alive"] and agents[0]["health"] == {"queue": 3}
    clock.advance(31)
    assert not client.get("/api/v1/agents", headers=A).json()["agents"][0]["alive"]


def test_register_answers_heartbeat_interval(client: TestClient) -> None:
    r = client.post("/api/v1/agents/register", json={"agent_id": "edge1"}, headers=E1)
    assert r.json() == {"agent_id": "edge1", "heartbeat_s": 10.0}


def test_heartbeat_of_an_unknown_agent_registers_it(client: TestClient) -> None:
    # e.g. the coordinator came back with a fresh store: the agent stays visible.
    r = client.post("/api/v1/agents/edge1/heartbeat", json={"health": {"q": 1}}, headers=E1)
    assert r.status_code == 200
    (agent,) = client.get("/api/v1/agents", headers=A).json()["agents"]
    assert agent["agent_id"] == "edge1" and agent["health"] == {"q": 1}


def test_another_agents_token_is_403_and_changes_nothing(client: TestClient) -> None:
    r = client.post("/api/v1/agents/register", json={"agent_id": "edge2"}, headers=E1)
    assert r.status_code == 403 and "edge1" in r.json()["detail"]
    register(client, "edge2")
    r = client.post("/api/v1/agents/edge2/heartbeat", json={"health": {"x": 1}}, headers=E1)
    assert r.status_code == 403
    assert client.get("/api/v1/agents", headers=A).json()["agents"][0]["health"] == {}


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}, {"Authorization": ""}],
)
def test_bad_or_missing_token_is_401(client: TestClient, headers: dict[str, str]) -> None:
    r = client.post("/api/v1/alerts", json=batch(2), headers=headers)
    assert r.status_code == 401
    assert "detail" in r.json()
    assert totals(client) == 0


def test_admin_only_routes_refuse_agent_tokens(client: TestClient) -> None:
    for method, path in [
        ("GET", "/api/v1/agents"),
        ("GET", "/api/v1/alerts"),
        ("GET", "/api/v1/decisions"),
        ("GET", "/api/v1/stats"),
        ("DELETE", "/api/v1/decisions/x"),
        ("GET", "/api/v1/decisions/x/explain"),
    ]:
        assert client.request(method, path, headers=E1).status_code == 403, path
        assert client.request(method, path).status_code == 401, path


def test_alert_intake_is_idempotent_on_uid(client: TestClient) -> None:
    r = client.post("/api/v1/alerts", json=batch(5), headers=E1)
    assert r.json() == {"accepted": 5, "duplicates": 0}
    # The same batch again (lost reply), then an overlapping one.
    assert client.post("/api/v1/alerts", json=batch(5), headers=E1).json() == {
        "accepted": 0,
        "duplicates": 5,
    }
    r = client.post("/api/v1/alerts", json=batch(5, start=3, batch_id="b2"), headers=E1)
    assert r.json() == {"accepted": 3, "duplicates": 2}
    assert totals(client) == 8
    listed = client.get("/api/v1/alerts?limit=3", headers=A).json()["alerts"]
    assert len(listed) == 3 and listed[0]["agent_id"] == "edge1"
    Alert.model_validate(listed[0]["alert"])
    pages = [client.get(f"/api/v1/alerts?limit=3&offset={o}", headers=A).json() for o in (0, 3, 6)]
    uids = [a["alert"]["uid"] for page in pages for a in page["alerts"]]
    assert sorted(uids) == sorted(f"alert-edge1-{i}" for i in range(8))


def test_admin_token_cannot_send_alerts(client: TestClient) -> None:
    assert client.post("/api/v1/alerts", json=batch(1), headers=A).status_code == 403


def test_malformed_json_is_4xx_and_changes_nothing(client: TestClient) -> None:
    headers = {**E1, "content-type": "application/json"}
    for content in [b"{not json", b"", b"[1, 2]", b'{"batch_id": "b", "alerts": [}']:
        r = client.post("/api/v1/alerts", content=content, headers=headers)
        assert r.status_code in (400, 422), content
        assert r.json()["detail"]
    assert totals(client) == 0


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b.update(alerts="many"),
        lambda b: b.update(batch_id=7),
        lambda b: b.pop("batch_id"),
        lambda b: b.update(extra=1),
        lambda b: b["alerts"][1].update(score="high"),
        lambda b: b["alerts"][1].update(score=3.0),
        lambda b: b["alerts"][1].update(ts="yesterday"),
        lambda b: b["alerts"][1]["alert"].pop("category"),
    ],
)
def test_wrong_types_are_422_and_change_nothing(
    client: TestClient, mutate: Callable[[dict[str, Any]], None]
) -> None:
    body = batch(3)
    mutate(body)
    r = client.post("/api/v1/alerts", json=body, headers=E1)
    assert r.status_code == 422, r.text
    assert totals(client) == 0


def test_oversized_batch_is_413(client: TestClient) -> None:
    r = client.post("/api/v1/alerts", json=batch(1001), headers=E1)
    assert r.status_code == 413 and "1000" in r.json()["detail"]
    assert totals(client) == 0


def test_oversized_body_is_413(client: TestClient) -> None:
    body = batch(2)
    body["alerts"][0]["alert"]["signature"] = "x" * (1 << 20)
    r = client.post("/api/v1/alerts", json=body, headers=E1)
    assert r.status_code == 413 and "bytes" in r.json()["detail"]
    assert totals(client) == 0


def test_oversized_chunked_body_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield json.dumps(batch(2)).encode()[:-1]
        for _ in range(20):
            yield b" " * 65536
        yield b"}"

    headers = {**E1, "content-type": "application/json"}
    r = client.post("/api/v1/alerts", content=chunks(), headers=headers)
    assert r.status_code == 413
    assert totals(client) == 0


def test_bad_content_length_is_400(client: TestClient) -> None:
    headers = {**E1, "content-type": "application/json", "content-length": "abc"}
    r = client.post("/api/v1/alerts", content=b"{}", headers=headers)
    assert r.status_code == 400


def test_decisions_stream_explain_revoke(client: TestClient, clock: FakeClock) -> None:
    d = make_decision()
    r = client.post(
        "/api/v1/decisions", json={"decisions": [d.model_dump(mode="json")]}, headers=E1
    )
    assert r.json() == {"accepted": 1, "refused": 0, "capped": 0, "duplicates": 0}
    stream = client.get("/api/v1/decisions/stream?since=0", headers=E2).json()
    assert [x["uid"] for x in stream["new"]] == [d.uid] and stream["deleted"] == []
    cursor = stream["cursor"]
    assert client.get(f"/api/v1/decisions/stream?since={cursor}", headers=E2).json()["new"] == []
    active = client.get("/api/v1/decisions", headers=A).json()["decisions"]
    assert [Decision.model_validate(x).uid for x in active] == [d.uid]

    fb = {
        "ts": clock().isoformat(),
        "decision_uid": d.uid,
        "enforcer": "nftables",
        "status": "applied",
        "duration_ms": 1.5,
    }
    assert client.post("/api/v1/feedback", json={"feedback": [fb]}, headers=E1).json() == {
        "accepted": 1,
        "duplicates": 0,
        "unknown": 0,
    }
    info = client.get(f"/api/v1/decisions/{d.uid}/explain", headers=A).json()
    assert info["state"] == "active" and info["feedback"][0]["enforcer"] == "nftables"

    r = client.delete(f"/api/v1/decisions/{d.uid}?reason=test", headers=A)
    assert r.status_code == 200 and r.json()["revoked"]["uid"] == d.uid
    stream = client.get(f"/api/v1/decisions/stream?since={cursor}", headers=E2).json()
    assert [x["uid"] for x in stream["deleted"]] == [d.uid]
    assert client.get("/api/v1/decisions", headers=A).json()["decisions"] == []
    assert client.get(f"/api/v1/decisions/{d.uid}/explain", headers=A).json()["state"] == "revoked"


def test_unknown_decision_is_404(client: TestClient) -> None:
    assert client.delete("/api/v1/decisions/nope", headers=A).status_code == 404
    assert client.get("/api/v1/decisions/nope/explain", headers=A).status_code == 404


def test_decisions_expire_with_their_ttl(client: TestClient, clock: FakeClock) -> None:
    d = make_decision(ttl_s=60)
    client.post("/api/v1/decisions", json={"decisions": [d.model_dump(mode="json")]}, headers=E1)
    assert len(client.get("/api/v1/decisions", headers=A).json()["decisions"]) == 1
    clock.advance(61)
    assert client.get("/api/v1/decisions", headers=A).json()["decisions"] == []
    assert client.get("/api/v1/decisions/stream", headers=E1).json()["new"] == []


def test_allow_listed_target_is_refused(make_client: Callable[..., TestClient]) -> None:
    client = make_client(allowlist=["198.51.100.0/24"])
    ds = [make_decision("198.51.100.10"), make_decision("127.0.0.1"), make_decision("192.0.2.1")]
    body = {"decisions": [d.model_dump(mode="json") for d in ds]}
    assert client.post("/api/v1/decisions", json=body, headers=A).json() == {
        "accepted": 1,
        "refused": 2,
        "capped": 0,
        "duplicates": 0,
    }
    new = client.get("/api/v1/decisions/stream", headers=E1).json()["new"]
    assert [x["value"] for x in new] == ["192.0.2.1"]
    info = client.get(f"/api/v1/decisions/{ds[0].uid}/explain", headers=A).json()
    assert info["state"] == "refused"


def test_bad_decision_is_422_and_changes_nothing(client: TestClient) -> None:
    good = make_decision().model_dump(mode="json")
    for bad in [
        {**good, "value": "not-an-ip"},
        {**good, "ttl_s": 0},
        {**good, "action": "nuke"},
        {**good, "confidence": 2},
    ]:
        r = client.post("/api/v1/decisions", json={"decisions": [good, bad]}, headers=E1)
        assert r.status_code == 422
    assert client.get("/api/v1/decisions", headers=A).json()["decisions"] == []
    body = {"decisions": [good] * 1001}
    assert client.post("/api/v1/decisions", json=body, headers=E1).status_code == 413


def test_bad_query_and_path_parameters_are_422(client: TestClient) -> None:
    assert client.get("/api/v1/decisions/stream?since=-1", headers=E1).status_code == 422
    assert client.get("/api/v1/decisions/stream?since=abc", headers=E1).status_code == 422
    assert client.get("/api/v1/alerts?limit=0", headers=A).status_code == 422
    r = client.post("/api/v1/agents/bad%20name/heartbeat", json={"health": {}}, headers=E1)
    assert r.status_code == 422


class PairCorrelator:
    """A fake correlator: a block once two different agents saw the same source."""

    def __init__(self) -> None:
        self.seen: dict[str, set[str]] = {}
        self.observed = 0

    def observe(self, alert: Alert) -> list[Decision]:
        self.observed += 1
        assert alert.src_ip is not None
        agents = self.seen.setdefault(alert.src_ip, set())
        before = len(agents)
        agents.add(alert.sensor_id)
        if before == 1 and len(agents) == 2:
            return [make_decision(alert.src_ip)]
        return []


def test_accepted_alerts_go_through_the_correlator(
    make_client: Callable[..., TestClient],
) -> None:
    corr = PairCorrelator()
    client = make_client(correlator=corr)
    client.post("/api/v1/alerts", json=batch(3, sensor="edge1"), headers=E1)
    client.post("/api/v1/alerts", json=batch(3, sensor="edge1"), headers=E1)  # duplicates
    assert corr.observed == 3
    assert client.get("/api/v1/decisions/stream", headers=E1).json()["new"] == []
    client.post("/api/v1/alerts", json=batch(1, sensor="edge2", batch_id="x"), headers=E2)
    new = client.get("/api/v1/decisions/stream", headers=E1).json()["new"]
    assert [x["value"] for x in new] == ["203.0.113.7"]


def test_metrics_count_intake(client: TestClient) -> None:
    register(client)
    client.post("/api/v1/alerts", json=batch(4), headers=E1)
    client.post("/api/v1/alerts", json=batch(4), headers=E1)
    d = make_decision()
    client.post("/api/v1/decisions", json={"decisions": [d.model_dump(mode="json")]}, headers=E1)
    text = client.get("/metrics").text
    assert "swarmguard_alerts_received_total 4.0" in text
    assert "swarmguard_alerts_duplicate_total 4.0" in text
    assert "swarmguard_batches_total 2.0" in text
    assert "swarmguard_intake_seconds_count 2.0" in text
    assert "swarmguard_decisions_active 1.0" in text
    assert "swarmguard_agents 1.0" in text


def test_stats_give_the_alert_rate(client: TestClient, clock: FakeClock) -> None:
    client.post("/api/v1/alerts", json=batch(4), headers=E1)
    clock.advance(20)
    client.post("/api/v1/alerts", json=batch(2, start=10, batch_id="b2"), headers=E1)
    stats = client.get("/api/v1/stats?minutes=5&bucket_s=10", headers=A).json()
    assert stats["alerts_total"] == 6
    assert [p["count"] for p in stats["rate"]] == [4, 2]
    assert stats["rate"][1]["t"] - stats["rate"][0]["t"] == 20


def test_openapi_documents_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in [
        "/api/v1/agents/register",
        "/api/v1/agents/{agent_id}/heartbeat",
        "/api/v1/alerts",
        "/api/v1/decisions",
        "/api/v1/decisions/stream",
        "/api/v1/decisions/{uid}",
        "/api/v1/decisions/{uid}/explain",
        "/api/v1/feedback",
        "/v1/decisions/stream",
        "/v1/decisions",
    ]:
        assert path in spec["paths"], path
    assert "AlertBatch" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_health_and_dashboard_pages(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    page = client.get("/dashboard")
    assert page.headers["content-type"].startswith("text/html")
    assert 'id="decisions"' in page.text


@pytest.mark.parametrize("enforce", [False, True])
def test_real_correlator_shares_a_decision_when_two_agents_agree(
    make_client: Callable[..., TestClient], enforce: bool
) -> None:
    client = make_client(correlate=True, enforce=enforce)
    client.post("/api/v1/alerts", json=batch(1, sensor="edge1"), headers=E1)
    assert client.get("/api/v1/decisions/stream", headers=E1).json()["new"] == []
    client.post("/api/v1/alerts", json=batch(3, sensor="edge2", batch_id="x"), headers=E2)
    (d,) = client.get("/api/v1/decisions/stream", headers=E1).json()["new"]
    assert d["value"] == "203.0.113.7" and d["origin"] == "coordinator"
    assert sorted(d["reason"]["agents"]) == ["edge1", "edge2"]
    assert d["simulated"] is not enforce  # dry-run unless --enforce
    bouncer = client.get("/v1/decisions/stream?startup=true", headers={"X-Api-Key": BOUNCER_KEY})
    assert len(bouncer.json()["new"]) == int(enforce)


def test_correlator_ignores_allow_listed_sources(make_client: Callable[..., TestClient]) -> None:
    client = make_client(correlate=True, allowlist=["203.0.113.0/24"])
    client.post("/api/v1/alerts", json=batch(3, sensor="edge1"), headers=E1)
    client.post("/api/v1/alerts", json=batch(3, sensor="edge2", batch_id="x"), headers=E2)
    assert client.get("/api/v1/decisions/stream", headers=E1).json()["new"] == []


# -- bad input on every route (enumerated from the app, so a new route is covered) ---------------

_NOT_API = {"/", "/healthz", "/metrics", "/dashboard", "/openapi.json", "/docs", "/redoc"}
_NOT_API |= {"/docs/oauth2-redirect"}


def _api_routes() -> list[tuple[str, str]]:
    from fastapi.routing import APIRoute

    from swarmguard.coordinator.app import create_app
    from swarmguard.coordinator.settings import ServiceSettings

    app = create_app(ServiceSettings(db=":memory:", correlate=False))
    try:
        return sorted(
            (method, r.path)
            for r in app.routes
            if isinstance(r, APIRoute) and r.path not in _NOT_API
            for method in r.methods or ()
        )
    finally:
        app.state.service.close()


ROUTES = _api_routes()
SEED = make_decision("192.0.2.99")


def _feedback(uid: str, n: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "ts": "2026-11-26T12:00:00Z",
            "decision_uid": uid,
            "enforcer": "nftables",
            "status": "applied",
            "duration_ms": 1.0,
            "uid": f"fb-{uid}-{i}",
        }
        for i in range(n)
    ]


# A body each POST route would accept: only the credentials (or the mutation) stop it.
VALID_BODIES: dict[str, Callable[[], dict[str, Any]]] = {
    "/api/v1/agents/register": lambda: {"agent_id": "edge1"},
    "/api/v1/agents/{agent_id}/heartbeat": lambda: {"health": {"q": 1}},
    "/api/v1/alerts": lambda: batch(2),
    "/api/v1/decisions": lambda: {
        "decisions": [make_decision("192.0.2.50").model_dump(mode="json")]
    },
    "/api/v1/feedback": lambda: {"feedback": _feedback(SEED.uid)},
}
WRONG_TYPES: dict[str, list[dict[str, Any]]] = {
    "/api/v1/agents/register": [{}, {"agent_id": 7}, {"agent_id": "e1", "addresses": "10.0.0.1"}],
    "/api/v1/agents/{agent_id}/heartbeat": [{"health": ["not", "a", "table"]}, {"health": 3}],
    "/api/v1/alerts": [
        {},
        {"batch_id": "b", "alerts": [{"uid": "x"}]},
        {"batch_id": [], "alerts": []},
    ],
    "/api/v1/decisions": [{}, {"decisions": "block all"}, {"decisions": [{"ttl_s": "long"}]}],
    "/api/v1/feedback": [
        {},
        {"feedback": [{"decision_uid": "x", "status": "great"}]},
        {"feedback": [{**_feedback("x")[0], "duration_ms": "slow"}]},
    ],
}
POSTS = [(m, p) for m, p in ROUTES if m == "POST"]


def _url(path: str) -> str:
    return path.replace("{agent_id}", "edge1").replace("{uid}", SEED.uid)


def _seeded(client: TestClient) -> None:
    register(client)
    assert client.post("/api/v1/alerts", json=batch(3), headers=E1).json()["accepted"] == 3
    body = {"decisions": [SEED.model_dump(mode="json")]}
    assert client.post("/api/v1/decisions", json=body, headers=E1).json()["accepted"] == 1
    fb = {"feedback": _feedback(SEED.uid, 2)}
    assert client.post("/api/v1/feedback", json=fb, headers=E1).json()["accepted"] == 2
    bouncer = {"X-Api-Key": BOUNCER_KEY}
    assert client.get("/v1/decisions/stream?startup=true", headers=bouncer).status_code == 200


def _state(client: TestClient) -> tuple[object, ...]:
    """Everything a request could change: alerts, decisions, feedback, agents, bouncer cursor."""
    svc = client.app.state.service
    agents = [(a.agent_id, a.health, a.last_seen) for a in svc.store.list_agents()]
    return (
        svc.store.alert_count(),
        svc.ledger.cursor(),
        len(svc.ledger.feedback(SEED.uid)),
        svc.ledger.is_revoked(SEED.uid),
        agents,
        svc.store.bouncer_cursor("fw"),
    )


def test_every_route_is_covered_by_the_bad_input_tables() -> None:
    assert ("GET", "/api/v1/decisions") in ROUTES and ("HEAD", "/v1/decisions") in ROUTES
    assert {p for _, p in POSTS} == set(VALID_BODIES) == set(WRONG_TYPES)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_refuses_bad_credentials_and_changes_nothing(
    client: TestClient, method: str, path: str
) -> None:
    _seeded(client)
    before = _state(client)
    body = VALID_BODIES[path]() if method == "POST" else None
    if path.startswith("/v1/"):  # CrowdSec routes: X-Api-Key
        bad = [{"X-Api-Key": "nope"}, {}, A, {"X-Api-Key": ""}]
    else:
        bad = [{"Authorization": "Bearer nope"}, {}, {"X-Api-Key": BOUNCER_KEY}]
    for headers in bad:
        r = client.request(method, _url(path), json=body, headers=headers)
        assert r.status_code in (401, 403), (method, path, headers, r.status_code)
        if method != "HEAD":
            assert r.json()["detail"]
    assert _state(client) == before


@pytest.mark.parametrize(("method", "path"), POSTS)
def test_every_post_refuses_bad_input_and_changes_nothing(
    client: TestClient, method: str, path: str
) -> None:
    _seeded(client)
    before = _state(client)
    url = _url(path)
    headers = {**E1, "content-type": "application/json"}
    contents = [b"{oops", b"", b"null", b"[]", b'"text"', b"\xff\xfe", b'{"extra": 1}']
    contents += [json.dumps(w).encode() for w in WRONG_TYPES[path]]
    for content in contents:
        r = client.post(url, content=content, headers=headers)
        assert r.status_code in (400, 422), (path, content, r.status_code)
        assert r.json()["detail"]
    r = client.post(url, json=VALID_BODIES[path](), headers={**E1, "content-type": "text/plain"})
    assert r.status_code in (400, 415, 422), (path, "text/plain", r.status_code)
    big = b'{"x": "' + b"y" * (1 << 20) + b'"}'
    assert client.post(url, content=big, headers=headers).status_code == 413
    assert _state(client) == before


@pytest.mark.parametrize(
    ("method", "url", "headers"),
    [
        ("GET", "/api/v1/stats?minutes=abc", A),
        ("GET", "/api/v1/stats?minutes=0", A),
        ("GET", "/api/v1/stats?minutes=1e9", A),
        ("GET", "/api/v1/stats?bucket_s=abc", A),
        ("GET", "/api/v1/stats?bucket_s=0", A),
        ("GET", "/api/v1/stats?bucket_s=nan", A),
        ("GET", "/api/v1/stats?minutes=inf", A),
        ("GET", "/api/v1/alerts?offset=-1", A),
        ("GET", "/api/v1/alerts?offset=abc", A),
        ("GET", "/api/v1/alerts?limit=abc", A),
        ("GET", "/api/v1/alerts?limit=100000", A),
        ("GET", "/api/v1/decisions/stream?since=abc", E1),
        ("GET", "/api/v1/decisions/stream?since=-1", E1),
        ("DELETE", f"/api/v1/decisions/{SEED.uid}?reason=" + "x" * 501, A),
        ("GET", "/v1/decisions/stream?startup=abc", {"X-Api-Key": BOUNCER_KEY}),
        ("GET", "/v1/decisions?range=bad", {"X-Api-Key": BOUNCER_KEY}),
        ("GET", "/v1/decisions?ip=999.1.1.1", {"X-Api-Key": BOUNCER_KEY}),
        ("HEAD", "/v1/decisions", {"X-Api-Key": "nope"}),
        ("HEAD", "/v1/decisions", {}),
    ],
)
def test_bad_query_parameters_are_4xx_and_change_nothing(
    client: TestClient, method: str, url: str, headers: dict[str, str]
) -> None:
    _seeded(client)
    before = _state(client)
    r = client.request(method, url, headers=headers)
    assert 400 <= r.status_code < 500, (url, r.status_code, r.text)
    if method != "HEAD":
        assert r.json()["detail"]
    assert _state(client) == before


def test_head_with_a_good_key_is_200(client: TestClient) -> None:
    assert client.head("/v1/decisions", headers={"X-Api-Key": BOUNCER_KEY}).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/feedback", "/api/v1/decisions", "/api/v1/alerts"])
def test_batches_over_1000_items_are_413_and_change_nothing(client: TestClient, path: str) -> None:
    _seeded(client)
    before = _state(client)
    if path == "/api/v1/feedback":
        body: dict[str, Any] = {"feedback": _feedback(SEED.uid, 1001)}
    elif path == "/api/v1/decisions":
        one = make_decision("192.0.2.51").model_dump(mode="json")
        body = {"decisions": [{**one, "uid": f"d{i}"} for i in range(1001)]}
    else:
        body = batch(1001, start=100, batch_id="big")
    r = client.post(path, json=body, headers=E1)
    assert r.status_code == 413 and "1000" in r.json()["detail"]
    assert _state(client) == before


# -- what agents may claim ------------------------------------------------------------------------


def test_agent_decisions_take_the_agents_origin(client: TestClient) -> None:
    forged = [
        make_decision("192.0.2.60").model_copy(update={"origin": "coordinator"}),
        make_decision("192.0.2.61").model_copy(update={"origin": "agent:edge2"}),
        make_decision("192.0.2.62").model_copy(update={"origin": "admin"}),
    ]
    body = {"decisions": [d.model_dump(mode="json") for d in forged]}
    assert client.post("/api/v1/decisions", json=body, headers=E1).json()["accepted"] == 3
    new = client.get("/api/v1/decisions/stream", headers=E2).json()["new"]
    assert {d["origin"] for d in new} == {"agent:edge1"}
    assert [d["uid"] for d in new] == [d.uid for d in forged]
    admin = make_decision("192.0.2.63").model_copy(update={"origin": "admin:alice"})
    body = {"decisions": [admin.model_dump(mode="json")]}
    client.post("/api/v1/decisions", json=body, headers=A)
    info = client.get(f"/api/v1/decisions/{admin.uid}/explain", headers=A).json()
    assert info["origin"] == "admin:alice"  # the administrator's own origin is kept


def test_active_decisions_are_capped(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_active=2)
    ds = [make_decision(f"192.0.2.{i}") for i in range(70, 73)]
    body = {"decisions": [d.model_dump(mode="json") for d in ds]}
    r = client.post("/api/v1/decisions", json=body, headers=E1)
    assert r.json() == {"accepted": 2, "refused": 1, "capped": 1, "duplicates": 0}
    info = client.get(f"/api/v1/decisions/{ds[2].uid}/explain", headers=A).json()
    assert info["state"] == "refused" and "cap of 2" in info["refused"]
    assert len(client.get("/api/v1/decisions", headers=A).json()["decisions"]) == 2
    r = client.post("/api/v1/decisions", json=body, headers=E1)  # resent: nothing new
    assert r.json() == {"accepted": 0, "refused": 0, "capped": 0, "duplicates": 3}
    client.delete(f"/api/v1/decisions/{ds[0].uid}", headers=A)
    late = make_decision("192.0.2.80")
    body = {"decisions": [late.model_dump(mode="json")]}
    assert client.post("/api/v1/decisions", json=body, headers=E1).json()["accepted"] == 1


def test_feedback_on_unknown_decisions_and_duplicates(client: TestClient) -> None:
    _seeded(client)  # two reports on SEED stored
    fb = _feedback(SEED.uid, 3) + _feedback("no-such-decision")
    r = client.post("/api/v1/feedback", json={"feedback": fb}, headers=E1)
    assert r.status_code == 200
    assert r.json() == {"accepted": 1, "duplicates": 2, "unknown": 1}
    svc = client.app.state.service
    assert len(svc.ledger.feedback(SEED.uid)) == 3
    assert svc.ledger.feedback("no-such-decision") == []


def test_one_agent_cannot_pass_for_several(make_client: Callable[..., TestClient]) -> None:
    client = make_client(correlate=True)
    for sensor in ("edge1", "edge2", "edge3"):
        body = batch(3, sensor=sensor, batch_id=sensor)
        assert client.post("/api/v1/alerts", json=body, headers=E1).json()["accepted"] == 3
    assert client.get("/api/v1/decisions/stream", headers=E1).json()["new"] == []
