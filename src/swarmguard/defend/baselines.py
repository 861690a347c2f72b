"""Rule defenders, acting through the same observations and action API as the learned policy.

``none`` never acts; ``restore-on-alert`` re-images the host with the most alerts (CAGE's
React-Restore); ``block-after-n`` blocks a host after N alerts within W ticks and re-images it
after 2N; ``analyse-remove`` analyses an alerting host and removes (then restores) it when the
analysis is positive. All see only the noisy sensor features, never the attacker's state.

Examples
--------
>>> import numpy as np
>>> from swarmguard.defend.env import DefenceEnv, demo_profile
>>> env = DefenceEnv([demo_profile()], seed=0)
>>> obs, _ = env.reset(seed=0)
>>> d = make_baseline("none")
>>> d.act(obs)["defender_user"]
0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from swarmguard.defend.env import HOST_ACTIONS, N_FEATURES, N_HOST_ACT

__all__ = ["BASELINES", "Defender", "RuleDefender", "make_baseline"]

BASELINES = ("none", "restore-on-alert", "block-after-n", "analyse-remove")

Obs = Mapping[str, Mapping[str, NDArray[Any]]]


class Defender(Protocol):
    """Anything that maps per-agent observations to per-agent actions."""

    name: str

    def reset(self) -> None:
        """Forget per-episode memory."""
        ...

    def act_batch(self, batch: Sequence[Obs]) -> list[dict[str, int]]:
        """Return one action per agent for each of several environments (in a fixed order)."""
        ...


def _host_action(slot: int, action: str) -> int:
    return 1 + slot * N_HOST_ACT + HOST_ACTIONS.index(action)


class RuleDefender:
    """A rule baseline (see the module docstring)."""

    def __init__(self, name: str, n: int = 2, window: int = 10) -> None:
        if name not in BASELINES:
            raise ValueError(f"unknown baseline {name}: use one of {', '.join(BASELINES)}")
        self.name = f"baseline:{name}"
        self.rule = name
        self.n = n
        self.window = window
        self.history: dict[tuple[int, str], list[NDArray[np.float64]]] = {}

    def reset(self) -> None:
        """Forget alert history."""
        self.history = {}

    def act_batch(self, batch: Sequence[Obs]) -> list[dict[str, int]]:
        """Act in several environments; the list position identifies the environment."""
        return [self.act(obs, i) for i, obs in enumerate(batch)]

    def act(self, obs: Obs, env_id: int = 0) -> dict[str, int]:
        """Choose one action per agent from alert counts and analysis results."""
        out: dict[str, int] = {}
        for agent, o in obs.items():
            f = o["observation"].reshape(-1, N_FEATURES)
            mask = o["action_mask"]
            now = f[:, 0:8].sum(1) * 3.0
            hist = self.history.setdefault((env_id, agent), [])
            hist.append(now)
            del hist[: -self.window]
            recent = np.sum(hist, axis=0)
            out[agent] = self._choose(f, now, recent, mask)
        return out

    def _choose(
        self,
        f: NDArray[Any],
        now: NDArray[Any],
        recent: NDArray[Any],
        mask: NDArray[Any],
    ) -> int:
        def ok(slot: int, action: str) -> int:
            a = _host_action(slot, action)
            return a if mask[a] else 0

        order = np.argsort(-now, kind="stable")
        if self.rule == "restore-on-alert":
            for h in order:
                if now[h] > 0 and (a := ok(int(h), "restore")):
                    return a
        elif self.rule == "block-after-n":
            for h in np.argsort(-recent, kind="stable"):
                h = int(h)
                if recent[h] >= 2 * self.n and f[h, 19] and (a := ok(h, "restore")):
                    return a
                if recent[h] >= self.n and (a := ok(h, "block")):
                    return a
        elif self.rule == "analyse-remove":
            for h in range(f.shape[0]):
                if f[h, 16] and f[h, 18] < 0.3:  # fresh positive analysis
                    if (a := ok(h, "remove")) and f[h, 18] <= 0.05:
                        return a
                    if (a := ok(h, "restore")) and now[h] > 0:
                        return a
            for h in order:
                if now[h] > 0 and not f[h, 16] and (a := ok(int(h), "analyse")):
                    return a
        return 0

    def __repr__(self) -> str:
        return f"RuleDefender({self.rule!r})"


def make_baseline(name: str) -> RuleDefender:
    """Build a rule baseline by name (``none``, ``restore-on-alert``, ...)."""
    return RuleDefender(name)
