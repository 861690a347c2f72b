"""Outbox + publisher against the real coordinator app: nothing lost, nothing duplicated."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

with warnings.catch_warnings():
    # starlette 1.x prefers httpx2 for its TestClient; httpx works the same.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient
from swarmguard.agent.outbox import Outbox, OutboxItem, RecordKind
from swarmguard.agent.publisher import Publisher
from swarmguard.coordinator.app import create_app
from swarmguard.coordinator.settings import ServiceSettings
from swarmguard.records.alert import Alert, AlertInfo
from swarmguard.records.decision import Decision, DecisionReason, Feedback

ADMIN = "admin-secret"
TOKEN = "edge1-secret"


class Switch:
    """Request/response hooks: the coordinator can be 'down', or a reply can be 'lost'."""

    def __init__(self) -> None:
        self.down = False
        self.lose_next_alert_reply = False
        self.alert_posts = 0

    def on_request(self, request: httpx.Request) -> None:
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)

    def on_response(self, response: httpx.Response) -> None:
        if response.request.url.path == "/api/v1/alerts" and response.request.method == "POST":
            self.alert_posts += 1
            if self.lose_next_alert_reply:
                self.lose_next_alert_reply = False
                response.read()
                raise httpx.ReadTimeout("reply lost", request=response.request)


@pytest.fixture()
def app_client() -> Iterator[TestClient]:
    settings = ServiceSettings(
        db=":memory:",
        correlate=False,
        admin_token=ADMIN,
        agent_tokens={"edge1": TOKEN, "edge2": "edge2-secret"},
    )
    with TestClient(create_app(settings)) as client:
        yield client


def agent_client(app_client: TestClient, switch: Switch) -> TestClient:
    client = TestClient(
        app_client.app,
        headers={"Authorization": f"Bearer {TOKEN}"},
        raise_server_exceptions=True,
    )
    client.event_hooks = {"request": [switch.on_request], "response": [switch.on_response]}
    return client


def alerts(n: int, start: int = 0) -> list[Alert]:
    return [
        Alert(
            ts=datetime(2026, 1, 1, tzinfo=UTC),
            sensor_id="edge1",
            src_ip=f"198.51.100.{(start + i) % 250 + 1}",
            dest_ip="10.250.2.2",
            alert=AlertInfo(signature_id=9310002, signature="flood", category="dos", severity=2),
            detector="packet-rules",
            score=1.0,
        )
        for i in range(n)
    ]


def queue(box: Outbox, items: list[Alert]) -> None:
    box.put_many("alert", [(a.uid, a.model_dump_json()) for a in items])


def stored_uids(app_client: TestClient) -> list[str]:
    resp = app_client.get(
        "/api/v1/alerts", params={"limit": 1000}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert resp.status_code == 200, resp.text
    return [a["alert"]["uid"] for a in resp.json()["alerts"]]


def test_down_then_up_delivers_everything_once(app_client: TestClient, tmp_path: Path) -> None:
    switch = Switch()
    box = Outbox(tmp_path / "outbox.sqlite")
    pub = Publisher(box, agent_client(app_client, switch), agent_id="edge1", batch_size=40)
    sent = alerts(150)
    switch.down = True
    queue(box, sent[:100])
    assert pub.step(now=0.0) is False
    assert pub.stats.connected is False
    queue(box, sent[100:])  # the agent keeps detecting while the coordinator is down
    assert pub.step(now=1.0) is False
    assert box.pending()["alert"] == 150
    assert pub.wait_s(0.2) > 0.05  # backing off
    switch.down = False
    assert pub.step(now=2.0) is True
    assert box.pending()["alert"] == 0
    uids = stored_uids(app_client)
    assert sorted(uids) == sorted(a.uid for a in sent)
    assert pub.stats.sent["alert"] == 150


def test_lost_reply_is_resent_and_deduplicated(app_client: TestClient, tmp_path: Path) -> None:
    switch = Switch()
    box = Outbox(tmp_path / "outbox.sqlite")
    pub = Publisher(box, agent_client(app_client, switch), agent_id="edge1", batch_size=1000)
    sent = alerts(30)
    queue(box, sent)
    switch.lose_next_alert_reply = True
    assert pub.step(now=0.0) is False  # the server stored the batch, the agent never heard
    assert box.pending()["alert"] == 30
    assert len(stored_uids(app_client)) == 30
    assert pub.step(now=1.0) is True  # at-least-once: sent again ...
    assert switch.alert_posts == 2
    assert box.pending()["alert"] == 0
    uids = stored_uids(app_client)
    assert len(uids) == len(set(uids)) == 30  # ... stored exactly once
    assert pub.stats.duplicates == 30


def test_queue_survives_an_agent_restart(app_client: TestClient, tmp_path: Path) -> None:
    switch = Switch()
    path = tmp_path / "outbox.sqlite"
    box = Outbox(path)
    sent = alerts(12)
    queue(box, sent)
    box.close()
    reopened = Outbox(path)
    assert reopened.pending()["alert"] == 12
    pub = Publisher(reopened, agent_client(app_client, switch), agent_id="edge1")
    assert pub.step(now=0.0) is True
    assert sorted(stored_uids(app_client)) == sorted(a.uid for a in sent)


def test_shared_decisions_reach_the_agent_and_cursor_persists(
    app_client: TestClient, tmp_path: Path
) -> None:
    decision = Decision(
        ts=datetime.now(UTC),
        action="block",
        scope="ip",
        value="198.51.100.77",
        ttl_s=60,
        origin="agent:edge2",
        reason=DecisionReason(category="probe", summary="scan"),
    )
    resp = app_client.post(
        "/api/v1/decisions",
        json={"decisions": [decision.model_dump(mode="json")]},
        headers={"Authorization": "Bearer edge2-secret"},
    )
    assert resp.status_code == 200, resp.text
    got: list[tuple[list[str], list[str]]] = []

    def on_shared(new: list[Decision], deleted: list[Decision]) -> None:
        got.append(([d.value for d in new], [d.value for d in deleted]))

    box = Outbox(tmp_path / "outbox.sqlite")
    switch = Switch()
    pub = Publisher(box, agent_client(app_client, switch), agent_id="edge1", on_shared=on_shared)
    assert pub.step(now=0.0) is True
    assert got == [(["198.51.100.77"], [])]
    assert pub.step(now=1.0) is True
    assert len(got) == 1  # the cursor moved on: nothing new
    revoke = app_client.delete(
        f"/api/v1/decisions/{decision.uid}", headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert revoke.status_code == 200, revoke.text
    assert pub.step(now=2.0) is True
    assert got[-1] == ([], ["198.51.100.77"])


def test_bad_record_is_isolated_and_buried(tmp_path: Path) -> None:
    stored: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/api/v1/alerts":
            return httpx.Response(
                200,
                json={"agent_id": "edge1", "heartbeat_s": 5, "cursor": 0, "new": [], "deleted": []},
            )
        items = json.loads(request.content)["alerts"]
        if any(i.get("uid") == "bad" for i in items):
            return httpx.Response(422, json={"detail": "bad alert"})
        stored.extend(i["uid"] for i in items)
        return httpx.Response(200, json={"accepted": len(items), "duplicates": 0})

    box = Outbox(":memory:")
    good = alerts(7)
    queue(box, good[:3])
    box.put("alert", "bad", '{"uid": "bad"}')
    queue(box, good[3:])
    client = httpx.Client(transport=httpx.MockTransport(handler), base_url="http://c")
    pub = Publisher(box, client, agent_id="edge1", pull=False)
    assert pub.step(now=0.0) is True
    assert sorted(stored) == sorted(a.uid for a in good)
    assert box.pending()["alert"] == 0
    assert box.dead_count() == 1 and pub.stats.dead == 1


def test_unauthorised_token_keeps_records_queued(app_client: TestClient, tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    queue(box, alerts(3))
    client = TestClient(app_client.app, headers={"Authorization": "Bearer wrong"})
    pub = Publisher(box, client, agent_id="edge1")
    assert pub.step(now=0.0) is False
    assert "401" in pub.stats.last_error
    assert box.pending()["alert"] == 3


class _RacingOutbox(Outbox):
    """An outbox where a decision and its feedback are queued just after the decisions drained."""

    def __init__(self, decision: Decision, feedback: Feedback) -> None:
        super().__init__(":memory:")
        self._late: tuple[Decision, Feedback] | None = (decision, feedback)

    def peek(self, kind: RecordKind, limit: int) -> list[OutboxItem]:
        found = super().peek(kind, limit)
        if kind == "decision" and not found and self._late is not None:
            d, fb = self._late  # what the responder queues, in this order, at this moment
            self._late = None
            self.put("decision", d.uid, d.model_dump_json())
            self.put("feedback", fb.uid, fb.model_dump_json())
        return found


def test_feedback_never_arrives_before_its_decision(app_client: TestClient) -> None:
    d = Decision(
        ts=datetime.now(UTC),
        action="block",
        scope="ip",
        value="203.0.113.77",
        ttl_s=600,
        origin="agent:edge1",
    )
    fb = Feedback(
        ts=d.ts, decision_uid=d.uid, enforcer="nftables", status="applied", duration_ms=0.3
    )
    box = _RacingOutbox(d, fb)
    pub = Publisher(box, agent_client(app_client, Switch()), agent_id="edge1", pull=False)
    assert pub.step(0.0)
    assert box.pending() == {"alert": 0, "decision": 0, "feedback": 0}
    info = app_client.get(
        f"/api/v1/decisions/{d.uid}/explain", headers={"Authorization": f"Bearer {ADMIN}"}
    ).json()
    assert [(f["enforcer"], f["status"]) for f in info["feedback"]] == [("nftables", "applied")]
