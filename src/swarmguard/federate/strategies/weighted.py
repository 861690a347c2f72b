"""Weighted federated averaging (FedAvg), with FedProx's proximal pull as an option.

``WeightedFedAvg`` averages the agents' parameters with weights ``n_i q_i m_i`` (samples x data
quality x importance; McMahan et al., "Communication-efficient learning of deep networks from
decentralized data", AISTATS 2017, weight by samples only).

FedProx (Li et al., "Federated optimization in heterogeneous networks", MLSys 2020) adds
``mu/2 ||w - w_global||^2`` to every agent's local loss. Our detectors' ``train_epochs`` does not
take that term, so ``proximal_step`` applies it after local training as one exact proximal step:
the minimiser of ``mu/2 ||w - w_global||^2 + 1/2 ||w - w_local||^2`` is
``(w_local + mu w_global) / (1 + mu)``. It damps drift of agents with skewed data the way FedProx
does, but is weaker than the per-batch term; ``mu = 0`` is plain FedAvg.

Examples
--------
>>> import numpy as np
>>> from swarmguard.federate.strategies.base import ClientUpdate
>>> ups = [ClientUpdate("a", [np.array([0.0, 2.0])], 1, 1.0),
...        ClientUpdate("b", [np.array([2.0, 4.0])], 3, 1.0)]
>>> WeightedFedAvg().aggregate(ups)[0].tolist()
[1.5, 3.5]
>>> proximal_step([np.array([4.0])], [np.array([0.0])], mu=1.0)[0].tolist()
[2.0]
"""

from __future__ import annotations

import numpy as np

from swarmguard.federate.strategies.base import (
    ClientUpdate,
    Parameters,
    aggregation_weights,
    flatten,
    unflatten,
)

__all__ = ["WeightedFedAvg", "proximal_step", "weighted_average"]


def weighted_average(updates: list[ClientUpdate]) -> Parameters:
    """Average of the updates' parameters with ``aggregation_weights``."""
    weights = aggregation_weights(updates)
    first, shapes = flatten(updates[0].parameters)
    total = np.zeros_like(first)
    for w, update in zip(weights, updates, strict=True):
        vec, other = flatten(update.parameters)
        if other != shapes:
            raise ValueError(f"client {update.client_id} sent parameters of other shapes")
        total += w * vec
    return unflatten(total, shapes)


def proximal_step(local: Parameters, global_: Parameters, mu: float) -> Parameters:
    """Pull locally trained weights toward the global ones (FedProx's proximal term, post hoc)."""
    if mu < 0:
        raise ValueError("the proximal coefficient mu must be non-negative")
    return [(lo + mu * gl) / (1.0 + mu) for lo, gl in zip(local, global_, strict=True)]


class WeightedFedAvg:
    """Weighted mean of the agents' parameters (samples x quality x importance).

    Parameters
    ----------
    proximal_mu
        FedProx coefficient applied on the agents (0 = FedAvg); kept here so one object
        describes the round's behaviour.
    """

    name = "fedavg"

    def __init__(self, proximal_mu: float = 0.0) -> None:
        if proximal_mu < 0:
            raise ValueError("proximal_mu must be non-negative")
        self.proximal_mu = proximal_mu
        if proximal_mu > 0:
            self.name = "fedprox"

    def aggregate(self, updates: list[ClientUpdate]) -> Parameters:
        """Weighted average of ``updates``."""
        return weighted_average(updates)
