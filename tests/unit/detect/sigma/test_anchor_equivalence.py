"""Anchors only skip work: the same hits with and without them, on real events and rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from swarmguard.acquire.logs import read_logs
from swarmguard.detect.sigma import SigmaEngine, load_rules
from swarmguard.shared_data import shared_dir

SIGMA = shared_dir() / "sigma"


def test_same_hits_with_and_without_anchors(datasets_dir: Path) -> None:
    samples = sorted((datasets_dir / "logs" / "evtx").glob("*.jsonl.gz"))
    if not samples or not (SIGMA / "rules").is_dir():
        pytest.skip("shared EVTX samples or SigmaHQ rules not available")
    rules, _ = load_rules(SIGMA / "rules" / "windows", skip_unsupported=True)
    assert sum(r.anchors is not None for r in rules) > len(rules) // 2
    events = [e for path in samples for e in read_logs(path)]
    events += [e for p in sorted((SIGMA / "regression_data").rglob("*.json")) for e in read_logs(p)]

    def pairs(engine: SigmaEngine) -> list[tuple[int, str]]:
        return sorted((h.index, h.rule.id) for h in engine.match(events))

    anchored = pairs(SigmaEngine(rules))
    assert anchored
    assert anchored == pairs(SigmaEngine(rules, anchored=False))
