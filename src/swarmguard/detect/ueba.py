"""UEBA: per-user and per-host behaviour baselines, scored as anomalies (registered as ``ueba``).

Two faces, one set of learned arrays:

Log behaviour (``fit_events`` / ``score_events`` / ``flag_sources``)
    Baselines learned from ``LogEvent``s considered normal:

    * **login hours**: per user, a 24-bin histogram of successful logins (hashed users);
      a login at an hour the user was rarely seen scores high;
    * **source addresses**: per user, the addresses seen logging in (hashed set); a new one
      scores;
    * **process/parent pairs**: per host, the (parent image, image) pairs seen (hashed set);
      a first-seen pair scores;
    * **failure bursts**: failed attempts (``failed_attempts``) per source in a sliding window of
      ``window_s``; ``burst_failures`` or more is a burst (the default, 10 in 60 s, is a
      fail2ban-style operating point fixed before looking at any evaluation log);
    * **outbound bursts**: connections with a destination per host in the window;
      ``burst_outbound`` or more is a burst.

    The event score is the largest of the per-aspect scores, in [0, 1].
    ``flag_sources`` lists the source addresses with a failure burst (brute-force
    candidates), which ``burst_alerts`` turns into EVE alerts of category ``brute_force``.
Rows (the ``Detector`` protocol over a ``LabeledTable``)
    Robust per-column baselines of the benign training rows: median and MAD of numeric
    columns, value frequencies (hashed) of categorical ones; the row score is
    ``1 - exp(-max_z / 3)`` with the rarity of categorical values folded in; the threshold is
    chosen on the training rows (Youden). This makes ``ueba`` usable on feature tables too.

``get_parameters`` returns the count arrays (hashed, so no user name, host or address leaves
the agent); federated aggregation is their element-wise sum (``set_parameters`` with the sum),
which merges baselines exactly as if one agent had seen all the normal events.

Examples
--------
>>> from datetime import datetime, timedelta, UTC
>>> from swarmguard.records.log import LogEvent
>>> t0 = datetime(2024, 1, 1, 9, tzinfo=UTC)
>>> normal = [LogEvent(ts=t0 + timedelta(days=d), user="ann", src_ip="10.0.0.5",
...           action="auth_success", outcome="success", message="ok") for d in range(20)]
>>> det = UebaDetector()
>>> det.fit_events(normal)
>>> odd = LogEvent(ts=datetime(2024, 2, 1, 3, tzinfo=UTC), user="ann", src_ip="203.0.113.9",
...                action="auth_success", outcome="success", message="ok")
>>> [round(float(s), 2) for s in det.score_events([normal[0], odd])]
[0.0, 1.0]
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self

import numpy as np
import numpy.typing as npt

from swarmguard.detect.persist import load_detector, save_detector
from swarmguard.detect.threshold import choose_threshold
from swarmguard.records.alert import Alert, AlertInfo
from swarmguard.records.dataset import LabeledTable
from swarmguard.records.log import LogEvent

__all__ = ["BurstFinding", "UebaDetector", "failed_attempts"]

FloatArray = npt.NDArray[np.float64]
_BUCKETS = 1 << 12
_SET_BITS = 1 << 16
_BRUTE_FORCE_SID = 9_100_010


def _hash(*parts: str, size: int) -> int:
    digest = hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % size


def failed_attempts(events: Sequence[LogEvent]) -> list[LogEvent]:
    """One event per failed authentication attempt, with its source address.

    OpenSSH with PAM logs one failed password up to three times (``Invalid user``, the PAM
    ``authentication failure`` line, ``Failed password``); only the sshd ``Failed <method>``
    line carries ``auth_method``. So for a source that has such lines only those count; for
    a source without any (PAM-only, ftpd, klogind logs) every failure line counts. Summary
    lines (``too_many_failures``) never count.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> t = datetime(2024, 1, 1, tzinfo=UTC)
    >>> evs = [LogEvent(ts=t, action="invalid_user", src_ip="a", message="m"),
    ...        LogEvent(ts=t, action="auth_failure", src_ip="a", auth_method="password",
    ...                 message="m"),
    ...        LogEvent(ts=t, action="auth_failure", src_ip="b", message="m")]
    >>> [e.src_ip for e in failed_attempts(evs)]
    ['a', 'b']
    """
    with_method = {e.src_ip for e in events if e.action == "auth_failure" and e.auth_method}
    out = []
    for e in events:
        if not e.src_ip or e.action not in ("auth_failure", "invalid_user"):
            continue
        if e.src_ip in with_method and not (e.action == "auth_failure" and e.auth_method):
            continue
        out.append(e)
    return out


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class BurstFinding:
    """A source address (or host) with a burst: how many events in the worst window."""

    key: str
    kind: str
    count: int
    first: LogEvent
    last: LogEvent


class UebaDetector:
    """Behaviour baselines for logs and rows (see the module docs).

    Parameters
    ----------
    seed
        Kept for the registry's common constructor; the detector is deterministic.
    window_s
        Sliding window for failure and outbound bursts, in seconds.
    burst_failures
        Failures from one source within ``window_s`` that make a burst.
    burst_outbound
        Outbound connections from one host within ``window_s`` that make a burst.
    """

    name: ClassVar[str] = "ueba"

    def __init__(
        self,
        seed: int = 0,
        *,
        window_s: float = 60.0,
        burst_failures: int = 10,
        burst_outbound: int = 100,
    ) -> None:
        self.seed = seed
        self.window_s = window_s
        self.burst_failures = burst_failures
        self.burst_outbound = burst_outbound
        self.threshold = 0.5
        self.hours = np.zeros((_BUCKETS, 24), dtype=np.float64)
        self.seen_sources = np.zeros(_SET_BITS, dtype=np.float64)
        self.seen_pairs = np.zeros(_SET_BITS, dtype=np.float64)
        self._format: str | None = None
        self._numeric: tuple[str, ...] = ()
        self._categorical: tuple[str, ...] = ()
        self.center = np.zeros(0, dtype=np.float64)
        self.scale = np.zeros(0, dtype=np.float64)
        self.cat_counts = np.zeros(_SET_BITS, dtype=np.float64)
        self.cat_rows = 0.0

    # ------------------------------------------------------------------ log behaviour
    def fit_events(self, events: Sequence[LogEvent]) -> None:
        """Add normal events to the baselines (can be called repeatedly)."""
        for e in events:
            if e.action == "auth_success" and e.user:
                self.hours[_hash(e.user, size=_BUCKETS), e.ts.hour] += 1
                if e.src_ip:
                    self.seen_sources[_hash(e.user, e.src_ip, size=_SET_BITS)] += 1
            if e.process and e.parent_process:
                key = _hash(
                    e.host or "", e.parent_process.lower(), e.process.lower(), size=_SET_BITS
                )
                self.seen_pairs[key] += 1

    def _event_score(self, e: LogEvent) -> float:
        score = 0.0
        if e.action == "auth_success" and e.user:
            row = self.hours[_hash(e.user, size=_BUCKETS)]
            total = float(row.sum())
            if total >= 5:  # enough history to speak of a habit
                share = row[e.ts.hour] + row[(e.ts.hour - 1) % 24] + row[(e.ts.hour + 1) % 24]
                score = max(score, 1.0 - min(1.0, share / total * 8))
            if (
                e.src_ip
                and total >= 1
                and self.seen_sources[_hash(e.user, e.src_ip, size=_SET_BITS)] == 0
            ):
                score = 1.0
        if e.process and e.parent_process and self.seen_pairs.any():
            key = _hash(e.host or "", e.parent_process.lower(), e.process.lower(), size=_SET_BITS)
            if self.seen_pairs[key] == 0:
                score = max(score, 0.8)
        return score

    def score_events(self, events: Sequence[LogEvent]) -> FloatArray:
        """One anomaly score in [0, 1] per event (bursts included)."""
        scores = np.array([self._event_score(e) for e in events], dtype=np.float64)
        for finding in self.bursts(events):
            for i, e in enumerate(events):
                if finding.first.ts <= e.ts <= finding.last.ts and (
                    e.src_ip == finding.key or e.host == finding.key
                ):
                    scores[i] = 1.0
        return scores

    def bursts(self, events: Sequence[LogEvent]) -> list[BurstFinding]:
        """Failure bursts per source address and outbound bursts per host (worst window)."""
        failures: dict[str, list[LogEvent]] = defaultdict(list)
        outbound: dict[str, list[LogEvent]] = defaultdict(list)
        for e in sorted(failed_attempts(events), key=lambda x: x.ts):
            failures[str(e.src_ip)].append(e)
        for e in sorted(events, key=lambda x: x.ts):
            if e.dest_ip and e.host:
                outbound[e.host].append(e)
        found = []
        for kind, groups, need in (
            ("failure_burst", failures, self.burst_failures),
            ("outbound_burst", outbound, self.burst_outbound),
        ):
            for key, seq in groups.items():
                best, first, last = self._worst_window(seq)
                if best >= need:
                    found.append(BurstFinding(key, kind, best, first, last))
        return sorted(found, key=lambda f: (-f.count, f.key))

    def _worst_window(self, seq: list[LogEvent]) -> tuple[int, LogEvent, LogEvent]:
        window: deque[LogEvent] = deque()
        best, first, last = 0, seq[0], seq[0]
        for e in seq:
            window.append(e)
            while (e.ts - window[0].ts).total_seconds() > self.window_s:
                window.popleft()
            if len(window) > best:
                best, first, last = len(window), window[0], e
        return best, first, last

    def flag_sources(self, events: Sequence[LogEvent]) -> list[str]:
        """Source addresses with an authentication failure burst (brute-force candidates)."""
        return sorted({f.key for f in self.bursts(events) if f.kind == "failure_burst"})

    def burst_alerts(self, events: Sequence[LogEvent], *, sensor_id: str = "local") -> list[Alert]:
        """One EVE alert per failure burst (category ``brute_force``, block candidate)."""
        alerts = []
        for f in self.bursts(events):
            if f.kind != "failure_burst":
                continue
            evidence = [
                f"event:{f.first.uid}",
                f"event:{f.last.uid}",
                f"{f.first.source_file}:{f.first.source_line}",
                f"{f.last.source_file}:{f.last.source_line}",
                f"failures:{f.count} in {self.window_s:g} s",
            ]
            address = f.key if _is_ip(f.key) else None
            if address is None:  # a host name the log wrote instead of an address
                evidence.append(f"source-host:{f.key}")
            alerts.append(
                Alert(
                    ts=f.last.ts,
                    sensor_id=sensor_id,
                    src_ip=address,
                    dest_ip=None,
                    proto="TCP" if (f.last.program or "").startswith("sshd") else None,
                    app_proto=f.last.program,
                    alert=AlertInfo(
                        signature_id=_BRUTE_FORCE_SID,
                        signature="SWARMGUARD ueba authentication failure burst",
                        category="brute_force",
                        severity=2,
                    ),
                    detector=self.name,
                    score=min(1.0, f.count / (2 * self.burst_failures)),
                    evidence=evidence,
                )
            )
        return alerts

    # ------------------------------------------------------------------ rows (Detector)
    def _check(self, rows: LabeledTable) -> None:
        if self._format is None:
            raise RuntimeError("ueba: score called before fit")
        if rows.format != self._format:
            raise ValueError(f"ueba was trained on {self._format} rows, not {rows.format}")

    def _matrix(self, rows: LabeledTable) -> FloatArray:
        cols = [
            np.asarray(rows.table.column(c).to_numpy(zero_copy_only=False), dtype=np.float64)
            for c in self._numeric
        ]
        if not cols:
            return np.zeros((rows.num_rows, 0), dtype=np.float64)
        return np.nan_to_num(np.column_stack(cols), nan=0.0, posinf=0.0, neginf=0.0)

    def _cat_keys(self, rows: LabeledTable) -> list[list[int]]:
        keys = []
        for c in self._categorical:
            values = rows.table.column(c).to_pylist()
            keys.append([_hash(c, str(v), size=_SET_BITS) for v in values])
        return keys

    def fit(self, train: LabeledTable) -> None:
        """Learn the benign baseline from the benign rows; choose the threshold on all rows."""
        attack = train.attack_mask()
        if attack.all() or not attack.any():
            raise ValueError("ueba: training rows need both benign and attack rows")
        self._format = train.format
        self._numeric = tuple(train.numeric_columns)
        self._categorical = tuple(train.categorical_columns)
        benign = train.take(np.flatnonzero(~attack))
        x = self._matrix(benign)
        self.center = np.median(x, axis=0) if x.size else np.zeros(0)
        mad = np.median(np.abs(x - self.center), axis=0) * 1.4826 if x.size else np.zeros(0)
        self.scale = np.where(mad > 1e-12, mad, 1.0)
        self.cat_counts = np.zeros(_SET_BITS, dtype=np.float64)
        for keys in self._cat_keys(benign):
            np.add.at(self.cat_counts, np.asarray(keys, dtype=np.int64), 1.0)
        self.cat_rows = float(benign.num_rows)
        cut = choose_threshold(self.score(train), attack, "youden")
        self.threshold = float(min(max(cut, 1e-3), 1 - 1e-3))

    def score(self, rows: LabeledTable) -> FloatArray:
        """One anomaly score in [0, 1] per row."""
        self._check(rows)
        x = self._matrix(rows)
        z = np.abs(x - self.center) / self.scale if x.size else np.zeros((rows.num_rows, 1))
        worst = z.max(axis=1) if z.shape[1] else np.zeros(rows.num_rows)
        for keys in self._cat_keys(rows):
            freq = self.cat_counts[np.asarray(keys, dtype=np.int64)] / max(self.cat_rows, 1.0)
            worst = np.maximum(worst, np.where(freq < 0.01, 6.0, 0.0))
        return np.asarray(1.0 - np.exp(-worst / 3.0), dtype=np.float64)

    def get_parameters(self) -> list[FloatArray]:
        """The baselines as arrays (hashed counts; sum them to aggregate)."""
        return [
            self.hours.copy(),
            self.seen_sources.copy(),
            self.seen_pairs.copy(),
            self.center.copy(),
            self.scale.copy(),
            self.cat_counts.copy(),
            np.array([self.cat_rows]),
        ]

    def set_parameters(self, parameters: list[FloatArray]) -> None:
        """Replace the baselines (same shapes as ``get_parameters``)."""
        if len(parameters) != 7:
            raise ValueError("ueba: expected 7 parameter arrays")
        (
            self.hours,
            self.seen_sources,
            self.seen_pairs,
            self.center,
            scale,
            self.cat_counts,
            rows,
        ) = (np.array(p, dtype=np.float64) for p in parameters)
        self.scale = np.where(np.abs(scale) > 1e-12, scale, 1.0)
        self.cat_rows = float(rows[0]) if rows.size else 0.0

    def save(self, path: Path) -> None:
        """Write the detector to ``path``."""
        save_detector(self, self.name, path)

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read a detector written by ``save``."""
        obj = load_detector(path, cls.name)
        if not isinstance(obj, cls):
            raise TypeError(f"{path} does not hold a {cls.__name__}")
        return obj
