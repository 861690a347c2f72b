"""A PettingZoo ``ParallelEnv`` of an organisation attacked by a CALDERA adversary profile.

Three zones (users, servers, critical) of hosts with an OS and a criticality; a firewall policy
between zones (users reach servers, servers reach critical); legitimate users raising false
alerts. The attacker runs a compiled profile (:class:`AttackProfile`) with the atomic, batch or
buckets planner over a simulated fact graph: an ability runs on a foothold only if an executor
matches the host's OS, every ``#{trait}`` it uses is known (``paw_provenance``: known by that
foothold), its relationship requirements hold, and (for remote steps) a discovered, reachable,
not yet compromised target exists. Each completed link applies its effect by tactic.

Defenders see only noisy sensors: alert counts by type per host (missed detections, false
alerts from users) and the results of their own analyses, never the attacker's state. One agent
per zone, or one agent for all zones (``single_agent=True``). Per host: analyse, block, isolate,
remove, restore, decoy; per zone: firewall and a once-per-episode emergency response. Actions
take ticks (``TICK_S`` seconds each) and are masked when they cannot apply.

Examples
--------
>>> env = DefenceEnv(profiles=[demo_profile()], seed=1)
>>> obs, infos = env.reset(seed=1)
>>> sorted(obs) == sorted(env.possible_agents)
True
>>> obs["defender_user"]["observation"].shape, int(obs["defender_user"]["action_mask"][0])
((128,), 1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium
import numpy as np
from numpy.typing import NDArray
from pettingzoo import ParallelEnv  # type: ignore[import-untyped]

from swarmguard.defend.caldera import TACTIC_ORDER, Ability, CalderaLibrary, ResolvedProfile

__all__ = [
    "ALERT_TYPES",
    "HOST_ACTIONS",
    "N_FEATURES",
    "PLANNERS",
    "TICK_S",
    "ZONE_ACTIONS",
    "ZONES",
    "AttackProfile",
    "DefenceEnv",
    "Step",
    "compile_profile",
    "demo_profile",
]

TICK_S = 10
"""Seconds of simulated time per tick."""
ALERT_TYPES = (
    "discovery",
    "credential",
    "collection",
    "lateral",
    "execution",
    "exfil",
    "c2",
    "other",
)
HOST_ACTIONS = ("analyse", "block", "isolate", "remove", "restore", "decoy")
ZONE_ACTIONS = ("firewall", "emergency")
ZONES = ("user", "server", "critical")
PLANNERS = ("atomic", "batch", "buckets")
H_MAX = 4
N_FEATURES = 32
N_HOST_ACT = len(HOST_ACTIONS)
OSES = ("windows", "linux", "darwin")

_TACTIC_ALERT = {
    "discovery": 0,
    "credential-access": 1,
    "collection": 2,
    "lateral-movement": 3,
    "execution": 4,
    "exfiltration": 5,
    "command-and-control": 6,
}
_P_DETECT = np.array([0.35, 0.6, 0.4, 0.7, 0.6, 0.7, 0.08, 0.5])
_GREEN_TYPES = np.array([0.35, 0.25, 0.1, 0.0, 0.05, 0.0, 0.1, 0.15])
_ZONE_SIZE = (4, 3, 3)
_ZONE_CRIT = (0.1, 0.5, 1.0)
_ZONE_OS = (("windows", "linux", "darwin"), ("windows", "linux"), ("windows", "linux"))
_REACH = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 1]], dtype=bool)
"""Firewall policy: zone i may open connections to zone j."""
_DUR = {"analyse": 1, "block": 1, "isolate": 1, "remove": 2, "restore": 3, "decoy": 1}
_TTL = 15
_COST_START = {
    "analyse": 0.01,
    "block": 0.3,
    "isolate": 0.5,
    "remove": 0.1,
    "restore": 1.0,
    "decoy": 0.05,
    "firewall": 0.5,
    "emergency": 2.0,
}
_DISRUPTIVE = frozenset({"block", "isolate", "restore", "firewall", "emergency"})
"""Actions that disrupt legitimate users (design notes 4.6); analyse, remove, decoy do not."""
_RESPONSES = frozenset({"remove", *_DISRUPTIVE})
"""Responses that act on hosts (false-response precision); analyse and decoy only observe."""


@dataclass(frozen=True)
class Step:
    """One compiled ability of a profile, as the simulator needs it."""

    ability_id: str
    tactic: str
    alert: int
    bucket: int
    platforms: frozenset[str]
    needs: frozenset[str]
    provenance: frozenset[str]
    relations: frozenset[str]
    produces: frozenset[str]
    remote: bool
    moves: bool
    objective: bool
    elevated: bool
    repeatable: bool
    singleton: bool
    timeout: int


@dataclass(frozen=True)
class AttackProfile:
    """A profile compiled for the simulator: steps, seeded facts and its objective kind."""

    name: str
    steps: tuple[Step, ...]
    seeded: frozenset[str]
    platforms: frozenset[str] = field(default=frozenset())

    @property
    def has_terminal_objective(self) -> bool:
        """True if some step exfiltrates or has impact (else the objective is exhaustion)."""
        return any(s.objective for s in self.steps)


def _step(ab: Ability) -> Step:
    needs = ab.needs
    remote = any(n.startswith("remote.") for n in needs) or any(
        r.module in ("reachable", "no_backwards_movement") for r in ab.requirements
    )
    prov = frozenset(r.source for r in ab.requirements if r.module == "paw_provenance")
    rels = frozenset(
        f"{r.source}|{r.edge}"
        for r in ab.requirements
        if r.module in ("basic", "req_like", "existential", "universal") and r.edge
    )
    tactic = ab.tactic
    bucket = TACTIC_ORDER.index(tactic) if tactic in TACTIC_ORDER else len(TACTIC_ORDER)
    return Step(
        ability_id=ab.ability_id,
        tactic=tactic,
        alert=_TACTIC_ALERT.get(tactic, 7),
        bucket=bucket,
        platforms=ab.platforms,
        needs=frozenset(n for n in needs if not n.startswith("remote.")),
        provenance=prov,
        relations=rels,
        produces=ab.produces,
        remote=remote,
        moves=remote and tactic in ("lateral-movement", "execution"),
        objective=tactic in ("exfiltration", "impact"),
        elevated=ab.privilege.lower() == "elevated" or tactic == "privilege-escalation",
        repeatable=ab.repeatable,
        singleton=ab.singleton,
        timeout=ab.timeout,
    )


def compile_profile(resolved: ResolvedProfile, library: CalderaLibrary) -> AttackProfile:
    """Compile a resolved profile with the library's fact sources as seeded facts."""
    steps = tuple(_step(a) for a in resolved.steps)
    plats = frozenset(p for s in steps for p in s.platforms)
    return AttackProfile(resolved.adversary.name, steps, library.seeded_facts, plats)


