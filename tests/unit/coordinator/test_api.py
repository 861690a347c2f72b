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
    assert r.json() == {"accepted": 1, "refused": 0}
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
        "accepted": 1
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


POSTS = [
    ("/api/v1/agents/register", {"agent_id": 7}),
    ("/api/v1/agents/edge1/heartbeat", {"health": ["not", "a", "table"]}),
    ("/api/v1/alerts", {"batch_id": "b", "alerts": [{"uid": "x"}]}),
    ("/api/v1/decisions", {"decisions": "block everything"}),
    ("/api/v1/feedback", {"feedback": [{"decision_uid": "x", "status": "great"}]}),
]


@pytest.mark.parametrize(("path", "wrong"), POSTS)
def test_every_post_refuses_bad_input_and_changes_nothing(
    client: TestClient, path: str, wrong: dict[str, Any]
) -> None:
    headers = {**E1, "content-type": "application/json"}
    for content in [b"{oops", b"null", b"[]", b'"text"', json.dumps(wrong).encode()]:
        r = client.post(path, content=content, headers=headers)
        assert r.status_code in (400, 422), (path, content, r.status_code)
        assert r.json()["detail"]
    assert client.post(path, json=wrong).status_code == 401
    big = b'{"x": "' + b"y" * (1 << 20) + b'"}'
    assert client.post(path, content=big, headers=headers).status_code == 413
    assert client.get("/api/v1/agents", headers=A).json()["agents"] == []
    assert totals(client) == 0
    assert client.get("/api/v1/decisions/stream", headers=E1).json()["cursor"] == 0


def test_one_agent_cannot_pass_for_several(make_client: Callable[..., TestClient]) -> None:
    client = make_client(correlate=True)
    for sensor in ("edge1", "edge2", "edge3"):
        body = batch(3, sensor=sensor, batch_id=sensor)
        assert client.post("/api/v1/alerts", json=body, headers=E1).json()["accepted"] == 3
    assert client.get("/api/v1/decisions/stream", headers=E1).json()["new"] == []
