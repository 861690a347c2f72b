"""Federated training of many simulated agents in one process, round by round.

Each round: every site trains from the global parameters on its own rows; the updates are
aggregated by the configured strategy, in the clear (``protect="none"``), under CKKS encryption
(``"ckks"``: sites encrypt their weighted updates, the coordinator adds ciphertexts with the
public context only, sites decrypt the sum) or under pairwise masking (``"secagg"``). Before the
first round the sites' feature statistics (counts and sums) are merged and every site fixes the
same preprocessing from them (federated standardisation). After the last round each site picks
the decision threshold of the global model on its own rows and the coordinator averages them with
the aggregation weights.

Bytes are what would cross the network: float64 parameters, serialised ciphertexts or masked
64-bit integers, up (sites to coordinator) and down (coordinator to sites). Seconds are wall time
of the whole round in this process (sites run one after the other, so a real deployment with
parallel sites is faster).

``FederationConfig.engine = "flower"`` runs the same rounds through the project's Flower
ServerApp and ClientApp on Flower's simulation engine instead
(``swarmguard.federate.flower.simulation_engine``; Ray, ``flwr[simulation]``).

Examples
--------
>>> FederationConfig(detector="lstm", clients=3, rounds=2, protect="ckks",
...                  strategy="krum").validate()
Traceback (most recent call last):
...
ValueError: strategy krum needs plaintext updates; use --protect none with robust aggregation
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from swarmguard.features.stats import FeatureStats
from swarmguard.federate.crypto.ckks import (
    CkksKeys,
    CkksParams,
    add_encrypted,
    context_is_private,
    decrypt_vector,
    encrypt_vector,
    generate_keys,
    load_context,
)
from swarmguard.federate.crypto.masking import mask_vector, pair_seeds, unmask_sum
from swarmguard.federate.partition import parse_partition
from swarmguard.federate.site import FederatedSite
from swarmguard.federate.strategies import (
    ClientUpdate,
    Parameters,
    aggregation_weights,
    flatten,
    make_strategy,
    unflatten,
)

__all__ = [
    "ENGINES",
    "PROTECTIONS",
    "FederationConfig",
    "FederationResult",
    "RoundStats",
    "params_nbytes",
    "poison_update",
    "run_federation",
]

log = logging.getLogger(__name__)

PROTECTIONS = ("none", "ckks", "secagg")
ENGINES = ("in-process", "flower")
ROBUST = ("trimmed-mean", "krum")


@dataclass(frozen=True)
class FederationConfig:
    """What to run.

    Parameters
    ----------
    detector
        Registered detector name (or ``module:Class``) implementing local training.
    clients, rounds
        Number of sites and of rounds.
    partition
        ``iid``, ``dirichlet:ALPHA`` or ``by-class`` (``swarmguard.federate.partition``).
    protect
        ``none``, ``ckks`` or ``secagg``.
    strategy
        ``fedavg``, ``fedprox``, ``trimmed-mean`` or ``krum`` (robust ones need ``none``).
    local_epochs
        Passes over its rows each site makes per round.
    proximal_mu
        FedProx coefficient, used by ``fedprox``.
    seed
        Seeds the partition, the detectors and the masks.
    importance
        Configured importance per site (default 1.0 each).
    poisoned
        Indices of sites that send poisoned updates (experiments and tests).
    poison
        ``random`` (Gaussian noise of the update's scale times ``poison_scale``) or ``scale``
        (the update's change multiplied by ``-poison_scale``).
    poison_scale
        Strength of the poisoning.
    ckks
        CKKS parameters for ``protect="ckks"``.
    engine
        ``in-process`` (sites one after the other in this process) or ``flower`` (Flower's
        simulation engine on Ray: ``swarmguard.federate.flower.simulation_engine``; protect
        ``none`` or ``ckks``, no poisoned sites).
    """

    detector: str
    clients: int
    rounds: int
    partition: str = "iid"
    protect: str = "none"
    strategy: str = "fedavg"
    local_epochs: int = 1
    proximal_mu: float = 0.1
    seed: int = 0
    importance: tuple[float, ...] = ()
    poisoned: tuple[int, ...] = ()
    poison: str = "random"
    poison_scale: float = 10.0
    ckks: CkksParams = field(default_factory=CkksParams)
    engine: str = "in-process"

    def validate(self) -> None:
        """Raise ``ValueError`` for an inconsistent configuration."""
        if self.clients < 1:
            raise ValueError("--clients must be at least 1")
        if self.rounds < 1:
            raise ValueError("--rounds must be at least 1")
        if self.local_epochs < 1:
            raise ValueError("local epochs must be at least 1")
        parse_partition(self.partition)
        if self.protect not in PROTECTIONS:
            raise ValueError(f"unknown --protect {self.protect!r}: use none, ckks or secagg")
        make_strategy(self.strategy, clients=self.clients)
        if self.strategy in ROBUST and self.protect != "none":
            raise ValueError(
                f"strategy {self.strategy} needs plaintext updates; "
                "use --protect none with robust aggregation"
            )
        if self.importance and len(self.importance) != self.clients:
            raise ValueError("give one importance per client")
        if any(not 0 <= i < self.clients for i in self.poisoned):
            raise ValueError("poisoned client index out of range")
        if self.poison not in ("random", "scale"):
            raise ValueError("poison must be random or scale")
        if self.engine not in ENGINES:
            raise ValueError(f"unknown --engine {self.engine!r}: use in-process or flower")
        if self.engine == "flower" and self.protect == "secagg":
            raise ValueError("--engine flower runs --protect none or ckks; secagg: in-process")
        if self.engine == "flower" and self.poisoned:
            raise ValueError("poisoned agents are simulated by --engine in-process only")


@dataclass(frozen=True)
class RoundStats:
    """Cost of one round."""

    round: int
    seconds: float
    train_seconds: float
    protect_seconds: float
    bytes_up: int
    bytes_down: int


@dataclass
class FederationResult:
    """The global model after the last round and what the rounds cost."""

    parameters: Parameters
    threshold: float
    rounds: list[RoundStats]
    weights: list[float]
    qualities: list[float]
    num_parameters: int
    setup_bytes: int
    extra: dict[str, Any] = field(default_factory=dict)

    def seconds_per_round(self) -> float:
        """Mean wall seconds per round."""
        return float(np.mean([r.seconds for r in self.rounds]))

    def bytes_per_round(self) -> dict[str, float]:
        """Mean bytes per round, up and down, over all sites."""
        return {
            "up": float(np.mean([r.bytes_up for r in self.rounds])),
            "down": float(np.mean([r.bytes_down for r in self.rounds])),
        }


def params_nbytes(parameters: Parameters) -> int:
    """Bytes of the parameters as float64 on the wire."""
    return int(sum(np.asarray(p, dtype=np.float64).nbytes for p in parameters))


def poison_update(
    update: ClientUpdate, global_params: Parameters, mode: str, scale: float, seed: int
) -> ClientUpdate:
    """A poisoned copy of ``update``: random noise, or the change scaled by ``-scale``."""
    rng = np.random.default_rng(seed)
    out: Parameters = []
    for p, g in zip(update.parameters, global_params, strict=True):
        if mode == "random":
            spread = float(np.std(p)) or 1.0
            out.append(rng.normal(0.0, spread * scale, size=np.shape(p)))
        else:
            out.append(g - scale * (p - g))
    return ClientUpdate(
        update.client_id, out, update.num_samples, update.quality, update.importance
    )


def _aggregate_ckks(
    updates: list[ClientUpdate], keys: CkksKeys
) -> tuple[Parameters, int, int, dict[str, Any]]:
    weights = aggregation_weights(updates)
    shapes = flatten(updates[0].parameters)[1]
    agent_ctx = load_context(keys.secret)  # every agent holds the secret context
    coordinator_ctx = load_context(keys.public)  # the coordinator: public context only
    if context_is_private(coordinator_ctx):
        raise RuntimeError("the coordinator context must not hold the secret key")
    encrypted = [
        encrypt_vector(agent_ctx, w * flatten(u.parameters)[0])
        for w, u in zip(weights, updates, strict=True)
    ]
    total = add_encrypted(coordinator_ctx, encrypted)
    vector = decrypt_vector(agent_ctx, total)
    up = sum(e.nbytes for e in encrypted)
    down = total.nbytes * len(updates)
    info = {"ciphertexts_per_update": len(total.chunks)}
    return unflatten(vector, shapes), up, down, info


def _aggregate_secagg(
    updates: list[ClientUpdate], seed: int
) -> tuple[Parameters, int, int, dict[str, Any]]:
    weights = aggregation_weights(updates)
    shapes = flatten(updates[0].parameters)[1]
    seeds = pair_seeds(len(updates), seed)
    masked = [
        mask_vector(w * flatten(u.parameters)[0], i, seeds)
        for i, (w, u) in enumerate(zip(weights, updates, strict=True))
    ]
    vector = unmask_sum(masked)
    up = sum(int(m.nbytes) for m in masked)
    down = int(vector.nbytes) * len(updates)
    return unflatten(vector, shapes), up, down, {}


def run_federation(
    sites: list[FederatedSite],
    config: FederationConfig,
    *,
    keys: CkksKeys | None = None,
    on_round: Callable[[RoundStats], None] | None = None,
) -> FederationResult:
    """Run ``config.rounds`` rounds over ``sites``; return the global model and costs.

    With ``config.engine == "flower"`` the rounds run on Flower's simulation engine
    (``swarmguard.federate.flower.simulation_engine``) and ``sites[0].detector`` is replaced by
    the final global model agent 0 saved.
    """
    config.validate()
    if config.engine == "flower":
        from swarmguard.federate.flower.simulation_engine import run_flower_simulation

        return run_flower_simulation(sites, config, keys=keys, on_round=on_round)
    if len(sites) != config.clients:
        raise ValueError(f"{len(sites)} sites for {config.clients} clients")
    strategy = make_strategy(
        config.strategy, proximal_mu=config.proximal_mu, clients=config.clients
    )
    if config.protect == "ckks" and keys is None:
        keys = generate_keys(config.ckks)
    site_stats = [s.stats() for s in sites]
    stats = FeatureStats.merge(site_stats)
    setup_bytes = sum(8 * 3 * len(s.count) for s in site_stats)
    initial = [s.prepare(stats) for s in sites]
    global_params = initial[0]
    shapes = flatten(global_params)[1]
    for i, p in enumerate(initial[1:], start=1):
        if flatten(p)[1] != shapes:
            raise ValueError(f"site {sites[i].site_id} built a model of other shapes")
    n_params = int(flatten(global_params)[0].size)
    rounds: list[RoundStats] = []
    extra: dict[str, Any] = {}
    updates: list[ClientUpdate] = []
    for r in range(1, config.rounds + 1):
        start = time.perf_counter()
        updates = [s.fit_round(global_params, config.local_epochs) for s in sites]
        updates = [
            poison_update(u, global_params, config.poison, config.poison_scale, config.seed + r)
            if i in config.poisoned
            else u
            for i, u in enumerate(updates)
        ]
        trained = time.perf_counter()
        if config.protect == "ckks":
            assert keys is not None
            global_params, up, down, info = _aggregate_ckks(updates, keys)
            extra.update(info)
        elif config.protect == "secagg":
            global_params, up, down, _ = _aggregate_secagg(updates, config.seed * 1000 + r)
        else:
            global_params = strategy.aggregate(updates)
            up = sum(params_nbytes(u.parameters) for u in updates)
            down = params_nbytes(global_params) * len(updates)
        done = time.perf_counter()
        stats_r = RoundStats(
            round=r,
            seconds=done - start,
            train_seconds=trained - start,
            protect_seconds=done - trained,
            bytes_up=int(up),
            bytes_down=int(down),
        )
        rounds.append(stats_r)
        log.info("round %d: %.2f s, %d bytes up, %d down", r, stats_r.seconds, up, down)
        if on_round is not None:
            on_round(stats_r)
    weights = aggregation_weights(updates)
    thresholds = np.array([s.threshold(global_params) for s in sites])
    threshold = float(np.dot(weights, thresholds))
    sites[0].detector.set_parameters(global_params)
    sites[0].detector.threshold = threshold
    return FederationResult(
        parameters=global_params,
        threshold=threshold,
        rounds=rounds,
        weights=[float(w) for w in weights],
        qualities=[s.quality for s in sites],
        num_parameters=n_params,
        setup_bytes=setup_bytes,
        extra=extra,
    )
