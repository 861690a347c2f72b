"""The defender network: one shared encoder per host, so it fits any zone size and any agent split.

Host features are encoded by a shared MLP; each host's action logits come from its encoding and
its zone's pooled context; zone actions from the zone context; the no-op and the value from the
pooled context of everything the agent sees. The same weights serve a zone agent (one zone), the
single-agent mode (all zones) and the live :class:`~swarmguard.defend.policy.RlPolicy`.

Examples
--------
>>> import torch
>>> net = DefenceNet()
>>> obs = torch.zeros(2, 1 * H_MAX * N_FEATURES)
>>> logits, value = net(obs, zones=1)
>>> tuple(logits.shape), tuple(value.shape)
((2, 27), (2,))
"""

from __future__ import annotations

import torch
from torch import nn

from swarmguard.defend.env import H_MAX, N_FEATURES, N_HOST_ACT, ZONE_ACTIONS

__all__ = ["H_MAX", "N_FEATURES", "DefenceNet", "entropy", "masked_log_probs"]

_VALID = 28


class DefenceNet(nn.Module):
    """Actor-critic over host feature sets (see the module docstring)."""

    def __init__(self, hidden: int = 64) -> None:
        super().__init__()
        self.hidden = hidden
        self.enc = nn.Sequential(
            nn.Linear(N_FEATURES, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh()
        )
        self.host_head = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.Tanh(), nn.Linear(hidden, N_HOST_ACT)
        )
        self.zone_head = nn.Linear(hidden, len(ZONE_ACTIONS))
        self.noop_head = nn.Linear(hidden, 1)
        self.critic = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def _encode(self, obs: torch.Tensor, zones: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = obs.reshape(obs.shape[0], zones, H_MAX, N_FEATURES)
        valid = x[..., _VALID : _VALID + 1]
        emb = self.enc(x) * valid
        zone_ctx = emb.sum(2) / valid.sum(2).clamp(min=1.0)
        return emb, zone_ctx

    def forward(self, obs: torch.Tensor, zones: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (logits over the agent's actions, value from its own view)."""
        emb, zone_ctx = self._encode(obs, zones)
        ctx = zone_ctx.mean(1)
        both = torch.cat([emb, zone_ctx[:, :, None, :].expand_as(emb)], dim=-1)
        host = self.host_head(both).reshape(obs.shape[0], -1)
        zone = self.zone_head(zone_ctx).reshape(obs.shape[0], -1)
        logits = torch.cat([self.noop_head(ctx), host, zone], dim=1)
        return logits, self.critic(ctx).squeeze(-1)

    def value(self, state: torch.Tensor, zones: int) -> torch.Tensor:
        """Centralised value of a global state (every zone), for MAPPO."""
        _, zone_ctx = self._encode(state, zones)
        out: torch.Tensor = self.critic(zone_ctx.mean(1)).squeeze(-1)
        return out


def masked_log_probs(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Log-probabilities with masked-out actions at (almost) zero probability."""
    return torch.log_softmax(logits.masked_fill(mask <= 0, -1e9), dim=-1)


def entropy(logp: torch.Tensor) -> torch.Tensor:
    """Entropy of each row of log-probabilities."""
    return -(logp.exp() * logp).sum(-1)
