"""Aggregation strategies: weighted FedAvg / FedProx, and robust trimmed mean and Krum.

Contract: a strategy takes the round's ``ClientUpdate`` list and returns the next global
parameters; ``make_strategy`` builds one from its CLI name.

Examples
--------
>>> make_strategy("krum", byzantine=1).name
'krum'
"""

from __future__ import annotations

from swarmguard.federate.strategies.base import (
    ClientUpdate,
    Parameters,
    Strategy,
    aggregation_weights,
    flatten,
    unflatten,
)
from swarmguard.federate.strategies.robust import Krum, TrimmedMean
from swarmguard.federate.strategies.weighted import WeightedFedAvg, proximal_step

__all__ = [
    "STRATEGY_NAMES",
    "ClientUpdate",
    "Krum",
    "Parameters",
    "Strategy",
    "TrimmedMean",
    "WeightedFedAvg",
    "aggregation_weights",
    "flatten",
    "make_strategy",
    "proximal_step",
    "unflatten",
]

STRATEGY_NAMES = ("fedavg", "fedprox", "trimmed-mean", "krum")


def make_strategy(
    name: str,
    *,
    proximal_mu: float = 0.1,
    trim_fraction: float = 0.2,
    byzantine: int = 1,
    multi: int | None = None,
    clients: int = 0,
) -> Strategy:
    """Build the strategy called ``name`` (one of ``STRATEGY_NAMES``).

    ``multi`` defaults to ``clients - byzantine`` (Multi-Krum over the presumed honest agents).
    """
    if name == "fedavg":
        return WeightedFedAvg()
    if name == "fedprox":
        return WeightedFedAvg(proximal_mu=proximal_mu)
    if name == "trimmed-mean":
        return TrimmedMean(trim_fraction)
    if name == "krum":
        keep = multi if multi is not None else max(clients - byzantine, 1)
        return Krum(byzantine=byzantine, multi=keep)
    raise ValueError(f"unknown strategy {name!r}; use one of {', '.join(STRATEGY_NAMES)}")
