"""Delivery to the coordinator: the outbox in batches, heartbeats, and the shared decisions.

``Publisher.step`` does one round: register if not yet registered, send every queued kind
(alerts, decisions, feedback) in batches, pull the shared decision stream from the saved
cursor, and heartbeat when due. Records leave the outbox only when the coordinator answered
2xx; a connection error, a timeout or a 5xx keeps them queued and doubles the wait before the
next round (up to ``backoff_max_s``, with jitter). A 413 or 422 splits the batch until the one
bad record is found; that record goes to the outbox's dead-letter table, logged, never resent.
A 401/403 is logged once per outage and retried (an operator can fix the token).

The HTTP client is injected, so tests drive a ``fastapi.testclient.TestClient`` or an
``httpx.MockTransport``.

Examples
--------
>>> import httpx, json
>>> stored = set()
>>> def coordinator(request):
...     if request.url.path == "/api/v1/alerts":
...         uids = [a["uid"] for a in json.loads(request.content)["alerts"]]
...         new = set(uids) - stored
...         stored.update(uids)
...         return httpx.Response(200, json={"accepted": len(new), "duplicates": 0})
...     if request.url.path.endswith("/stream"):
...         return httpx.Response(200, json={"new": [], "deleted": [], "cursor": 0})
...     return httpx.Response(200, json={"agent_id": "edge1", "heartbeat_s": 10})
>>> box = Outbox(":memory:")
>>> _ = box.put("alert", "a1", '{"uid": "a1"}')
>>> client = httpx.Client(transport=httpx.MockTransport(coordinator), base_url="http://c")
>>> pub = Publisher(box, client, agent_id="edge1")
>>> pub.step(now=0.0), sorted(stored), box.pending()["alert"]
(True, ['a1'], 0)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import ValidationError

from swarmguard.agent.outbox import KINDS, Outbox, OutboxItem, RecordKind
from swarmguard.records.decision import Decision

__all__ = ["DELIVERY", "Publisher", "PublisherStats"]

logger = logging.getLogger(__name__)

#: Per record kind: the endpoint and the JSON key of the list in the request body.
DELIVERY: dict[RecordKind, tuple[str, str]] = {
    "alert": ("/api/v1/alerts", "alerts"),
    "decision": ("/api/v1/decisions", "decisions"),
    "feedback": ("/api/v1/feedback", "feedback"),
}
_RETRY_STATUS = {408, 425, 429}
_SPLIT_STATUS = {400, 413, 422}
_CURSOR_KEY = "decision_stream_cursor"


class _Unreachable(Exception):
    """The coordinator did not answer usefully; retry later."""


@dataclass
class PublisherStats:
    """Counters the agent exports as metrics."""

    sent: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    duplicates: int = 0
    dead: int = 0
    failures: int = 0
    pulled: int = 0
    connected: bool = False
    last_error: str = ""


class Publisher:
    """Sends the outbox, pulls shared decisions and heartbeats (see the module docstring).

    Parameters
    ----------
    outbox
        The durable queue.
    client
        An ``httpx.Client`` whose ``base_url`` is the coordinator and which carries the token.
    agent_id
        This agent's name (register and heartbeat paths).
    on_shared
        Called with (new, deleted) decisions from the shared stream.
    health
        Returns the numbers sent with each heartbeat.
    batch_size, heartbeat_s, backoff_max_s
        Alerts per request; heartbeat period; longest wait between failed rounds.
    pull, pull_s
        Whether to pull the shared decision stream, and at most how often (seconds).
    registration
        Extra fields of the register call (``version``, ``addresses``, ``enforcers``).
    """

    def __init__(
        self,
        outbox: Outbox,
        client: httpx.Client,
        *,
        agent_id: str,
        on_shared: Callable[[list[Decision], list[Decision]], None] | None = None,
        health: Callable[[], Mapping[str, Any]] | None = None,
        batch_size: int = 500,
        heartbeat_s: float = 10.0,
        backoff_max_s: float = 5.0,
        registration: Mapping[str, Any] | None = None,
        pull: bool = True,
        pull_s: float = 0.0,
    ) -> None:
        self.outbox = outbox
        self.client = client
        self.agent_id = agent_id
        self.on_shared = on_shared
        self.health = health
        self.batch_size = batch_size
        self.heartbeat_s = heartbeat_s
        self.backoff_max_s = backoff_max_s
        self.registration = dict(registration or {})
        self.pull = pull
        self.pull_s = pull_s
        self._next_pull = 0.0
        self.stats = PublisherStats()
        self._registered = False
        self._next_heartbeat = 0.0
        self._backoff = 0.0
        self._rng = random.Random(0)
        self._wake = threading.Event()

    # ---------------------------------------------------------------- one round
    def step(self, now: float) -> bool:
        """One round of delivery; True when the coordinator answered, False on a failure."""
        try:
            if not self._registered:
                self._register()
            for kind in KINDS:
                self._drain(kind)
            if self.pull and now >= self._next_pull:
                self._pull()
                self._next_pull = now + self.pull_s
            if now >= self._next_heartbeat:
                self._heartbeat()
                self._next_heartbeat = now + self.heartbeat_s
        except _Unreachable as exc:
            if self.stats.connected or not self.stats.last_error:
                logger.warning("coordinator unreachable (%s); records stay queued", exc)
            self.stats.connected = False
            self.stats.failures += 1
            self.stats.last_error = str(exc)
            self._registered = False
            self._backoff = min(max(self._backoff * 2, 0.1), self.backoff_max_s)
            return False
        if not self.stats.connected:
            logger.info("coordinator reachable; queue %s", self.outbox.pending())
        self.stats.connected = True
        self.stats.last_error = ""
        self._backoff = 0.0
        return True

    def wait_s(self, flush_s: float) -> float:
        """How long to sleep before the next round (the backoff after failures)."""
        if self._backoff <= 0:
            return flush_s
        return self._backoff * (0.5 + self._rng.random() / 2)

    def wake(self) -> None:
        """Cut the current sleep short (new urgent records were queued)."""
        self._wake.set()

    def run(self, stop: threading.Event, flush_s: float) -> None:
        """Deliver until ``stop`` is set; one last round is tried on the way out."""
        clock = time.monotonic
        while not stop.is_set():
            self.step(clock())
            self._wake.wait(self.wait_s(flush_s))
            self._wake.clear()
        self.step(clock())

    # ---------------------------------------------------------------- requests
    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            resp = self.client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise _Unreachable(f"{type(exc).__name__}: {exc}") from None
        if resp.status_code >= 500 or resp.status_code in _RETRY_STATUS:
            raise _Unreachable(f"{method} {path}: HTTP {resp.status_code}")
        if resp.status_code in (401, 403):
            raise _Unreachable(f"{method} {path}: HTTP {resp.status_code} (check the token)")
        if resp.status_code == 404 and not path.startswith("/api/v1/alerts"):
            raise _Unreachable(f"{method} {path}: HTTP 404 (coordinator too old?)")
        return resp

    def _register(self) -> None:
        body = {"agent_id": self.agent_id, **self.registration}
        resp = self._request("POST", "/api/v1/agents/register", json=body)
        if resp.status_code >= 400:
            raise _Unreachable(f"register: HTTP {resp.status_code}: {resp.text[:200]}")
        try:
            beat = float(resp.json().get("heartbeat_s", self.heartbeat_s))
        except (ValueError, TypeError, AttributeError):
            beat = self.heartbeat_s
        self.heartbeat_s = max(min(beat, self.heartbeat_s), 0.5)
        self._registered = True
        self._next_heartbeat = 0.0

    def _drain(self, kind: RecordKind) -> None:
        while True:
            batch = self.outbox.peek(kind, self.batch_size)
            if not batch:
                return
            if kind == "feedback":
                # A decision is queued before its feedback: send what was queued up to now
                # first, so the coordinator knows every decision this batch reports on.
                self._drain("decision")
            self._send(kind, batch)
            if len(batch) < self.batch_size:
                return

    def _send(self, kind: RecordKind, batch: Sequence[OutboxItem]) -> None:
        path, key = DELIVERY[kind]
        body = '{{"{}":[{}]'.format(key, ",".join(item.body for item in batch))
        if kind == "alert":
            digest = hashlib.sha256("\n".join(i.uid for i in batch).encode()).hexdigest()[:32]
            body += f',"batch_id":"{digest}"'
        body += "}"
        try:
            resp = self._request(
                "POST", path, content=body, headers={"content-type": "application/json"}
            )
        except _Unreachable:
            self.outbox.attempted([i.seq for i in batch])
            raise
        if resp.status_code < 300:
            self.outbox.ack([i.seq for i in batch])
            self.stats.sent[kind] += len(batch)
            if kind == "alert":
                with contextlib.suppress(ValueError, TypeError, AttributeError):
                    self.stats.duplicates += int(resp.json().get("duplicates", 0))
            return
        if resp.status_code in _SPLIT_STATUS or resp.status_code == 404:
            if len(batch) > 1:
                half = len(batch) // 2
                self._send(kind, batch[:half])
                self._send(kind, batch[half:])
                return
            reason = f"HTTP {resp.status_code}: {resp.text[:300]}"
            logger.error("coordinator rejected %s %s: %s", kind, batch[0].uid, reason)
            self.outbox.bury(batch[0], reason)
            self.stats.dead += 1
            return
        raise _Unreachable(f"POST {path}: HTTP {resp.status_code}: {resp.text[:200]}")

    def _pull(self) -> None:
        cursor = int(self.outbox.get_state(_CURSOR_KEY) or 0)
        resp = self._request("GET", "/api/v1/decisions/stream", params={"since": cursor})
        if resp.status_code >= 400:
            raise _Unreachable(f"decision stream: HTTP {resp.status_code}")
        try:
            data = resp.json()
            new = [Decision.model_validate(d) for d in data.get("new") or []]
            deleted = [Decision.model_validate(d) for d in data.get("deleted") or []]
            next_cursor = int(data["cursor"])
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise _Unreachable(f"decision stream: unreadable answer ({exc})") from None
        if (new or deleted) and self.on_shared is not None:
            self.on_shared(new, deleted)
        self.stats.pulled += len(new) + len(deleted)
        if next_cursor != cursor:
            self.outbox.set_state(_CURSOR_KEY, str(next_cursor))

    def _heartbeat(self) -> None:
        health = dict(self.health()) if self.health is not None else {}
        health.update({f"queued_{k}": v for k, v in self.outbox.pending().items()})
        resp = self._request(
            "POST",
            f"/api/v1/agents/{self.agent_id}/heartbeat",
            content=json.dumps({"health": health}, default=str),
            headers={"content-type": "application/json"},
        )
        if resp.status_code >= 400:
            logger.warning("heartbeat refused: HTTP %s", resp.status_code)
