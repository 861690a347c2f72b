"""Pairwise additive masking (the core of SecAgg; Bonawitz et al., CCS 2017), in simulation.

Every pair of agents ``i < j`` shares a seed; agent ``i`` adds the mask ``PRG(seed_ij)``, agent
``j`` subtracts it, so the masks cancel in the sum and the coordinator learns only the total.
Values are fixed-point (``2**scale_bits``) in the ring of integers modulo ``2**64``. This
simulation has no dropout recovery and derives the pair seeds from one seeded generator (a real
deployment agrees them by Diffie-Hellman); deployments use Flower's SecAgg+ instead
(``swarmguard.federate.flower``).

Examples
--------
>>> import numpy as np
>>> seeds = pair_seeds(3, seed=0)
>>> vs = [np.array([0.5, -1.0]), np.array([0.25, 2.0]), np.array([1.0, 0.0])]
>>> masked = [mask_vector(v, i, seeds) for i, v in enumerate(vs)]
>>> unmask_sum(masked).tolist()
[1.75, 1.0]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["SCALE_BITS", "mask_vector", "pair_seeds", "unmask_sum"]

SCALE_BITS = 32
UIntArray = npt.NDArray[np.uint64]


def pair_seeds(clients: int, seed: int) -> dict[tuple[int, int], int]:
    """One shared seed per unordered pair of agents."""
    rng = np.random.default_rng(seed)
    return {
        (i, j): int(rng.integers(0, 2**63 - 1))
        for i in range(clients)
        for j in range(i + 1, clients)
    }


def mask_vector(
    vector: npt.NDArray[np.float64], me: int, seeds: dict[tuple[int, int], int]
) -> UIntArray:
    """Fixed-point encode ``vector`` and add this agent's pairwise masks (mod 2**64)."""
    fixed = np.round(np.asarray(vector, dtype=np.float64) * 2.0**SCALE_BITS).astype(np.int64)
    out = fixed.view(np.uint64).copy()
    for (i, j), s in seeds.items():
        if me not in (i, j):
            continue
        mask = np.random.default_rng(s).integers(0, 2**64, size=out.size, dtype=np.uint64)
        out = out + mask if me == i else out - mask
    return out


def unmask_sum(masked: list[UIntArray]) -> npt.NDArray[np.float64]:
    """Sum masked vectors (masks cancel) and decode back to floats."""
    total = np.zeros_like(masked[0])
    for m in masked:
        total = total + m
    return total.view(np.int64).astype(np.float64) / 2.0**SCALE_BITS
