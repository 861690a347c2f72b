"""Federated training of detectors across agents: only model updates leave a site.

Contract: agents (``site.FederatedSite``) share feature statistics (counts and sums, never rows)
for a common preprocessing, train their detector locally each round, and report parameters with
their row count, data-quality score (``quality``) and importance; the coordinator aggregates them
with a strategy (``strategies``: weighted FedAvg / FedProx, trimmed mean, Krum), optionally
under CKKS encryption or pairwise masking (``crypto``). ``simulation`` runs many agents in one
process, ``flower`` runs a real deployment on Flower (SuperLink / SuperNode), ``partition``
splits a dataset across simulated sites, ``experiment`` compares federated, centralised and
local-only training. Flower and TenSEAL are imported only by the modules that use them.
"""

from __future__ import annotations

__all__: list[str] = []
