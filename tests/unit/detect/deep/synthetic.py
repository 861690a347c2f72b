"""Synthetic rows for mechanics tests of the deep detectors (never for a quality claim)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from swarmguard.records.dataset import LabeledTable

T0 = datetime(2017, 7, 7, 12, 0, tzinfo=UTC)


def host_rows(seed: int, hosts: int = 40, flows: int = 16, marked: float = 0.3) -> LabeledTable:
    """Hosts sending flows; every flow of an attacking host is an attack.

    A flow's features alone barely tell: ``x`` has the same distribution for everyone, and ``w``
    is high on only a share ``marked`` of an attacker's flows. The host's other flows tell: an
    attacker's window almost always holds a flow with a high ``w``.
    """
    rng = np.random.default_rng(seed)
    rows: dict[str, list[object]] = {
        k: [] for k in ("uid", "x", "w", "ts", "src_ip", "dest_ip", "label", "label_original")
    }
    for h in range(hosts):
        attacker = h % 2 == 1
        start = rng.uniform(0, 3600)
        for f in range(flows):
            rows["uid"].append(f"s:{len(rows['uid']) + 1}")
            rows["x"].append(float(rng.normal()))
            high = attacker and rng.random() < marked
            rows["w"].append(float(rng.normal(4.0 if high else 0.0, 0.5)))
            rows["ts"].append(T0 + timedelta(seconds=start + 2.0 * f))
            rows["src_ip"].append(f"10.0.{seed}.{h}")
            rows["dest_ip"].append(f"10.1.0.{rng.integers(3)}")
            rows["label"].append("dos" if attacker else "benign")
            rows["label_original"].append(("a" if h % 4 == 1 else "b") if attacker else "normal")
    order = rng.permutation(len(rows["uid"]))
    table = pa.table({k: [v[i] for i in order] for k, v in rows.items()})
    return LabeledTable(table, "synthetic", ("x", "w"), ())


def auc(scores: np.ndarray, attack: np.ndarray) -> float:
    """Area under the ROC curve (probability an attack outscores a benign row)."""
    pos, neg = scores[attack], scores[~attack]
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)
