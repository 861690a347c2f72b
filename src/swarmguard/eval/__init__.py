"""Eval: detection metrics, honest splits and experiments.

Contract: metrics are computed from labels and scores only; splits never leak a held-out attack
type into training. Imports records, features, acquire and detect.
"""

__all__: list[str] = []