def demo_profile() -> AttackProfile:
    """A small synthetic profile (discover, stage, exfiltrate) for tests and doctests."""

    def mk(aid: str, tactic: str, needs: Sequence[str] = (), prod: Sequence[str] = ()) -> Step:
        return Step(
            aid,
            tactic,
            _TACTIC_ALERT.get(tactic, 7),
            TACTIC_ORDER.index(tactic),
            frozenset(OSES),
            frozenset(needs),
            frozenset(),
            frozenset(),
            frozenset(prod),
            False,
            False,
            tactic == "exfiltration",
            False,
            False,
            False,
            60,
        )

    steps = (
        mk("d1", "discovery", prod=["host.user.name"]),
        mk("c1", "collection", needs=["file.sensitive.extension"], prod=["host.file.path"]),
        mk("c2", "collection", needs=["host.file.path"], prod=["host.dir.compress"]),
        mk("x1", "exfiltration", needs=["host.dir.compress"]),
    )
    return AttackProfile("demo", steps, frozenset({"file.sensitive.extension"}), frozenset(OSES))


@dataclass
class _Link:
    steps: list[int]
    end: int
    targets: list[int]


@dataclass
class _Red:
    """Attacker state: footholds, knowledge (facts by host), links in flight, log."""

    present: NDArray[np.bool_]
    priv: NDArray[np.bool_]
    known: list[set[str]]
    targets_known: list[set[int]]
    done: list[set[int]]
    links: dict[int, _Link]
    facts: set[str]
    singletons: set[int]
    moved: set[tuple[int, int]]
    stage: int = 0
    last_tactic: str = ""
    start: int = 0
    successes: int = 0
    objective: bool = False
    exhausted: bool = False


