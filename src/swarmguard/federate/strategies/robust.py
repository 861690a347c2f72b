"""Aggregation that survives a poisoned or broken agent: coordinate-wise trimmed mean and Krum.

``TrimmedMean`` (Yin et al., "Byzantine-robust distributed learning: towards optimal statistical
rates", ICML 2018) drops, for every coordinate separately, the ``k`` largest and ``k`` smallest
values and averages the rest (``k = floor(trim_fraction * n)``, at least 1 when ``n >= 3``).
``Krum`` (Blanchard et al., "Machine learning with adversaries: Byzantine tolerant gradient
descent", NeurIPS 2017) scores each update by the summed squared distance to its ``n - f - 2``
nearest others and keeps the ``multi`` best (Multi-Krum), then averages those with the usual
weights. Neither works on encrypted updates: the coordinator must see the values.

Examples
--------
>>> import numpy as np
>>> from swarmguard.federate.strategies.base import ClientUpdate
>>> ups = [ClientUpdate(str(i), [np.array([v])], 10, 1.0) for i, v in enumerate([1.0, 1.1, 0.9,
...        1000.0])]
>>> round(float(TrimmedMean(0.25).aggregate(ups)[0][0]), 3)
1.05
>>> round(float(Krum(byzantine=1, multi=2).aggregate(ups)[0][0]), 3)
1.05
"""

from __future__ import annotations

import math

import numpy as np

from swarmguard.federate.strategies.base import ClientUpdate, Parameters, flatten, unflatten
from swarmguard.federate.strategies.weighted import weighted_average

__all__ = ["Krum", "TrimmedMean"]


def _matrix(updates: list[ClientUpdate]) -> tuple[np.ndarray, list[tuple[int, ...]]]:
    if not updates:
        raise ValueError("no client updates to aggregate")
    vecs = []
    shapes = flatten(updates[0].parameters)[1]
    for u in updates:
        vec, other = flatten(u.parameters)
        if other != shapes:
            raise ValueError(f"client {u.client_id} sent parameters of other shapes")
        vecs.append(vec)
    return np.vstack(vecs), shapes


class TrimmedMean:
    """Coordinate-wise trimmed mean (unweighted over the kept values).

    Parameters
    ----------
    trim_fraction
        Share of updates dropped at each end, per coordinate (0 <= f < 0.5).
    """

    name = "trimmed-mean"

    def __init__(self, trim_fraction: float = 0.2) -> None:
        if not 0.0 <= trim_fraction < 0.5:
            raise ValueError("trim_fraction must be in [0, 0.5)")
        self.trim_fraction = trim_fraction

    def aggregate(self, updates: list[ClientUpdate]) -> Parameters:
        """Trimmed mean of ``updates``, coordinate by coordinate."""
        m, shapes = _matrix(updates)
        n = m.shape[0]
        k = math.floor(self.trim_fraction * n)
        if n >= 3 and self.trim_fraction > 0:
            k = max(k, 1)
        k = min(k, (n - 1) // 2)
        ordered = np.sort(m, axis=0)
        kept = ordered[k : n - k] if k else ordered
        return unflatten(kept.mean(axis=0), shapes)


class Krum:
    """(Multi-)Krum selection, then the weighted average of the selected updates.

    Parameters
    ----------
    byzantine
        ``f``, the number of bad agents to tolerate.
    multi
        How many of the best-scored updates to average (1 = Krum).
    """

    name = "krum"

    def __init__(self, byzantine: int = 1, multi: int = 1) -> None:
        if byzantine < 0 or multi < 1:
            raise ValueError("Krum needs byzantine >= 0 and multi >= 1")
        self.byzantine = byzantine
        self.multi = multi

    def select(self, updates: list[ClientUpdate]) -> list[int]:
        """Indices of the ``multi`` updates with the lowest Krum score."""
        m, _ = _matrix(updates)
        n = m.shape[0]
        neighbours = max(n - self.byzantine - 2, 1)
        sq = np.sum(m**2, axis=1)
        dist = np.maximum(sq[:, None] + sq[None, :] - 2.0 * (m @ m.T), 0.0)
        np.fill_diagonal(dist, np.inf)
        scores = np.sort(dist, axis=1)[:, : min(neighbours, n - 1)].sum(axis=1)
        order = np.argsort(scores, kind="stable")
        return sorted(int(i) for i in order[: min(self.multi, n)])

    def aggregate(self, updates: list[ClientUpdate]) -> Parameters:
        """Weighted average of the Krum-selected updates."""
        return weighted_average([updates[i] for i in self.select(updates)])
