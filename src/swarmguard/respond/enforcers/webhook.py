"""WebhookEnforcer: notify an administrator by POSTing each decision as JSON to a URL.

The body is ``{"event": "decision" | "revoke", "decision": {...}}`` (the Decision as JSON);
an optional bearer token goes in ``Authorization``. Each POST has a timeout and is retried with a
short backoff; the feedback says how many tries it took and the last HTTP status or error.

Examples
--------
>>> hook = WebhookEnforcer(url="http://127.0.0.1:9/hook", retries=0, timeout_s=0.2)
>>> hook.actions == frozenset({"notify", "block", "rate_limit", "quarantine"})
True
>>> WebhookEnforcer(url="ftp://x")
Traceback (most recent call last):
...
swarmguard.errors.SwarmguardError: webhook: url must be http(s)://..., got 'ftp://x'
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import httpx

from swarmguard.errors import SwarmguardError
from swarmguard.records.decision import Decision, Feedback, FeedbackStatus
from swarmguard.respond.clock import Clock, feedback, utcnow

__all__ = ["WebhookEnforcer"]

log = logging.getLogger(__name__)


class WebhookEnforcer:
    """POSTs decisions (and revocations) to an administrator's HTTP endpoint.

    Parameters
    ----------
    url
        Where to POST (http or https).
    token
        Sent as ``Authorization: Bearer TOKEN`` when given (never logged).
    timeout_s
        Per-request timeout.
    retries
        Extra tries after a failed one (connection error or 5xx), with backoff.
    actions
        Which decision actions to notify about.
    """

    name = "webhook"
    replay_on_restart = False

    def __init__(
        self,
        *,
        url: str,
        token: str | None = None,
        timeout_s: float = 2.0,
        retries: int = 2,
        backoff_s: float = 0.2,
        actions: Sequence[str] = ("notify", "block", "rate_limit", "quarantine"),
        clock: Clock = utcnow,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise SwarmguardError(f"webhook: url must be http(s)://..., got {url!r}")
        self.url = url
        self.timeout_s = timeout_s
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.actions = frozenset(actions)
        self.clock = clock
        self._headers = {"User-Agent": "swarmguard-webhook"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._client: httpx.Client | None = None
        self._sent: dict[str, Decision] = {}
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s, headers=self._headers)
        return self._client

    def _post(self, decision: Decision, event: str) -> Feedback:
        started = time.perf_counter()
        body: dict[str, Any] = {"event": event, "decision": decision.model_dump(mode="json")}
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * (2 ** (attempt - 1)))
            try:
                res = self._http().post(self.url, json=body)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            last = f"HTTP {res.status_code}"
            if res.status_code < 500:
                break
        else:
            log.warning("webhook %s failed for %s: %s", self.url, decision.uid, last)
            return feedback(
                decision.uid,
                self.name,
                "failed",
                started,
                clock=self.clock,
                detail=f"{last} after {self.retries + 1} tries",
            )
        ok = last.startswith("HTTP 2")
        status: FeedbackStatus = "failed"
        if ok:
            status = "applied" if event == "decision" else "revoked"
        return feedback(
            decision.uid,
            self.name,
            status,
            started,
            clock=self.clock,
            detail=f"POST {self.url}: {last} (try {attempt + 1})",
        )

    def apply(self, decision: Decision) -> Feedback:
        """POST the decision."""
        fb = self._post(decision, "decision")
        if fb.ok:
            with self._lock:
                self._sent[decision.uid] = decision
        return fb

    def revoke(self, decision: Decision) -> Feedback:
        """POST the revocation."""
        with self._lock:
            self._sent.pop(decision.uid, None)
        return self._post(decision, "revoke")

    def expire(self, decision: Decision) -> None:
        """Forget a lapsed decision."""
        with self._lock:
            self._sent.pop(decision.uid, None)

    def list(self) -> list[str]:
        """Targets notified about whose decisions are still in force."""
        now = self.clock()
        with self._lock:
            return [d.value for d in self._sent.values() if d.expires_at > now]

    def close(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            self._client.close()
            self._client = None