class DefenceEnv(ParallelEnv):  # type: ignore[misc]
    """One organisation under one CALDERA operation per episode (see the module docstring)."""

    metadata = {"name": "swarmguard_defence_v0", "render_modes": []}

    def __init__(
        self,
        profiles: Sequence[AttackProfile],
        *,
        planner: str = "atomic",
        single_agent: bool = False,
        max_ticks: int = 60,
        shaping: float = 0.0,
        false_response_cost: float = 0.0,
        idle_prob: float = 0.0,
        randomise: bool = True,
        seed: int | None = None,
    ) -> None:
        if not profiles:
            raise ValueError("at least one attack profile is needed")
        if planner not in (*PLANNERS, "mix"):
            raise ValueError(f"unknown planner {planner}: use atomic, batch, buckets or mix")
        self.profiles = list(profiles)
        self.planner = planner
        self.single_agent = single_agent
        self.max_ticks = max_ticks
        self.shaping = shaping
        self.false_response_cost = false_response_cost
        self.idle_prob = idle_prob
        self.randomise = randomise
        self._seed(seed)
        self.possible_agents = ["defender"] if single_agent else [f"defender_{z}" for z in ZONES]
        self.agents = list(self.possible_agents)
        self._zones_of = (
            {"defender": [0, 1, 2]}
            if single_agent
            else {f"defender_{z}": [i] for i, z in enumerate(ZONES)}
        )
        n_hosts = len(ZONES) * H_MAX
        self.n_slots = n_hosts
        self.zone = np.repeat(np.arange(len(ZONES)), H_MAX)
        self.valid = np.zeros(n_hosts, dtype=bool)
        for z, n in enumerate(_ZONE_SIZE):
            self.valid[z * H_MAX : z * H_MAX + n] = True
        self.crit = np.array([_ZONE_CRIT[z] for z in self.zone])
        self._spaces: dict[str, gymnasium.spaces.Dict] = {}
        self._act_spaces: dict[str, gymnasium.spaces.Discrete] = {}
        for agent, zones in self._zones_of.items():
            n_act = 1 + len(zones) * (H_MAX * N_HOST_ACT + len(ZONE_ACTIONS))
            self._spaces[agent] = gymnasium.spaces.Dict(
                {
                    "observation": gymnasium.spaces.Box(
                        0.0, 1.0, (len(zones) * H_MAX * N_FEATURES,), np.float32
                    ),
                    "action_mask": gymnasium.spaces.Box(0, 1, (n_act,), np.int8),
                }
            )
            self._act_spaces[agent] = gymnasium.spaces.Discrete(n_act)
        self._reset_state(None)

    # -- spaces ---------------------------------------------------------------------------------
    def observation_space(self, agent: str) -> gymnasium.spaces.Dict:
        """Observation space of ``agent`` (a dict of ``observation`` and ``action_mask``)."""
        return self._spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Discrete:
        """``0`` no-op, then host actions per host slot, then zone actions per zone."""
        return self._act_spaces[agent]

    def zones_of(self, agent: str) -> list[int]:
        """Zone indices controlled by ``agent``."""
        return self._zones_of[agent]

    def state(self) -> NDArray[np.float32]:
        """Global observation (every zone's sensors), for centralised critics."""
        return self._features().reshape(-1)

    # -- episode --------------------------------------------------------------------------------
    def _seed(self, seed: int | None) -> None:
        """One generator per source of chance, so defenders share everything they do not cause.

        ``rng`` draws the episode (topology, sensor quality, profile, planner, foothold),
        ``rng_green`` legitimate users' false alerts (a fixed stream per tick, whatever the
        defender does), ``rng_red`` the attacker (link durations, its alerts, credential luck),
        ``rng_blue`` the outcomes of the defender's own analyses.
        """
        setup, green, red, blue = np.random.SeedSequence(seed).spawn(4)
        self.rng = np.random.default_rng(setup)
        self.rng_green = np.random.default_rng(green)
        self.rng_red = np.random.default_rng(red)
        self.rng_blue = np.random.default_rng(blue)

    def _reset_state(self, options: dict[str, Any] | None) -> None:
        rng = self.rng
        n = self.n_slots
        opts = options or {}
        self.t = 0
        self.os = np.zeros(n, dtype=np.int64)
        for h in range(n):
            if self.valid[h]:
                choices = _ZONE_OS[self.zone[h]]
                self.os[h] = OSES.index(choices[int(rng.integers(len(choices)))])
        jitter = rng.uniform(0.7, 1.3, len(ALERT_TYPES)) if self.randomise else np.ones(8)
        self.p_detect = np.clip(_P_DETECT * jitter, 0.0, 0.95)
        self.p_false = float(rng.uniform(0.01, 0.03)) if self.randomise else 0.02
        self.p_cred = 0.8
        self.idle = bool(opts.get("idle", rng.random() < self.idle_prob))
        idx = opts.get("profile")
        self.profile = self.profiles[
            int(idx) if idx is not None else int(rng.integers(len(self.profiles)))
        ]
        planner = str(opts.get("planner", self.planner))
        self.cur_planner = (
            PLANNERS[int(rng.integers(len(PLANNERS)))] if planner == "mix" else planner
        )
        # defender state
        self.blocked = np.zeros(n, dtype=np.int64)  # ticks left
        self.isolated = np.zeros(n, dtype=np.int64)
        self.down = np.zeros(n, dtype=np.int64)
        self.decoy = np.zeros(n, dtype=bool)
        self.busy = np.zeros(n, dtype=np.int64)
        self.pending: dict[int, tuple[str, int]] = {}
        self.analysis = np.zeros(n, dtype=np.int64)  # +1 positive, -1 negative
        self.analysis_age = np.full(n, 99, dtype=np.int64)
        self.fw = np.zeros(len(ZONES), dtype=np.int64)
        self.emergency_used = np.zeros(len(ZONES), dtype=bool)
        self.alerts = np.zeros((n, len(ALERT_TYPES)))
        self.alert_ema = np.zeros((n, len(ALERT_TYPES)))
        # attacker
        self.red = _Red(
            present=np.zeros(n, dtype=bool),
            priv=np.zeros(n, dtype=bool),
            known=[set() for _ in range(n)],
            targets_known=[set() for _ in range(n)],
            done=[set() for _ in range(n)],
            links={},
            facts=set(self.profile.seeded),
            singletons=set(),
            moved=set(),
        )
        # ground truth for metrics (never in observations)
        self.compromised_at: dict[int, int] = {}
        self.compromise_stage: dict[int, int] = {}
        self.first_touch: dict[int, int] = {}
        self.contained_at: dict[int, int] = {}
        self.detected: set[int] = set()
        self.objective_tick: int | None = None
        self.disruptive = 0
        self.false_disruptive = 0
        self.disruptive_hosts = 0
        self.false_disruptive_hosts = 0
        self.responses = 0
        self.false_responses = 0
        self.green_log: list[tuple[int, int, int]] = []
        self.false_step = 0
        self.link_log: list[tuple[int, int, str, str, str]] = []
        self.raw_return = 0.0
        if not self.idle:
            self._place_foothold()

    def _place_foothold(self) -> None:
        rng = self.rng
        users = [h for h in range(H_MAX) if self.valid[h]]
        plats = self.profile.platforms
        scores = []
        for h in users:
            os_name = OSES[self.os[h]]
            scores.append(sum(1 for s in self.profile.steps if os_name in s.platforms))
        best = max(scores) if scores else 0
        if best == 0 and plats:
            # re-image one user host with a platform the profile supports (the operator picks it)
            h = users[int(rng.integers(len(users)))]
            supported = [o for o in OSES if o in plats]
            self.os[h] = OSES.index(supported[int(rng.integers(len(supported)))])
            cands = [h]
        else:
            cands = [h for h, s in zip(users, scores, strict=True) if s == best and s > 0]
        if not cands:
            self.red.exhausted = True
            return
        h = cands[int(rng.integers(len(cands)))]
        self._compromise(h)
        # the implant lands at tick 0; the operator starts the operation a few beacons later
        self.red.start = int(rng.integers(3, 9))

    def _compromise(self, h: int) -> None:
        self.red.present[h] = True
        self.red.priv[h] = False
        self.red.done[h] = set()
        self.red.known[h] = set()
        self.red.targets_known[h] = set()
        if h not in self.compromised_at:
            self.compromised_at[h] = self.t
            self.compromise_stage[h] = self.red.stage

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, dict[str, NDArray[Any]]], dict[str, dict[str, Any]]]:
        """Start an episode; ``options`` may fix ``profile`` (index), ``planner`` or ``idle``."""
        if seed is not None:
            self._seed(seed)
        self.agents = list(self.possible_agents)
        self._reset_state(options)
        return self._observe(), {a: {} for a in self.agents}

    # -- attacker -------------------------------------------------------------------------------
    def _reachable(self, src: int, dst: int) -> bool:
        if self.isolated[src] or self.isolated[dst] or self.down[dst] or self.down[src]:
            return False
        zs, zd = self.zone[src], self.zone[dst]
        if zs != zd and (self.blocked[src] or self.blocked[dst] or self.fw[zs] or self.fw[zd]):
            return False
        return bool(_REACH[zs, zd])

    def _runnable(self, h: int, i: int) -> list[int] | None:
        """Targets (``[-1]`` for local steps) if step ``i`` can run on foothold ``h`` now."""
        red = self.red
        s = self.profile.steps[i]
        if OSES[self.os[h]] not in s.platforms:
            return None
        if i in red.done[h] and not (s.repeatable and self.cur_planner != "atomic"):
            return None
        if s.singleton and i in red.singletons:
            return None
        if not s.needs <= red.facts or not s.provenance <= red.known[h]:
            return None
        if not s.relations <= red.facts:
            return None
        if not s.remote:
            return [-1]
        targets = [
            t
            for t in sorted(red.targets_known[h])
            if not red.present[t]
            and (i, t) not in red.moved
            and (not s.moves or OSES[self.os[t]] in s.platforms)
        ]
        return targets[:1] or None

    def _plan(self, h: int) -> _Link | None:
        steps = self.profile.steps
        if self.cur_planner == "atomic":
            for i in range(len(steps)):
                tg = self._runnable(h, i)
                if tg is not None:
                    return self._link([i], [tg[0]])
            return None
        ready = [(i, tg[0]) for i in range(len(steps)) if (tg := self._runnable(h, i)) is not None]
        if not ready:
            return None
        if self.cur_planner == "buckets":
            low = min(steps[i].bucket for i, _ in ready)
            ready = [(i, t) for i, t in ready if steps[i].bucket == low]
        return self._link([i for i, _ in ready], [t for _, t in ready])

    def _link(self, idx: list[int], targets: list[int]) -> _Link:
        timeout = max(self.profile.steps[i].timeout for i in idx)
        secs = self.rng_red.uniform(2, 8) + self.rng_red.uniform(1, min(timeout, 30))
        return _Link(idx, self.t + max(1, math.ceil(secs / TICK_S)), targets)

    def _alert(self, h: int, kind: int, p: float | None = None) -> None:
        if self.rng_red.random() < (self.p_detect[kind] if p is None else p):
            self.alerts[h, kind] += 1

    def _finish(self, h: int, link: _Link) -> float:
        red = self.red
        penalty = 0.0
        for i, tgt in zip(link.steps, link.targets, strict=True):
            s = self.profile.steps[i]
            red.done[h].add(i)
            if s.singleton:
                red.singletons.add(i)
            status = "success"
            if tgt >= 0:
                red.moved.add((i, tgt))
                if not self._reachable(h, tgt):
                    status = "blocked"
                elif s.moves and self.decoy[tgt]:
                    status = "blocked"
                    self._alert(h, 3, 1.0)
                    self._alert(tgt, 3, 1.0)
            if s.objective:
                z = self.zone[h]
                if self.blocked[h] or self.fw[z]:
                    status = "blocked"
                    self._alert(h, 5, 0.9)
            self.link_log.append((self.t, h, s.ability_id, s.tactic, status))
            if status != "success":
                continue
            penalty += 0.05
            red.successes += 1
            if s.tactic != red.last_tactic:
                red.stage += 1
                red.last_tactic = s.tactic
            prods = s.produces
            if s.tactic == "credential-access" and self.rng_red.random() > self.p_cred:
                prods = frozenset()
            red.facts |= prods
            red.known[h] |= prods
            if any(p.startswith("remote.") for p in prods) or s.tactic == "discovery" and s.remote:
                red.targets_known[h] |= {
                    t
                    for t in range(self.n_slots)
                    if self.valid[t] and t != h and _REACH[self.zone[h], self.zone[t]]
                }
            if s.elevated:
                red.priv[h] = True
            if s.moves and tgt >= 0:
                self._compromise(tgt)
                self._alert(tgt, 4, 0.5)
            if s.objective and not red.objective:
                red.objective = True
                self.objective_tick = self.t
                penalty += 10.0
        return penalty

    def _red_tick(self) -> float:
        red = self.red
        penalty = 0.0
        for h in list(red.links):
            link = red.links[h]
            if not red.present[h]:
                del red.links[h]
            elif link.end <= self.t and not self.isolated[h] and not self.down[h]:
                del red.links[h]
                penalty += self._finish(h, link)
        any_runnable = bool(red.links)
        paused = False
        for hh in np.flatnonzero(red.present):
            h = int(hh)
            if self.isolated[h] or self.down[h]:
                paused = True
                continue
            if self.rng_red.random() < self.p_detect[6]:
                self.alerts[h, 6] += 1
            if self.t == 1 and h in self.compromised_at and self.compromised_at[h] == 0:
                self._alert(h, 4)  # the implant's first execution
            if h in red.links or self.t < red.start:
                continue
            new = self._plan(h)
            if new is not None:
                red.links[h] = new
                any_runnable = True
                for i in new.steps:
                    self._alert(h, self.profile.steps[i].alert)
        started = self.t >= red.start
        if red.present.any() and started and not any_runnable and not paused and not red.exhausted:
            red.exhausted = True
            terminal = self.profile.has_terminal_objective
            if not terminal and not red.objective and red.successes > 0:
                red.objective = True
                self.objective_tick = self.t
                penalty += 10.0
        return penalty

    # -- defender -------------------------------------------------------------------------------
    def _masks(self, agent: str) -> NDArray[np.int8]:
        zones = self._zones_of[agent]
        parts: list[NDArray[np.int8]] = [np.ones(1, dtype=np.int8)]
        for z in zones:
            sl = slice(z * H_MAX, (z + 1) * H_MAX)
            ok = self.valid[sl] & (self.busy[sl] == 0) & (self.down[sl] == 0)
            m = np.repeat(ok[:, None], N_HOST_ACT, axis=1)
            m[:, 1] &= self.blocked[sl] == 0
            m[:, 2] &= self.isolated[sl] == 0
            m[:, 5] &= ~self.decoy[sl]
            parts.append(m.reshape(-1).astype(np.int8))
        for z in zones:
            parts.append(np.array([self.fw[z] == 0, not self.emergency_used[z]], dtype=np.int8))
        return np.concatenate(parts)

    def _touch(self, h: int, act: str) -> None:
        """Record an action on host ``h`` for the metrics (never seen by the policy)."""
        red_here = bool(self.red.present[h])
        if red_here and h not in self.first_touch:
            self.first_touch[h] = self.t  # first action on the host while it is compromised
        if act in _RESPONSES:
            self.responses += 1
            self.false_responses += int(not red_here)
            self.false_step += int(not red_here)
        if act in _DISRUPTIVE:
            self.disruptive_hosts += 1
            self.false_disruptive_hosts += int(not red_here)

    def _start(self, h: int, act: str) -> float:
        self._touch(h, act)
        if act in _DISRUPTIVE:
            self.disruptive += 1
            self.false_disruptive += int(not self.red.present[h])
        self.busy[h] = _DUR[act]
        self.pending[h] = (act, self.t + _DUR[act])
        if act == "restore":
            self.down[h] = _DUR[act]
        return _COST_START[act]

    def _complete(self, h: int, act: str) -> None:
        red = self.red
        if act == "analyse":
            draw = self.rng_blue.random()
            pos = draw < 0.9 if red.present[h] else draw < 0.02
            self.analysis[h] = 1 if pos else -1
            self.analysis_age[h] = 0
        elif act == "block":
            self.blocked[h] = _TTL
        elif act == "isolate":
            self.isolated[h] = _TTL
            self._contain(h)
        elif act == "remove":
            if red.present[h] and not red.priv[h]:
                self._evict(h)
            # the host changed (or was cleaned for nothing): the earlier analysis is stale, as
            # after a restore; the defender must analyse again to know more
            self.analysis[h] = 0
        elif act == "restore":
            self._evict(h)
            self.isolated[h] = 0
        elif act == "decoy":
            self.decoy[h] = True

    def _contain(self, h: int) -> None:
        if self.red.present[h] and h in self.compromised_at and h not in self.contained_at:
            self.contained_at[h] = self.t
            if self.red.stage <= self.compromise_stage[h]:  # before its next tactic stage
                self.detected.add(h)

    def _evict(self, h: int) -> None:
        self._contain(h)
        self.red.present[h] = False
        self.red.links.pop(h, None)
        self.analysis[h] = 0

    def _defend(self, actions: dict[str, int]) -> float:
        cost = 0.0
        for agent, a in actions.items():
            a = int(a)
            if a <= 0 or not self._masks(agent)[a]:
                continue
            zones = self._zones_of[agent]
            k = a - 1
            n_host = len(zones) * H_MAX * N_HOST_ACT
            if k < n_host:
                zi, rest = divmod(k, H_MAX * N_HOST_ACT)
                slot, ai = divmod(rest, N_HOST_ACT)
                cost += self._start(zones[zi] * H_MAX + slot, HOST_ACTIONS[ai])
            else:
                zi, ai = divmod(k - n_host, len(ZONE_ACTIONS))
                z = zones[zi]
                cost += _COST_START[ZONE_ACTIONS[ai]]
                hosts = [h for h in range(z * H_MAX, (z + 1) * H_MAX) if self.valid[h]]
                red_zone = bool(self.red.present[hosts].any())
                self.disruptive += 1
                self.false_disruptive += int(not red_zone)
                if ZONE_ACTIONS[ai] == "firewall":
                    self.fw[z] = _TTL
                    for h in hosts:
                        self._touch(h, "firewall")
                else:
                    self.emergency_used[z] = True
                    for h in hosts:
                        if h in self.pending:
                            continue
                        self._touch(h, "emergency")
                        self.busy[h] = self.down[h] = _DUR["restore"]
                        self.pending[h] = ("restore", self.t + _DUR["restore"])
                        cost += _COST_START["restore"]
        return cost

    def _tick_defender(self) -> float:
        for h, (act, end) in list(self.pending.items()):
            if end <= self.t:
                del self.pending[h]
                self._complete(h, act)
        green = (self.isolated > 0) * 0.1 + (self.down > 0) * 0.1 + (self.blocked > 0) * 0.02
        cost = float((green * self.valid * (0.5 + self.crit)).sum()) + 0.1 * float(
            (self.fw > 0).sum()
        )
        for arr in (self.blocked, self.isolated, self.down, self.busy, self.fw):
            np.subtract(arr, 1, out=arr, where=arr > 0)
        self.analysis_age += 1
        self.analysis[self.analysis_age > 10] = 0
        return cost

    # -- observation ----------------------------------------------------------------------------
    def _features(self) -> NDArray[np.float32]:
        n = self.n_slots
        f = np.zeros((n, N_FEATURES), dtype=np.float32)
        f[:, 0:8] = np.minimum(self.alerts, 3) / 3
        f[:, 8:16] = np.minimum(self.alert_ema, 3) / 3
        f[:, 16] = self.analysis > 0
        f[:, 17] = self.analysis < 0
        f[:, 18] = np.minimum(self.analysis_age, 20) / 20
        f[:, 19] = self.blocked > 0
        f[:, 20] = self.isolated > 0
        f[:, 21] = self.down > 0
        f[:, 22] = self.decoy
        f[:, 23] = self.busy > 0
        f[:, 24] = self.crit
        f[np.arange(n), 25 + self.os] = 1
        f[:, 28] = self.valid
        f[:, 29] = self.fw[self.zone] > 0
        f[:, 30] = ~self.emergency_used[self.zone]
        f[:, 31] = self.t / self.max_ticks
        f[~self.valid] = 0
        return f

    def _observe(self) -> dict[str, dict[str, NDArray[Any]]]:
        feats = self._features().reshape(len(ZONES), H_MAX * N_FEATURES)
        return {
            a: {
                "observation": feats[self._zones_of[a]].reshape(-1),
                "action_mask": self._masks(a),
            }
            for a in self.agents
        }

    def _potential(self) -> float:
        n_steps = max(1, len(self.profile.steps))
        return -float(self.red.present.sum()) * (1.0 + min(self.red.stage, n_steps) / n_steps)

    def step(
        self, actions: dict[str, int]
    ) -> tuple[
        dict[str, dict[str, NDArray[Any]]],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Advance one tick: defender actions start, the attacker plans and links finish."""
        phi0 = self._potential()
        self.false_step = 0
        self.alerts[:] = 0
        cost = self._defend(actions)
        self.t += 1
        cost += self._tick_defender()
        penalty = self._red_tick()
        foothold = float((self.red.present * self.crit).sum())
        # green users: false alerts, drawn for every slot each tick whatever the defender did
        noise = self.rng_green.random(self.n_slots) < self.p_false
        kinds = self.rng_green.choice(
            len(ALERT_TYPES), size=self.n_slots, p=_GREEN_TYPES / _GREEN_TYPES.sum()
        )
        for h in np.flatnonzero(noise & self.valid):
            self.green_log.append((self.t, int(h), int(kinds[h])))
            if self.down[h] == 0:  # a re-imaging host has no users
                self.alerts[h, kinds[h]] += 1
        self.alert_ema = 0.7 * self.alert_ema + self.alerts
        raw = -(cost + penalty + foothold)
        self.raw_return += raw
        reward = (
            raw
            + self.shaping * (0.99 * self._potential() - phi0)
            - self.false_response_cost * self.false_step
        )
        done = self.t >= self.max_ticks
        obs = self._observe()
        info = {"raw_reward": raw}
        rewards = dict.fromkeys(self.agents, reward)
        terms = dict.fromkeys(self.agents, False)
        truncs = dict.fromkeys(self.agents, done)
        infos = {a: dict(info) for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, terms, truncs, infos

    # -- metrics --------------------------------------------------------------------------------
    def episode_stats(self) -> dict[str, Any]:
        """Ground-truth outcome of the finished episode (for measurement, never for the policy)."""
        ttd = [
            self.first_touch[h] - t0
            for h, t0 in self.compromised_at.items()
            if h in self.first_touch and self.first_touch[h] >= t0
        ]
        ttc = [
            self.contained_at[h] - t0
            for h, t0 in self.compromised_at.items()
            if h in self.contained_at
        ]
        return {
            "reward": self.raw_return,
            "objective": self.red.objective,
            "idle": self.idle,
            "compromised": len(self.compromised_at),
            "detected": len(self.detected),
            "disruptive": self.disruptive,
            "false_disruptive": self.false_disruptive,
            "disruptive_hosts": self.disruptive_hosts,
            "false_disruptive_hosts": self.false_disruptive_hosts,
            "responses": self.responses,
            "false_responses": self.false_responses,
            "ticks": self.t,
            "ttd": ttd,
            "ttc": ttc,
            "links": len(self.link_log),
        }
