"""What an agent reports after a round, and the aggregation weight of each report.

Each agent sends a ``ClientUpdate``: its parameters (or, under encryption, only the metadata), the
number of training rows it used, a data-quality score it computed itself
(``swarmguard.federate.quality``) and the importance the operator configured for that site. The
weight of agent ``i`` is ``n_i * q_i * m_i``, normalised to sum to one.

Examples
--------
>>> import numpy as np
>>> ups = [ClientUpdate("a", [np.zeros(2)], 100, 1.0), ClientUpdate("b", [np.ones(2)], 300, 0.5)]
>>> aggregation_weights(ups).tolist()
[0.4, 0.6]
>>> vec, shapes = flatten([np.ones((2, 2)), np.zeros(3)])
>>> [a.shape for a in unflatten(vec, shapes)]
[(2, 2), (3,)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "ClientUpdate",
    "FloatArray",
    "Parameters",
    "Strategy",
    "aggregation_weights",
    "flatten",
    "unflatten",
]

FloatArray = npt.NDArray[np.float64]
Parameters = list[FloatArray]


@dataclass(frozen=True)
class ClientUpdate:
    """One agent's contribution to a round.

    Parameters
    ----------
    client_id
        Who sent it.
    parameters
        The agent's locally trained weights (same shapes as the global model).
    num_samples
        Training rows the agent used this round.
    quality
        The agent's data-quality score in (0, 1] (see ``swarmguard.federate.quality``).
    importance
        Configured importance of the site (default 1.0).
    """

    client_id: str
    parameters: Parameters
    num_samples: int
    quality: float
    importance: float = 1.0

    @property
    def raw_weight(self) -> float:
        """Unnormalised weight ``num_samples * quality * importance``."""
        return float(self.num_samples) * float(self.quality) * float(self.importance)


def aggregation_weights(updates: list[ClientUpdate]) -> FloatArray:
    """Normalised weights ``n_i q_i m_i / sum_j n_j q_j m_j``.

    Raises
    ------
    ValueError
        If there are no updates, a factor is negative or not finite, or all weights are zero.
    """
    if not updates:
        raise ValueError("no client updates to aggregate")
    raw = np.array([u.raw_weight for u in updates], dtype=np.float64)
    if not np.all(np.isfinite(raw)) or np.any(raw < 0):
        raise ValueError("aggregation weights must be finite and non-negative")
    total = float(raw.sum())
    if total <= 0:
        raise ValueError("every client update has zero weight")
    weights: FloatArray = raw / total
    return weights


def flatten(parameters: Parameters) -> tuple[FloatArray, list[tuple[int, ...]]]:
    """Concatenate arrays into one float64 vector; return it with the shapes to undo it."""
    shapes = [tuple(int(d) for d in np.shape(p)) for p in parameters]
    if not parameters:
        return np.zeros(0, dtype=np.float64), shapes
    vec: FloatArray = np.concatenate([np.asarray(p, dtype=np.float64).ravel() for p in parameters])
    return vec, shapes


def unflatten(vector: FloatArray, shapes: list[tuple[int, ...]]) -> Parameters:
    """Split a vector made by ``flatten`` back into arrays of ``shapes``."""
    sizes = [int(np.prod(s)) if s else 1 for s in shapes]
    if sum(sizes) != vector.size:
        raise ValueError(f"vector of {vector.size} values does not fit shapes {shapes}")
    out: Parameters = []
    pos = 0
    for shape, size in zip(shapes, sizes, strict=True):
        out.append(np.asarray(vector[pos : pos + size], dtype=np.float64).reshape(shape))
        pos += size
    return out


class Strategy(Protocol):
    """Turns the agents' updates of one round into the next global parameters."""

    name: str

    def aggregate(self, updates: list[ClientUpdate]) -> Parameters:
        """Return the new global parameters."""
        ...
