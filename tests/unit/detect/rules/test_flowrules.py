"""Flow threshold rules and the ``rules`` detector."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from swarmguard.acquire.datasets import load_dataset
from swarmguard.detect.base import DETECTORS
from swarmguard.detect.rules.flowrules import FlowRuleDetector, parse_flow_rules
from swarmguard.errors import InputError
from swarmguard.records.dataset import LabeledTable

SCAN = """
- sid: 1
  msg: scan
  classtype: attempted-recon
  family: probe
  aggregate: {by: [src_ip], distinct: dest_port, window_s: 60, threshold: 5}
"""


def _flows(ports: list[int], src: str) -> pa.Table:
    t0 = datetime(2020, 1, 1, tzinfo=UTC)
    n = len(ports)
    return pa.table(
        {
            "uid": [f"f:{i}" for i in range(n)],
            "ts": [t0 + timedelta(seconds=i) for i in range(n)],
            "src_ip": [src] * n,
            "dest_port": ports,
            "label": ["probe"] * n,
            "label_original": ["x"] * n,
        }
    )


def test_distinct_ports_per_source_window() -> None:
    det = FlowRuleDetector(parse_flow_rules(SCAN))
    scan = LabeledTable(
        pa.concat_tables([_flows([1, 2, 3, 4, 5], "a"), _flows([80] * 9, "b")]), "flow", (), ()
    )
    det.format = "flow"
    np.testing.assert_array_equal(det.score(scan), [1.0] * 5 + [0.0] * 9)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- {sid: 1, msg: x, classtype: nope, where: 'a > 1'}", "unknown classtype"),
        ("- {sid: 1, msg: x, classtype: misc-attack, where: 'a ~ 1'}", "cannot read condition"),
        ("- {sid: 1, msg: x, classtype: misc-attack}", "needs 'where' or 'aggregate'"),
        ("- {sid: 1, msg: x, classtype: misc-attack, where: 'a > 1', colour: red}", "unknown key"),
        ("{a: 1}", "expected a list"),
    ],
)
def test_bad_flow_rules_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_flow_rules(text, "r.yaml")


def test_registered_and_round_trips(tmp_path: Path, datasets_dir: Path) -> None:
    rows = load_dataset(datasets_dir / "nsl-kdd" / "KDDTrain+_20Percent.txt")
    det = DETECTORS.get("rules")(seed=0)  # type: ignore[call-arg]
    with pytest.raises(RuntimeError, match="before fit"):
        det.score(rows)
    det.fit(rows)
    scores = det.score(rows)
    det.save(tmp_path / "r.joblib")
    again = DETECTORS.get("rules").load(tmp_path / "r.joblib")
    np.testing.assert_array_equal(scores, again.score(rows))
    # the rule baseline sees NSL-KDD's window features: most attacks, few false alarms
    attack = rows.attack_mask()
    assert scores[attack].mean() > 0.5 > scores[~attack].mean()


def test_rules_that_count_many_sources_together_are_marked() -> None:
    text = (
        "- {sid: 1, msg: a, classtype: attempted-dos, "
        "aggregate: {by: [dest_ip], window_s: 10, threshold: 100}}\n"
        "- {sid: 2, msg: b, classtype: attempted-recon, "
        "aggregate: {by: [src_ip, dest_ip], window_s: 10, threshold: 5}}\n"
        "- {sid: 3, msg: c, classtype: attempted-recon, where: 'dest_port == 23'}\n"
    )
    assert [r.aggregates_sources for r in parse_flow_rules(text)] == [True, False, False]
