"""The CrowdSec Local API bouncer endpoints: startup, then only what changed per bouncer."""

from __future__ import annotations

from collections.abc import Callable

from .conftest import ADMIN, BOUNCER_KEY, FakeClock, TestClient, auth, make_decision

A = auth(ADMIN)
KEY = {"X-Api-Key": BOUNCER_KEY}


def add(client: TestClient, *decisions: object) -> None:
    body = {"decisions": [d.model_dump(mode="json") for d in decisions]}  # type: ignore[attr-defined]
    assert client.post("/api/v1/decisions", json=body, headers=A).status_code == 200


def test_stream_startup_then_changes_only(client: TestClient, clock: FakeClock) -> None:
    first = make_decision("203.0.113.7", ttl_s=4 * 3600)
    add(client, first)
    clock.advance(2)
    r = client.get("/v1/decisions/stream?startup=true", headers=KEY)
    assert r.status_code == 200
    body = r.json()
    assert body["deleted"] == []
    (item,) = body["new"]
    assert item["value"] == "203.0.113.7" and item["scope"] == "Ip" and item["type"] == "ban"
    assert item["origin"] == "swarmguard" and item["duration"] == "3h59m58s"
    assert item["scenario"] == "swarmguard/brute_force" and item["until"].endswith("Z")
    assert isinstance(item["id"], int)

    assert client.get("/v1/decisions/stream", headers=KEY).json() == {"new": [], "deleted": []}
    second = make_decision("198.51.100.0/24", scope="cidr", ts=clock())
    add(client, second)
    new = client.get("/v1/decisions/stream?startup=false", headers=KEY).json()["new"]
    assert [(x["value"], x["scope"]) for x in new] == [("198.51.100.0/24", "Range")]

    client.delete(f"/api/v1/decisions/{first.uid}", headers=A)
    body = client.get("/v1/decisions/stream", headers=KEY).json()
    assert body["new"] == [] and [x["value"] for x in body["deleted"]] == ["203.0.113.7"]
    # A restarted bouncer asks for startup again and gets what is in force.
    again = client.get("/v1/decisions/stream?startup=true", headers=KEY).json()
    assert [x["value"] for x in again["new"]] == ["198.51.100.0/24"]


def test_each_bouncer_has_its_own_cursor(make_client: Callable[..., TestClient]) -> None:
    client = make_client(bouncer_keys={"a": "key-a", "b": "key-b"})
    add(client, make_decision("203.0.113.7"))
    a = client.get("/v1/decisions/stream?startup=true", headers={"X-Api-Key": "key-a"}).json()
    assert len(a["new"]) == 1
    assert client.get("/v1/decisions/stream", headers={"X-Api-Key": "key-a"}).json()["new"] == []
    # b never pulled: its first pull (even without startup) gets everything in force.
    b = client.get("/v1/decisions/stream", headers={"X-Api-Key": "key-b"}).json()
    assert len(b["new"]) == 1


def test_only_real_block_decisions_are_served(client: TestClient) -> None:
    add(
        client,
        make_decision("203.0.113.1", simulated=True),
        make_decision("203.0.113.2", action="notify"),
        make_decision("203.0.113.3"),
    )
    new = client.get("/v1/decisions/stream?startup=true", headers=KEY).json()["new"]
    assert [x["value"] for x in new] == ["203.0.113.3"]


def test_scope_filter(client: TestClient) -> None:
    add(client, make_decision("203.0.113.3"), make_decision("198.51.100.0/24", scope="cidr"))
    url = "/v1/decisions/stream?startup=true&scopes=ip"
    assert [x["value"] for x in client.get(url, headers=KEY).json()["new"]] == ["203.0.113.3"]
    url = "/v1/decisions/stream?startup=true&scopes=Ip,Range&origins=swarmguard"
    assert len(client.get(url, headers=KEY).json()["new"]) == 2
    url = "/v1/decisions/stream?startup=true&origins=crowdsec"
    assert client.get(url, headers=KEY).json()["new"] == []


def test_query_by_ip(client: TestClient) -> None:
    add(client, make_decision("198.51.100.0/24", scope="cidr"))
    r = client.get("/v1/decisions?ip=198.51.100.9", headers=KEY)
    assert [x["value"] for x in r.json()] == ["198.51.100.0/24"]
    assert client.get("/v1/decisions?ip=192.0.2.1", headers=KEY).json() is None
    assert client.get("/v1/decisions?ip=2001:db8::1", headers=KEY).json() is None
    assert client.get("/v1/decisions?ip=nonsense", headers=KEY).status_code == 400
    assert client.get("/v1/decisions?type=captcha", headers=KEY).json() is None
    assert client.head("/v1/decisions", headers=KEY).status_code == 200


def test_bad_bouncer_key_is_401(client: TestClient) -> None:
    for headers in [{}, {"X-Api-Key": "wrong"}, {"X-Api-Key": ""}]:
        assert client.get("/v1/decisions/stream?startup=true", headers=headers).status_code == 401
        assert client.get("/v1/decisions", headers=headers).status_code == 401
    # An agent's or the admin's bearer token is no bouncer key.
    assert client.get("/v1/decisions/stream", headers=A).status_code == 401


def test_startup_has_nothing_to_delete(client: TestClient) -> None:
    gone, kept = make_decision("203.0.113.1"), make_decision("203.0.113.2")
    add(client, gone, kept)
    client.delete(f"/api/v1/decisions/{gone.uid}", headers=A)
    body = client.get("/v1/decisions/stream?startup=true", headers=KEY).json()
    assert [x["value"] for x in body["new"]] == ["203.0.113.2"] and body["deleted"] == []
